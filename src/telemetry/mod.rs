//! The Rust facade: `Telemetry::init`, the `send_*` calls, `flush`, `shutdown`.
//!
//! A handle is always returned by `init` when the options are valid; when consent is
//! missing it is simply disabled ([`Telemetry::is_enabled`] is false) and every send
//! returns [`Error::Disabled`] at the cost of two loads. Handles are `Send + Sync`: every
//! method takes `&self` and may be called from any thread at once.

mod init;
mod options;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::event::{Event, PrevState};
use crate::files::now_micros;
use crate::sender::{Counters, Sender};
use crate::{crash, fork, identity, store};

pub use options::{Options, DEFAULT_API_SECRET};

/// The measurement id `opt_in_out` reports to.
pub const OPT_IN_OUT_MEASUREMENT_ID: &str = "G-W5E9RNLD4H";
/// `1`/`true`/`yes`: print each request body on stderr and send nothing.
pub const DEBUG_VARIABLE: &str = "OPENVINO_TELEMETRY_DEBUG";
/// Replaces the collect URL (without its query); wins over [`Options::endpoint`].
pub const ENDPOINT_VARIABLE: &str = "OPENVINO_TELEMETRY_ENDPOINT";

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
    consent_epoch: AtomicU64,
    /// The config directory, canonical: what an in-process consent change is matched by.
    canonical_dir: PathBuf,
    /// The handle's pending file; released for later runs at shutdown.
    keeper: Arc<store::Keeper>,
}

impl Telemetry {
    fn new(
        active: Option<Active>,
        reason: String,
        config_dir: Option<PathBuf>,
        fork_generation: u64,
    ) -> Telemetry {
        Telemetry {
            active,
            reason,
            config_dir,
            shut_down: AtomicBool::new(false),
            fork_generation,
            crash: Mutex::new(None),
        }
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

    /// The handle's sending side when a send would be attempted: lets callers refuse
    /// early, before they look at their arguments, and then send through it without the
    /// handle being checked a second time.
    pub fn usable(&self) -> Result<Usable<'_>> {
        self.active().map(|active| Usable { active })
    }

    /// [`Usable::send_event`] when the handle is usable (so for all `send_*` below).
    pub fn send_event(&self, category: &str, action: &str, label: &str, value: i64) -> Result<()> {
        self.usable()?.send_event(category, action, label, value)
    }

    pub fn send_error(&self, category: &str, message: &str) -> Result<()> {
        self.usable()?.send_error(category, message)
    }

    pub fn send_stack_trace(&self, category: &str, trace: &str) -> Result<()> {
        self.usable()?.send_stack_trace(category, trace)
    }

    pub fn start_session(&self, category: &str) -> Result<()> {
        self.usable()?.start_session(category)
    }

    pub fn end_session(&self, category: &str) -> Result<()> {
        self.usable()?.end_session(category)
    }

    pub fn send_opt_in(&self, previous: PrevState) -> Result<()> {
        self.usable()?.send_opt_in(previous)
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

/// A handle that was usable when [`Telemetry::usable`] asked: its sends queue without
/// looking at the handle's state again (the queue still refuses under its lock once the
/// handle is shut down or withdrawn meanwhile).
pub struct Usable<'a> {
    active: &'a Active,
}

impl Usable<'_> {
    fn push(&self, make: impl FnOnce(Arc<str>, u64) -> Result<Event>) -> Result<()> {
        let session = Arc::clone(&self.active.session());
        self.active.sender.push(make(session, now_micros())?)
    }

    pub fn send_event(&self, category: &str, action: &str, label: &str, value: i64) -> Result<()> {
        self.push(|session, ts| Event::custom(category, action, label, value, session, ts))
    }

    /// The message is scrubbed of the user's home directory and name before it is queued.
    pub fn send_error(&self, category: &str, message: &str) -> Result<()> {
        let scrubber = self.active.sender.scrubber();
        self.push(|session, ts| {
            Ok(Event::report(
                "error_", category, message, scrubber, session, ts,
            ))
        })
    }

    /// The trace is scrubbed of the user's home directory and name before it is queued.
    pub fn send_stack_trace(&self, category: &str, trace: &str) -> Result<()> {
        let scrubber = self.active.sender.scrubber();
        self.push(|session, ts| {
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
        let session = new_session_id();
        *self.active.session() = Arc::clone(&session);
        self.active
            .sender
            .push(Event::session_start(category, session, now_micros()))
    }

    pub fn end_session(&self, category: &str) -> Result<()> {
        self.push(|session, ts| Ok(Event::session_end(category, session, ts)))
    }

    /// The `opt_in`/`accepted` event, sent after a "yes".
    pub fn send_opt_in(&self, previous: PrevState) -> Result<()> {
        self.push(|session, ts| Ok(Event::opt_in(previous, session, ts)))
    }
}

impl Active {
    fn new(sender: Sender, dir: &Path, keeper: Arc<store::Keeper>) -> Active {
        Active {
            sender,
            session: Mutex::new(new_session_id()),
            consent_epoch: AtomicU64::new(store::consent_epoch()),
            canonical_dir: store::canonical(dir),
            keeper,
        }
    }

    fn session(&self) -> MutexGuard<'_, Arc<str>> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

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

fn new_session_id() -> Arc<str> {
    Arc::from(identity::new_uuid_v4())
}
