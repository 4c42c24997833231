//! Windows behaviour (run under Wine by scripts/check-platforms): the config directory, the
//! files as the Python client writes them there, the directory lock between processes (the
//! lock and the replace within one process are unit tests in `src/files/`), no dialog
//! without a console, and the profile path scrubbed in any letter case.
//! The DLL's exports and LoadLibrary + GetProcAddress are checked by the script itself
//! (objdump, and a C program built with mingw).

#[cfg(windows)]
mod support;

#[cfg(windows)]
mod windows {
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};
    use std::time::Duration;

    use crate::support::server::{Mode, TestServer};
    use crate::support::{example, probe, temp_dir};
    use openvino_telemetry::directory;

    const LONG: Duration = Duration::from_secs(10);

    fn run(cmd: &mut Command) -> (String, Output) {
        let out = cmd.output().unwrap();
        (String::from_utf8_lossy(&out.stdout).into_owned(), out)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_config_directory_is_local_app_data_intel_corporation() {
        // Read only: the real directory is never written by a test.
        let local = std::env::var_os("LOCALAPPDATA").expect("LOCALAPPDATA is set on Windows");
        assert_eq!(
            directory::default_dir().unwrap(),
            PathBuf::from(local).join("Intel Corporation")
        );
    }

    #[test]
    fn files_are_byte_compatible_with_the_python_client_on_windows() {
        let dir = temp_dir("win-files").join("Intel Corporation");
        let opt = |arg: &str| {
            let (stdout, out) = run(Command::new(example_bin("opt_in_out"))
                .args([arg, "--config-dir"])
                .arg(&dir));
            assert!(out.status.success(), "{arg}: {stdout}");
        };
        opt("--opt_in");
        // Two initialisations with consent count two usages; what they send is delivered.
        let server = TestServer::start(Mode::Ok204);
        let probe_run = || {
            let (stdout, _) = run(Command::new(probe()).arg("--config-dir").arg(&dir).args([
                "--endpoint",
                &server.url(),
                "event:c:a:l:1",
                "shutdown:5000",
            ]));
            assert!(stdout.contains("enabled=true"), "{stdout}");
            assert!(stdout.contains("shutdown:5000 OK"), "{stdout}");
        };
        probe_run();
        probe_run();
        assert_eq!(fs::read(dir.join("openvino_telemetry")).unwrap(), b"1");
        let cid = fs::read(dir.join("openvino_ga_cid")).unwrap();
        assert_eq!(cid.len(), 36, "{cid:?}");
        assert!(cid.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-'));
        // Python's json.dumps(obj, indent=4) written in text mode: CRLF on Windows.
        let stats = fs::read(dir.join("stats")).unwrap();
        // opt_in_out counts one usage as the Python tool does, each probe one more.
        assert_eq!(
            String::from_utf8_lossy(&stats),
            "{\r\n    \"usage_count\": 3\r\n}"
        );
        // Nothing else among the shared files but the record of what was sent: no lock
        // file, no temporary file.
        assert_eq!(
            names(&dir),
            [
                "openvino_ga_cid",
                "openvino_telemetry",
                "openvino_telemetry_sent.jsonl",
                "stats"
            ]
        );
        opt("--opt_out");
        assert_eq!(names(&dir), ["openvino_telemetry"]);
        assert_eq!(fs::read(dir.join("openvino_telemetry")).unwrap(), b"0");
        // And a file as Python wrote it is read back (CRLF stats, no newline elsewhere).
        fs::write(dir.join("openvino_telemetry"), b"1").unwrap();
        fs::write(dir.join("stats"), b"{\r\n    \"usage_count\": 41\r\n}").unwrap();
        probe_run();
        assert_eq!(
            fs::read_to_string(dir.join("stats")).unwrap(),
            "{\r\n    \"usage_count\": 42\r\n}"
        );
    }

    fn example_bin(name: &str) -> PathBuf {
        if name == "opt_in_out" {
            // The binary target sits beside the examples' directory.
            let exe = example("probe");
            let debug = exe.parent().unwrap().parent().unwrap();
            let path = debug.join("opt_in_out.exe");
            assert!(path.is_file(), "{} is missing", path.display());
            return path;
        }
        example(name)
    }

    #[test]
    fn two_processes_incrementing_stats_concurrently_lose_no_count() {
        let dir = temp_dir("win-lock").join("intel");
        directory::set_consent(&dir, true).unwrap();
        const RUNS: usize = 20;
        let chains: Vec<_> = (0..2)
            .map(|_| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    for _ in 0..RUNS {
                        let (stdout, _) = run(Command::new(probe())
                            .arg("--config-dir")
                            .arg(&dir)
                            .args(["--endpoint", "http://127.0.0.1:9/x"]));
                        assert!(stdout.contains("enabled=true"), "{stdout}");
                    }
                })
            })
            .collect();
        for chain in chains {
            chain.join().unwrap();
        }
        assert_eq!(
            openvino_telemetry::directory::usage_count(&dir),
            Some(2 * RUNS as u64)
        );
        assert!(
            !names(&dir).iter().any(|n| n.contains("lock")),
            "{:?}",
            names(&dir)
        );
    }

    #[test]
    fn no_dialog_without_a_console() {
        // Pipes for all three streams: no console to ask on. Init must not wait, ask, or
        // decide for the user.
        let dir = temp_dir("win-dialog").join("intel");
        fs::create_dir(&dir).unwrap();
        let started = std::time::Instant::now();
        let (stdout, out) = run(Command::new(probe())
            .arg("--config-dir")
            .arg(&dir)
            .args(["--dialog", "--dialog-timeout-ms", "5000"])
            .stdin(std::process::Stdio::piped()));
        assert!(out.status.success(), "{stdout}");
        assert!(stdout.contains("enabled=false"), "{stdout}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "init waited for an answer: {:?}",
            started.elapsed()
        );
        assert!(!String::from_utf8_lossy(&out.stderr).contains("[y/n]"));
        assert!(names(&dir).is_empty(), "{:?}", names(&dir));
    }

    #[test]
    fn the_profile_path_and_user_name_are_scrubbed_in_any_letter_case() {
        let server = TestServer::start(Mode::Ok204);
        let dir = temp_dir("win-scrub").join("intel");
        directory::set_consent(&dir, true).unwrap();
        let message = r"cannot open C:\Users\Alice\models\a.xml; c:\users\alice\b.xml; C:\USERS\ALICE\c.xml by ALICE alice";
        let (stdout, _) = run(Command::new(probe())
            .env("USERPROFILE", r"C:\Users\Alice")
            .env("USERNAME", "Alice")
            .arg("--config-dir")
            .arg(&dir)
            .args(["--endpoint", &server.url()])
            .arg(format!("error:load:{message}"))
            .arg("shutdown:5000"));
        assert!(stdout.contains("shutdown:5000 OK"), "{stdout}");
        let events = server.wait_for_events(1, LONG);
        let sent = serde_json::to_string(&events).unwrap();
        assert!(sent.contains("models"), "{sent}");
        assert!(
            !sent.to_lowercase().contains("alice"),
            "the user name left the machine: {sent}"
        );
    }
}

#[cfg(not(windows))]
#[test]
#[ignore = "Windows only: scripts/check-platforms runs it under Wine"]
fn windows_behaviour() {}
