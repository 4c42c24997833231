//! `Telemetry::init`: each step of starting a handle, in the order they run.
//!
//! Options are checked first (the only errors); then the directory, the consent decision,
//! the transport and the store may each end init with a *disabled* handle and its reason.
//! With consent the sender starts with what earlier runs left on disk, and the crash
//! handlers are installed when asked for.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{new_session_id, Active, Options, Telemetry, DEBUG_VARIABLE, ENDPOINT_VARIABLE};
use crate::consent::{self, Consent, DecideOptions, Decision, Env, ProcessEnv, Reason};
use crate::error::{Error, Result};
use crate::event::{self, Common, Event, PrevState};
use crate::files::now_micros;
use crate::sender::{Backlog, Delivered, Disk, ProgressFn, Sender, SenderConfig, HOST_SETTLE};
use crate::transport::{DebugTransport, Endpoint, HttpTransport, Transport};
use crate::{crash, fork, sent, spool, store};

/// Why init ends early: a disabled handle (its reason, and the directory when known), or
/// an error.
enum Stop {
    Disabled(String, Option<PathBuf>),
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Failed(e)
    }
}

impl Telemetry {
    /// Decides consent and, with it, starts the sender. Errors only for invalid options or
    /// an internal failure; no consent gives a disabled handle.
    pub fn init(options: &Options) -> Result<Telemetry> {
        Telemetry::init_with_env(options, &ProcessEnv)
    }

    /// `init` with an explicit environment (tests).
    pub fn init_with_env(options: &Options, env: &dyn Env) -> Result<Telemetry> {
        options.validate()?;
        let fork_generation = fork::generation();
        match start(options, env, fork_generation) {
            Ok(telemetry) => Ok(telemetry),
            Err(Stop::Disabled(reason, dir)) => {
                Ok(Telemetry::new(None, reason, dir, fork_generation))
            }
            Err(Stop::Failed(e)) => Err(e),
        }
    }
}

fn start(options: &Options, env: &dyn Env, fork_generation: u64) -> Result<Telemetry, Stop> {
    let dir = resolve_dir(options, env)?;
    let decision = decide_consent(options, env, &dir)?;
    let debug = env
        .var(DEBUG_VARIABLE)
        .is_some_and(|v| consent::is_true_value(&v));
    let transport = open_transport(options, env, debug, &dir)?;
    let opened = store::open(&dir).map_err(|why| Stop::Disabled(why, Some(dir.clone())))?;
    let reason = describe(&decision, &opened.notes);
    let active = start_sending(options, &dir, &opened, transport, debug)?;
    let mut telemetry = Telemetry::new(Some(active), reason, Some(dir), fork_generation);
    if options.crash_reports {
        telemetry.install_crash_handlers(options, opened.client_id, debug);
    }
    if decision.accepted_now() {
        let _ = telemetry.send_opt_in(PrevState::Undefined);
    }
    Ok(telemetry)
}

/// The config directory. Without a home there is no decision, but the opt-out variables
/// still rule first (they name the reason).
fn resolve_dir(options: &Options, env: &dyn Env) -> Result<PathBuf, Stop> {
    match consent::config_dir(options.config_dir.as_deref()) {
        Ok(dir) => Ok(dir),
        Err(Error::Disabled(why)) => {
            let reason = consent::opted_out_by_env(env)
                .map(|name| Reason::Environment(name).to_string())
                .unwrap_or(why);
            Err(Stop::Disabled(reason, None))
        }
        Err(e) => Err(Stop::Failed(e)),
    }
}

/// The decision of DESIGN §4. When consent is not given, whatever this library kept for
/// later goes.
fn decide_consent(options: &Options, env: &dyn Env, dir: &Path) -> Result<Decision, Stop> {
    let decision = consent::decide(
        &DecideOptions {
            config_dir: dir.to_path_buf(),
            consent_dialog: options.consent_dialog,
            dialog_timeout: options.dialog_timeout,
            disable_in_ci: options.disable_in_ci,
        },
        env,
    );
    if decision.enabled {
        return Ok(decision);
    }
    if matches!(
        decision.reason,
        Reason::File(Consent::Declined)
            | Reason::BadFile(_)
            | Reason::Undecided(_)
            | Reason::Dialog(_)
    ) {
        store::forget_own_files(dir);
    }
    Err(Stop::Disabled(
        decision.reason.to_string(),
        Some(dir.to_path_buf()),
    ))
}

/// Debug mode prints; otherwise HTTP to the endpoint variable's URL, the option's, or
/// GA4's. An endpoint variable that is refused disables the handle.
fn open_transport(
    options: &Options,
    env: &dyn Env,
    debug: bool,
    dir: &Path,
) -> Result<Box<dyn Transport>, Stop> {
    if debug {
        return Ok(Box::new(DebugTransport));
    }
    let endpoint = match env.var(ENDPOINT_VARIABLE).filter(|v| !v.is_empty()) {
        Some(url) => Endpoint::parse(&url).map_err(|e| {
            Stop::Disabled(
                format!("{ENDPOINT_VARIABLE} is refused: {e}"),
                Some(dir.to_path_buf()),
            )
        })?,
        None => match &options.endpoint {
            Some(url) => Endpoint::parse(url)?,
            None => Endpoint::default_endpoint(),
        },
    };
    Ok(Box::new(HttpTransport::new(
        &endpoint,
        &options.measurement_id,
        &options.api_secret,
    )))
}

/// The sender and the handle's pending file; what earlier runs left is queued first.
fn start_sending(
    options: &Options,
    dir: &Path,
    opened: &store::Opened,
    transport: Box<dyn Transport>,
    debug: bool,
) -> Result<Active, Stop> {
    let common = common_fields(options, opened);
    let gate = Arc::new(store::Gate::new(dir, &opened.client_id, opened.created));
    let keeper = Arc::new(store::Keeper::new(Arc::clone(&gate)));
    // Debug mode touches nothing queued on disk (DESIGN §3a.5): kept events and crash
    // records wait for a real run.
    let backlog = if debug {
        None
    } else {
        claim_backlog(dir, &opened.client_id)
    };
    let config = SenderConfig {
        capacity: options.queue_capacity,
        ..SenderConfig::default()
    };
    let disk = disk_for(&gate, &keeper, debug);
    let delivered = sent_recorder(dir, debug);
    let sender = Sender::start(config, common, transport, disk, backlog, delivered)?;
    Ok(Active::new(sender, dir, keeper))
}

/// The handle's reason: the decision, then what the store could not do.
fn describe(decision: &Decision, notes: &[String]) -> String {
    let mut reason = decision.reason.to_string();
    for note in notes {
        reason.push_str("; ");
        reason.push_str(note);
    }
    reason
}

/// What every request carries.
fn common_fields(options: &Options, opened: &store::Opened) -> Common {
    Common {
        client_id: opened.client_id.clone(),
        app_name: event::normalise_value(&options.app_name),
        app_version: event::normalise_value(&options.app_version),
        os: event::detect_os(),
        docker: false, // probed by the worker thread
        usage_count: opened.usage_count,
    }
}

/// What earlier runs left for this client id, queued first: kept events, and crash records
/// (a record is deleted only once its event was delivered or kept on disk).
fn claim_backlog(dir: &Path, client_id: &str) -> Option<Backlog> {
    let (mut events, files, progress) = claim_spool(dir, client_id);
    let crashes = crash::claim_records(dir, client_id, now_micros());
    if !crashes.records.is_empty() {
        let session = new_session_id();
        events.extend(
            crashes
                .records
                .iter()
                .map(|r| crash::record_event(r, Arc::clone(&session))),
        );
    }
    let crash_files = crashes.files;
    (!files.is_empty() || !crash_files.is_empty()).then(|| Backlog {
        events,
        release: Box::new(move || {
            spool::release(&files);
            crash::release(&crash_files);
        }),
        progress,
    })
}

/// The kept events, in one claimed file that shrinks as they are delivered.
fn claim_spool(dir: &Path, client_id: &str) -> (Vec<Event>, Vec<PathBuf>, Option<ProgressFn>) {
    let mut claim = spool::claim(dir, client_id, now_micros());
    let progress = spool::consolidate(dir, &mut claim, client_id).map(|path| {
        let claimed = claim.events.clone();
        let cid = client_id.to_owned();
        Box::new(move |resolved: usize| {
            if resolved < claimed.len() {
                spool::shrink_claim(&path, &claimed[resolved..], &cid);
            }
        }) as ProgressFn
    });
    (claim.events, claim.files, progress)
}

/// The sender's view of the directory: the gate before each request, hand-offs as new
/// pending files. In debug mode nothing is written (events left at a deadline are
/// dropped, as everything printed is).
fn disk_for(gate: &Arc<store::Gate>, keeper: &Arc<store::Keeper>, debug: bool) -> Disk {
    let gate = Arc::clone(gate);
    let keeper = Arc::clone(keeper);
    Disk {
        allows: Box::new(move |settle| gate.allows(settle).then(|| gate.client_id())),
        keep: Box::new(move |events: &[Event]| {
            if debug {
                return store::Kept::Failed;
            }
            keeper.keep(events, HOST_SETTLE)
        }),
    }
}

/// Adds delivered events to the sent record. Debug mode sends nothing, so it records
/// nothing.
fn sent_recorder(dir: &Path, debug: bool) -> Option<Delivered> {
    let dir = dir.to_path_buf();
    (!debug).then(|| -> Delivered {
        Box::new(move |common: &Common, events: &[Event]| {
            let _ = sent::append(&dir, common, events);
        })
    })
}

impl Telemetry {
    /// Installs the crash handlers; when that fails the reason says so and the handle
    /// works on without them.
    fn install_crash_handlers(&mut self, options: &Options, client_id: String, debug: bool) {
        let Some(dir) = self.config_dir.clone() else {
            return;
        };
        let config = crash::Config {
            dir,
            app_name: options.app_name.clone(),
            app_version: options.app_version.clone(),
            client_id,
            debug,
        };
        match crash::install(&config) {
            Ok(installation) => {
                *self.crash.lock().unwrap_or_else(|e| e.into_inner()) = Some(installation)
            }
            Err(e) => self
                .reason
                .push_str(&format!("; crash reports unavailable: {e}")),
        }
    }
}
