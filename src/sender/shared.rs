//! What the host's threads and the worker share: the queue's state, the hand-off of events
//! to disk, and the withdrawal of consent.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use super::counters::{add, AtomicCounters};
use super::{Backlog, Disk, ProgressFn};
use crate::event::{Event, Scrubber};
use crate::store::Kept;

#[derive(Default)]
pub(super) struct State {
    pub queue: VecDeque<Event>,
    /// The batch the worker is delivering; kept here so a shutdown can take it over.
    pub in_flight: Vec<Event>,
    /// The worker holds events (taken from the queue, in flight or backing off).
    pub busy: bool,
    /// No more events are accepted; the worker exits once the queue is empty.
    pub closing: bool,
    /// The shutdown deadline passed: the worker must stop at once.
    pub abandoned: bool,
    /// The worker is writing events to disk: they are in no list, so waiters wait for it.
    pub handing_off: bool,
    pub worker_done: bool,
}

impl State {
    /// Nothing is queued and the worker holds nothing.
    pub fn idle(&self) -> bool {
        self.queue.is_empty() && !self.busy
    }
}

/// The backlog's claim: how many events must be resolved before its release runs, the
/// release, the progress callback and the count last reported to it.
pub(super) struct PendingRelease {
    pub events: u64,
    pub release: Box<dyn FnOnce() + Send>,
    pub progress: Option<ProgressFn>,
    pub reported: u64,
}

pub(super) struct Shared {
    pub state: Mutex<State>,
    /// Wakes the worker: new events, closing, abandoning.
    pub wake: Condvar,
    /// Wakes waiters in flush/shutdown: a batch finished, the worker exited.
    pub progress: Condvar,
    pub counters: AtomicCounters,
    pub capacity: usize,
    /// The spool backlog's claim, until all of its events are resolved.
    pub backlog: Mutex<Option<PendingRelease>>,
    /// Keeping some event failed: the backlog's claim must not be released.
    pub sink_failed: AtomicBool,
    /// Consent was withdrawn: nothing more is sent, kept or accepted.
    pub withdrawn: AtomicBool,
    pub disk: Disk,
    /// Built by the worker as its first step (the account lookup may be slow).
    pub scrubber: OnceLock<Scrubber>,
}

impl Shared {
    /// The state of a new sender, `backlog`'s events queued first. Events claimed from
    /// disk never take the host's room: the queue holds them on top of its `capacity` (so
    /// at most twice the capacity, while they drain).
    pub fn new(capacity: usize, disk: Disk, backlog: Option<Backlog>) -> Shared {
        let mut queue = VecDeque::with_capacity(capacity.min(1024));
        let release = backlog.map(|backlog| {
            let events = backlog.events.len() as u64;
            queue.extend(backlog.events);
            PendingRelease {
                events,
                release: backlog.release,
                progress: backlog.progress,
                reported: 0,
            }
        });
        let counters = AtomicCounters::default();
        counters.queued.store(queue.len() as u64, Ordering::Relaxed);
        Shared {
            capacity: capacity.max(1) + queue.len(),
            state: Mutex::new(State {
                queue,
                ..State::default()
            }),
            wake: Condvar::new(),
            progress: Condvar::new(),
            counters,
            backlog: Mutex::new(release),
            sink_failed: AtomicBool::new(false),
            withdrawn: AtomicBool::new(false),
            disk,
            scrubber: OnceLock::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic never happens while the lock is held; recover the data if one did.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.load(Ordering::Relaxed)
    }

    /// Hands events to the disk, remembering a failure to keep them; a refusal (consent
    /// withdrawn) withdraws the sender.
    pub fn keep(&self, events: Vec<Event>) {
        if self.withdrawn.load(Ordering::Acquire) {
            self.discard(events.len());
            return;
        }
        match (self.disk.keep)(&events) {
            Kept::OnDisk => {}
            Kept::Failed => self.sink_failed.store(true, Ordering::Relaxed),
            Kept::Withdrawn => {
                self.discard(events.len());
                self.withdraw();
            }
        }
    }

    /// Counts events dropped for a withdrawn consent. They had been counted as failed or
    /// were about to be: `discarded` is the part of `failed` that was not kept.
    pub fn discard(&self, n: usize) {
        add(&self.counters.discarded, n);
    }

    /// Consent is gone: drops everything held, deletes the claimed backlog (collected under
    /// the withdrawn consent), and refuses all further work.
    pub fn withdraw(&self) {
        if self.withdrawn.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut state = self.lock();
        let dropped = state.queue.len() + state.in_flight.len();
        state.queue.clear();
        state.in_flight.clear();
        drop(state);
        add(&self.counters.failed, dropped);
        self.discard(dropped);
        if let Some(pending) = self.lock_backlog().take() {
            (pending.release)();
        }
        self.wake.notify_all();
        self.progress.notify_all();
    }

    fn lock_backlog(&self) -> MutexGuard<'_, Option<PendingRelease>> {
        self.backlog.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the backlog's release once all of its events are resolved; until then, tells
    /// its progress.
    pub fn check_backlog(&self) {
        let mut backlog = self.lock_backlog();
        if self.sink_failed.load(Ordering::Relaxed) {
            // Keep the claimed file: its events may not all be safe elsewhere.
            backlog.take();
            return;
        }
        // The backlog is at the front of the queue, and batches resolve in queue order:
        // the first `resolved` events resolved are the backlog's first ones.
        let resolved = self.counters.resolved();
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

/// Waits on `condvar` for a wake-up, at most until `deadline`; `Err` with the guard back,
/// without waiting, once `deadline` has passed.
pub(super) fn wait_until<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    deadline: Instant,
) -> Result<MutexGuard<'a, T>, MutexGuard<'a, T>> {
    let now = Instant::now();
    if now >= deadline {
        return Err(guard);
    }
    Ok(condvar
        .wait_timeout(guard, deadline - now)
        .unwrap_or_else(|e| e.into_inner())
        .0)
}
