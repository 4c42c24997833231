//! The GA4 Measurement Protocol request body, and the cutting of a run of events into
//! requests.
//!
//! [`request_body`] serialises up to 25 events of one client into the JSON body the Python
//! client sends (same keys, same order; see `reference/ga4-payload.md`), with
//! `timestamp_micros` added to each event object. [`wire_events_json`] gives the same event
//! objects one by one (the sent record). [`batch_sizes`] cuts a run of events into requests
//! that respect GA4's limits.

use std::io;

use serde::{Serialize, Serializer};

use super::ga4::MAX_VALUE_CHARS;
use super::ga4::{normalise_value, usage_group};
use super::{Common, Event, ScrubState};

/// GA4 accepts at most this many events in one request.
pub const MAX_EVENTS_PER_REQUEST: usize = 25;
/// GA4 requires the request body to be smaller than this many bytes.
pub const MAX_BODY_BYTES: usize = 130_000;

/// The parameters every event of one request shares, as they go on the wire: [`Common`]
/// with its values normalised and `usage_group` derived.
struct WireCommon<'a> {
    client_id: &'a str,
    app_name: String,
    app_version: String,
    os: &'a str,
    docker: &'static str,
    usage_count: Option<u64>,
    usage_group: Option<&'static str>,
}

impl<'a> WireCommon<'a> {
    fn new(common: &'a Common) -> WireCommon<'a> {
        WireCommon {
            client_id: &common.client_id,
            app_name: normalise_value(&common.app_name),
            app_version: normalise_value(&common.app_version),
            os: common.os,
            // Python's str(bool), as the Python client sends it.
            docker: if common.docker { "True" } else { "False" },
            usage_count: common.usage_count,
            usage_group: common.usage_count.map(usage_group),
        }
    }
}

// The wire structs below serialise their fields in declaration order, which is the
// Python client's key order. Do not reorder them.

#[derive(Serialize)]
struct WireBody<'a> {
    client_id: &'a str,
    non_personalized_ads: bool,
    events: WireEvents<'a>,
}

struct WireEvents<'a> {
    wire_common: &'a WireCommon<'a>,
    events: &'a [Event],
}

impl Serialize for WireEvents<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.events
                .iter()
                .map(|e| WireEvent::new(self.wire_common, e)),
        )
    }
}

#[derive(Serialize)]
struct WireEvent<'a> {
    name: &'a str,
    params: WireParams<'a>,
    timestamp_micros: u64,
}

#[derive(Serialize)]
struct WireParams<'a> {
    event_category: &'a str,
    event_label: &'a str,
    event_count: i64,
    session_id: &'a str,
    app_name: &'a str,
    app_version: &'a str,
    os: &'a str,
    docker: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_group: Option<&'static str>,
    #[serde(flatten)]
    extra: ExtraParams<'a>,
}

/// The extra parameters of an event, written as more keys of `params`.
struct ExtraParams<'a>(&'a [(String, String)]);

impl Serialize for ExtraParams<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'a> WireEvent<'a> {
    fn new(wire_common: &'a WireCommon<'a>, event: &'a Event) -> WireEvent<'a> {
        WireEvent {
            name: &event.name,
            params: WireParams {
                event_category: &event.category,
                event_label: &event.label,
                event_count: event.count,
                session_id: &event.session_id,
                app_name: event
                    .extra
                    .as_ref()
                    .map_or(&wire_common.app_name, |x| &x.app_name),
                app_version: event
                    .extra
                    .as_ref()
                    .map_or(&wire_common.app_version, |x| &x.app_version),
                os: wire_common.os,
                docker: wire_common.docker,
                usage_count: wire_common.usage_count,
                usage_group: wire_common.usage_group,
                extra: ExtraParams(event.extra.as_ref().map_or(&[], |x| &x.params)),
            },
            timestamp_micros: event.timestamp_micros,
        }
    }
}

fn wire_body<'a>(wire_common: &'a WireCommon<'a>, events: &'a [Event]) -> WireBody<'a> {
    WireBody {
        client_id: wire_common.client_id,
        non_personalized_ads: false,
        events: WireEvents {
            wire_common,
            events,
        },
    }
}

/// Counts the bytes serde_json would write, without storing them.
struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn json_len<T: Serialize>(value: &T) -> usize {
    let mut counter = ByteCounter(0);
    // Serialising these plain structs cannot fail, and the writer never fails.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// Serialises one request body (compact JSON, UTF-8) for the events of one client.
///
/// Meant for at most [`MAX_EVENTS_PER_REQUEST`] events (use [`batch_sizes`]); it
/// serialises whatever it is given. `app_name` and `app_version` are normalised as values;
/// the events are written as they are (their constructors normalised them).
pub fn request_body(common: &Common, events: &[Event]) -> Vec<u8> {
    let wire_common = WireCommon::new(common);
    // Serialising these plain structs into a Vec cannot fail; an empty body would be
    // rejected by the endpoint rather than crash the host.
    serde_json::to_vec(&wire_body(&wire_common, events)).unwrap_or_default()
}

/// Each event as the JSON object it is inside the request body ([`request_body`]'s
/// `events[]` items: `name`, `params`, `timestamp_micros`), compact, one per event. The
/// client id belongs to the body, not to an event, so it is in none of them.
pub fn wire_events_json(common: &Common, events: &[Event]) -> Vec<String> {
    let wire_common = WireCommon::new(common);
    events
        .iter()
        // Serialising these plain structs into a String cannot fail.
        .map(|e| serde_json::to_string(&WireEvent::new(&wire_common, e)).unwrap_or_default())
        .collect()
}

/// How many of `events` the next request carries: up to 25, fewer when their body would
/// reach 130 000 bytes. Ordinary events never do (25 of them stay under 49 kB); only wide
/// ones can: crash reports (up to 15 extra values) and lines read back from disk. A cheap
/// upper bound decides whether the body must be measured at all.
pub fn next_batch_len(common: &Common, events: &[Event]) -> usize {
    let events = &events[..events.len().min(MAX_EVENTS_PER_REQUEST)];
    if body_len_bound(common, events) < MAX_BODY_BYTES {
        return events.len();
    }
    batch_sizes(common, events)
        .first()
        .copied()
        .unwrap_or(events.len())
}

/// An upper bound of [`request_body`]'s length: JSON writes a byte of text as at most six
/// (`\u001f`), and 512 bytes cover one event's keys, numbers and punctuation.
fn body_len_bound(common: &Common, events: &[Event]) -> usize {
    const PER_EVENT: usize = 512;
    let common_text = common.client_id.len() + common.app_name.len() + common.app_version.len();
    let event_text = |e: &Event| {
        let extra = e.extra.as_deref().map_or(0, |x| {
            x.app_name.len()
                + x.app_version.len()
                + x.params
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>()
        });
        // A raw label is cut to 100 characters by the scrubber before it is sent.
        let label = match e.scrub {
            ScrubState::Raw { .. } => e.label.len().min(4 * MAX_VALUE_CHARS),
            ScrubState::Done => e.label.len(),
        };
        e.name.len() + e.category.len() + label + e.session_id.len() + extra
    };
    let texts: usize = events.iter().map(event_text).sum();
    PER_EVENT + 6 * common_text + events.len() * (PER_EVENT + 6 * common_text) + 6 * texts
}

/// Splits `events` into consecutive batches of at most 25 events whose [`request_body`] is
/// smaller than 130 000 bytes, filling each batch as far as it goes. Returns the batch
/// lengths in order; they add up to `events.len()`, and every batch holds at least one
/// event (an event too big on its own still gets a batch of one).
pub fn batch_sizes(common: &Common, events: &[Event]) -> Vec<usize> {
    let wire_common = WireCommon::new(common);
    // Body with events e1..en: the empty body, plus each event, plus n - 1 commas.
    let empty_len = json_len(&wire_body(&wire_common, &[]));
    let mut sizes = Vec::new();
    let mut in_batch = 0usize;
    let mut body_len = empty_len;
    for event in events {
        let event_len = json_len(&WireEvent::new(&wire_common, event));
        if in_batch > 0
            && (in_batch == MAX_EVENTS_PER_REQUEST || body_len + 1 + event_len >= MAX_BODY_BYTES)
        {
            sizes.push(in_batch);
            in_batch = 0;
            body_len = empty_len;
        }
        if in_batch > 0 {
            body_len += 1;
        }
        body_len += event_len;
        in_batch += 1;
    }
    if in_batch > 0 {
        sizes.push(in_batch);
    }
    sizes
}

#[cfg(test)]
mod tests;
