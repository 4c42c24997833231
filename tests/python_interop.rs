//! Interoperation on disk with the reference Python client, `openvino-telemetry==2025.2.0`.
//!
//! The Python package is installed once into a virtualenv under `<target>/py-interop-venv`
//! (pip needs PyPI; when it fails the tests fail with pip's output). Every child process,
//! ours and Python's, runs with a cleared environment, its own temporary `HOME`, stdin
//! from /dev/null, and inside a network namespace without network (`unshare -n`); ours
//! also with `OPENVINO_TELEMETRY_DEBUG=1`, and Python's with its backend's `send` replaced
//! by a function that only writes the message to stderr. Nothing can leave the machine,
//! and the real `~/intel` is never touched.
//!
//! Python is observed through its own lower-level readers (`OptInChecker.check`,
//! `utils.cid.get_cid`, `StatsProcessor.get_stats`), through `Telemetry(...)` itself, and
//! through its `opt_in_out` entry point (`openvino_telemetry.opt_in_out:main`).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const PYTHON_PACKAGE: &str = "openvino-telemetry==2025.2.0";
const PYTHON_VERSION: &str = "2025.2.0";
/// Gross limit for any one child process; none needs more than a few seconds.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);
/// Gross limit for creating the virtualenv and for pip.
const SETUP_TIMEOUT: Duration = Duration::from_secs(900);
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const OPTED_IN: &str = "You have successfully opted in to send the telemetry data.\n";
const OPTED_OUT: &str = "You have successfully opted out to send the telemetry data.\n";
const SPECIFY: &str = "Specify either \"--opt_in\" or \"--opt_out\" command line parameter.\n";

/// Replaces the GA4 backend's `send` so that nothing is ever sent (the message is written
/// to stderr instead). Every snippet below starts with it.
const PY_NO_SEND: &str = r#"
import json, sys
import openvino_telemetry.backend.backend_ga4 as _ga4
def _no_send(self, message):
    if message is not None:
        sys.stderr.write("python-would-send " + json.dumps(message) + "\n")
_ga4.GA4Backend.send = _no_send
"#;

/// The `opt_in_out` console script: the same entry point, called the same way.
const PY_OPT_IN_OUT: &str = r#"
from openvino_telemetry.opt_in_out import main
sys.argv[0] = "opt_in_out"
sys.exit(main())
"#;

/// What the Python client reads from disk, without writing anything.
const PY_READ: &str = r#"
from openvino_telemetry.utils.opt_in_checker import OptInChecker
from openvino_telemetry.utils.cid import get_cid
from openvino_telemetry.utils.stats_processor import StatsProcessor
from openvino_telemetry.backend.backend_ga4 import GA4Backend, is_valid_cid
consent = OptInChecker().check(enable_opt_in_dialog=False).name
cid = get_cid(GA4Backend.cid_filename, is_valid_cid)
legacy = get_cid(GA4Backend.old_cid_filename, is_valid_cid)
read, stats = StatsProcessor().get_stats()
print(json.dumps({
    "consent": consent,
    "cid": cid,
    "legacy_cid": legacy,
    "stats_read": read,
    "stats": stats,
    "stats_dumped": json.dumps(stats, indent=4) if read else None,
}))
"#;

/// A Python tool starting: `Telemetry(...)` as OpenVINO's Python tools construct it.
const PY_TELEMETRY_INIT: &str = r#"
from openvino_telemetry import Telemetry
t = Telemetry(app_name="py_interop", app_version="1.0", tid="G-INTEROP", backend="ga4")
print(json.dumps({"consent": t.consent, "cid": t.backend.cid, "stats": t.backend.stats}))
"#;

/// Writes `sys.argv[1]` (JSON) as the stats with the Python client's own writer.
const PY_WRITE_STATS: &str = r#"
from openvino_telemetry.utils.stats_processor import StatsProcessor
print(json.dumps({"ok": StatsProcessor().update_stats(json.loads(sys.argv[1]))}))
"#;

// ---------------------------------------------------------------------------------------
// Child processes

struct Run {
    shown: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "{}\nexit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.shown, self.code, self.stdout, self.stderr
        )
    }

    fn success(self) -> Run {
        assert_eq!(self.code, Some(0), "failed:\n{}", self.describe());
        self
    }
}

fn read_all_in_thread(mut from: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        let _ = tx.send(bytes);
    });
    rx
}

/// Runs a command to completion with stdin from /dev/null; kills it after `timeout`.
fn run(mut command: Command, timeout: Duration) -> Run {
    let shown = format!("{command:?}");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let pid = child.id();
    let stdout = read_all_in_thread(child.stdout.take().unwrap());
    let stderr = read_all_in_thread(child.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(timeout) {
        Ok(status) => status.unwrap_or_else(|e| panic!("waiting for {shown}: {e}")),
        Err(_) => {
            // SAFETY: plain kill(2). The waiting thread has not reaped the child (it is
            // still running), so the pid still names it.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("{shown} did not finish within {timeout:?} and was killed");
        }
    };
    // The pipes close when the child exits, unless it left a grandchild holding them.
    let collect = |rx: mpsc::Receiver<Vec<u8>>| {
        let bytes = rx
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("{shown}: output still open {timeout:?} after exit"));
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Run {
        code: status.code(),
        stdout: collect(stdout),
        stderr: collect(stderr),
        shown,
    }
}

/// Checks once that `unshare -n` gives a namespace whose only interface is `lo`.
fn require_network_isolation() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        let mut command = Command::new("unshare");
        command
            .args(["-n", "cat", "/proc/self/net/dev"])
            .env_clear()
            .env("PATH", SYSTEM_PATH);
        let shown = format!("{command:?}");
        command.stdin(Stdio::null());
        let output = match command.output() {
            Ok(output) => output,
            Err(e) => return Err(format!("cannot run {shown}: {e}")),
        };
        if !output.status.success() {
            return Err(format!(
                "{shown} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let interfaces: Vec<&str> = text
            .lines()
            .skip(2)
            .filter_map(|line| line.split(':').next())
            .map(str::trim)
            .collect();
        if interfaces != ["lo"] {
            return Err(format!(
                "{shown} still sees network interfaces {interfaces:?}:\n{text}"
            ));
        }
        Ok(())
    });
    if let Err(why) = result {
        panic!(
            "these tests run every telemetry client inside `unshare -n` so that nothing can \
             reach the network, and that does not work here (root or CAP_SYS_ADMIN is \
             needed): {why}"
        );
    }
}

/// `unshare -n <program>` with a cleared environment: PATH, HOME, and nothing else.
fn isolated(program: &Path, home: &Home, path: &str) -> Command {
    require_network_isolation();
    let mut command = Command::new("unshare");
    command
        .arg("-n")
        .arg(program)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home.root)
        .current_dir(&home.root);
    command
}

// ---------------------------------------------------------------------------------------
// Temporary homes

struct Home {
    root: PathBuf,
}

impl Home {
    fn new(tag: &str) -> Home {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let root = std::env::temp_dir().join(format!(
            "ovt-py-interop-{tag}-{}-{}-{nanos:08x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&root).unwrap();
        Home { root }
    }

    fn intel(&self) -> PathBuf {
        self.root.join("intel")
    }

    fn file(&self, name: &str) -> Option<String> {
        match fs::read(self.intel().join(name)) {
            Ok(bytes) => Some(String::from_utf8(bytes).expect("a UTF-8 file")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("reading {name}: {e}"),
        }
    }

    fn cid(&self) -> Option<String> {
        self.file("openvino_ga_cid")
    }

    fn usage_count(&self) -> Option<u64> {
        let text = self.file("stats")?;
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("stats is not JSON ({e}): {text:?}"));
        value["usage_count"].as_u64()
    }

    /// Every entry of the config directory, hidden ones included, with its content.
    fn snapshot(&self) -> BTreeMap<String, String> {
        let Ok(entries) = fs::read_dir(self.intel()) else {
            return BTreeMap::new();
        };
        entries
            .map(|entry| {
                let entry = entry.unwrap();
                let content = fs::read(entry.path())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_else(|e| format!("<unreadable: {e}>"));
                (entry.file_name().to_string_lossy().into_owned(), content)
            })
            .collect()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        // A failed test keeps its files for whoever investigates.
        if !thread::panicking() {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Our side

fn our_opt_in_out_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opt_in_out"))
}

/// Where cargo put this test binary: `<target>[/<triple>]/<profile>/deps/<test>`.
struct Layout {
    target: PathBuf,
    triple: Option<String>,
    profile_dir: PathBuf,
}

fn layout() -> Layout {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf();
    let above = profile_dir
        .parent()
        .expect("a target directory")
        .to_path_buf();
    let is_target_root = |dir: &Path| dir.join("CACHEDIR.TAG").is_file();
    match above.parent() {
        Some(target) if !is_target_root(&above) && is_target_root(target) => Layout {
            target: target.to_path_buf(),
            triple: Some(above.file_name().unwrap().to_string_lossy().into_owned()),
            profile_dir,
        },
        _ => Layout {
            target: above,
            triple: None,
            profile_dir,
        },
    }
}

/// The `probe` example, built (or found up to date) by cargo once per test process:
/// `cargo test --test python_interop` alone does not build examples, and a stale probe
/// would test old code.
fn probe_exe() -> PathBuf {
    static PROBE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = PROBE.get_or_init(|| {
        let layout = layout();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
        let mut command = Command::new(cargo);
        command
            .args(["build", "--example", "probe", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&layout.target);
        if let Some(triple) = &layout.triple {
            command.args(["--target", triple]);
        }
        match layout.profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some("release") => {
                command.arg("--release");
            }
            Some(other) => {
                command.args(["--profile", other]);
            }
            None => {}
        }
        let result = run(command, SETUP_TIMEOUT);
        let path = layout.profile_dir.join("examples").join("probe");
        if result.code != Some(0) {
            Err(format!(
                "building the probe example failed:\n{}",
                result.describe()
            ))
        } else if !path.is_file() {
            Err(format!(
                "cargo built the probe example, but not at {}",
                path.display()
            ))
        } else {
            Ok(path)
        }
    });
    match built {
        Ok(path) => path.clone(),
        Err(why) => panic!("{why}"),
    }
}

fn ours(program: &Path, home: &Home, args: &[&str]) -> Run {
    let mut command = isolated(program, home, SYSTEM_PATH);
    command.args(args).env("OPENVINO_TELEMETRY_DEBUG", "1");
    run(command, CHILD_TIMEOUT)
}

fn our_opt_in_out(home: &Home, args: &[&str]) -> Run {
    ours(&our_opt_in_out_exe(), home, args)
}

/// Our `opt_in_out --status`, as `(decision, client id)`.
fn our_status(home: &Home) -> (String, String) {
    let run = our_opt_in_out(home, &["--status"]).success();
    let field = |name: &str| {
        run.stdout
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|rest| rest.trim().to_string())
            .unwrap_or_else(|| panic!("no {name:?} line:\n{}", run.describe()))
    };
    (field("decision:"), field("client id:"))
}

/// What our library did at init, and the client ids of what it would have sent.
struct Probe {
    enabled: bool,
    sent_client_ids: Vec<String>,
    sent_usage_counts: Vec<u64>,
    run: Run,
}

/// Inits our library in the default directory (`$HOME/intel`), sends one event and shuts
/// down; the debug transport prints the request bodies on stderr.
fn our_probe(home: &Home) -> Probe {
    let run = ours(
        &probe_exe(),
        home,
        &["event:interop:check:probe:1", "shutdown:10000"],
    )
    .success();
    let enabled = match run.stdout.lines().next() {
        Some("enabled=true") => true,
        Some("enabled=false") => false,
        _ => panic!("unexpected probe output:\n{}", run.describe()),
    };
    let bodies: Vec<Value> = run
        .stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|body| body.get("client_id").is_some())
        .collect();
    let sent_client_ids = bodies
        .iter()
        .map(|b| b["client_id"].as_str().unwrap().to_string())
        .collect();
    let sent_usage_counts = bodies
        .iter()
        .flat_map(|b| b["events"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["params"]["usage_count"].as_u64())
        .collect();
    Probe {
        enabled,
        sent_client_ids,
        sent_usage_counts,
        run,
    }
}

// ---------------------------------------------------------------------------------------
// The Python side

struct Venv {
    dir: PathBuf,
}

impl Venv {
    fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }

    fn path(&self) -> String {
        format!("{}:{SYSTEM_PATH}", self.dir.join("bin").display())
    }
}

const READY_MARKER: &str = ".interop-ready";

fn venv_is_ready(dir: &Path) -> bool {
    if fs::read_to_string(dir.join(READY_MARKER)).ok().as_deref() != Some(PYTHON_PACKAGE) {
        return false;
    }
    let venv = Venv {
        dir: dir.to_path_buf(),
    };
    let home = Home::new("venv-check");
    let mut command = isolated(&venv.python(), &home, &venv.path());
    command.args([
        "-I",
        "-c",
        "import openvino_telemetry; print(openvino_telemetry.__version__)",
    ]);
    let check = run(command, CHILD_TIMEOUT);
    check.code == Some(0) && check.stdout.trim() == PYTHON_VERSION
}

fn setup_step(command: Command, what: &str) -> Result<(), String> {
    let result = run(command, SETUP_TIMEOUT);
    if result.code == Some(0) {
        Ok(())
    } else {
        Err(format!("{what} failed:\n{}", result.describe()))
    }
}

/// Creates the virtualenv once: built in a private directory, renamed into place when
/// complete, under a lock file so that parallel test processes never see half of one.
fn create_venv() -> Result<Venv, String> {
    let target = layout().target;
    let dir = target.join("py-interop-venv");
    let lock_path = target.join("py-interop-venv.lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    if venv_is_ready(&dir) {
        return Ok(Venv { dir });
    }
    // Holding the lock, anything half-built is a leftover of a failed or killed run.
    let mut stale: Vec<PathBuf> = fs::read_dir(&target)
        .map_err(|e| format!("cannot list {}: {e}", target.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("py-interop-venv.building-"))
        })
        .collect();
    stale.push(dir.clone());
    for path in stale.iter().filter(|path| path.exists()) {
        fs::remove_dir_all(path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    }
    let building = target.join(format!("py-interop-venv.building-{}", std::process::id()));
    // Creation and pip use the caller's environment (python3 from PATH, proxies, pip's
    // configuration); they run no telemetry code.
    let mut venv = Command::new("python3");
    venv.args(["-m", "venv"]).arg(&building);
    setup_step(venv, "python3 -m venv")?;
    let mut pip = Command::new(building.join("bin").join("python"));
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        PYTHON_PACKAGE,
    ]);
    setup_step(pip, &format!("pip install {PYTHON_PACKAGE}"))?;
    fs::write(building.join(READY_MARKER), PYTHON_PACKAGE).map_err(|e| e.to_string())?;
    fs::rename(&building, &dir).map_err(|e| format!("cannot rename the venv: {e}"))?;
    if !venv_is_ready(&dir) {
        return Err(format!(
            "{} was installed but does not import openvino_telemetry {PYTHON_VERSION}",
            dir.display()
        ));
    }
    Ok(Venv { dir })
}

fn venv() -> &'static Venv {
    static VENV: OnceLock<Result<Venv, String>> = OnceLock::new();
    match VENV.get_or_init(create_venv) {
        Ok(venv) => venv,
        Err(why) => panic!("the reference Python client could not be installed: {why}"),
    }
}

/// `python -I -c <PY_NO_SEND + snippet> args...` in `home`, isolated.
fn python(home: &Home, snippet: &str, args: &[&str]) -> Run {
    let venv = venv();
    let mut command = isolated(&venv.python(), home, &venv.path());
    command
        .args(["-I", "-c", &format!("{PY_NO_SEND}{snippet}")])
        .args(args)
        .env("VIRTUAL_ENV", &venv.dir);
    run(command, CHILD_TIMEOUT)
}

fn python_json(home: &Home, snippet: &str, args: &[&str]) -> Value {
    let run = python(home, snippet, args).success();
    let last = run.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.describe()))
}

fn python_opt_in_out(home: &Home, args: &[&str]) -> Run {
    python(home, PY_OPT_IN_OUT, args)
}

/// What the Python client reads from `$HOME/intel`.
#[derive(Debug)]
struct PyView {
    consent: String,
    cid: Option<String>,
    legacy_cid: Option<String>,
    stats_read: bool,
    usage_count: Option<u64>,
    stats: Value,
    stats_dumped: Option<String>,
}

fn python_reads(home: &Home) -> PyView {
    let v = python_json(home, PY_READ, &[]);
    let text = |key: &str| v[key].as_str().map(str::to_string);
    PyView {
        consent: text("consent").expect("a consent result"),
        cid: text("cid"),
        legacy_cid: text("legacy_cid"),
        stats_read: v["stats_read"].as_bool().unwrap(),
        usage_count: v["stats"]["usage_count"].as_u64(),
        stats: v["stats"].clone(),
        stats_dumped: text("stats_dumped"),
    }
}

fn python_telemetry_init(home: &Home) -> Value {
    python_json(home, PY_TELEMETRY_INIT, &[])
}

fn assert_uuid(id: &str) {
    let ok = id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    assert!(ok, "not a UUID: {id:?}");
}

// ---------------------------------------------------------------------------------------
// Tests

#[test]
fn the_wrapped_entry_point_is_the_console_script() {
    let script = fs::read_to_string(venv().dir.join("bin").join("opt_in_out")).unwrap();
    assert!(
        script.contains("from openvino_telemetry.opt_in_out import main")
            && script.contains("sys.exit(main())"),
        "the opt_in_out console script changed:\n{script}"
    );
}

#[test]
fn rust_opt_in_usage_and_opt_out_are_read_by_python() {
    let home = Home::new("rs-to-py");

    let opted_in = our_opt_in_out(&home, &["--opt_in"]).success();
    assert_eq!(opted_in.stdout, OPTED_IN);
    let cid = home.cid().expect("our opt-in writes a client id");
    assert_uuid(&cid);
    let seen = python_reads(&home);
    assert_eq!(seen.consent, "ACCEPTED", "{seen:?}");
    assert_eq!(seen.cid.as_deref(), Some(cid.as_str()), "{seen:?}");
    assert_eq!(seen.usage_count, home.usage_count(), "{seen:?}");

    for _ in 0..2 {
        let probe = our_probe(&home);
        assert!(probe.enabled, "{}", probe.run.describe());
        assert_eq!(
            probe.sent_client_ids,
            [cid.as_str()],
            "{}",
            probe.run.describe()
        );
    }
    // opt_in_out inits once (for its accepted event), each probe once.
    assert_eq!(home.usage_count(), Some(3), "{:?}", home.file("stats"));
    let seen = python_reads(&home);
    assert_eq!(seen.consent, "ACCEPTED", "{seen:?}");
    assert_eq!(seen.cid.as_deref(), Some(cid.as_str()), "{seen:?}");
    assert_eq!(seen.usage_count, Some(3), "{seen:?}");
    assert_eq!(seen.stats_dumped, home.file("stats"), "{seen:?}");

    let opted_out = our_opt_in_out(&home, &["--opt_out"]).success();
    assert_eq!(opted_out.stdout, OPTED_OUT);
    let seen = python_reads(&home);
    assert_eq!(seen.consent, "DECLINED", "{seen:?}");
    assert_eq!(seen.cid, None, "{seen:?}");
    assert_eq!(seen.legacy_cid, None, "{seen:?}");
    assert!(!seen.stats_read, "{seen:?}");
    assert_eq!(home.file("openvino_telemetry").as_deref(), Some("0"));

    // A Python tool starting now collects nothing and creates nothing.
    let before = home.snapshot();
    let init = python_telemetry_init(&home);
    assert_eq!(init["consent"], false, "{init}");
    assert_eq!(init["cid"], Value::Null, "{init}");
    assert_eq!(home.snapshot(), before);
}

#[test]
fn python_opt_in_and_opt_out_are_honoured_by_rust() {
    let home = Home::new("py-to-rs");

    let opted_in = python_opt_in_out(&home, &["--opt_in"]).success();
    assert_eq!(opted_in.stdout, OPTED_IN);
    // The replaced `send` is where Python's events go: its accepted event arrived there.
    assert!(
        opted_in.stderr.contains("python-would-send ")
            && opted_in.stderr.contains("\"name\": \"accepted\""),
        "Python's accepted event did not reach the replaced send:\n{}",
        opted_in.describe()
    );
    let cid = home.cid().expect("Python's opt-in writes a client id");
    assert_uuid(&cid);
    assert_eq!(home.usage_count(), Some(1));
    assert_eq!(
        our_status(&home),
        ("accepted".to_string(), "present".to_string())
    );

    let probe = our_probe(&home);
    assert!(probe.enabled, "{}", probe.run.describe());
    assert_eq!(
        probe.sent_client_ids,
        [cid.as_str()],
        "{}",
        probe.run.describe()
    );
    assert_eq!(probe.sent_usage_counts, [2], "{}", probe.run.describe());
    assert_eq!(home.cid().as_deref(), Some(cid.as_str()), "the id changed");
    let seen = python_reads(&home);
    assert_eq!(seen.usage_count, Some(2), "{seen:?}");
    assert_eq!(seen.cid.as_deref(), Some(cid.as_str()), "{seen:?}");

    let opted_out = python_opt_in_out(&home, &["--opt_out"]).success();
    assert_eq!(opted_out.stdout, OPTED_OUT);
    let left_by_python = home.snapshot();
    assert_eq!(
        left_by_python.get("openvino_telemetry").map(String::as_str),
        Some("0")
    );
    assert!(!left_by_python.contains_key("openvino_ga_cid"));
    assert!(!left_by_python.contains_key("stats"));

    assert_eq!(
        our_status(&home),
        ("declined".to_string(), "none".to_string())
    );
    let probe = our_probe(&home);
    assert!(!probe.enabled, "{}", probe.run.describe());
    assert!(probe.sent_client_ids.is_empty(), "{}", probe.run.describe());
    assert_eq!(home.snapshot(), left_by_python, "ours changed the files");
}

#[test]
fn opt_in_after_python_opt_in_and_rust_opt_out_makes_a_new_id() {
    let home = Home::new("new-id-rs");
    python_opt_in_out(&home, &["--opt_in"]).success();
    let first = home.cid().expect("Python's opt-in writes a client id");

    our_opt_in_out(&home, &["--opt_out"]).success();
    assert_eq!(home.cid(), None);
    our_opt_in_out(&home, &["--opt_in"]).success();
    let second = home.cid().expect("our opt-in writes a client id");
    assert_uuid(&second);
    assert_ne!(first, second, "opt-in after opt-out kept the old id");

    let seen = python_reads(&home);
    assert_eq!(seen.consent, "ACCEPTED", "{seen:?}");
    assert_eq!(seen.cid.as_deref(), Some(second.as_str()), "{seen:?}");
    assert_eq!(seen.usage_count, Some(1), "usage restarts: {seen:?}");
    let init = python_telemetry_init(&home);
    assert_eq!(init["cid"], Value::from(second.as_str()), "{init}");
}

#[test]
fn opt_in_after_rust_opt_in_and_python_opt_out_makes_a_new_id() {
    let home = Home::new("new-id-py");
    our_opt_in_out(&home, &["--opt_in"]).success();
    let first = home.cid().expect("our opt-in writes a client id");

    python_opt_in_out(&home, &["--opt_out"]).success();
    assert_eq!(home.cid(), None);
    python_opt_in_out(&home, &["--opt_in"]).success();
    let second = home.cid().expect("Python's opt-in writes a client id");
    assert_ne!(first, second, "opt-in after opt-out kept the old id");

    assert_eq!(
        our_status(&home),
        ("accepted".to_string(), "present".to_string())
    );
    let probe = our_probe(&home);
    assert!(probe.enabled, "{}", probe.run.describe());
    assert_eq!(
        probe.sent_client_ids,
        [second.as_str()],
        "{}",
        probe.run.describe()
    );
    assert_eq!(home.cid().as_deref(), Some(second.as_str()));
}

#[test]
fn rust_increments_the_stats_of_python_telemetry_like_python() {
    let home = Home::new("stats");
    python_opt_in_out(&home, &["--opt_in"]).success();
    for expected in [2, 3] {
        let init = python_telemetry_init(&home);
        assert_eq!(init["consent"], true, "{init}");
        assert_eq!(init["stats"]["usage_count"], expected, "{init}");
    }
    assert_eq!(
        home.file("stats").as_deref(),
        Some("{\n    \"usage_count\": 3\n}")
    );

    let probe = our_probe(&home);
    assert!(probe.enabled, "{}", probe.run.describe());
    assert_eq!(probe.sent_usage_counts, [4], "{}", probe.run.describe());
    let after_ours = home.file("stats").unwrap();
    let seen = python_reads(&home);
    assert_eq!(seen.usage_count, Some(4), "{seen:?}");
    assert_eq!(
        seen.stats_dumped.as_deref(),
        Some(after_ours.as_str()),
        "ours does not write what json.dumps(indent=4) writes"
    );

    // And Python carries on from ours.
    let init = python_telemetry_init(&home);
    assert_eq!(init["stats"]["usage_count"], 5, "{init}");
}

#[test]
fn rust_keeps_other_stats_keys_written_by_python_byte_for_byte() {
    let home = Home::new("stats-keys");
    python_opt_in_out(&home, &["--opt_in"]).success();
    let stats = serde_json::json!({
        "zeta": [1, 2.5, -3, {"k": null, "e": {}, "l": []}],
        "usage_count": 41,
        "name": "caf\u{e9} \u{1f600} \"quoted\"\n\ttab",
        "flag": true,
    });
    let wrote = python_json(&home, PY_WRITE_STATS, &[&stats.to_string()]);
    assert_eq!(wrote["ok"], true, "{wrote}");
    let before = python_reads(&home);
    assert_eq!(before.usage_count, Some(41), "{before:?}");

    let probe = our_probe(&home);
    assert!(probe.enabled, "{}", probe.run.describe());
    let after_ours = home.file("stats").unwrap();
    let after = python_reads(&home);
    assert_eq!(
        after.stats_dumped.as_deref(),
        Some(after_ours.as_str()),
        "ours does not write what json.dumps(indent=4) writes"
    );
    let mut expected = before.stats.clone();
    expected["usage_count"] = Value::from(42);
    assert_eq!(after.stats, expected, "values other than the count changed");
}

/// One tool's view of a sequence of `opt_in_out` calls, each in the same home.
fn cli_sequence() -> Vec<Vec<&'static str>> {
    vec![
        vec![],
        vec!["--opt_in", "--opt_out"],
        vec!["--opt_in"],
        vec!["--opt_in"],
        vec!["--opt_out"],
        vec!["--opt_out"],
        vec!["--opt_in"],
        vec!["--opt_out", "--opt_in"],
    ]
}

#[test]
fn opt_in_out_prints_and_exits_like_python() {
    let ours_home = Home::new("cli-rs");
    let python_home = Home::new("cli-py");
    for args in cli_sequence() {
        let mine = our_opt_in_out(&ours_home, &args);
        let theirs = python_opt_in_out(&python_home, &args);
        assert_eq!(
            (&mine.stdout, mine.code),
            (&theirs.stdout, theirs.code),
            "opt_in_out {args:?} differs:\nours: {}\npython: {}",
            mine.describe(),
            theirs.describe()
        );
        let expected = match args.as_slice() {
            ["--opt_in"] => (OPTED_IN, Some(0)),
            ["--opt_out"] => (OPTED_OUT, Some(0)),
            _ => (SPECIFY, Some(1)),
        };
        assert_eq!((theirs.stdout.as_str(), theirs.code), expected, "{args:?}");
    }
}

/// Files that the Python client reads or writes in the config directory.
const PYTHON_FILES: [&str; 4] = [
    "openvino_telemetry",
    "openvino_ga_cid",
    "openvino_ga_uid",
    "stats",
];

/// Runs the `opt_in_out` sequence with each tool in its own home and returns, per step, a
/// line per tool made by `describe` from the directory.
fn compare_cli_sequence(
    tag: &str,
    describe: impl Fn(&BTreeMap<String, String>, &mut Vec<String>) -> String,
) -> (Vec<String>, Vec<String>) {
    let ours_home = Home::new(&format!("{tag}-rs"));
    let python_home = Home::new(&format!("{tag}-py"));
    let (mut our_ids, mut python_ids) = (Vec::new(), Vec::new());
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    for args in cli_sequence() {
        our_opt_in_out(&ours_home, &args);
        python_opt_in_out(&python_home, &args);
        mine.push(format!(
            "{args:?}: {}",
            describe(&ours_home.snapshot(), &mut our_ids)
        ));
        theirs.push(format!(
            "{args:?}: {}",
            describe(&python_home.snapshot(), &mut python_ids)
        ));
    }
    (mine, theirs)
}

fn side_by_side(mine: &[String], theirs: &[String]) -> String {
    mine.iter()
        .zip(theirs)
        .map(|(a, b)| format!("  ours:   {a}\n  python: {b}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Python client's files after a step, client ids replaced by `<id N>` (N numbers the
/// distinct ids in order of appearance), so that the two tools' tables compare.
fn describe_python_files(files: &BTreeMap<String, String>, ids: &mut Vec<String>) -> String {
    files
        .iter()
        .filter(|(name, _)| PYTHON_FILES.contains(&name.as_str()))
        .map(|(name, content)| {
            let shown = if name.starts_with("openvino_ga_") {
                let n = ids.iter().position(|id| id == content).unwrap_or_else(|| {
                    ids.push(content.clone());
                    ids.len() - 1
                });
                format!("<id {n}>")
            } else {
                format!("{content:?}")
            };
            format!("{name}={shown}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn opt_in_out_leaves_the_same_data_as_python() {
    let (mine, theirs) = compare_cli_sequence("data", describe_python_files);
    assert!(
        mine == theirs,
        "the shared files differ after some step:\n{}",
        side_by_side(&mine, &theirs)
    );
}

#[test]
fn opt_in_out_leaves_no_other_files_than_python() {
    let names = |files: &BTreeMap<String, String>, _: &mut Vec<String>| {
        files.keys().cloned().collect::<Vec<_>>().join(" ")
    };
    let (mine, theirs) = compare_cli_sequence("names", names);
    assert!(
        mine == theirs,
        "the directory holds other files after some step:\n{}",
        side_by_side(&mine, &theirs)
    );
}

// ---------------------------------------------------------------------------------------
// Racing a running Python client (issue 15). The Python client rewrites `stats` and
// `openvino_ga_cid` in place (`open(path, "w")`, then one write): for that moment the file
// is empty or partial. Native inits read through it, and Python reads while we write.

/// Rewrites `stats` (usage 5000) and the client id (argv[1]) through the Python client's
/// own writers, about once a millisecond, until the file argv[2] exists.
const PY_REWRITE_LOOP: &str = r#"
import os, time
from openvino_telemetry.utils.stats_processor import StatsProcessor
from openvino_telemetry.utils.cid import save_cid_to_file, get_cid_path
cid, stop = sys.argv[1], sys.argv[2]
stats = StatsProcessor()
path = os.path.join(get_cid_path(), "openvino_ga_cid")
writes = 0
while not os.path.exists(stop):
    stats.update_stats({"usage_count": 5000})
    save_cid_to_file(path, cid)
    writes += 1
    time.sleep(0.001)
print(json.dumps({"writes": writes}))
"#;

/// Reads `stats`, the client id and the decision through the Python client's own readers in
/// a tight loop until the file argv[1] exists; counts every read that saw a broken file.
const PY_READ_LOOP: &str = r#"
import os
from openvino_telemetry.utils.stats_processor import StatsProcessor
from openvino_telemetry.utils.cid import get_cid
from openvino_telemetry.utils.opt_in_checker import OptInChecker, ConsentCheckResult
from openvino_telemetry.backend.backend_ga4 import GA4Backend, is_valid_cid
stop = sys.argv[1]
reads = broken = 0
seen = []
while not os.path.exists(stop):
    ok, stats = StatsProcessor().get_stats()
    cid = get_cid(GA4Backend.cid_filename, is_valid_cid)
    consent = OptInChecker().check(enable_opt_in_dialog=False)
    reads += 1
    if not ok or not isinstance(stats.get("usage_count"), int) or cid is None \
            or consent != ConsentCheckResult.ACCEPTED:
        broken += 1
        if len(seen) < 5:
            seen.append([ok, stats, cid, consent.name])
print(json.dumps({"reads": reads, "broken": broken, "seen": seen}))
"#;

/// Starts a Python snippet in the background (isolated like every child here).
fn python_spawn(home: &Home, snippet: &str, args: &[&str]) -> std::process::Child {
    let venv = venv();
    let mut command = isolated(&venv.python(), home, &venv.path());
    command
        .args(["-I", "-c", &format!("{PY_NO_SEND}{snippet}")])
        .args(args)
        .env("VIRTUAL_ENV", &venv.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().expect("start python")
}

fn python_finish(child: std::process::Child) -> Value {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

/// Native inits needed per test: the issue asks for ≥ 100.
const RACING_INITS: usize = 100;

#[test]
fn native_inits_never_reset_the_count_nor_replace_the_id_python_is_rewriting() {
    let home = Home::new("race-py-writes");
    python_opt_in_out(&home, &["--opt_in"]).success();
    let shared_id = home.cid().unwrap();
    let stop = home.root.join("stop-writer");
    let writer = python_spawn(
        &home,
        PY_REWRITE_LOOP,
        &[&shared_id, stop.to_str().unwrap()],
    );
    // Let the writer get going: its first rewrite is visible as a count of 5000.
    let started = std::time::Instant::now();
    let count_now = || {
        // The writer may be in the middle of a rewrite: a partial file is simply not yet.
        let text = fs::read_to_string(home.intel().join("stats")).unwrap_or_default();
        serde_json::from_str::<Value>(&text).ok()?["usage_count"].as_u64()
    };
    while count_now() != Some(5000) {
        assert!(
            started.elapsed() < CHILD_TIMEOUT,
            "the Python writer never wrote"
        );
        thread::sleep(Duration::from_millis(1));
    }
    let mut resets = Vec::new();
    let mut other_ids = Vec::new();
    for i in 0..RACING_INITS {
        let probe = our_probe(&home);
        assert!(probe.enabled, "{}", probe.run.describe());
        if probe.sent_usage_counts.iter().any(|n| *n < 5000) {
            resets.push((i, probe.sent_usage_counts.clone()));
        }
        if probe.sent_client_ids.iter().any(|id| *id != shared_id) {
            other_ids.push((i, probe.sent_client_ids.clone()));
        }
    }
    fs::write(&stop, b"").unwrap();
    let writes = python_finish(writer)["writes"].as_u64().unwrap();
    println!("RACE python rewrites={writes} native inits={RACING_INITS}");
    assert!(
        writes > RACING_INITS as u64,
        "the writer raced too little: {writes}"
    );
    assert!(resets.is_empty(), "usage count reset: {resets:?}");
    assert!(other_ids.is_empty(), "client id replaced: {other_ids:?}");
    assert_eq!(home.cid().as_deref(), Some(shared_id.as_str()));
}

#[test]
fn python_reading_while_native_processes_write_never_sees_a_partial_file() {
    let home = Home::new("race-py-reads");
    our_opt_in_out(&home, &["--opt_in"]).success();
    our_probe(&home);
    let stop = home.root.join("stop-reader");
    let reader = python_spawn(&home, PY_READ_LOOP, &[stop.to_str().unwrap()]);
    for i in 0..RACING_INITS {
        // Usage increments, and (every tenth) a new opt-in rewriting decision and id.
        if i % 10 == 0 {
            our_opt_in_out(&home, &["--opt_in"]).success();
        }
        let probe = our_probe(&home);
        assert!(probe.enabled, "{}", probe.run.describe());
    }
    fs::write(&stop, b"").unwrap();
    let seen = python_finish(reader);
    println!(
        "RACE python reads={} broken={}",
        seen["reads"], seen["broken"]
    );
    assert!(
        seen["reads"].as_u64().unwrap() > RACING_INITS as u64,
        "{seen}"
    );
    assert_eq!(seen["broken"], 0, "{seen}");
}

/// A Python tool and a native one start together where consent is given and no client id
/// exists yet: both end up sending under the one id on disk.
#[test]
fn native_and_python_creating_a_missing_id_at_once_end_with_one_id() {
    for round in 0..10 {
        let home = Home::new("race-create");
        fs::create_dir_all(home.intel()).unwrap();
        fs::write(home.intel().join("openvino_telemetry"), "1").unwrap();
        let python_tool = python_spawn(&home, PY_TELEMETRY_INIT, &[]);
        let probe = our_probe(&home);
        let python_cid = python_finish(python_tool)["cid"]
            .as_str()
            .unwrap()
            .to_owned();
        let on_disk = home.cid().unwrap();
        assert_eq!(
            python_cid, on_disk,
            "round {round}: Python's id is not the one on disk"
        );
        assert!(
            probe.sent_client_ids.iter().all(|id| *id == on_disk),
            "round {round}: native sent under {:?}, disk holds {on_disk}\n{}",
            probe.sent_client_ids,
            probe.run.describe()
        );
    }
}
