//! The worker thread of one handle: takes batches off the queue, asks the disk before each
//! request, posts with retries and backoff, and resolves each batch (delivered, refused, or
//! handed to disk).

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::counters::add;
use super::shared::{wait_until, Shared};
use super::{Delivered, SenderConfig, HOOK_EVERY};
use crate::error::{Error, Result};
use crate::event::{self, Common, Event, Scrubber};
use crate::files::{random_u32, SETTLE_WAIT};
use crate::transport::{PostOutcome, Transport};

pub(super) struct Worker {
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
    /// Starts the worker thread that drains `shared`'s queue.
    pub fn spawn(
        shared: Arc<Shared>,
        config: SenderConfig,
        common: Common,
        transport: Box<dyn Transport>,
        delivered: Option<Delivered>,
    ) -> Result<()> {
        let worker = Worker {
            shared,
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
            .map(drop)
            .map_err(|e| Error::Internal(format!("cannot start the sender thread: {e}")))
    }

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
            if state.abandoned || self.shared.is_withdrawn() {
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
        let n = state.queue.len().min(event::MAX_EVENTS_PER_REQUEST);
        let mut batch: Vec<Event> = state.queue.drain(..n).collect();
        // Wide events (crash reports, lines read back from disk) may need a smaller batch to
        // stay under GA4's body limit; the rest goes back to the front, in order.
        let fits = event::next_batch_len(&self.common, &batch);
        for e in batch.drain(fits..).rev() {
            state.queue.push_front(e);
        }
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
        match self.post_with_retries(&sent) {
            Some(outcome) => self.resolve(sent, outcome),
            None => {
                self.shared.withdraw();
                self.finish();
            }
        }
    }

    /// Posts `batch` until it is delivered, refused, or out of attempts (or the shutdown
    /// deadline passed while backing off). `None` when consent is gone.
    fn post_with_retries(&mut self, batch: &[Event]) -> Option<PostOutcome> {
        let mut body = Vec::new();
        let attempts = if self.degraded {
            1
        } else {
            self.config.max_attempts.max(1)
        };
        let mut attempt = 1;
        loop {
            // Consent is live: asked before every request, retries included.
            let client_id = (self.shared.disk.allows)(SETTLE_WAIT)?;
            if body.is_empty() || client_id != self.common.client_id {
                self.common.client_id = client_id;
                body = event::request_body(&self.common, batch);
            }
            let outcome = self.transport.post(&body);
            let PostOutcome::Retry { after, .. } = &outcome else {
                return Some(outcome);
            };
            if attempt >= attempts {
                return Some(outcome);
            }
            let wait = after
                .map(|a| a.min(self.config.retry_after_cap))
                .unwrap_or_else(|| self.backoff(attempt));
            if !self.pause(wait) {
                return Some(outcome);
            }
            add(&self.shared.counters.retried, 1);
            attempt += 1;
        }
    }

    /// Takes the batch back (empty when a shutdown took it over and counted it) and
    /// settles it by `outcome`. Until the hand-off or the record is done, the worker stays
    /// busy, so a flush or shutdown that returns finds the events kept or recorded.
    fn resolve(&mut self, sent: Vec<Event>, outcome: PostOutcome) {
        let mut state = self.shared.lock();
        let taken = std::mem::take(&mut state.in_flight);
        let n = taken.len();
        state.handing_off = !taken.is_empty() && matches!(outcome, PostOutcome::Retry { .. });
        if outcome == PostOutcome::Delivered && !taken.is_empty() && self.delivered.is_some() {
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
            PostOutcome::Delivered => {
                self.degraded = false;
                add(&self.shared.counters.sent, n);
            }
            PostOutcome::Rejected { .. } => self.give_up(taken, false),
            PostOutcome::Retry { .. } => {
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
        add(&self.shared.counters.failed, batch.len());
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
            state = match wait_until(&self.shared.wake, state, deadline) {
                Ok(state) => state,
                Err(_) => return true,
            };
        }
    }
}
