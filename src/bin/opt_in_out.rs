//! `opt_in_out`: change or show the telemetry decision shared by every OpenVINO tool.
//!
//! `--opt_in` and `--opt_out` behave exactly as the Python client's tool (same lines on
//! stdout, same exit codes). `--status` and `--help` are additions; `--config-dir DIR`
//! works on another directory than `$HOME/intel`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use openvino_telemetry::consent::{self, Consent, DecideOptions, ProcessEnv};
use openvino_telemetry::event::PrevState;
use openvino_telemetry::telemetry::OPT_IN_OUT_MEASUREMENT_ID;
use openvino_telemetry::{identity, stats, Options, Telemetry};

const OPTED_IN: &str = "You have successfully opted in to send the telemetry data.";
const OPTED_OUT: &str = "You have successfully opted out to send the telemetry data.";
const SPECIFY: &str = "Specify either \"--opt_in\" or \"--opt_out\" command line parameter.";
/// How long the tool waits for its `accepted` event before leaving it in the spool.
const SEND_TIMEOUT: Duration = Duration::from_secs(3);

const HELP: &str = "usage: opt_in_out [-h] [--opt_in] [--opt_out] [--status] [--config-dir DIR]

Changes the decision to send OpenVINO telemetry (anonymous usage, error and failure
reports), shared by every OpenVINO tool on this machine and user.

options:
  -h, --help        show this help message and exit
  --opt_in          give consent: telemetry will be collected
  --opt_out         withdraw consent: nothing is collected; the client id, usage
                    statistics and unsent events are deleted
  --status          show the decision, why telemetry is on or off, and where it is stored
  --config-dir DIR  use DIR instead of $HOME/intel

Environment: DO_NOT_TRACK=1 or OPENVINO_TELEMETRY_DISABLE=1 turn telemetry off whatever
the decision says.";

#[derive(Default)]
struct Args {
    opt_in: bool,
    opt_out: bool,
    status: bool,
    help: bool,
    config_dir: Option<PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--opt_in" => parsed.opt_in = true,
            "--opt_out" => parsed.opt_out = true,
            "--status" => parsed.status = true,
            "-h" | "--help" => parsed.help = true,
            "--config-dir" => {
                let dir = args.next().ok_or("--config-dir needs a directory")?;
                parsed.config_dir = Some(dir.into());
            }
            other => match other.strip_prefix("--config-dir=") {
                Some(dir) => parsed.config_dir = Some(dir.into()),
                None => return Err(format!("unrecognized arguments: {other}")),
            },
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            eprintln!(
                "usage: opt_in_out [-h] [--opt_in] [--opt_out] [--status] [--config-dir DIR]"
            );
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
    if args.status && !args.opt_in && !args.opt_out {
        status(&dir);
        return ExitCode::SUCCESS;
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
        Ok(()) => {
            if args.status {
                status(&dir);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("opt_in_out: {e}");
            ExitCode::from(1)
        }
    }
}

fn opt_in(dir: &std::path::Path) -> openvino_telemetry::Result<()> {
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

fn opt_out(dir: &std::path::Path) -> openvino_telemetry::Result<()> {
    consent::set(dir, false)?;
    println!("{OPTED_OUT}");
    Ok(())
}

fn status(dir: &std::path::Path) {
    let (stored, warning) = consent::read(dir);
    let decision = consent::decide(
        &DecideOptions {
            config_dir: dir.to_path_buf(),
            consent_dialog: false,
            dialog_timeout: Duration::ZERO,
            disable_in_ci: false,
        },
        &ProcessEnv,
    );
    let stored = match stored {
        Consent::Accepted => "accepted",
        Consent::Declined => "declined",
        Consent::Undecided => "undecided",
    };
    println!("decision:   {stored}");
    println!(
        "telemetry:  {} ({})",
        if decision.enabled {
            "enabled"
        } else {
            "disabled"
        },
        decision.reason
    );
    if let Some(warning) = warning {
        println!("warning:    {warning}");
    }
    println!("directory:  {}", dir.display());
    println!(
        "client id:  {}",
        if identity::peek(dir).is_some() {
            "present"
        } else {
            "none"
        }
    );
    println!(
        "crashes:    {} waiting to be reported",
        openvino_telemetry::crash::pending_records(dir)
    );
    if let Some(name) = consent::detect_ci(&ProcessEnv) {
        println!(
            "ci:         detected ({name}); tools that disable telemetry in CI send nothing here"
        );
    }
}
