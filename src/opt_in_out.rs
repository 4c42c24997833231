//! `opt_in_out`: change or show the telemetry decision shared by every OpenVINO tool.
//!
//! `--opt_in` and `--opt_out` behave exactly as the Python client's tool (same lines on
//! stdout, same exit codes). `--status`, `--show` (what was sent, as a table or with
//! `--json` as JSON lines) and `--help` are additions; `--config-dir DIR` works on another
//! directory than `$HOME/intel`.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::consent::{self, Consent, ProcessEnv};
use crate::event::PrevState;
use crate::show::{self, Clock};
use crate::telemetry::OPT_IN_OUT_MEASUREMENT_ID;
use crate::{sent, stats, Options, Telemetry};

const OPTED_IN: &str = "You have successfully opted in to send the telemetry data.";
const OPTED_OUT: &str = "You have successfully opted out to send the telemetry data.";
const SPECIFY: &str = "Specify either \"--opt_in\" or \"--opt_out\" command line parameter.";
/// How long the tool waits for its `accepted` event before leaving it in the spool.
const SEND_TIMEOUT: Duration = Duration::from_secs(3);

const USAGE: &str =
    "usage: opt_in_out [-h] [--opt_in] [--opt_out] [--status] [--show [--json]] [--config-dir DIR]";

const HELP: &str =
    "usage: opt_in_out [-h] [--opt_in] [--opt_out] [--status] [--show [--json]] [--config-dir DIR]

Changes the decision to send OpenVINO telemetry (anonymous usage, error and failure
reports), shared by every OpenVINO tool on this machine and user.

options:
  -h, --help        show this help message and exit
  --opt_in          give consent: telemetry will be collected
  --opt_out         withdraw consent: nothing is collected; the client id, usage
                    statistics, unsent events and the record of sent events are deleted
  --status          show the decision, why telemetry is on or off, where it is stored,
                    how many events wait on disk and the size of the sent record
  --show            show every event sent from this user account in the last 30 days
                    (at most 1 MiB of them), oldest first, exactly as it was sent
  --json            with --show: one JSON object per event (name, params, timestamp)
  --config-dir DIR  use DIR instead of $HOME/intel

Environment: DO_NOT_TRACK=1 or OPENVINO_TELEMETRY_DISABLE=1 turn telemetry off whatever
the decision says; OPENVINO_TELEMETRY_DEBUG=1 prints what would be sent and sends nothing.";

#[derive(Default)]
struct Args {
    opt_in: bool,
    opt_out: bool,
    status: bool,
    show: bool,
    json: bool,
    help: bool,
    config_dir: Option<PathBuf>,
}

/// Arguments are taken as the OS gives them: a directory need not be valid Unicode.
fn parse(mut args: impl Iterator<Item = OsString>) -> Result<Args, String> {
    let mut parsed = Args::default();
    while let Some(arg) = args.next() {
        match arg.to_str().unwrap_or_default() {
            "--opt_in" => parsed.opt_in = true,
            "--opt_out" => parsed.opt_out = true,
            "--status" => parsed.status = true,
            "--show" => parsed.show = true,
            "--json" => parsed.json = true,
            "-h" | "--help" => parsed.help = true,
            "--config-dir" => {
                let dir = args.next().ok_or("--config-dir needs a directory")?;
                parsed.config_dir = Some(dir.into());
            }
            _ => match config_dir_value(&arg) {
                Some(dir) => parsed.config_dir = Some(dir),
                None => return Err(format!("unrecognized arguments: {}", arg.to_string_lossy())),
            },
        }
    }
    if parsed.json && !parsed.show {
        return Err("--json goes with --show".into());
    }
    Ok(parsed)
}

/// The directory of `--config-dir=DIR`.
fn config_dir_value(arg: &OsStr) -> Option<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let dir = arg.as_bytes().strip_prefix(b"--config-dir=")?;
        Some(PathBuf::from(OsStr::from_bytes(dir)))
    }
    #[cfg(not(unix))]
    {
        arg.to_str()?
            .strip_prefix("--config-dir=")
            .map(PathBuf::from)
    }
}

/// Runs the command on the process's arguments (the `opt_in_out` binary is this one call).
pub fn main() -> ExitCode {
    let args = match parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            eprintln!("{USAGE}");
            eprintln!("opt_in_out: error: {why}");
            return ExitCode::from(2);
        }
    };
    if args.help {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let dir = match consent::config_dir(args.config_dir.as_deref()) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("opt_in_out: {e}");
            return ExitCode::from(1);
        }
    };
    if (args.status || args.show) && !args.opt_in && !args.opt_out {
        return report(&dir, &args);
    }
    if args.opt_in == args.opt_out {
        println!("{SPECIFY}");
        return ExitCode::from(1);
    }
    let result = if args.opt_in {
        opt_in(&dir)
    } else {
        opt_out(&dir)
    };
    match result {
        Ok(()) => report(&dir, &args),
        Err(e) => {
            eprintln!("opt_in_out: {e}");
            ExitCode::from(1)
        }
    }
}

fn opt_in(dir: &Path) -> crate::Result<()> {
    let (previous, _) = consent::read(dir);
    if previous == Consent::Accepted {
        // As the Python tool: a repeat counts one usage and sends nothing.
        if consent::opted_out_by_env(&ProcessEnv).is_none() {
            stats::record_usage(dir)?;
        }
        println!("{OPTED_IN}");
        return Ok(());
    }
    consent::set(dir, true)?;
    println!("{OPTED_IN}");
    let mut options = Options::new(
        "opt_in_out",
        env!("CARGO_PKG_VERSION"),
        OPT_IN_OUT_MEASUREMENT_ID,
    );
    options.config_dir = Some(dir.to_path_buf());
    // Environment opt-outs still win: the handle is then disabled and sends nothing.
    if let Ok(telemetry) = Telemetry::init(&options) {
        let prev = match previous {
            Consent::Declined => PrevState::Declined,
            _ => PrevState::Undefined,
        };
        let _ = telemetry.send_opt_in(prev);
        let _ = telemetry.shutdown(SEND_TIMEOUT);
    }
    Ok(())
}

fn opt_out(dir: &Path) -> crate::Result<()> {
    consent::set(dir, false)?;
    println!("{OPTED_OUT}");
    Ok(())
}

/// `--status` and `--show`, in that order, as asked.
fn report(dir: &Path, args: &Args) -> ExitCode {
    if args.status {
        print!("{}", show::status(dir, &ProcessEnv));
    }
    if args.show {
        return show_record(dir, args.json);
    }
    ExitCode::SUCCESS
}

/// Prints the sent record. Fails (1) only when the file exists but cannot be read, or the
/// output cannot be written (a closed pipe); its content never makes it fail.
fn show_record(dir: &Path, json: bool) -> ExitCode {
    let path = dir.join(sent::SENT_FILE);
    let record = match sent::read(dir) {
        Ok(record) => record,
        Err(e) => {
            eprintln!("opt_in_out: cannot show what was sent: {e}");
            return ExitCode::from(1);
        }
    };
    let text = if json {
        for note in show::notes(&record) {
            eprintln!("{note}");
        }
        show::json_lines(&record)
    } else {
        show::table(&record, &path, Clock::system())
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opt_in_out: cannot write the output: {e}");
            ExitCode::from(1)
        }
    }
}
