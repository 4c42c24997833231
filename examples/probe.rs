//! `probe`: drives the Rust API from the command line, one step per argument. The
//! integration tests run it as a child process (real environment, real terminal, fork);
//! it is also handy to try the library by hand:
//!
//! ```text
//! cargo run --example probe -- --config-dir /tmp/x session event:cat:act:label:3 end shutdown:2000
//! ```
//!
//! Options: `--config-dir DIR`, `--endpoint URL`, `--app NAME`, `--capacity N`,
//! `--dialog`, `--dialog-timeout-ms MS`, `--disable-in-ci`.
//! Steps: `session[:CAT]`, `end[:CAT]`, `event:CAT:ACT:LABEL:VALUE`, `events:N`,
//! `error:CAT:MSG`, `trace:CAT:TEXT`, `flush:MS`, `shutdown:MS`, `fork` (sends from a
//! forked child, which must come back at once), `counters`, `sleep:MS` (the tool works),
//! `touch:PATH` / `wait:PATH` (hand-shakes with a test), `optout` (this process withdraws
//! consent), `free` (drops the handle), `cycles:N` (N × init, event, shutdown(0), free).
//! Output: `enabled=<bool>` and `reason=<text>` first, then one line per step.

use std::path::Path;
use std::time::{Duration, Instant};

use openvino_telemetry::{directory, Error, Options, Telemetry};

fn outcome(result: Result<(), Error>) -> String {
    match result {
        Ok(()) => "OK".into(),
        Err(Error::Disabled(_)) => "DISABLED".into(),
        Err(Error::QueueFull) => "QUEUE_FULL".into(),
        Err(Error::ShutDown) => "SHUT_DOWN".into(),
        Err(Error::Timeout) => "TIMEOUT".into(),
        Err(e) => format!("ERROR {e}"),
    }
}

fn main() {
    let mut options = Options::new("probe", "1.0", "G-PROBE");
    let mut steps = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("option needs a value");
        match arg.as_str() {
            "--config-dir" => options.config_dir = Some(value().into()),
            "--endpoint" => options.endpoint = Some(value()),
            "--app" => options.app_name = value(),
            "--capacity" => options.queue_capacity = value().parse().expect("a number"),
            "--dialog" => options.consent_dialog = true,
            "--dialog-timeout-ms" => {
                options.dialog_timeout = Duration::from_millis(value().parse().expect("a number"))
            }
            "--disable-in-ci" => options.disable_in_ci = true,
            _ => steps.push(arg),
        }
    }
    let mut telemetry = match Telemetry::init(&options) {
        Ok(t) => t,
        Err(e) => {
            println!("init-error={e}");
            std::process::exit(3);
        }
    };
    println!("enabled={}", telemetry.is_enabled());
    println!("reason={}", telemetry.reason());
    for step in steps {
        let parts: Vec<&str> = step.splitn(5, ':').collect();
        let arg = |i: usize| parts.get(i).copied().unwrap_or("probe");
        let ms = |i: usize| Duration::from_millis(arg(i).parse().unwrap_or(1000));
        // A message may hold colons (`C:\Users\...`): everything after the category.
        let rest = |i: usize| parts.get(i..).map(|p| p.join(":")).unwrap_or_default();
        let started = Instant::now();
        let result = match parts[0] {
            "session" => outcome(telemetry.start_session(arg(1))),
            "end" => outcome(telemetry.end_session(arg(1))),
            "event" => {
                outcome(telemetry.send_event(arg(1), arg(2), arg(3), arg(4).parse().unwrap_or(1)))
            }
            "events" => {
                let n: usize = arg(1).parse().unwrap_or(1);
                let mut ok = 0;
                for i in 0..n {
                    if telemetry
                        .send_event("probe", "bulk", &i.to_string(), 1)
                        .is_ok()
                    {
                        ok += 1;
                    }
                }
                format!("OK {ok}")
            }
            "error" => outcome(telemetry.send_error(arg(1), &rest(2))),
            "trace" => outcome(telemetry.send_stack_trace(arg(1), &rest(2))),
            "flush" => outcome(telemetry.flush(ms(1))),
            "shutdown" => outcome(telemetry.shutdown(ms(1))),
            "counters" => format!("{:?}", telemetry.counters()),
            // The host's own pace (a tool working between two sends), not synchronisation.
            "sleep" => {
                std::thread::sleep(ms(1));
                "OK".into()
            }
            // Hand-shakes with the test driving this process.
            "touch" => {
                std::fs::write(arg(1), b"").expect("marker written");
                "OK".into()
            }
            "wait" => wait_for_file(Path::new(arg(1))),
            // This process withdraws consent itself (ov_telemetry_set_consent(dir, false)).
            "optout" => match telemetry.config_dir() {
                Some(dir) => outcome(directory::set_consent(dir, false).map(|_| ())),
                None => "NO-DIR".into(),
            },
            // Frees the handle (shutdown with timeout 0 if needed) and times it.
            "free" => {
                let old = std::mem::replace(
                    &mut telemetry,
                    Telemetry::init(&disabled(&options)).expect("a disabled handle"),
                );
                drop(old);
                "OK".into()
            }
            // n × (init, one event labelled <pid>-<i>, shutdown(0), free): a tool run many
            // times in a row, in one process.
            "cycles" => {
                let n: usize = arg(1).parse().unwrap_or(1);
                let mut ok = 0;
                for i in 0..n {
                    let t = Telemetry::init(&options).expect("init");
                    let label = format!("{}-{i}", std::process::id());
                    if t.send_event("probe", "cycle", &label, 1).is_ok() {
                        ok += 1;
                    }
                    let _ = t.shutdown(Duration::ZERO);
                    drop(t);
                }
                format!("OK {ok}")
            }
            "fork" => fork_and_send(&telemetry),
            other => format!("unknown step {other}"),
        };
        println!("{step} {result} {}us", started.elapsed().as_micros());
    }
}

/// Options that give a disabled handle, to stand in for a freed one: a config directory
/// that cannot exist holds no decision, and nothing is created there.
fn disabled(options: &Options) -> Options {
    let mut off = options.clone();
    off.config_dir = Some(std::env::temp_dir().join("ovt-probe-no-such-dir/intel"));
    off
}

fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        if Instant::now() > deadline {
            return "WAIT-TIMEOUT".into();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    "OK".into()
}

#[cfg(unix)]
fn fork_and_send(telemetry: &Telemetry) -> String {
    // SAFETY: the child only calls the library (which must stay inert there) and _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let sent = outcome(telemetry.send_event("probe", "child", "x", 1));
        let flushed = outcome(telemetry.flush(Duration::from_secs(5)));
        let shut = outcome(telemetry.shutdown(Duration::from_secs(5)));
        let code = if sent == "DISABLED" && flushed == "OK" && shut == "OK" {
            0
        } else {
            1
        };
        println!("child send={sent} flush={flushed} shutdown={shut}");
        // SAFETY: leaves the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    format!("child-exit={}", libc::WEXITSTATUS(status))
}

#[cfg(not(unix))]
fn fork_and_send(_: &Telemetry) -> String {
    "unsupported".into()
}
