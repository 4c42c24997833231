//! Crash capture (DESIGN §5a) with real crashing programs.
//!
//! `tests/crash_programs/crasher.c` and `crasher_cpp.cpp` are compiled here with the
//! system's `cc` / `c++` (with `-g`), linked to the library `cargo test` just built, and
//! crashed in each way; every case is checked by the exit status, by the record file left
//! in the config directory, and by what the next run delivers to a loopback collector.
//! Frames are checked with `addr2line` against the crasher's own debug information.
#![cfg(target_os = "linux")]

mod support;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use openvino_telemetry::directory;
use serde_json::Value;
use support::server::{Mode, TestServer};
use support::temp_dir;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `<target>/<profile>`, where cargo put `libopenvino_telemetry.so`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

struct Programs {
    c: PathBuf,
    cpp: PathBuf,
    /// A shared library the crasher loads after init.
    plugin: PathBuf,
}

/// Compiles the crashers once per test run. The library is linked through a directory
/// holding it under its SONAME, so the crashers load exactly the library under test.
fn programs() -> &'static Programs {
    static PROGRAMS: OnceLock<Programs> = OnceLock::new();
    PROGRAMS.get_or_init(|| {
        let out = temp_dir("crash-programs");
        let built = profile_dir().join("libopenvino_telemetry.so");
        assert!(built.is_file(), "{} is missing", built.display());
        for name in ["libopenvino_telemetry.so", "libopenvino_telemetry.so.1"] {
            std::fs::copy(&built, out.join(name)).unwrap();
        }
        let compile = |compiler: &str, source: &str, exe: &str, extra: &[&str]| {
            let exe = out.join(exe);
            let result = Command::new(compiler)
                .args(["-g", "-O0", "-Wall", "-Wextra", "-Werror", "-I"])
                .arg(Path::new(ROOT).join("include"))
                .args(extra)
                .arg(Path::new(ROOT).join("tests/crash_programs").join(source))
                .arg("-o")
                .arg(&exe)
                .arg("-L")
                .arg(&out)
                .arg(format!("-Wl,-rpath,{}", out.display()))
                .args(["-lopenvino_telemetry", "-pthread", "-ldl"])
                .output()
                .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
            assert!(
                result.status.success(),
                "{compiler} failed:\n{}",
                String::from_utf8_lossy(&result.stderr)
            );
            exe
        };
        Programs {
            plugin: compile(
                "cc",
                "plugin.c",
                "libcrashplugin.so",
                &["-std=c11", "-shared", "-fPIC"],
            ),
            c: compile("cc", "crasher.c", "crasher", &["-std=c11"]),
            cpp: {
                // The wrapper compiles warning-free as C++20 too (the crasher runs as C++17).
                let strict = ["-Wpedantic", "-Wshadow", "-Wconversion"];
                compile(
                    "c++",
                    "crasher_cpp.cpp",
                    "crasher_cpp20",
                    &[&["-std=c++20"][..], &strict].concat(),
                );
                compile(
                    "c++",
                    "crasher_cpp.cpp",
                    "crasher_cpp",
                    &[&["-std=c++17"][..], &strict].concat(),
                )
            },
        }
    })
}

/// A config directory with the decision `1` (or none).
fn config_dir(tag: &str, consent: Option<&str>) -> PathBuf {
    let dir = temp_dir(tag);
    if let Some(decision) = consent {
        std::fs::write(dir.join("openvino_telemetry"), decision).unwrap();
    }
    dir
}

fn run(exe: &Path, args: &[&str], dir: &Path, endpoint: &str) -> Output {
    run_with_core_limit(exe, args, dir, endpoint, 0)
}

fn run_with_core_limit(
    exe: &Path,
    args: &[&str],
    dir: &Path,
    endpoint: &str,
    core_limit: libc::rlim_t,
) -> Output {
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("OPENVINO_TELEMETRY_ENDPOINT", endpoint)
        .env_remove("OPENVINO_TELEMETRY_DEBUG")
        .env_remove("OPENVINO_TELEMETRY_DISABLE")
        .env_remove("DO_NOT_TRACK");
    // No core files unless asked (the kernel's decision to dump is unchanged).
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_CORE, &mut limit);
            limit.rlim_cur = core_limit.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_CORE, &limit);
            Ok(())
        });
    }
    cmd.output().unwrap()
}

fn crash(mode: &str, dir: &Path) -> Output {
    // The crashing run talks to a collector that is not there: nothing depends on it.
    run(
        &programs().c,
        &[mode, dir.to_str().unwrap()],
        dir,
        "http://127.0.0.1:9/mp/collect",
    )
}

fn records(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with(directory::CRASH_RECORD_PREFIX))
        .collect();
    names.sort();
    names
}

fn only_record(dir: &Path) -> String {
    let names = records(dir);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].ends_with(directory::CRASH_RECORD_SUFFIX),
        "{names:?}"
    );
    let path = dir.join(&names[0]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a record is private");
    std::fs::read_to_string(path).unwrap()
}

/// Runs the crasher in `run` mode against a fresh collector: it sends the waiting records
/// and flushes before it exits. Returns the `crash` events delivered.
fn next_run(dir: &Path) -> Vec<Value> {
    let server = TestServer::start(Mode::Ok204);
    let out = run(
        &programs().c,
        &["run", dir.to_str().unwrap()],
        dir,
        &server.url(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("flush 0"),
        "everything delivered before exit: {stdout}"
    );
    server
        .events()
        .into_iter()
        .filter(|e| e["name"] == "crash")
        .collect()
}

/// `addr2line -f` on a `crasher+0x…` offset: the function's name.
fn function_at(exe: &Path, offset: &str) -> String {
    let out = Command::new("addr2line")
        .arg("-f")
        .arg("-e")
        .arg(exe)
        .arg(offset)
        .output()
        .expect("addr2line (binutils) is needed by this test");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

/// The offsets of the `<module>+0x…` frames of an event, in order.
fn frames_of(event: &Value, module: &str) -> Vec<String> {
    let params = event["params"].as_object().unwrap();
    (0..25)
        .map_while(|i| params.get(&format!("frame_{i}")))
        .map(|v| v.as_str().unwrap().to_owned())
        .filter_map(|v| {
            let (name, rest) = v.split_once("+0x")?;
            (name == module).then(|| format!("0x{}", rest.split(' ').next().unwrap()))
        })
        .collect()
}

/// Crashes in `mode`, then checks the exit status, the record and the delivery.
fn crash_is_reported(mode: &str, signal: i32, name: &str, function: &str) {
    let dir = config_dir(&format!("crash-{mode}"), Some("1"));
    let out = crash(mode, &dir);
    assert_eq!(
        out.status.signal(),
        Some(signal),
        "{mode}: killed by {name} as without the library ({:?})",
        out.status
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("init 0"));

    let record = only_record(&dir);
    assert!(
        record.starts_with("openvino_telemetry_crash 1\n"),
        "{record}"
    );
    assert!(record.contains(&format!("\nsignal {name}\n")), "{record}");
    assert!(
        record.contains("\napp crasher\nversion 1.2.3\n"),
        "{record}"
    );
    assert!(record.ends_with("end\n"), "{record}");
    assert!(
        !record.contains('/') && !record.contains(dir.to_str().unwrap()),
        "no paths in a record: {record}"
    );
    let mut parsed = directory::crash_records(&dir);
    assert_eq!(parsed.len(), 1, "{record}");
    let parsed = parsed.remove(0);
    let build_id = parsed
        .frames
        .iter()
        .find(|(f, _)| f.starts_with("crasher+0x"))
        .and_then(|(_, id)| id.clone())
        .expect("a crasher frame with its build id");
    assert!(build_id.len() >= 32, "{build_id}");

    let events = next_run(&dir);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    let p = &e["params"];
    assert_eq!(p["event_category"], "crasher");
    assert_eq!(p["event_label"], name);
    assert_eq!(p["app_name"], "crasher");
    assert_eq!(p["app_version"], "1.2.3");
    assert_eq!(e["timestamp_micros"].as_u64(), Some(parsed.time_micros));
    assert!(p.as_object().unwrap().len() <= 25);
    for (k, v) in p.as_object().unwrap() {
        if let Some(s) = v.as_str() {
            assert!(s.chars().count() <= 100, "{k} = {s}");
        }
    }
    let crasher_frames = frames_of(e, "crasher");
    assert!(!crasher_frames.is_empty(), "{e}");
    assert_eq!(
        function_at(&programs().c, &crasher_frames[0]),
        function,
        "the top crasher frame of {e}"
    );
    let callers: Vec<String> = crasher_frames
        .iter()
        .map(|f| function_at(&programs().c, f))
        .collect();
    match mode {
        // 15 frames of a runaway recursion are all the recursion.
        "overflow" => assert!(callers.iter().all(|f| f == function), "{callers:?}"),
        "thread" => assert!(callers.iter().any(|f| f == "worker"), "{callers:?}"),
        _ => assert!(callers.iter().any(|f| f == "main"), "{callers:?}"),
    }
    assert!(records(&dir).is_empty(), "sent records are deleted");
    assert!(next_run(&dir).is_empty(), "reported exactly once");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_null_pointer_write_is_reported() {
    crash_is_reported("segv", libc::SIGSEGV, "SIGSEGV", "crash_null_write");
}

#[test]
fn abort_is_reported() {
    crash_is_reported("abort", libc::SIGABRT, "SIGABRT", "crash_abort");
}

#[test]
fn an_integer_division_by_zero_is_reported() {
    crash_is_reported("fpe", libc::SIGFPE, "SIGFPE", "crash_divide");
}

#[test]
fn a_stack_overflow_on_the_main_thread_is_reported() {
    crash_is_reported("overflow", libc::SIGSEGV, "SIGSEGV", "crash_recurse");
}

#[test]
fn a_crash_on_a_worker_thread_is_reported() {
    crash_is_reported("thread", libc::SIGSEGV, "SIGSEGV", "crash_null_write");
}

#[test]
fn an_uncaught_cpp_exception_is_reported_with_its_type() {
    let dir = config_dir("crash-cpp", Some("1"));
    let out = run(
        &programs().cpp,
        &[dir.to_str().unwrap()],
        &dir,
        "http://127.0.0.1:9/mp/collect",
    );
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("terminate called after throwing an instance of 'std::runtime_error'"),
        "the C++ runtime's own handler still ran: {stderr}"
    );
    let record = only_record(&dir);
    assert!(
        record.contains("\nexception std::runtime_error\n"),
        "{record}"
    );
    assert!(
        !record.contains("secret") && !record.contains("model.xml"),
        "never the message: {record}"
    );
    let events = next_run(&dir);
    assert_eq!(events.len(), 1, "{events:?}");
    let p = &events[0]["params"];
    assert_eq!(p["event_category"], "crasher_cpp");
    assert_eq!(p["event_label"], "SIGABRT");
    assert_eq!(p["exception"], "std::runtime_error");
    assert_eq!(p["app_version"], "4.5.6");
    let frames = frames_of(&events[0], "crasher_cpp");
    assert!(
        frames
            .iter()
            .any(|f| function_at(&programs().cpp, f).contains("throw_uncaught")),
        "the throwing function is among the frames: {frames:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_crash_in_a_library_loaded_after_init_names_it() {
    let dir = config_dir("crash-dlopen", Some("1"));
    let plugin = &programs().plugin;
    let out = run(
        &programs().c,
        &["dlopen", dir.to_str().unwrap(), plugin.to_str().unwrap()],
        &dir,
        "http://127.0.0.1:9/mp/collect",
    );
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{out:?}");
    let record = only_record(&dir);
    let events = next_run(&dir);
    assert_eq!(events.len(), 1, "{record}");
    let frames = frames_of(&events[0], "libcrashplugin.so");
    assert!(!frames.is_empty(), "{record}");
    assert_eq!(function_at(plugin, &frames[0]), "plugin_crash", "{record}");
    let top = events[0]["params"]["frame_0"].as_str().unwrap();
    assert!(
        top.starts_with("libcrashplugin.so+0x")
            && top.split(' ').nth(1).is_some_and(|id| id.len() == 40),
        "named, with its build id: {top}"
    );
    assert!(!frames_of(&events[0], "crasher").is_empty(), "{record}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_fault_while_a_crash_is_handled_goes_straight_on() {
    // The host's SIGSEGV handler (ours hands on to it) raises SIGILL: our SIGILL handler
    // is entered again while the SIGSEGV is being handled, records nothing more and
    // hands SIGILL on to its default action.
    let dir = config_dir("crash-nested", Some("1"));
    let out = crash("nested", &dir);
    assert_eq!(out.status.signal(), Some(libc::SIGILL), "{out:?}");
    let record = only_record(&dir);
    assert!(
        record.contains("\nsignal SIGSEGV\n"),
        "one record, of the first: {record}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn two_threads_crashing_at_once_leave_one_complete_record() {
    for _ in 0..3 {
        let dir = config_dir("crash-two-threads", Some("1"));
        let out = crash("two-threads", &dir);
        assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{out:?}");
        let record = only_record(&dir);
        assert_eq!(directory::crash_records(&dir).len(), 1, "{record}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_small_alternate_stack_of_the_host_is_never_overflowed() {
    // The host's 8 KiB alternate stack is kept (init adds one only where none is set) and
    // is too small to record on: the handler records nothing and hands on.
    let dir = config_dir("crash-small-altstack", Some("1"));
    let out = crash("small-altstack", &dir);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{out:?}");
    assert!(records(&dir).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn core_dumps_are_as_without_the_library() {
    // Same crash with the handlers (consent) and without them (declined): the kernel
    // dumps core (or not) alike, by the same signal. Cores go to the temp directory when
    // core_pattern is a plain file name.
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    for mode in ["segv", "abort", "fpe"] {
        let mut seen = Vec::new();
        for consent in ["1", "0"] {
            let dir = config_dir("crash-core", Some(consent));
            let out = run_with_core_limit(
                &programs().c,
                &[mode, dir.to_str().unwrap()],
                &dir,
                "http://127.0.0.1:9/mp/collect",
                libc::RLIM_INFINITY,
            );
            assert_eq!(records(&dir).len(), usize::from(consent == "1"));
            seen.push((out.status.signal(), out.status.core_dumped()));
            std::fs::remove_dir_all(dir).unwrap();
        }
        assert_eq!(seen[0], seen[1], "{mode}: with and without the library");
        if !pattern.starts_with('|') && hard_core_limit_allows() {
            assert!(seen[0].1, "{mode}: a core was dumped ({pattern:?})");
        }
    }
}

/// The hard core-size limit of this process lets a child dump core.
fn hard_core_limit_allows() -> bool {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into valid memory.
    unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) };
    limit.rlim_max > 64 * 1024
}

#[test]
fn an_ignored_signal_sent_to_the_process_stays_ignored() {
    let dir = config_dir("crash-ignored", Some("1"));
    let out = crash("ignored", &dir);
    assert!(String::from_utf8_lossy(&out.stdout).contains("still here"));
    assert_eq!(records(&dir).len(), 1, "only the real fault is recorded");
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{out:?}");
    assert!(only_record(&dir).contains("\nsignal SIGSEGV\n"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_host_that_jumps_out_of_its_handler_keeps_crash_capture_working() {
    // The host's handler recovers from the first fault with siglongjmp, so our handler
    // never returns from handing it on. The second fault is still recorded. (The first
    // leaves a record too: a recovery by siglongjmp cannot be told from a crash.)
    let dir = config_dir("crash-longjmp", Some("1"));
    let out = crash("longjmp", &dir);
    assert!(String::from_utf8_lossy(&out.stdout).contains("recovered"));
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{out:?}");
    assert_eq!(records(&dir).len(), 2, "{:?}", records(&dir));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_host_handler_installed_before_init_is_still_called() {
    let dir = config_dir("crash-host-before", Some("1"));
    let out = crash("host-before", &dir);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV));
    assert!(String::from_utf8_lossy(&out.stdout).contains("host handler SIGSEGV"));
    assert!(only_record(&dir).contains("\nsignal SIGSEGV\n"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_host_handler_installed_after_init_is_left_alone() {
    // The host replaces our handler after init; freeing the handle must not put ours or
    // the default back over it.
    let dir = config_dir("crash-host-after", Some("1"));
    let out = crash("host-after", &dir);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV));
    assert!(String::from_utf8_lossy(&out.stdout).contains("host handler SIGSEGV"));
    assert!(records(&dir).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn after_free_the_handlers_are_gone() {
    let dir = config_dir("crash-after-free", Some("1"));
    let out = crash("after-free", &dir);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV));
    assert!(records(&dir).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn without_consent_nothing_is_written_and_the_crash_is_unchanged() {
    for consent in [None, Some("0")] {
        let dir = config_dir("crash-no-consent", consent);
        let before = std::fs::read_dir(&dir).unwrap().flatten().count();
        let out = crash("segv", &dir);
        assert_eq!(out.status.signal(), Some(libc::SIGSEGV));
        assert!(String::from_utf8_lossy(&out.stdout).contains("init 1"));
        let after = std::fs::read_dir(&dir).unwrap().flatten().count();
        assert_eq!(after, before, "not a single file written ({consent:?})");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn consent_withdrawn_before_the_next_run_deletes_the_record_unsent() {
    // Withdrawn by opt_in_out --opt_out: the record goes with the rest.
    let dir = config_dir("crash-opt-out", Some("1"));
    crash("segv", &dir);
    assert_eq!(records(&dir).len(), 1);
    let status = Command::new(env!("CARGO_BIN_EXE_opt_in_out"))
        .args(["--config-dir", dir.to_str().unwrap(), "--status"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("crashes:    1 waiting"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_opt_in_out"))
        .args(["--config-dir", dir.to_str().unwrap(), "--opt_out"])
        .env(
            "OPENVINO_TELEMETRY_ENDPOINT",
            "http://127.0.0.1:9/mp/collect",
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(records(&dir).is_empty(), "opt-out deletes crash records");
    std::fs::remove_dir_all(&dir).unwrap();

    // Withdrawn by another client writing `0` (the Python client knows nothing of
    // records): the next init, without consent, deletes it unsent.
    let dir = config_dir("crash-declined", Some("1"));
    crash("segv", &dir);
    assert_eq!(records(&dir).len(), 1);
    std::fs::write(dir.join("openvino_telemetry"), "0").unwrap();
    let server = TestServer::start(Mode::Ok204);
    let out = run(
        &programs().c,
        &["run", dir.to_str().unwrap()],
        &dir,
        &server.url(),
    );
    assert!(out.status.success());
    assert!(records(&dir).is_empty(), "deleted without consent");
    assert!(server.requests().is_empty(), "and not sent");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn runs_starting_together_send_a_record_once() {
    let dir = config_dir("crash-together", Some("1"));
    for _ in 0..3 {
        crash("segv", &dir);
    }
    assert_eq!(records(&dir).len(), 3);
    let server = TestServer::start(Mode::Ok204);
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(&programs().c)
                .args(["run", dir.to_str().unwrap()])
                .env("OPENVINO_TELEMETRY_ENDPOINT", server.url())
                .env_remove("OPENVINO_TELEMETRY_DEBUG")
                .env_remove("OPENVINO_TELEMETRY_DISABLE")
                .env_remove("DO_NOT_TRACK")
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("flush 0"));
    }
    let crashes = server
        .events()
        .into_iter()
        .filter(|e| e["name"] == "crash")
        .count();
    assert_eq!(crashes, 3, "each of the three crashes exactly once");
    assert!(records(&dir).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_record_of_another_identity_is_never_sent() {
    // An opt-out and an opt-in between the crash and the next run: a new client id.
    let dir = config_dir("crash-new-identity", Some("1"));
    crash("segv", &dir);
    assert_eq!(records(&dir).len(), 1);
    std::fs::write(
        dir.join("openvino_ga_cid"),
        "00000000-0000-4000-8000-000000000000",
    )
    .unwrap();
    assert!(next_run(&dir).is_empty());
    assert!(records(&dir).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn crash_reports_are_off_by_default() {
    // The library's own test binary: init without the option installs nothing.
    let dir = config_dir("crash-default", Some("1"));
    let mut options = openvino_telemetry::Options::new("t", "1", "G-X");
    options.config_dir = Some(dir.clone());
    options.endpoint = Some("http://127.0.0.1:9/mp/collect".into());
    let before = current_segv_handler();
    let t = openvino_telemetry::Telemetry::init(&options).unwrap();
    assert!(t.is_enabled());
    assert_eq!(current_segv_handler(), before);
    options.crash_reports = true;
    let t2 = openvino_telemetry::Telemetry::init(&options).unwrap();
    assert_ne!(current_segv_handler(), before, "installed with the option");
    t2.shutdown(Duration::from_millis(100)).unwrap();
    assert_eq!(current_segv_handler(), before, "restored at shutdown");
    t.shutdown(Duration::from_millis(100)).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

fn current_segv_handler() -> usize {
    // SAFETY: querying a disposition into valid memory.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGSEGV, std::ptr::null(), &mut current);
        current.sa_sigaction
    }
}
