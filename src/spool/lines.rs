//! The text of a pending file: one JSON object per line, each naming the client id it was
//! collected under; read back line by line, skipping what is not an event.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{MAX_AGE, MAX_BYTES, MAX_EVENTS};
use crate::event::{Event, Extra, ScrubState};
use crate::files;

/// The most read from one file (version 1's spool could exceed `MAX_BYTES` a little).
const READ_LIMIT: usize = 2 * MAX_BYTES;

#[derive(Serialize, Deserialize)]
pub(super) struct Line {
    name: String,
    category: String,
    label: String,
    count: i64,
    session_id: String,
    pub(super) timestamp_micros: u64,
    /// The client id the event was collected under (absent in version 1's spool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) cid: Option<String>,
    /// The label is a raw copy still to be scrubbed; `Some(complete)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    raw: Option<bool>,
    /// A `crash` report's app, version and frames (absent for other events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extra: Option<Extra>,
}

impl Line {
    fn new(e: &Event, cid: &str) -> Line {
        Line {
            name: e.name.clone(),
            category: e.category.clone(),
            label: e.label.clone(),
            count: e.count,
            session_id: e.session_id.to_string(),
            timestamp_micros: e.timestamp_micros,
            cid: Some(cid.to_owned()),
            raw: match e.scrub {
                ScrubState::Done => None,
                ScrubState::Raw { complete } => Some(complete),
            },
            extra: e.extra.as_deref().cloned(),
        }
    }

    pub(super) fn into_event(self) -> Event {
        Event {
            name: self.name,
            category: self.category,
            label: self.label,
            count: self.count,
            session_id: Arc::from(self.session_id),
            timestamp_micros: self.timestamp_micros,
            scrub: match self.raw {
                None => ScrubState::Done,
                Some(complete) => ScrubState::Raw { complete },
            },
            extra: self.extra.map(Box::new),
        }
    }
}

pub(super) fn fresh(timestamp_micros: u64, now: u64) -> bool {
    now.saturating_sub(timestamp_micros) < MAX_AGE.as_micros() as u64
}

/// Parses pending text, skipping lines that are not events (a torn or foreign line never
/// stops the rest from being read).
fn parse(bytes: &[u8]) -> Vec<Line> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| serde_json::from_slice::<Line>(line).ok())
        .collect()
}

pub(super) fn read(path: &Path) -> Vec<Line> {
    match files::read_limited(path, READ_LIMIT) {
        Ok(Some(bytes)) => parse(&bytes),
        _ => Vec::new(),
    }
}

/// Drops the oldest of `events` (kept in time order) until they fit the bounds (1,000
/// events, 1 MiB rendered), and renders them.
pub fn render_bounded(events: &mut Vec<Event>, cid: &str) -> Vec<u8> {
    if events.len() > MAX_EVENTS {
        events.drain(..events.len() - MAX_EVENTS);
    }
    loop {
        let text = render(events, cid);
        if text.len() <= MAX_BYTES || events.is_empty() {
            return text;
        }
        // Drop about as many of the oldest as the excess needs (at least one).
        let excess = text.len() - MAX_BYTES;
        let average = text.len() / events.len();
        events.drain(..(excess / average.max(1)).clamp(1, events.len()));
    }
}

/// The text of a pending file holding `events` collected under `cid`.
pub fn render(events: &[Event], cid: &str) -> Vec<u8> {
    let mut text = Vec::with_capacity(events.len() * 200);
    for event in events {
        serde_json::to_writer(&mut text, &Line::new(event, cid))
            .expect("an event always serialises");
        text.push(b'\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::test_events::{event, now, CID};
    use super::*;

    #[test]
    fn render_bounded_keeps_the_newest_within_both_bounds() {
        let now = now();
        let mut many: Vec<Event> = (0..1500).map(|i| event(i, now + i as u64)).collect();
        render_bounded(&mut many, CID);
        assert_eq!(many.len(), MAX_EVENTS);
        assert_eq!(many[0].name, "act500");
        let mut big: Vec<Event> = (0..800)
            .map(|i| Event {
                label: "y".repeat(2000),
                ..event(i, now + i as u64)
            })
            .collect();
        let text = render_bounded(&mut big, CID);
        assert!(text.len() <= MAX_BYTES && big.len() > 400, "{}", big.len());
        assert_eq!(big.last().unwrap().name, "act799");
    }
}
