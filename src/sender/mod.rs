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

mod counters;
mod shared;
mod worker;

use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::event::{Common, Event, Scrubber};
use crate::store::Kept;
use crate::transport::Transport;
use counters::add;
use shared::{wait_until, Shared, State};
use worker::Worker;

pub use counters::Counters;

/// Default queue capacity (events).
pub const DEFAULT_CAPACITY: usize = 1000;

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

/// The queue and worker of one handle.
pub struct Sender {
    shared: Arc<Shared>,
}

/// How long a hand-off on the host's thread waits for a decision file being rewritten
/// before it counts as withdrawn: the deadline of `shutdown`/`free` comes first.
pub const HOST_SETTLE: Duration = Duration::from_millis(2);

impl Sender {
    /// Starts the worker thread; `backlog`'s events are queued first.
    pub fn start(
        config: SenderConfig,
        common: Common,
        transport: Box<dyn Transport>,
        disk: Disk,
        backlog: Option<Backlog>,
        delivered: Option<Delivered>,
    ) -> Result<Sender> {
        let shared = Arc::new(Shared::new(config.capacity, disk, backlog));
        shared.check_backlog();
        Worker::spawn(Arc::clone(&shared), config, common, transport, delivered)?;
        Ok(Sender { shared })
    }

    /// The scrubber, once the worker has built it.
    pub fn scrubber(&self) -> Option<&Scrubber> {
        self.shared.scrubber.get()
    }

    /// True once consent was found withdrawn: nothing more is accepted.
    pub fn withdrawn(&self) -> bool {
        self.shared.is_withdrawn()
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

    /// Queues one event. Never blocks on I/O. The handle checked its state before; the
    /// checks here are the ones that must be made under the queue's lock, so that a
    /// shutdown or a withdrawal that empties the queue never finds an event added after.
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
            add(&self.shared.counters.dropped, 1);
            return Err(Error::QueueFull);
        }
        let was_empty = state.queue.is_empty();
        state.queue.push_back(event);
        let idle = !state.busy;
        drop(state);
        add(&self.shared.counters.queued, 1);
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
        if state.idle() || self.withdrawn() {
            // Idle: wake the parked worker after unlocking (woken under the lock it would
            // only block on it and need a second wake-up), and return at once.
            drop(state);
            self.shared.wake.notify_one();
            return Ok(());
        }
        self.shared.wake.notify_one();
        let (state, drained) = self.wait_drained(state, deadline);
        if drained {
            return Ok(());
        }
        self.keep_what_is_left(state);
        self.wait_for_handoff(Instant::now().max(deadline) + HANDOFF_GRACE);
        self.shared.check_backlog();
        Err(Error::Timeout)
    }

    /// The deadline passed: stops the worker and keeps what is queued or in flight on disk,
    /// on this thread.
    fn keep_what_is_left(&self, mut state: MutexGuard<'_, State>) {
        state.abandoned = true;
        let mut left: Vec<Event> = std::mem::take(&mut state.in_flight);
        left.extend(state.queue.drain(..));
        drop(state);
        self.shared.wake.notify_one();
        if !left.is_empty() {
            add(&self.shared.counters.failed, left.len());
            self.shared.keep(left);
        }
    }

    /// The worker may be writing a failed batch to disk right now: those events are in no
    /// list. Such a write takes about a millisecond; it is waited for until `grace`.
    fn wait_for_handoff(&self, grace: Instant) {
        let mut state = self.shared.lock();
        while state.handing_off {
            state = match wait_until(&self.shared.progress, state, grace) {
                Ok(state) => state,
                Err(_) => return,
            };
        }
    }

    /// Waits until the queue is delivered (true) or cannot be by `deadline` (false).
    fn wait_drained<'a>(
        &self,
        mut state: MutexGuard<'a, State>,
        deadline: Instant,
    ) -> (MutexGuard<'a, State>, bool) {
        loop {
            // Withdrawn: nothing is left to deliver (a hanging request is dropped too).
            if state.idle() || self.withdrawn() {
                return (state, true);
            }
            if state.worker_done || state.abandoned {
                return (state, false);
            }
            state = match wait_until(&self.shared.progress, state, deadline) {
                Ok(state) => state,
                Err(state) => return (state, false),
            };
        }
    }

    pub fn counters(&self) -> Counters {
        self.shared.counters.snapshot()
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
