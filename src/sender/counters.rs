//! What the sender has done so far, counted without a lock.

use std::sync::atomic::{AtomicU64, Ordering};

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

/// [`Counters`] as the host's threads and the worker update them.
#[derive(Default)]
pub(super) struct AtomicCounters {
    pub queued: AtomicU64,
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub discarded: AtomicU64,
}

impl AtomicCounters {
    pub fn snapshot(&self) -> Counters {
        Counters {
            queued: self.queued.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            discarded: self.discarded.load(Ordering::Relaxed),
        }
    }

    /// Events resolved so far: delivered or failed.
    pub fn resolved(&self) -> u64 {
        self.sent.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }
}

/// Adds `n` events to `counter`.
pub(super) fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}
