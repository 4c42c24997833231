//! The bounded queue and its background worker.
//!
//! `push` is all the host's thread ever does: a short critical section on an in-memory
//! queue, no I/O. One worker thread per handle drains the queue in batches (at most 25
//! events and < 130 kB per request), POSTs them through a [`Transport`], retries network
//! errors, 5xx and 429 with exponential backoff and jitter (honouring `Retry-After`), and
//! gives up on other statuses. `flush` and `shutdown` wait on a condition variable until
//! everything queued is delivered or their deadline passes, whatever the network does.
//!
//! Events that cannot be delivered — retries exhausted, or still queued or in flight when
//! `shutdown`'s deadline passes — are handed to one place, [`Disk::keep`] (a new pending
//! file, written without waiting for any lock). Delivery is at least once: a batch whose
//! request is still in flight at the deadline is handed over too, and may also arrive.
//!
//! Consent is live: [`Disk::allows`] is asked before every request. Once it refuses, the
//! sender is *withdrawn*: what is queued or in flight is dropped (counted in `discarded`),
//! nothing more is written, and `push` returns `Disabled`.
//!
//! An event is always somewhere a shutdown can see it: in the queue, in `in_flight`
//! (moved there in the same critical section that takes it from the queue), or in a
//! hand-off still running (`handing_off`, which `flush` and `shutdown` wait for).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::event::{self, Common, Event, Scrubber};
use crate::files::random_u32;
use crate::store::Kept;
use crate::transport::{Outcome, Transport};

/// Default queue capacity (events).
pub const DEFAULT_CAPACITY: usize = 1000;
/// Events per request, GA4's limit.
pub const MAX_BATCH: usize = 25;

/// Asked before every request: the client id to send under, or `None` once consent is gone.
/// The argument is how long a file being rewritten may be waited for.
pub type AllowsFn = Box<dyn Fn(Duration) -> Option<String> + Send + Sync>;
/// Keeps undeliverable events for a later run.
pub type KeepFn = Box<dyn Fn(&[Event]) -> Kept + Send + Sync>;

/// The shared directory as the sender sees it (DESIGN §3a; implemented by `store`).
pub struct Disk {
    /// Whether sending may go on — consent still `1`, the client id still the handle's —
    /// and the client id to send under. Asked before every request, on the worker. May
    /// wait a moment for a file being rewritten.
    pub allows: AllowsFn,
    /// Keeps undeliverable events for a later run. Called from the worker or from
    /// `shutdown`/`free` (on the host's thread: never waits for a lock).
    pub keep: KeepFn,
}

/// Called by the worker with delivered (2xx) events, as they were sent, before they count
/// as done: a `flush` or `shutdown` that returns finds them recorded (the sent record).
/// Called when the queue is drained (or every [`HOOK_EVERY`] events under sustained load),
/// so a burst of requests costs one call.
pub type Delivered = Box<dyn Fn(&Common, &[Event]) + Send + Sync>;
/// Under sustained load, the [`Delivered`] hook is called at least every this many events.
pub const HOOK_EVERY: usize = 1000;

/// Events claimed from the spool, queued first; `release` runs once every one of them was
/// delivered or handed to the sink again — and never if the sink failed to keep some
/// event, so the claimed file survives for a later run.
pub struct Backlog {
    pub events: Vec<Event>,
    pub release: Box<dyn FnOnce() + Send>,
    /// Told how many of the backlog's first events are resolved so far, after each batch,
    /// so the claim on disk can shrink: a claimer killed mid-way leaves only what it had
    /// not delivered.
    pub progress: Option<ProgressFn>,
}

/// See [`Backlog::progress`].
pub type ProgressFn = Box<dyn FnMut(usize) + Send>;

/// Tunables; the defaults are what the library uses.
#[derive(Clone, Debug)]
pub struct SenderConfig {
    pub capacity: usize,
    /// Attempts per batch, the first included.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub retry_after_cap: Duration,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            capacity: DEFAULT_CAPACITY,
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(60),
        }
    }
}

/// What the sender has done so far. Every accepted event ends up exactly once in `sent`
/// or `failed`, or is still pending: `queued == sent + failed + pending`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events accepted onto the queue.
    pub queued: u64,
    /// Events delivered (2xx).
    pub sent: u64,
    /// Events refused because the queue was full.
    pub dropped: u64,
    /// Events that could not be delivered (rejected, retries exhausted, or left at the
    /// shutdown deadline); all but the rejected ones went to the sink.
    pub failed: u64,
    /// Requests that were tried again.
    pub retried: u64,
    /// Accepted events dropped because consent was withdrawn (or the identity changed)
    /// before they could be delivered or kept.
    pub discarded: u64,
}

#[derive(Default)]
struct AtomicCounters {
    queued: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    discarded: AtomicU64,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Event>,
    /// The batch the worker is delivering; kept here so a shutdown can take it over.
    in_flight: Vec<Event>,
    /// The worker holds events (taken from the queue, in flight or backing off).
    busy: bool,
    /// No more events are accepted; the worker exits once the queue is empty.
    closing: bool,
    /// The shutdown deadline passed: the worker must stop at once.
    abandoned: bool,
    /// The worker is writing events to disk: they are in no list, so waiters wait for it.
    handing_off: bool,
    worker_done: bool,
}

/// The backlog's claim: how many events must be resolved before its release runs, the
/// release, the progress callback and the count last reported to it.
struct PendingRelease {
    events: u64,
    release: Box<dyn FnOnce() + Send>,
    progress: Option<ProgressFn>,
    reported: u64,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the worker: new events, closing, abandoning.
    wake: Condvar,
    /// Wakes waiters in flush/shutdown: a batch finished, the worker exited.
    progress: Condvar,
    counters: AtomicCounters,
    capacity: usize,
    /// (events that must be resolved, release) for the spool backlog.
    backlog: Mutex<Option<PendingRelease>>,
    /// Keeping some event failed: the backlog's claim must not be released.
    sink_failed: AtomicBool,
    /// Consent was withdrawn: nothing more is sent, kept or accepted.
    withdrawn: AtomicBool,
    disk: Disk,
    /// Built by the worker as its first step (the account lookup may be slow).
    scrubber: OnceLock<Scrubber>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic never happens while the lock is held; recover the data if one did.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands events to the disk, remembering a failure to keep them; a refusal (consent
    /// withdrawn) withdraws the sender.
    fn keep(&self, events: Vec<Event>) {
        if self.withdrawn.load(Ordering::Acquire) {
            self.discard(events.len());
            return;
        }
        match (self.disk.keep)(&events) {
            Kept::Kept => {}
            Kept::Failed => self.sink_failed.store(true, Ordering::Relaxed),
            Kept::Withdrawn => {
                self.discard(events.len());
                self.withdraw();
            }
        }
    }

    /// Counts events dropped for a withdrawn consent. They had been counted as failed or
    /// were about to be: `discarded` is the part of `failed` that was not kept.
    fn discard(&self, n: usize) {
        self.counters
            .discarded
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Consent is gone: drops everything held, deletes the claimed backlog (collected under
    /// the withdrawn consent), and refuses all further work.
    fn withdraw(&self) {
        if self.withdrawn.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut state = self.lock();
        let dropped = state.queue.len() + state.in_flight.len();
        state.queue.clear();
        state.in_flight.clear();
        drop(state);
        self.counters
            .failed
            .fetch_add(dropped as u64, Ordering::Relaxed);
        self.discard(dropped);
        if let Some(pending) = self
            .backlog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            (pending.release)();
        }
        self.wake.notify_all();
        self.progress.notify_all();
    }

    /// Runs the backlog's release once all of its events are resolved.
    fn check_backlog(&self) {
        let mut backlog = self.backlog.lock().unwrap_or_else(|e| e.into_inner());
        if self.sink_failed.load(Ordering::Relaxed) {
            // Keep the claimed file: its events may not all be safe elsewhere.
            backlog.take();
            return;
        }
        // The backlog is at the front of the queue, and batches resolve in queue order:
        // the first `resolved` events resolved are the backlog's first ones.
        let resolved = self.counters.sent.load(Ordering::Relaxed)
            + self.counters.failed.load(Ordering::Relaxed);
        let Some(pending) = backlog.as_mut() else {
            return;
        };
        if resolved >= pending.events {
            if let Some(pending) = backlog.take() {
                (pending.release)();
            }
        } else if resolved > pending.reported {
            pending.reported = resolved;
            if let Some(progress) = pending.progress.as_mut() {
                progress(resolved as usize);
            }
        }
    }
}

/// The queue and worker of one handle.
pub struct Sender {
    shared: Arc<Shared>,
}

/// How long a hand-off on the host's thread waits for a decision file being rewritten
/// before it counts as withdrawn: the deadline of `shutdown`/`free` comes first.
pub const HOST_SETTLE: Duration = Duration::from_millis(2);

impl Sender {
    /// Starts the worker thread.
    pub fn start(
        config: SenderConfig,
        common: Common,
        transport: Box<dyn Transport>,
        disk: Disk,
        backlog: Option<Backlog>,
        delivered: Option<Delivered>,
    ) -> Result<Sender> {
        let mut queue = VecDeque::with_capacity(config.capacity.min(1024));
        let mut release = None;
        if let Some(backlog) = backlog {
            release = Some(PendingRelease {
                events: backlog.events.len() as u64,
                release: backlog.release,
                progress: backlog.progress,
                reported: 0,
            });
            queue.extend(backlog.events);
        }
        let backlog_len = queue.len();
        let counters = AtomicCounters::default();
        counters.queued.store(backlog_len as u64, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue,
                ..State::default()
            }),
            wake: Condvar::new(),
            progress: Condvar::new(),
            counters,
            // Events claimed from disk never take the host's room: the queue holds them on
            // top of its capacity (so at most twice the capacity, while they drain).
            capacity: config.capacity.max(1) + backlog_len,
            backlog: Mutex::new(release),
            sink_failed: AtomicBool::new(false),
            withdrawn: AtomicBool::new(false),
            disk,
            scrubber: OnceLock::new(),
        });
        shared.check_backlog();
        let worker = Worker {
            shared: Arc::clone(&shared),
            config,
            common,
            transport,
            degraded: false,
            delivered,
            awaiting_hook: Vec::new(),
        };
        thread::Builder::new()
            .name("ov-telemetry".into())
            .spawn(move || worker.run())
            .map_err(|e| Error::Internal(format!("cannot start the sender thread: {e}")))?;
        Ok(Sender { shared })
    }

    /// The scrubber, once the worker has built it.
    pub fn scrubber(&self) -> Option<&Scrubber> {
        self.shared.scrubber.get()
    }

    /// True once consent was found withdrawn: nothing more is accepted.
    pub fn withdrawn(&self) -> bool {
        self.shared.withdrawn.load(Ordering::Relaxed)
    }

    /// Asks the disk now, on this thread (after this process changed the decision), and
    /// withdraws when consent is gone. True when sending may go on.
    pub fn recheck(&self) -> bool {
        if self.withdrawn() {
            return false;
        }
        // On the host's thread: a file being rewritten is waited for briefly only.
        if (self.shared.disk.allows)(HOST_SETTLE).is_some() {
            return true;
        }
        self.shared.withdraw();
        false
    }

    /// Queues one event. Never blocks on I/O.
    pub fn push(&self, event: Event) -> Result<()> {
        let mut state = self.shared.lock();
        if state.closing {
            return Err(Error::ShutDown);
        }
        if self.withdrawn() {
            return Err(Error::Disabled(String::new()));
        }
        if state.queue.len() >= self.shared.capacity {
            drop(state);
            self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return Err(Error::QueueFull);
        }
        let was_empty = state.queue.is_empty();
        state.queue.push_back(event);
        let idle = !state.busy;
        drop(state);
        self.shared.counters.queued.fetch_add(1, Ordering::Relaxed);
        if was_empty && idle {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// Waits until everything queued so far is delivered, at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let state = self.shared.lock();
        let (_state, drained) = self.wait_drained(state, deadline);
        if drained {
            Ok(())
        } else {
            Err(Error::Timeout)
        }
    }

    /// Stops accepting events, waits until the queue is delivered (at most `timeout`), then
    /// stops the worker. What is left at the deadline is kept on disk, on this thread,
    /// without waiting for any lock; a hand-off the worker is in the middle of is waited
    /// for a few milliseconds more. Idempotent.
    pub fn shutdown(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        state.closing = true;
        if (state.queue.is_empty() && !state.busy) || self.withdrawn() {
            // Idle: wake the parked worker after unlocking (woken under the lock it would
            // only block on it and need a second wake-up), and return at once.
            drop(state);
            self.shared.wake.notify_one();
            return Ok(());
        }
        self.shared.wake.notify_one();
        let (mut state, drained) = self.wait_drained(state, deadline);
        if drained {
            return Ok(());
        }
        state.abandoned = true;
        let mut left: Vec<Event> = std::mem::take(&mut state.in_flight);
        left.extend(state.queue.drain(..));
        drop(state);
        self.shared.wake.notify_one();
        if !left.is_empty() {
            self.shared
                .counters
                .failed
                .fetch_add(left.len() as u64, Ordering::Relaxed);
            self.shared.keep(left);
        }
        // The worker may be writing a failed batch to disk right now: those events are in
        // no list. Such a write takes about a millisecond; give it a few.
        let grace = Instant::now().max(deadline) + HANDOFF_GRACE;
        let mut state = self.shared.lock();
        while state.handing_off {
            let now = Instant::now();
            if now >= grace {
                break;
            }
            state = self
                .shared
                .progress
                .wait_timeout(state, grace - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(state);
        self.shared.check_backlog();
        Err(Error::Timeout)
    }

    fn wait_drained<'a>(
        &self,
        mut state: MutexGuard<'a, State>,
        deadline: Instant,
    ) -> (MutexGuard<'a, State>, bool) {
        loop {
            // Withdrawn: nothing is left to deliver (a hanging request is dropped too).
            if (state.queue.is_empty() && !state.busy) || self.withdrawn() {
                return (state, true);
            }
            if state.worker_done || state.abandoned {
                return (state, false);
            }
            let now = Instant::now();
            if now >= deadline {
                return (state, false);
            }
            state = self
                .shared
                .progress
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    pub fn counters(&self) -> Counters {
        let c = &self.shared.counters;
        Counters {
            queued: c.queued.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            discarded: c.discarded.load(Ordering::Relaxed),
        }
    }
}

/// How long `shutdown` waits, past its deadline, for a hand-off to disk the worker has
/// already started (DESIGN §3a.3 allows a deadline + 5 ms).
const HANDOFF_GRACE: Duration = Duration::from_millis(4);

impl Drop for Sender {
    fn drop(&mut self) {
        // Without a shutdown, what is still queued is kept on disk, not lost.
        let _ = self.shutdown(Duration::ZERO);
    }
}

struct Worker {
    shared: Arc<Shared>,
    config: SenderConfig,
    common: Common,
    transport: Box<dyn Transport>,
    /// The last batch exhausted its retries: try each next batch once until one succeeds.
    degraded: bool,
    delivered: Option<Delivered>,
    /// Delivered events not yet handed to `delivered`.
    awaiting_hook: Vec<Event>,
}

impl Worker {
    fn run(mut self) {
        // The account lookup (NSS may ask the network) and the container probe (/proc
        // files) are done here, never on the host's thread.
        self.shared.scrubber.get_or_init(Scrubber::from_environment);
        self.common.docker = event::detect_docker();
        while let Some(batch) = self.next_batch() {
            self.deliver(batch);
        }
        if !self.awaiting_hook.is_empty() {
            // Only after a shutdown deadline passed mid-burst: late, but still recorded.
            self.call_delivered();
        }
        let mut state = self.shared.lock();
        state.worker_done = true;
        state.busy = false;
        drop(state);
        self.shared.progress.notify_all();
    }

    /// Blocks until there is work; `None` when the worker should exit. The batch moves
    /// from the queue to `in_flight` in one critical section, so a shutdown always sees
    /// it; the worker gets a copy, scrubbed, to build the request from.
    fn next_batch(&self) -> Option<Vec<Event>> {
        let mut state = self.shared.lock();
        loop {
            if state.abandoned || self.shared.withdrawn.load(Ordering::Relaxed) {
                return None;
            }
            if !state.queue.is_empty() {
                break;
            }
            if state.closing {
                return None;
            }
            state = self
                .shared
                .wake
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        let n = state.queue.len().min(MAX_BATCH);
        let batch: Vec<Event> = state.queue.drain(..n).collect();
        state.in_flight = batch.clone();
        state.busy = true;
        drop(state);
        let scrubber = self.shared.scrubber.get_or_init(Scrubber::from_environment);
        Some(
            batch
                .into_iter()
                .map(|mut e| {
                    e.finish_scrub(scrubber);
                    e
                })
                .collect(),
        )
    }

    fn deliver(&mut self, sent: Vec<Event>) {
        let batch = &sent;
        let mut body = Vec::new();
        let attempts = if self.degraded {
            1
        } else {
            self.config.max_attempts.max(1)
        };
        let mut attempt = 1;
        let outcome = loop {
            // Consent is live: asked before every request, retries included.
            let Some(client_id) = (self.shared.disk.allows)(crate::files::SETTLE_WAIT) else {
                self.shared.withdraw();
                self.finish();
                return;
            };
            if body.is_empty() || client_id != self.common.client_id {
                self.common.client_id = client_id;
                body = event::request_body(&self.common, batch);
            }
            let outcome = self.transport.post(&body);
            let Outcome::Retry { after, .. } = &outcome else {
                break outcome;
            };
            if attempt >= attempts {
                break outcome;
            }
            let wait = after
                .map(|a| a.min(self.config.retry_after_cap))
                .unwrap_or_else(|| self.backoff(attempt));
            if !self.pause(wait) {
                break outcome;
            }
            self.shared.counters.retried.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
        };
        // Take the batch back (empty when a shutdown took it over and counted it). Until
        // the hand-off or the record below is done, the worker stays busy, so a flush or
        // shutdown that returns finds the events kept or recorded.
        let mut state = self.shared.lock();
        let taken = std::mem::take(&mut state.in_flight);
        let n = taken.len() as u64;
        state.handing_off = !taken.is_empty() && matches!(outcome, Outcome::Retry { .. });
        if outcome == Outcome::Delivered && !taken.is_empty() && self.delivered.is_some() {
            // As sent: the scrubbed copy. Handed to the hook once the queue is drained
            // (one call for a burst, not one per request).
            self.awaiting_hook.extend(sent);
        }
        let call_hook = !self.awaiting_hook.is_empty()
            && (state.queue.is_empty() || self.awaiting_hook.len() >= HOOK_EVERY);
        drop(state);
        if call_hook {
            self.call_delivered();
        }
        match outcome {
            Outcome::Delivered => {
                self.degraded = false;
                self.shared.counters.sent.fetch_add(n, Ordering::Relaxed);
            }
            Outcome::Rejected { .. } => self.give_up(taken, false),
            Outcome::Retry { .. } => {
                self.degraded = true;
                self.give_up(taken, true);
            }
        }
        self.finish();
    }

    /// The batch is resolved: release a drained backlog, then publish idle — in this
    /// order, so a shutdown that returns never leaves a delivered claim behind.
    fn finish(&self) {
        self.shared.check_backlog();
        let mut state = self.shared.lock();
        state.busy = false;
        state.handing_off = false;
        drop(state);
        self.shared.progress.notify_all();
    }

    fn call_delivered(&mut self) {
        if let Some(hook) = &self.delivered {
            hook(&self.common, &self.awaiting_hook);
        }
        self.awaiting_hook.clear();
    }

    /// Counts `batch` as failed; keeps it on disk when it may succeed later. An empty
    /// batch means `shutdown` already took it over.
    fn give_up(&self, batch: Vec<Event>, keep: bool) {
        if batch.is_empty() {
            return;
        }
        self.shared
            .counters
            .failed
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        if keep {
            self.shared.keep(batch);
        }
    }
    /// Exponential backoff with jitter: a random duration in [½, 1] × base·2^(attempt-1),
    /// capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .config
            .backoff_base
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.config.backoff_cap);
        let jitter = 0.5 + f64::from(random_u32()) / f64::from(u32::MAX) / 2.0;
        exp.mul_f64(jitter)
    }

    /// Waits `wait` before a retry. False when the shutdown deadline passed meanwhile.
    fn pause(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut state = self.shared.lock();
        loop {
            if state.abandoned {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            state = self
                .shared
                .wake
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
