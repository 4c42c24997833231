//! The event model: what one event is, how each kind is built, and the client data every
//! request shares.
//!
//! An [`Event`] is built by one of its constructors, which validate and normalise the
//! caller's strings (the GA4 rules: `event/ga4.rs`), so that what sits in the queue is
//! already what goes on the wire (the request body and batching: `event/wire.rs`). Error
//! messages and stack traces are scrubbed ([`Scrubber`], `scrub.rs`) before they become a
//! label: at once, or, while the scrubber is not built yet, before the event leaves memory
//! ([`Event::report`], [`Event::finish_scrub`]).

use std::sync::Arc;

use serde::Serialize;

use crate::scrub::floor_char_boundary;
use crate::Error;

mod ga4;
mod wire;

pub use ga4::{normalise_name, normalise_value, MAX_VALUE_CHARS};
pub use wire::{next_batch_len, request_body, wire_events_json, MAX_EVENTS_PER_REQUEST};
// What the fuzz checks (src/fuzz.rs) assert against.
#[cfg(any(test, fuzzing))]
pub use {
    ga4::{MAX_NAME_CHARS, RESERVED_EVENT_NAMES},
    wire::{batch_sizes, MAX_BODY_BYTES},
};
// The paths these had when they lived in this file.
pub use crate::host::{detect_docker, detect_os};
pub use crate::scrub::Scrubber;

/// One event as queued: already validated, normalised, scrubbed and stamped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// GA4 event name (the "action"), normalised.
    pub name: String,
    /// Value of `event_category`, normalised.
    pub category: String,
    /// Value of `event_label`, normalised.
    pub label: String,
    /// Value of `event_count`.
    pub count: i64,
    /// Value of `session_id`.
    pub session_id: Arc<str>,
    /// Unix time in microseconds at the moment the host called send.
    pub timestamp_micros: u64,
    /// Whether `label` still needs scrubbing (an error or trace sent before the scrubber
    /// was ready).
    pub scrub: ScrubState,
    /// What only some events carry (a `crash` report, §5a); `None` for the others.
    pub extra: Option<Box<Extra>>,
}

/// Whether an event's label is final or still a raw copy to scrub before it leaves memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScrubState {
    /// Scrubbed and normalised (or never needed it).
    #[default]
    Done,
    /// A raw copy of at most [`RAW_TEXT_LIMIT`] bytes of the host's text; `complete` is
    /// false when the text was longer and this is its beginning.
    Raw { complete: bool },
}

/// The most of an error message or trace copied on the host's thread while the scrubber is
/// not ready yet. Only the first 100 characters after scrubbing are sent; this leaves room
/// for homes replaced by `~` before them.
pub const RAW_TEXT_LIMIT: usize = 16 * 1024;

/// Parameters of an event beyond the common ones: a `crash` report names the app and
/// version of the run that crashed (replacing the sender's own `app_name` and
/// `app_version`) and adds its frames. Values are already normalised; the names are valid
/// GA4 parameter names. Serialised after the common parameters, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Extra {
    pub app_name: String,
    pub app_version: String,
    pub params: Vec<(String, String)>,
}

/// GA4's limit on parameters per event.
pub const MAX_PARAMS_PER_EVENT: usize = 25;
/// Parameters every event of this library carries (`event_category` … `usage_group`).
pub const COMMON_PARAMS: usize = 10;

/// The consent state before an opt-in, as reported in the `accepted` event's label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrevState {
    /// No decision had been recorded (also what the consent dialog reports).
    Undefined,
    /// The user had declined.
    Declined,
}

impl Event {
    fn fixed(
        name: &str,
        category: &str,
        label: String,
        session_id: Arc<str>,
        timestamp_micros: u64,
    ) -> Event {
        Event {
            name: name.to_owned(),
            category: normalise_value(category),
            label,
            count: 1,
            session_id,
            timestamp_micros,
            scrub: ScrubState::Done,
            extra: None,
        }
    }

    /// An error (`error_`) or stack trace (`stack_trace`) report of the host's `text`.
    /// With the scrubber, the label is the scrubbed text's first 100 characters, computed
    /// from no more of `text` than they need. Without it (not built yet), the label is a
    /// raw copy of at most [`RAW_TEXT_LIMIT`] bytes, finished by [`Event::finish_scrub`]
    /// before the event is sent, printed or written anywhere.
    pub fn report(
        name: &str,
        category: &str,
        text: &str,
        scrubber: Option<&Scrubber>,
        session_id: Arc<str>,
        ts: u64,
    ) -> Event {
        match scrubber {
            Some(scrubber) => {
                let label = normalise_value(&scrubber.scrub_prefix(text, MAX_VALUE_CHARS, true));
                Event::fixed(name, category, label, session_id, ts)
            }
            None => {
                let cut = floor_char_boundary(text, RAW_TEXT_LIMIT);
                let mut event =
                    Event::fixed(name, category, text[..cut].to_owned(), session_id, ts);
                event.scrub = ScrubState::Raw {
                    complete: cut == text.len(),
                };
                event
            }
        }
    }

    /// Scrubs and normalises a raw label (see [`Event::report`]); a no-op otherwise.
    pub fn finish_scrub(&mut self, scrubber: &Scrubber) {
        if let ScrubState::Raw { complete } = self.scrub {
            self.label =
                normalise_value(&scrubber.scrub_prefix(&self.label, MAX_VALUE_CHARS, complete));
            self.scrub = ScrubState::Done;
        }
    }

    /// A `send_event(category, action, label, value)` event. The action becomes the GA4
    /// event name ([`normalise_name`]); category and label are normalised as values.
    ///
    /// Fails with `InvalidArgument` only when `action` is empty or only whitespace.
    pub fn custom(
        category: &str,
        action: &str,
        label: &str,
        value: i64,
        session_id: Arc<str>,
        timestamp_micros: u64,
    ) -> Result<Event, Error> {
        if action.trim().is_empty() {
            return Err(Error::InvalidArgument(
                "action must not be empty or only whitespace".to_owned(),
            ));
        }
        Ok(Event {
            name: normalise_name(action),
            category: normalise_value(category),
            label: normalise_value(label),
            count: value,
            session_id,
            timestamp_micros,
            scrub: ScrubState::Done,
            extra: None,
        })
    }

    /// Session start: name `session`, label `start`, count 1.
    pub fn session_start(category: &str, session_id: Arc<str>, ts: u64) -> Event {
        Event::fixed("session", category, "start".to_owned(), session_id, ts)
    }

    /// Session end: name `session`, label `end`, count 1.
    pub fn session_end(category: &str, session_id: Arc<str>, ts: u64) -> Event {
        Event::fixed("session", category, "end".to_owned(), session_id, ts)
    }

    /// Error report: name `error_`, label = `message` (scrubbed by the caller), count 1.
    pub fn error(category: &str, message: &str, session_id: Arc<str>, ts: u64) -> Event {
        Event::fixed("error_", category, normalise_value(message), session_id, ts)
    }

    /// Stack trace: name `stack_trace`, label = `trace` (scrubbed by the caller), count 1.
    pub fn stack_trace(category: &str, trace: &str, session_id: Arc<str>, ts: u64) -> Event {
        Event::fixed(
            "stack_trace",
            category,
            normalise_value(trace),
            session_id,
            ts,
        )
    }

    /// Opt-in: category `opt_in`, name `accepted`,
    /// label `{prev_state:undefined, new_state: accepted}` (or `declined`), count 1.
    pub fn opt_in(prev: PrevState, session_id: Arc<str>, ts: u64) -> Event {
        let label = match prev {
            PrevState::Undefined => "{prev_state:undefined, new_state: accepted}",
            PrevState::Declined => "{prev_state:declined, new_state: accepted}",
        };
        Event::fixed("accepted", "opt_in", label.to_owned(), session_id, ts)
    }
}

/// Per-client data shared by all events of one request.
#[derive(Clone, Debug)]
pub struct Common {
    /// Content of `openvino_ga_cid`.
    pub client_id: String,
    /// The host application's name; normalised as a value when serialised.
    pub app_name: String,
    /// The host application's version; normalised as a value when serialised.
    pub app_version: String,
    /// `Linux`, `Windows` or `Darwin` ([`detect_os`]).
    pub os: &'static str,
    /// Running in a Docker container ([`detect_docker`]).
    pub docker: bool,
    /// From the `stats` file; `usage_count` and `usage_group` are sent only when present.
    pub usage_count: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "d0c07d56-3e3a-424a-b4f9-1f2179cc86b8";
    const TS: u64 = 1_700_000_000_123_456;

    fn sid() -> Arc<str> {
        Arc::from(SID)
    }

    fn scrubber() -> Scrubber {
        Scrubber::new(vec!["/home/alice".to_owned()], vec!["alice".to_owned()])
    }

    // ---- event constructors ----

    #[test]
    fn custom_rejects_empty_or_blank_action() {
        for action in ["", "   ", "\t\n"] {
            match Event::custom("c", action, "l", 1, sid(), TS) {
                Err(Error::InvalidArgument(why)) => assert!(why.contains("action"), "{why}"),
                other => panic!("expected InvalidArgument for {action:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn constructors_fill_the_table_of_the_reference() {
        let e = Event::custom("cat", "my action", "lbl\n", 42, sid(), TS).unwrap();
        assert_eq!(
            e,
            Event {
                name: "my_action".to_owned(),
                category: "cat".to_owned(),
                label: "lbl ".to_owned(),
                count: 42,
                session_id: sid(),
                timestamp_micros: TS,
                scrub: ScrubState::Done,
                extra: None,
            }
        );
        let s = Event::session_start("c", sid(), TS);
        assert_eq!(
            (s.name.as_str(), s.label.as_str(), s.count),
            ("session", "start", 1)
        );
        let s = Event::session_end("c", sid(), TS);
        assert_eq!(
            (s.name.as_str(), s.label.as_str(), s.count),
            ("session", "end", 1)
        );
        let s = Event::error("c", &"m".repeat(500), sid(), TS);
        assert_eq!(
            (s.name.as_str(), s.label.len(), s.count),
            ("error_", 100, 1)
        );
        let s = Event::stack_trace(&"c".repeat(500), "t", sid(), TS);
        assert_eq!((s.name.as_str(), s.category.len()), ("stack_trace", 100));
        let s = Event::opt_in(PrevState::Declined, sid(), TS);
        assert_eq!(
            (s.category.as_str(), s.name.as_str()),
            ("opt_in", "accepted")
        );
    }

    #[test]
    fn report_scrubs_now_or_later_with_the_same_result() {
        let s = scrubber();
        let text = format!(
            "failed in /home/alice/m.xml for ALICE {}",
            "x".repeat(50_000)
        );
        let now = Event::report("error_", "c", &text, Some(&s), sid(), TS);
        let mut later = Event::report("error_", "c", &text, None, sid(), TS);
        assert_eq!(later.scrub, ScrubState::Raw { complete: false });
        assert!(later.label.len() <= RAW_TEXT_LIMIT);
        later.finish_scrub(&s);
        assert_eq!(later, now);
        let prefix = "failed in ~/m.xml for <user> ";
        assert_eq!(
            now.label,
            format!("{prefix}{}", "x".repeat(100 - prefix.len()))
        );
    }
}
