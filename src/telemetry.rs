//! The Rust facade: `Telemetry::init`, the `send_*` calls, `flush`, `shutdown`.
//!
//! A handle is always returned by `init` when the options are valid; when consent is
//! missing it is simply disabled ([`Telemetry::is_enabled`] is false) and every send
//! returns [`Error::Disabled`] at the cost of two loads. Handles are `Send + Sync`: every
//! method takes `&self` and may be called from any thread at once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::consent::{self, Consent, DecideOptions, Env, ProcessEnv, Reason};
use crate::error::{Error, Result};
use crate::event::{self, Common, Event, PrevState};
use crate::sender::{Backlog, Counters, Delivered, Disk, Sender, SenderConfig, HOST_SETTLE};
use crate::transport::{DebugTransport, Endpoint, HttpTransport, Transport};
use crate::{crash, dialog, fork, identity, sent, spool, store};

/// The OpenVINO API secret of the GA4 property, the Python client's default.
pub const DEFAULT_API_SECRET: &str = "zbEMioDXSE-MUHHPLRIi0A";
/// The measurement id `opt_in_out` reports to.
pub const OPT_IN_OUT_MEASUREMENT_ID: &str = "G-W5E9RNLD4H";
/// `1`/`true`/`yes`: print each request body on stderr and send nothing.
pub const DEBUG_VARIABLE: &str = "OPENVINO_TELEMETRY_DEBUG";
/// Replaces the collect URL (without its query); wins over [`Options::endpoint`].
pub const ENDPOINT_VARIABLE: &str = "OPENVINO_TELEMETRY_ENDPOINT";

/// Everything `init` needs. Build with [`Options::new`] and adjust the public fields.
#[derive(Clone, Debug)]
pub struct Options {
    pub app_name: String,
    pub app_version: String,
    /// The GA4 measurement id (`G-…`).
    pub measurement_id: String,
    pub api_secret: String,
    /// Command-line tools only: ask on the terminal when no decision is stored.
    pub consent_dialog: bool,
    /// How long the dialog waits for an answer in total (50 s).
    pub dialog_timeout: Duration,
    /// Disable when a CI service is detected.
    pub disable_in_ci: bool,
    /// The collect URL without its query; `None` is GA4's.
    pub endpoint: Option<String>,
    /// The directory holding the shared files; `None` is `$HOME/intel`.
    pub config_dir: Option<PathBuf>,
    /// Events the queue holds before sends return `QueueFull` (≥ 1).
    pub queue_capacity: usize,
    /// With consent: install handlers for fatal signals that record a crash for the next
    /// run to report (DESIGN §5a). Default false.
    pub crash_reports: bool,
}

impl Options {
    pub fn new(app_name: &str, app_version: &str, measurement_id: &str) -> Options {
        Options {
            app_name: app_name.to_string(),
            app_version: app_version.to_string(),
            measurement_id: measurement_id.to_string(),
            api_secret: DEFAULT_API_SECRET.to_string(),
            consent_dialog: false,
            dialog_timeout: dialog::DEFAULT_TIMEOUT,
            disable_in_ci: false,
            endpoint: None,
            config_dir: None,
            queue_capacity: crate::sender::DEFAULT_CAPACITY,
            crash_reports: false,
        }
    }

    fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("app name", &self.app_name),
            ("measurement id", &self.measurement_id),
            ("api secret", &self.api_secret),
        ] {
            if value.trim().is_empty() {
                return Err(Error::InvalidArgument(format!("the {name} is empty")));
            }
        }
        check_measurement_id(&self.measurement_id)?;
        if self.queue_capacity == 0 {
            return Err(Error::InvalidArgument(
                "the queue capacity must be at least 1".into(),
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            Endpoint::parse(endpoint)?;
        }
        Ok(())
    }
}

/// A GA4 measurement id is `G-` followed by letters and digits (`G-W5E9RNLD4H`). Anything
/// else is refused before it can reach a collect URL, where GA4 would drop it silently.
fn check_measurement_id(id: &str) -> Result<()> {
    let valid = id
        .strip_prefix("G-")
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
    if valid {
        return Ok(());
    }
    let shown: String = id.chars().take(40).collect();
    Err(Error::InvalidArgument(format!(
        "the measurement id {shown:?} is not a GA4 measurement id: \
         expected G- followed by letters and digits only (like G-W5E9RNLD4H)"
    )))
}

/// A telemetry handle.
pub struct Telemetry {
    active: Option<Active>,
    reason: String,
    config_dir: Option<PathBuf>,
    shut_down: AtomicBool,
    fork_generation: u64,
    /// The crash handlers this handle installed (released at shutdown).
    crash: Mutex<Option<crash::Installation>>,
}

struct Active {
    sender: Sender,
    session: Mutex<Arc<str>>,
    /// This process's consent epoch when last checked: a change made here since is checked
    /// at once, on the next send (then the send path is back to two atomic loads).
    consent_epoch: std::sync::atomic::AtomicU64,
    /// The config directory, canonical: what an in-process consent change is matched by.
    canonical_dir: PathBuf,
    /// The handle's pending file; released for later runs at shutdown.
    keeper: Arc<store::Keeper>,
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
        let disabled = |reason: String, config_dir: Option<PathBuf>| Telemetry {
            active: None,
            reason,
            config_dir,
            shut_down: AtomicBool::new(false),
            fork_generation,
            crash: Mutex::new(None),
        };
        let dir = match consent::config_dir(options.config_dir.as_deref()) {
            Ok(dir) => dir,
            Err(Error::Disabled(why)) => {
                // Without a home there is no decision: but the variables still rule first.
                let reason = consent::opted_out_by_env(env)
                    .map(|name| Reason::Environment(name).to_string())
                    .unwrap_or(why);
                return Ok(disabled(reason, None));
            }
            Err(e) => return Err(e),
        };
        let decision = consent::decide(
            &DecideOptions {
                config_dir: dir.clone(),
                consent_dialog: options.consent_dialog,
                dialog_timeout: options.dialog_timeout,
                disable_in_ci: options.disable_in_ci,
            },
            env,
        );
        if !decision.enabled {
            if matches!(
                decision.reason,
                Reason::File(Consent::Declined)
                    | Reason::BadFile(_)
                    | Reason::Undecided(_)
                    | Reason::Dialog(_)
            ) {
                // Consent is not given: whatever was kept for later must go.
                store::forget_own_files(&dir);
            }
            return Ok(disabled(decision.reason.to_string(), Some(dir)));
        }
        let debug = env
            .var(DEBUG_VARIABLE)
            .is_some_and(|v| consent::is_true_value(&v));
        let transport: Box<dyn Transport> = if debug {
            Box::new(DebugTransport)
        } else {
            let endpoint = match env.var(ENDPOINT_VARIABLE).filter(|v| !v.is_empty()) {
                Some(url) => match Endpoint::parse(&url) {
                    Ok(endpoint) => endpoint,
                    Err(e) => {
                        return Ok(disabled(
                            format!("{ENDPOINT_VARIABLE} is refused: {e}"),
                            Some(dir),
                        ))
                    }
                },
                None => match &options.endpoint {
                    Some(url) => Endpoint::parse(url)?,
                    None => Endpoint::default_endpoint(),
                },
            };
            Box::new(HttpTransport::new(
                &endpoint,
                &options.measurement_id,
                &options.api_secret,
            ))
        };
        let opened = match store::open(&dir) {
            Ok(opened) => opened,
            Err(why) => return Ok(disabled(why, Some(dir))),
        };
        let mut reason = decision.reason.to_string();
        for note in &opened.notes {
            reason.push_str("; ");
            reason.push_str(note);
        }
        let common = Common {
            client_id: opened.client_id.clone(),
            app_name: event::normalise_value(&options.app_name),
            app_version: event::normalise_value(&options.app_version),
            os: event::detect_os(),
            docker: false, // probed by the worker thread
            usage_count: opened.usage_count,
        };
        let gate = Arc::new(store::Gate::new(&dir, &opened.client_id, opened.created));
        let keeper = Arc::new(store::Keeper::new(Arc::clone(&gate)));
        let disk = disk_for(&gate, &keeper, debug);
        let config = SenderConfig {
            capacity: options.queue_capacity,
            ..SenderConfig::default()
        };
        // Debug mode touches nothing queued on disk (DESIGN §3a.5): kept events and crash
        // records wait for a real run.
        let (mut events, files, progress) = if debug {
            (Vec::new(), Vec::new(), None)
        } else {
            let mut claim = spool::claim(&dir, &opened.client_id, now_micros());
            // One claimed file that shrinks as its events are delivered.
            let progress = spool::consolidate(&dir, &mut claim, &opened.client_id).map(|path| {
                let claimed = claim.events.clone();
                let cid = opened.client_id.clone();
                Box::new(move |resolved: usize| {
                    if resolved < claimed.len() {
                        spool::shrink_claim(&path, &claimed[resolved..], &cid);
                    }
                }) as crate::sender::ProgressFn
            });
            (claim.events, claim.files, progress)
        };
        // Crash records of earlier runs join the backlog: a record is deleted only once its
        // event was delivered or kept on disk.
        let crashes = if debug {
            crash::Claim::default()
        } else {
            crash::claim_records(&dir, &common.client_id, now_micros())
        };
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
        let backlog = (!files.is_empty() || !crash_files.is_empty()).then(|| Backlog {
            events,
            release: Box::new(move || {
                spool::release(&files);
                crash::release(&crash_files);
            }),
            progress,
        });
        // Debug mode sends nothing, so it records nothing.
        let record_dir = dir.clone();
        let delivered = (!debug).then(|| -> Delivered {
            Box::new(move |common: &Common, events: &[Event]| {
                let _ = sent::append(&record_dir, common, events);
            })
        });
        let client_id = common.client_id.clone();
        let sender = Sender::start(config, common, transport, disk, backlog, delivered)?;
        let mut telemetry = Telemetry {
            active: Some(Active {
                sender,
                session: Mutex::new(new_session_id()),
                consent_epoch: std::sync::atomic::AtomicU64::new(store::consent_epoch()),
                canonical_dir: store::canonical(&dir),
                keeper,
            }),
            reason,
            config_dir: Some(dir.clone()),
            shut_down: AtomicBool::new(false),
            fork_generation,
            crash: Mutex::new(None),
        };
        if options.crash_reports {
            let config = crash::Config {
                dir: dir.clone(),
                app_name: options.app_name.clone(),
                app_version: options.app_version.clone(),
                client_id,
                debug,
            };
            match crash::install(&config) {
                Ok(installation) => {
                    *telemetry.crash.lock().unwrap_or_else(|e| e.into_inner()) = Some(installation)
                }
                Err(e) => telemetry
                    .reason
                    .push_str(&format!("; crash reports unavailable: {e}")),
            }
        }
        if decision.accepted_now() {
            let _ = telemetry.send_opt_in(PrevState::Undefined);
        }
        Ok(telemetry)
    }

    /// True when events are being sent (consent given and not withdrawn since, not shut
    /// down, not a forked copy).
    pub fn is_enabled(&self) -> bool {
        self.active().is_ok()
    }

    /// Why the handle is enabled or disabled, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The directory holding the shared files, when one is known.
    pub fn config_dir(&self) -> Option<&Path> {
        self.config_dir.as_deref()
    }

    fn forked(&self) -> bool {
        fork::generation() != self.fork_generation
    }

    /// The sender when sending is possible; the error otherwise (precedence: shut down,
    /// disabled). Two loads and no allocation, so a disabled handle costs next to nothing.
    fn active(&self) -> Result<&Active> {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(Error::ShutDown);
        }
        match &self.active {
            Some(active) if !self.forked() && !active.withdrawn() => Ok(active),
            _ => Err(Error::Disabled(String::new())),
        }
    }

    /// `Ok` when a send would be attempted: lets callers refuse early, before they look at
    /// their arguments.
    pub fn usable(&self) -> Result<()> {
        self.active().map(|_| ())
    }

    fn push(
        &self,
        active: &Active,
        make: impl FnOnce(Arc<str>, u64) -> Result<Event>,
    ) -> Result<()> {
        let session = Arc::clone(&active.session.lock().unwrap_or_else(|e| e.into_inner()));
        active.sender.push(make(session, now_micros())?)
    }

    pub fn send_event(&self, category: &str, action: &str, label: &str, value: i64) -> Result<()> {
        let active = self.active()?;
        self.push(active, |session, ts| {
            Event::custom(category, action, label, value, session, ts)
        })
    }

    /// The message is scrubbed of the user's home directory and name before it is queued.
    pub fn send_error(&self, category: &str, message: &str) -> Result<()> {
        let active = self.active()?;
        let scrubber = active.sender.scrubber();
        self.push(active, |session, ts| {
            Ok(Event::report(
                "error_", category, message, scrubber, session, ts,
            ))
        })
    }

    /// The trace is scrubbed of the user's home directory and name before it is queued.
    pub fn send_stack_trace(&self, category: &str, trace: &str) -> Result<()> {
        let active = self.active()?;
        let scrubber = active.sender.scrubber();
        self.push(active, |session, ts| {
            Ok(Event::report(
                "stack_trace",
                category,
                trace,
                scrubber,
                session,
                ts,
            ))
        })
    }

    /// Starts a new session (a new session id) and sends `session`/`start`.
    pub fn start_session(&self, category: &str) -> Result<()> {
        let active = self.active()?;
        let session = new_session_id();
        *active.session.lock().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&session);
        active
            .sender
            .push(Event::session_start(category, session, now_micros()))
    }

    pub fn end_session(&self, category: &str) -> Result<()> {
        let active = self.active()?;
        self.push(active, |session, ts| {
            Ok(Event::session_end(category, session, ts))
        })
    }

    /// The `opt_in`/`accepted` event, sent after a "yes".
    pub fn send_opt_in(&self, previous: PrevState) -> Result<()> {
        let active = self.active()?;
        self.push(active, |session, ts| {
            Ok(Event::opt_in(previous, session, ts))
        })
    }

    /// Waits until everything queued is delivered, at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        match self.active() {
            Ok(active) => active.sender.flush(timeout),
            Err(Error::Disabled(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Stops accepting events and delivers what is queued within `timeout`; what is left
    /// then is kept in the spool for the next run. Idempotent; later sends fail with
    /// `ShutDown`.
    pub fn shutdown(&self, timeout: Duration) -> Result<()> {
        if self.shut_down.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        // The handlers that are still ours go first: a crash after shutdown is the host's.
        // (Not in a forked child: the registry's lock may have been held at fork time.)
        if !self.forked() {
            drop(self.crash.lock().unwrap_or_else(|e| e.into_inner()).take());
        }
        match &self.active {
            Some(active) if !self.forked() => {
                let result = active.sender.shutdown(timeout);
                active.keeper.close();
                result
            }
            _ => Ok(()),
        }
    }

    /// The sender's counters (zero when disabled).
    pub fn counters(&self) -> Counters {
        match &self.active {
            Some(active) if !self.forked() => active.sender.counters(),
            _ => Counters::default(),
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if self.forked() {
            // The parent's threads may have held the queue's lock at fork time: touching
            // it could deadlock. The child leaks the handle's memory instead.
            if let Some(active) = self.active.take() {
                std::mem::forget(active);
            }
            // The same for the crash handlers' registry; the handlers stay installed in
            // the child, which is the same program.
            if let Some(crash) = self.crash.get_mut().ok().and_then(Option::take) {
                std::mem::forget(crash);
            }
        } else if let Some(active) = &self.active {
            // What is left goes to the pending file now; then that file is free for
            // later runs (the worker may outlive the handle for a hanging request).
            let _ = active.sender.shutdown(Duration::ZERO);
            active.keeper.close();
        }
    }
}

impl Active {
    /// Consent withdrawn: seen by the worker, or — after this process changed the decision
    /// itself — checked right now.
    fn withdrawn(&self) -> bool {
        if self.sender.withdrawn() {
            return true;
        }
        let now = store::consent_epoch();
        let seen = self.consent_epoch.load(Ordering::Relaxed);
        if now != seen {
            // Another directory's change costs one look at a short list, nothing more.
            if store::changed_since(&self.canonical_dir, seen) && !self.sender.recheck() {
                return true;
            }
            self.consent_epoch.store(now, Ordering::Relaxed);
        }
        false
    }
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

fn new_session_id() -> Arc<str> {
    Arc::from(identity::new_uuid_v4())
}

pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
