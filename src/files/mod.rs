//! Small, careful file primitives shared by the consent, identity, stats and spool modules.
//!
//! - Reads never follow a symbolic link planted in the config directory and refuse
//!   anything that is not a regular file; they read at most a given number of bytes.
//! - Writes are atomic: a fresh temporary file (`O_EXCL`, mode `0600`) in the same
//!   directory, then `rename` over the target. `rename` replaces a planted link instead of
//!   writing through it, so nothing is ever written outside the directory.
//! - A lock on the directory serialises read-modify-write cycles between processes.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::Path;
#[cfg(not(unix))]
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tempfile::TempPath;

use crate::error::{Error, Result};

/// Prefix of the lock file that serialises read-modify-write cycles where a directory
/// cannot be locked (Windows). It lives in the temp directory, not among the files shared
/// with the Python client: `openvino_telemetry-<hash of the config dir>.lock`.
#[cfg(not(unix))]
pub const LOCK_FILE_PREFIX: &str = "openvino_telemetry-";

/// Makes sure `dir` exists as a directory. It is created (mode `0700`) only when its parent
/// exists; nothing is ever deleted or replaced. A path that exists but is not a directory
/// is an error naming it.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(Error::io(
                "use the config directory",
                dir,
                io::Error::other("the path exists but is not a directory"),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("inspect the config directory", dir, e)),
    }
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(Error::io("create the config directory", dir, e)),
    }
}

/// Opens a regular file for reading, never through a symbolic link planted in its place;
/// a directory or any other kind of file is an error naming it. `Ok(None)` when missing.
/// Returns the file and its size.
pub fn open_regular(path: &Path) -> Result<Option<(File, u64)>> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    }
    #[cfg(windows)]
    {
        // Open a symbolic link (reparse point) itself, never what it points at; a
        // directory cannot be opened as a file at all, so say what it is first.
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Error::io(
                    "read",
                    path,
                    io::Error::other("it is a symbolic link, which is not followed"),
                ))
            }
            Ok(meta) if meta.is_dir() => {
                return Err(Error::io(
                    "read",
                    path,
                    io::Error::other("it is not a regular file"),
                ))
            }
            _ => {}
        }
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            #[cfg(unix)]
            if e.raw_os_error() == Some(libc::ELOOP) {
                return Err(Error::io(
                    "read",
                    path,
                    io::Error::other("it is a symbolic link, which is not followed"),
                ));
            }
            return Err(Error::io("read", path, e));
        }
    };
    let meta = file.metadata().map_err(|e| Error::io("read", path, e))?;
    if !meta.is_file() {
        return Err(Error::io(
            "read",
            path,
            io::Error::other("it is not a regular file"),
        ));
    }
    Ok(Some((file, meta.len())))
}

/// Reads a regular file of at most `limit` bytes. `Ok(None)` when it does not exist.
/// A symbolic link, a directory or a file larger than `limit` is an error.
pub fn read_limited(path: &Path, limit: usize) -> Result<Option<Vec<u8>>> {
    let Some((file, len)) = open_regular(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity((len as usize).min(limit) + 1);
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    if bytes.len() > limit {
        return Err(Error::io(
            "read",
            path,
            io::Error::other(format!("it is larger than {limit} bytes")),
        ));
    }
    Ok(Some(bytes))
}

/// How long a reader waits for a shared file that reads as empty or invalid before calling it
/// corrupt. The Python client rewrites `openvino_telemetry`, `openvino_ga_cid` and `stats`
/// in place (`open(path, "w")` truncates, then one small write follows): the file is empty
/// or partial for microseconds, or for as long as that writer is descheduled between the
/// two calls — a few scheduler slices on a loaded machine. 100 ms covers that with a wide
/// margin, and is only ever spent on a file that is really broken.
pub const SETTLE_WAIT: Duration = Duration::from_millis(100);

/// Reads like [`read_limited`]; content that `valid` refuses (empty, or half-written by
/// another client rewriting the file in place) is read again, every millisecond, until it
/// is valid or `wait` has passed. Returns the last content read: only a file that *stays*
/// invalid is returned invalid.
pub fn read_settled(
    path: &Path,
    limit: usize,
    wait: Duration,
    valid: impl Fn(&[u8]) -> bool,
) -> Result<Option<Vec<u8>>> {
    let deadline = Instant::now() + wait;
    loop {
        let read = read_limited(path, limit);
        let settled = match &read {
            Ok(Some(bytes)) => valid(bytes),
            // Missing: our writers rename, the Python client truncates; neither deletes
            // on the way to a new content. An error (too large, a link) is not transient.
            Ok(None) | Err(_) => true,
        };
        if settled || Instant::now() >= deadline {
            return read;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Creates `dir/name` with `contents` only if it does not exist (mode `0600`, never
/// replacing a file another process — this library or the Python client — has just
/// created). Returns false when the file already existed.
pub fn write_new(dir: &Path, name: &str, contents: &[u8]) -> Result<bool> {
    let target = dir.join(name);
    let tmp = write_temp(dir, name, &[contents])?;
    // A rename that refuses to replace (or a hard link) makes the file appear complete and
    // fails if the target exists: no window where it is empty, and no replacing of a file
    // that appeared meanwhile.
    match tmp.persist_noclobber(&target) {
        Ok(()) => Ok(true),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // File systems with neither: fall back to an exclusive create.
        Err(_) => create_new(&target, contents),
    }
}

fn create_new(target: &Path, contents: &[u8]) -> Result<bool> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(target) {
        Ok(mut file) => file
            .write_all(contents)
            .map(|()| true)
            .map_err(|e| Error::io("write", target, e)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::io("create", target, e)),
    }
}

/// Replaces `dir/name` atomically with `contents`; the new file has mode `0600`.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<()> {
    write_atomic_pieces(dir, name, &[contents])
}

/// [`write_atomic`] of the concatenation of `pieces`, written one after the other (a large
/// file is never assembled in memory).
pub fn write_atomic_pieces(dir: &Path, name: &str, pieces: &[&[u8]]) -> Result<()> {
    let target = dir.join(name);
    let tmp = write_temp(dir, name, pieces)?;
    replace(tmp, &target).map_err(|e| Error::io("replace", &target, e))
}

/// Suffix of the temporary files of [`write_atomic`] and [`write_new`]: a process killed
/// mid-write leaves `.<name>.<random>.tmp` behind (`spool::discard` removes its own).
pub const TEMP_SUFFIX: &str = ".tmp";

/// A new temporary file beside `dir/name` (created exclusively, mode `0600`) holding
/// `pieces`, closed. It is deleted when dropped unless it was renamed into place.
fn write_temp(dir: &Path, name: &str, pieces: &[&[u8]]) -> Result<TempPath> {
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a temporary file in", dir, e))?;
    let mut out = io::BufWriter::with_capacity(64 * 1024, tmp.as_file_mut());
    pieces
        .iter()
        .try_for_each(|piece| out.write_all(piece))
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("write", dir.join(name), e))?;
    drop(out);
    // Closed before the rename, as Windows prefers.
    Ok(tmp.into_temp_path())
}

/// Renames `tmp` over `to`. On Windows a replace fails with "access denied" while another
/// process has `to` open (a reader of the decision file, the Python client, a virus
/// scanner) where the file system or Windows version lacks POSIX rename semantics (and
/// always under Wine): it is retried for at most 50 ms, as such opens are brief.
fn replace(tmp: TempPath, to: &Path) -> io::Result<()> {
    #[cfg(windows)]
    {
        let deadline = Instant::now() + Duration::from_millis(50);
        let mut tmp = tmp;
        loop {
            match tmp.persist(to) {
                Err(e)
                    if e.error.kind() == io::ErrorKind::PermissionDenied
                        && Instant::now() < deadline =>
                {
                    tmp = e.path;
                    std::thread::sleep(Duration::from_millis(1));
                }
                other => return other.map_err(|e| e.error),
            }
        }
    }
    #[cfg(not(windows))]
    tmp.persist(to).map_err(|e| e.error)
}

/// Removes `dir/name`; a missing file is not an error.
pub fn remove(dir: &Path, name: &str) -> Result<()> {
    let path = dir.join(name);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("delete", path, e)),
    }
}

/// An exclusive inter-process lock on the config directory, released on drop.
///
/// On Unix the directory itself is locked (`flock` on its descriptor), so no lock file is
/// left among the files shared with the Python client. Windows cannot lock a directory:
/// there a lock file in the temp directory, named after the config directory (its full
/// path, letter case ignored as the file system ignores it), is locked (`LockFileEx`, with
/// the same semantics: per open handle, released when the process dies).
pub struct DirLock {
    file: File,
}

/// The longest wait for the directory lock around the usage count at init: holders keep it
/// for well under a millisecond, but eight tools starting at once on a slow disk queue up.
pub const STATS_LOCK_WAIT: Duration = Duration::from_secs(1);

impl DirLock {
    /// Blocks until the lock is held, at most `max_wait`. Only taken around short
    /// read-modify-write cycles.
    pub fn acquire(dir: &Path, max_wait: Duration) -> Result<DirLock> {
        #[cfg(unix)]
        let (path, file) = {
            use std::os::unix::fs::OpenOptionsExt;
            let file = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(dir);
            (dir.to_path_buf(), file)
        };
        #[cfg(not(unix))]
        let (path, file) = {
            let path = lock_file_for(dir)?;
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path);
            (path, file)
        };
        let file = file.map_err(|e| Error::io("open for locking", &path, e))?;
        // Another process may hold the lock for ever (hung, or stopped in a debugger): wait
        // a bounded time, then report, rather than hang the host. Holders keep it for
        // microseconds, so the pause between tries starts tiny.
        let deadline = Instant::now() + max_wait;
        let mut pause = Duration::from_micros(20);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(DirLock { file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::io(
                        "lock",
                        &path,
                        io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("another process held the lock for over {max_wait:?}"),
                        ),
                    ))
                }
                Err(TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
            }
        }
    }
}

/// The lock file standing for `dir` where directories cannot be locked: in the temp
/// directory, named by a hash of the directory's canonical path in lower case, so every
/// spelling of one directory (`C:\Users\A\...`, `c:\users\a\...`, a relative path)
/// maps to one lock.
#[cfg(not(unix))]
fn lock_file_for(dir: &Path) -> Result<PathBuf> {
    let canonical = fs::canonicalize(dir).map_err(|e| Error::io("open for locking", dir, e))?;
    let key = canonical.to_string_lossy().to_lowercase();
    // FNV-1a, 64 bits: stable across runs and builds (std's hasher is not).
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    Ok(std::env::temp_dir().join(format!("{LOCK_FILE_PREFIX}{hash:016x}.lock")))
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Unlock explicitly: a child forked while the lock was held shares this open file
        // description, and merely closing our descriptor would leave the lock to the child.
        let _ = self.file.unlock();
    }
}

/// 32 random bits from the operating system (never panics; falls back to time and pid).
pub fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_ok() {
        return u32::from_ne_bytes(bytes);
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}

/// The wall clock in microseconds since the Unix epoch (0 before it): what events carry
/// and what the files on disk record. (A signal handler uses its own `clock_gettime`.)
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_private_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap().keep();
        write_atomic(&dir, "x", b"1").unwrap();
        write_atomic(&dir, "x", b"0").unwrap();
        assert_eq!(fs::read(dir.join("x")).unwrap(), b"0");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("x")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x")]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn write_new_never_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap().keep();
        assert!(write_new(&dir, "id", b"first").unwrap());
        assert!(!write_new(&dir, "id", b"second").unwrap());
        assert_eq!(fs::read(dir.join("id")).unwrap(), b"first");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("id")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("id")]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn read_limited_refuses_links_dirs_and_big_files() {
        let dir = tempfile::tempdir().unwrap().keep();
        assert!(read_limited(&dir.join("missing"), 10).unwrap().is_none());
        fs::write(dir.join("big"), vec![b'7'; 11]).unwrap();
        assert!(read_limited(&dir.join("big"), 10).is_err());
        assert_eq!(
            read_limited(&dir.join("big"), 11).unwrap().unwrap().len(),
            11
        );
        fs::create_dir(dir.join("d")).unwrap();
        assert!(read_limited(&dir.join("d"), 10).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.join("big"), dir.join("link")).unwrap();
            let err = read_limited(&dir.join("link"), 100)
                .unwrap_err()
                .to_string();
            assert!(err.contains("symbolic link"), "{err}");
            // Writing over a planted link replaces the link, never the file it points at.
            write_atomic(&dir, "link", b"1").unwrap();
            assert_eq!(fs::read(dir.join("big")).unwrap(), vec![b'7'; 11]);
            assert!(!fs::symlink_metadata(dir.join("link"))
                .unwrap()
                .file_type()
                .is_symlink());
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn ensure_dir_creates_only_under_existing_parent_and_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap().keep();
        ensure_dir(&dir.join("intel")).unwrap();
        assert!(dir.join("intel").is_dir());
        assert!(ensure_dir(&dir.join("no/such/parent")).is_err());
        fs::write(dir.join("file"), b"keep").unwrap();
        let err = ensure_dir(&dir.join("file")).unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");
        assert_eq!(fs::read(dir.join("file")).unwrap(), b"keep");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_held_lock_is_waited_for_a_bounded_time_then_reported() {
        let dir = tempfile::tempdir().unwrap().keep();
        let wait = Duration::from_millis(30);
        let held = DirLock::acquire(&dir, wait).unwrap();
        let err = DirLock::acquire(&dir, wait)
            .err()
            .expect("the second lock must fail");
        assert!(err.to_string().contains("held the lock"), "{err}");
        drop(held);
        DirLock::acquire(&dir, wait).unwrap();
        fs::remove_dir_all(dir).unwrap();
    }
}

#[cfg(all(test, windows))]
mod windows_tests;
