//! Windows only: the directory lock and the replace of a file a reader has open, as
//! Windows (and Wine, which scripts/check-platforms runs them under) behave.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use super::{write_atomic, DirLock};

#[test]
fn a_lock_held_by_another_handle_excludes_and_is_released() {
    let dir = tempfile::tempdir().unwrap().keep();
    let held = DirLock::acquire(&dir, Duration::from_millis(20)).unwrap();
    // Another spelling of the same directory is the same lock.
    let upper = PathBuf::from(dir.to_string_lossy().to_uppercase());
    assert!(DirLock::acquire(&upper, Duration::from_millis(20)).is_err());
    drop(held);
    DirLock::acquire(&upper, Duration::from_millis(20)).unwrap();
}

#[test]
fn a_replace_waits_briefly_for_a_reader_that_has_the_file_open() {
    // Without POSIX rename semantics (Wine, FAT, network shares, older Windows) a file
    // open elsewhere cannot be replaced: the write retries for up to 50 ms.
    let dir = tempfile::tempdir().unwrap().keep();
    fs::write(dir.join("openvino_telemetry"), b"0").unwrap();
    let reader = fs::File::open(dir.join("openvino_telemetry")).unwrap();
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        opened_tx.send(()).unwrap();
        // A reader keeps the file open briefly, as the Python client's read does.
        std::thread::sleep(Duration::from_millis(2));
        drop(reader);
    });
    opened_rx.recv().unwrap();
    write_atomic(&dir, "openvino_telemetry", b"1").unwrap();
    holder.join().unwrap();
    assert_eq!(fs::read(dir.join("openvino_telemetry")).unwrap(), b"1");
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        1,
        "a temporary file was left"
    );
}
