//! The event model and the GA4 Measurement Protocol request body.
//!
//! An [`Event`] is built by one of its constructors, which validate and normalise the
//! caller's strings, so that what sits in the queue is already what goes on the wire.
//! [`request_body`] serialises up to 25 events of one client into the JSON body the Python
//! client sends (same keys, same order; see `reference/ga4-payload.md`), with
//! `timestamp_micros` added to each event object. [`batch_sizes`] cuts a run of events into
//! requests that respect GA4's limits. [`Scrubber`] removes the user's home directory and
//! user name from free text (error messages, stack traces) before it becomes an event.
//!
//! # Why normalise
//!
//! The collect endpoint answers `2xx` even for events that break its limits, and then drops
//! them silently. So the library makes every name and value valid before it is queued,
//! by the rules below, rather than losing the event.
//!
//! # Event names ([`normalise_name`]) — the `action` of `send_event`
//!
//! Applied in this order:
//!
//! 1. Leading and trailing whitespace is trimmed.
//! 2. Every character other than ASCII `A-Z a-z 0-9 _` becomes `_` (one `_` per character,
//!    whatever its UTF-8 length). Only the first 40 characters are looked at.
//! 3. A name that is empty, does not start with an ASCII letter (this covers the reserved
//!    prefix `_`), or starts with a reserved prefix `firebase_`, `ga_` or `google_`
//!    (compared ignoring ASCII case) gets the prefix `e_`. The reserved prefix `gtag.`
//!    cannot survive step 2 (`.` becomes `_`).
//! 4. The result is cut to 40 characters.
//! 5. A name equal (ignoring ASCII case) to one of GA4's reserved event names
//!    ([`RESERVED_EVENT_NAMES`]: `error`, `session_start`, `first_open`, `page_view`,
//!    `click`, …) gets a trailing `_`; `error` becomes `error_`, as the Python client
//!    names its error events. No reserved name is longer than 39 characters, so the
//!    result still fits in 40.
//!
//! A name that is already valid is returned unchanged (copied), which includes the
//! library's own names `session`, `error_`, `stack_trace` and `accepted`. The rules are
//! idempotent: normalising a normalised name changes nothing.
//!
//! # Parameter values ([`normalise_value`]) — category, label, app name and version
//!
//! 1. Control characters (Unicode category `Cc`: `\0`–`\x1f`, `\x7f`, `\u{80}`–`\u{9f}`,
//!    which includes newline and tab) become a space. A stack trace therefore arrives as
//!    one line.
//! 2. The value is cut to its first 100 characters (Unicode scalar values, not bytes; the
//!    cut is always on a character boundary).
//!
//! Nothing else changes: no trimming, empty values stay empty. Only the first 101
//! characters of the input are ever examined, so a huge input costs no more than a short
//! one.
//!
//! `event_count` is the caller's `int64_t` as is. `client_id` and `session_id` are the
//! library's own UUIDs and are written as they are.
//!
//! # Scrubbing ([`Scrubber`])
//!
//! Done by the caller on the full text *before* the value is normalised, so a truncation
//! can never cut a home directory in half and leave a recognisable piece behind.
//!
//! - Home directories become `~`. The longest home is tried first; a home matches only
//!   when what follows it is the end of the text, `/`, `\`, or a character that cannot
//!   continue a file name (anything but a letter, a digit, `_`, `-`, or a `.` followed by
//!   one of those). So with home `/home/al`, `/home/al/x` and `/home/al.` are scrubbed but
//!   `/home/alice` and `/home/al.bak` are not. Trailing separators of a home are ignored;
//!   empty homes, `/` and drive roots (`C:\`) are ignored. What precedes a home is not
//!   checked (`/data/home/al/x` with home `/home/al` becomes `/data~/x`): over-scrubbing
//!   is the safe side. A `\` spelling of a Windows home also gets its `/` spelling
//!   ([`Scrubber::from_environment`]).
//! - User names become `<user>`, only as a whole word: the characters before and after the
//!   match must not be word characters (alphanumeric or `_`). So user `bob` scrubs
//!   `bob's` and `/home/bob` but not `bobby` or `bob_x`. Names shorter than two characters
//!   are ignored.
//! - Matching ignores letter case (`ALICE`, `C:\\USERS\\Alice`): case-insensitive file
//!   systems (Windows, macOS) make other spellings of a home common.
//! - Only the part of a message that can reach the wire is looked at: the first 100
//!   characters of the scrubbed text ([`Scrubber::scrub_prefix`]); matches are judged on
//!   the whole text around them, so a cut never leaves half a name.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::Error;

/// GA4 accepts at most this many events in one request.
pub const MAX_EVENTS_PER_REQUEST: usize = 25;
/// GA4 requires the request body to be smaller than this many bytes.
pub const MAX_BODY_BYTES: usize = 130_000;
/// GA4's limit on event and parameter names, in characters.
pub const MAX_NAME_CHARS: usize = 40;
/// GA4's limit on parameter values, in characters.
pub const MAX_VALUE_CHARS: usize = 100;

/// Prefix given to a name that does not start with a letter or starts with a reserved prefix.
const NAME_PREFIX: &str = "e_";

/// Name prefixes GA4 reserves for itself (besides `_`, covered by "must start with a letter").
const RESERVED_PREFIXES: [&str; 4] = ["firebase_", "ga_", "google_", "gtag."];

/// Event names GA4 reserves for itself; a name equal to one of them gets a trailing `_`.
pub const RESERVED_EVENT_NAMES: &[&str] = &[
    "ad_activeview",
    "ad_click",
    "ad_exposure",
    "ad_impression",
    "ad_query",
    "ad_reward",
    "adunit_exposure",
    "app_background",
    "app_clear_data",
    "app_exception",
    "app_install",
    "app_remove",
    "app_store_refund",
    "app_store_subscription_cancel",
    "app_store_subscription_convert",
    "app_store_subscription_renew",
    "app_update",
    "app_upgrade",
    "click",
    "dynamic_link_app_open",
    "dynamic_link_app_update",
    "dynamic_link_first_open",
    "error",
    "first_open",
    "first_visit",
    "in_app_purchase",
    "notification_dismiss",
    "notification_foreground",
    "notification_open",
    "notification_receive",
    "os_update",
    "page_view",
    "screen_view",
    "session_start",
    "session_start_with_rollout",
    "user_engagement",
];

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

/// The `usage_group` parameter for a usage count, as the Python client computes it:
/// 1 → `first_usage`, 2–100 → `1-100_usages`, 101–1000 → `101-1000_usages`,
/// 1001–5000 → `1001-5000_usages`, above → `5000+_usages`. (0 cannot happen — every
/// initialisation with consent counts one usage — and is reported as `first_usage`.)
pub fn usage_group(count: u64) -> &'static str {
    match count {
        0..=1 => "first_usage",
        2..=100 => "1-100_usages",
        101..=1000 => "101-1000_usages",
        1001..=5000 => "1001-5000_usages",
        _ => "5000+_usages",
    }
}

/// The `os` parameter: what Python's `platform.system()` says on this platform.
pub fn detect_os() -> &'static str {
    if cfg!(target_os = "linux") {
        "Linux"
    } else if cfg!(target_os = "windows") {
        "Windows"
    } else if cfg!(target_os = "macos") {
        "Darwin"
    } else if cfg!(target_os = "freebsd") {
        "FreeBSD"
    } else {
        std::env::consts::OS
    }
}

/// Whether this process runs in a Docker container: `/.dockerenv` exists, or `docker`
/// appears in `/proc/self/cgroup` or `/proc/self/mountinfo`. Reads two small files; call
/// it once, not per event.
pub fn detect_docker() -> bool {
    docker_markers(
        Path::new("/.dockerenv"),
        &[
            Path::new("/proc/self/cgroup"),
            Path::new("/proc/self/mountinfo"),
        ],
    )
}

fn docker_markers(dockerenv: &Path, files: &[&Path]) -> bool {
    dockerenv.exists()
        || files.iter().any(|path| {
            std::fs::read(path).is_ok_and(|bytes| bytes.windows(6).any(|w| w == b"docker"))
        })
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn has_reserved_prefix(name: &str) -> bool {
    RESERVED_PREFIXES.iter().any(|prefix| {
        name.len() >= prefix.len()
            && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    })
}

fn is_reserved_name(name: &str) -> bool {
    RESERVED_EVENT_NAMES
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
}

fn is_valid_name(s: &str) -> bool {
    s.len() <= MAX_NAME_CHARS
        && s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !has_reserved_prefix(s)
        && !is_reserved_name(s)
}

/// Makes `s` a valid GA4 event name by the rules in the module documentation. Returns the
/// input copied when it is already valid; otherwise allocates one string of at most 41
/// bytes. Past the surrounding whitespace, looks at no more than 40 characters.
/// Never panics.
pub fn normalise_name(s: &str) -> String {
    if is_valid_name(s) {
        return s.to_owned();
    }
    let mut name = String::with_capacity(NAME_PREFIX.len() + MAX_NAME_CHARS + 1);
    name.extend(
        s.trim()
            .chars()
            .take(MAX_NAME_CHARS)
            .map(|c| if is_name_char(c) { c } else { '_' }),
    );
    let starts_with_letter = name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic);
    if !starts_with_letter || has_reserved_prefix(&name) {
        name.insert_str(0, NAME_PREFIX);
        // Only ASCII is left, so every byte index is a character boundary.
        name.truncate(MAX_NAME_CHARS);
    }
    if is_reserved_name(&name) {
        name.push('_');
    }
    name
}

/// Makes `s` a valid GA4 parameter value by the rules in the module documentation: control
/// characters become spaces, and the value is cut to 100 characters. Returns the input
/// copied when it is already valid. Looks at no more than the first 101 characters.
/// Never panics.
pub fn normalise_value(s: &str) -> String {
    let mut end = s.len();
    let mut has_control = false;
    for (n, (i, c)) in s.char_indices().enumerate() {
        if n == MAX_VALUE_CHARS {
            end = i;
            break;
        }
        has_control |= c.is_control();
    }
    let kept = &s[..end];
    if !has_control {
        return kept.to_owned();
    }
    let mut value = String::with_capacity(kept.len());
    value.extend(kept.chars().map(|c| if c.is_control() { ' ' } else { c }));
    value
}

/// What every event of one request shares, with the values already normalised.
struct Shared<'a> {
    client_id: &'a str,
    app_name: String,
    app_version: String,
    os: &'a str,
    docker: &'static str,
    usage_count: Option<u64>,
    usage_group: Option<&'static str>,
}

impl<'a> Shared<'a> {
    fn new(common: &'a Common) -> Shared<'a> {
        Shared {
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
    shared: &'a Shared<'a>,
    events: &'a [Event],
}

impl Serialize for WireEvents<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq(self.events.iter().map(|e| WireEvent::new(self.shared, e)))
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
    fn new(shared: &'a Shared<'a>, event: &'a Event) -> WireEvent<'a> {
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
                    .map_or(&shared.app_name, |x| &x.app_name),
                app_version: event
                    .extra
                    .as_ref()
                    .map_or(&shared.app_version, |x| &x.app_version),
                os: shared.os,
                docker: shared.docker,
                usage_count: shared.usage_count,
                usage_group: shared.usage_group,
                extra: ExtraParams(event.extra.as_ref().map_or(&[], |x| &x.params)),
            },
            timestamp_micros: event.timestamp_micros,
        }
    }
}

fn wire_body<'a>(shared: &'a Shared<'a>, events: &'a [Event]) -> WireBody<'a> {
    WireBody {
        client_id: shared.client_id,
        non_personalized_ads: false,
        events: WireEvents { shared, events },
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
    let shared = Shared::new(common);
    // Serialising these plain structs into a Vec cannot fail; an empty body would be
    // rejected by the endpoint rather than crash the host.
    serde_json::to_vec(&wire_body(&shared, events)).unwrap_or_default()
}

/// Each event as the JSON object it is inside the request body ([`request_body`]'s
/// `events[]` items: `name`, `params`, `timestamp_micros`), compact, one per event. The
/// client id belongs to the body, not to an event, so it is in none of them.
pub fn wire_events_json(common: &Common, events: &[Event]) -> Vec<String> {
    let shared = Shared::new(common);
    events
        .iter()
        // Serialising these plain structs into a String cannot fail.
        .map(|e| serde_json::to_string(&WireEvent::new(&shared, e)).unwrap_or_default())
        .collect()
}

/// Splits `events` into consecutive batches of at most 25 events whose [`request_body`] is
/// smaller than 130 000 bytes, filling each batch as far as it goes. Returns the batch
/// lengths in order; they add up to `events.len()`, and every batch holds at least one
/// event (an event too big on its own still gets a batch of one).
pub fn batch_sizes(common: &Common, events: &[Event]) -> Vec<usize> {
    let shared = Shared::new(common);
    // Body with events e1..en: the empty body, plus each event, plus n - 1 commas.
    let empty_len = json_len(&wire_body(&shared, &[]));
    let mut sizes = Vec::new();
    let mut in_batch = 0usize;
    let mut body_len = empty_len;
    for event in events {
        let event_len = json_len(&WireEvent::new(&shared, event));
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

/// Replaces the user's home directory and user name in free text (error messages, stack
/// traces). The rules are in the module documentation.
#[derive(Clone)]
pub struct Scrubber {
    /// Longest first, without trailing separators, no duplicates.
    homes: Vec<String>,
    /// Longest first, no duplicates.
    users: Vec<String>,
    /// The same, lower-cased: matching ignores letter case (Windows and macOS file
    /// systems do, and a name is as telling in capitals).
    homes_folded: Vec<String>,
    users_folded: Vec<String>,
}

impl fmt::Debug for Scrubber {
    // The whole point is not to reveal these, so not even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("homes", &self.homes.len())
            .field("users", &self.users.len())
            .finish()
    }
}

fn is_drive_root(path: &str) -> bool {
    let b = path.as_bytes();
    b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

fn longest_first(mut list: Vec<String>) -> Vec<String> {
    list.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    list.dedup();
    list
}

impl Scrubber {
    /// A scrubber for these home directories and user names. Trailing `/` and `\` of a home
    /// are dropped; empty homes, `/` and drive roots are ignored; user names are trimmed and
    /// ignored when shorter than two characters.
    pub fn new(homes: Vec<String>, users: Vec<String>) -> Scrubber {
        let homes = homes
            .iter()
            .map(|h| h.trim_end_matches(['/', '\\']))
            .filter(|h| !h.trim().is_empty() && !is_drive_root(h))
            .map(str::to_owned)
            .collect();
        let users = users
            .iter()
            .map(|u| u.trim())
            .filter(|u| u.chars().count() >= 2)
            .map(str::to_owned)
            .collect();
        let homes = longest_first(homes);
        let users = longest_first(users);
        let folded = |list: &[String]| longest_first(list.iter().map(|n| fold(n)).collect());
        Scrubber {
            homes_folded: folded(&homes),
            users_folded: folded(&users),
            homes,
            users,
        }
    }

    /// A scrubber for the current user. Homes: `$HOME` (and `%USERPROFILE%` on Windows),
    /// the account database's home directory (unix), and the canonical path of each, plus
    /// a `/` spelling of any home written with `\`. Users: the account database's name
    /// (unix), `$USER`, `$LOGNAME`, `$USERNAME`. Values that are not UTF-8 are ignored.
    pub fn from_environment() -> Scrubber {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut homes: Vec<String> = Vec::new();
        let mut users: Vec<String> = Vec::new();
        homes.extend(env("HOME"));
        if cfg!(windows) {
            homes.extend(env("USERPROFILE"));
        }
        #[cfg(unix)]
        if let Some((name, dir)) = passwd_entry() {
            users.push(name);
            homes.push(dir);
        }
        users.extend(["USER", "LOGNAME", "USERNAME"].into_iter().filter_map(env));

        let canonical: Vec<String> = homes
            .iter()
            .filter_map(|h| {
                std::fs::canonicalize(h)
                    .ok()?
                    .into_os_string()
                    .into_string()
                    .ok()
            })
            .map(|h| match h.strip_prefix(r"\\?\") {
                Some(plain) => plain.to_owned(),
                None => h,
            })
            .collect();
        homes.extend(canonical);
        let forward: Vec<String> = homes
            .iter()
            .filter(|h| h.contains('\\'))
            .map(|h| h.replace('\\', "/"))
            .collect();
        homes.extend(forward);
        Scrubber::new(homes, users)
    }

    /// `text` with every home directory replaced by `~` and every user name (as a whole
    /// word) by `<user>`, letter case ignored.
    pub fn scrub(&self, text: &str) -> String {
        self.scrub_prefix(text, usize::MAX, true)
    }

    /// The first `max_chars` characters of the scrubbed `text`, looking at no more of
    /// `text` than those need: a 10 MB message costs what a short one does. Matches are
    /// judged on the whole text around them, so a name is never cut in half. When `text`
    /// is itself a cut copy (`complete` false), its last [`Scrubber::margin`] bytes are
    /// dropped unread: a name starting there might continue past the cut.
    pub fn scrub_prefix(&self, text: &str, max_chars: usize, complete: bool) -> String {
        let usable = if complete {
            text.len()
        } else {
            floor_char_boundary(text, text.len().saturating_sub(self.margin()))
        };
        let mut out = String::new();
        let mut out_chars = 0usize;
        let mut pos = 0usize;
        while out_chars < max_chars && pos < usable {
            // Only a match starting within the characters still to be produced matters.
            let window_end = advance_chars(text, pos, max_chars - out_chars).min(usable);
            match self.first_match(text, pos, window_end) {
                Some((start, end, with)) => {
                    out.push_str(&text[pos..start]);
                    out.push_str(with);
                    out_chars += text[pos..start].chars().count() + with.chars().count();
                    pos = end;
                }
                None => {
                    out.push_str(&text[pos..window_end]);
                    out_chars += text[pos..window_end].chars().count();
                    pos = window_end;
                }
            }
        }
        out
    }

    /// How many bytes at the end of a cut copy may hold the start of a name that
    /// continues past the cut: the longest name (4 bytes a character, as a letter's other
    /// case may be longer) plus the characters a boundary check looks at.
    pub fn margin(&self) -> usize {
        let longest = self
            .homes
            .iter()
            .chain(&self.users)
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0);
        longest * 4 + 8
    }

    /// The earliest accepted match starting in `text[from..before]`: (start, end,
    /// replacement). Homes win over user names at the same start, longer over shorter.
    fn first_match(
        &self,
        text: &str,
        from: usize,
        before: usize,
    ) -> Option<(usize, usize, &'static str)> {
        for (start, _) in text[from..before].char_indices() {
            let start = from + start;
            for home in &self.homes_folded {
                if let Some(end) = match_folded(text, start, home) {
                    if home_ends_at(text, start, end) {
                        return Some((start, end, "~"));
                    }
                }
            }
            for user in &self.users_folded {
                if let Some(end) = match_folded(text, start, user) {
                    if is_whole_word(text, start, end) {
                        return Some((start, end, "<user>"));
                    }
                }
            }
        }
        None
    }
}

/// `s` in lower case, the form names are compared in.
fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// The end of a match of `folded` (a lower-cased name) at `text[start..]`, letter case
/// ignored; `None` when there is none. A character whose lower case is several characters
/// must match all of them.
fn match_folded(text: &str, start: usize, folded: &str) -> Option<usize> {
    let mut want = folded.chars();
    for (i, c) in text[start..].char_indices() {
        for lower in c.to_lowercase() {
            if want.next() != Some(lower) {
                return None;
            }
        }
        if want.as_str().is_empty() {
            return Some(start + i + c.len_utf8());
        }
    }
    None
}

/// The byte index `n` characters after `from` (the end of the text if it is shorter).
fn advance_chars(text: &str, from: usize, n: usize) -> usize {
    text[from..]
        .char_indices()
        .nth(n)
        .map_or(text.len(), |(i, _)| from + i)
}

/// The largest character boundary at or below `index`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut i = index.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The account database's (user name, home directory) for the real user id.
#[cfg(unix)]
fn passwd_entry() -> Option<(String, String)> {
    use std::ffi::CStr;

    fn owned(ptr: *const libc::c_char) -> Option<String> {
        if ptr.is_null() {
            return None;
        }
        // SAFETY: getpwuid_r succeeded, so a non-NULL field points at a NUL-terminated
        // string inside the buffer, which outlives this call.
        let s = unsafe { CStr::from_ptr(ptr) };
        s.to_str().ok().map(str::to_owned)
    }

    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let mut buf_len = 1024usize;
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; buf_len];
        // SAFETY: passwd is plain old data; all-zero is a valid value (NULL pointers).
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the duration of the call, and buf_len is
        // the length of buf.
        let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf_len, &mut result) };
        if rc == libc::ERANGE && buf_len < (1 << 20) {
            buf_len *= 2;
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        let name = owned(pwd.pw_name)?;
        let dir = owned(pwd.pw_dir)?;
        return Some((name, dir));
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A character that may continue a file name (so a home directory does not end before it).
fn continues_file_name(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Whether a home directory found at `text[start..end]` ends there: followed by the end,
/// a path separator, or a character that cannot continue a file name.
fn home_ends_at(text: &str, _start: usize, end: usize) -> bool {
    let mut rest = text[end..].chars();
    match rest.next() {
        None | Some('/') | Some('\\') => true,
        Some('.') => !rest.next().is_some_and(continues_file_name),
        Some(c) => !continues_file_name(c),
    }
}

/// Whether `text[start..end]` is a whole word.
fn is_whole_word(text: &str, start: usize, end: usize) -> bool {
    !text[..start].chars().next_back().is_some_and(is_word_char)
        && !text[end..].chars().next().is_some_and(is_word_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "b05ef51d-3610-4440-bce3-6140be6d302c";
    const SID: &str = "d0c07d56-3e3a-424a-b4f9-1f2179cc86b8";
    const TS: u64 = 1_700_000_000_123_456;

    fn common() -> Common {
        Common {
            client_id: CID.to_owned(),
            app_name: "peer_golden".to_owned(),
            app_version: "1.2.3".to_owned(),
            os: "Linux",
            docker: false,
            usage_count: Some(1),
        }
    }

    fn sid() -> Arc<str> {
        Arc::from(SID)
    }

    fn body_text(common: &Common, events: &[Event]) -> String {
        String::from_utf8(request_body(common, events)).unwrap()
    }

    /// The expected body of one event with the client data of `common()`, `SID` and `TS`.
    fn golden(name: &str, category: &str, label: &str, count: i64) -> String {
        format!(
            concat!(
                r#"{{"client_id":"b05ef51d-3610-4440-bce3-6140be6d302c","non_personalized_ads":false,"#,
                r#""events":[{{"name":"{}","params":{{"event_category":"{}","event_label":"{}","#,
                r#""event_count":{},"session_id":"d0c07d56-3e3a-424a-b4f9-1f2179cc86b8","#,
                r#""app_name":"peer_golden","app_version":"1.2.3","os":"Linux","docker":"False","#,
                r#""usage_count":1,"usage_group":"first_usage"}},"timestamp_micros":1700000000123456}}]}}"#
            ),
            name, category, label, count
        )
    }

    // ---- golden bodies, one per kind ----

    #[test]
    fn golden_custom_event() {
        let e = Event::custom("cat", "act", "lbl", 3, sid(), TS).unwrap();
        let expected = r#"{"client_id":"b05ef51d-3610-4440-bce3-6140be6d302c","non_personalized_ads":false,"events":[{"name":"act","params":{"event_category":"cat","event_label":"lbl","event_count":3,"session_id":"d0c07d56-3e3a-424a-b4f9-1f2179cc86b8","app_name":"peer_golden","app_version":"1.2.3","os":"Linux","docker":"False","usage_count":1,"usage_group":"first_usage"},"timestamp_micros":1700000000123456}]}"#;
        assert_eq!(body_text(&common(), &[e]), expected);
    }

    #[test]
    fn golden_session_start() {
        let e = Event::session_start("cat", sid(), TS);
        assert_eq!(
            body_text(&common(), &[e]),
            golden("session", "cat", "start", 1)
        );
    }

    #[test]
    fn golden_session_end() {
        let e = Event::session_end("cat", sid(), TS);
        assert_eq!(
            body_text(&common(), &[e]),
            golden("session", "cat", "end", 1)
        );
    }

    #[test]
    fn golden_error() {
        let e = Event::error("cat", "cannot open ~/model.xml", sid(), TS);
        assert_eq!(
            body_text(&common(), &[e]),
            golden("error_", "cat", "cannot open ~/model.xml", 1)
        );
    }

    #[test]
    fn golden_stack_trace() {
        let e = Event::stack_trace("cat", "#0 main\n#1 start", sid(), TS);
        assert_eq!(
            body_text(&common(), &[e]),
            golden("stack_trace", "cat", "#0 main #1 start", 1)
        );
    }

    #[test]
    fn golden_opt_in() {
        let e = Event::opt_in(PrevState::Undefined, sid(), TS);
        assert_eq!(
            body_text(&common(), &[e]),
            golden(
                "accepted",
                "opt_in",
                "{prev_state:undefined, new_state: accepted}",
                1
            )
        );
        let e = Event::opt_in(PrevState::Declined, sid(), TS);
        assert_eq!(
            body_text(&common(), &[e]),
            golden(
                "accepted",
                "opt_in",
                "{prev_state:declined, new_state: accepted}",
                1
            )
        );
    }

    #[test]
    fn golden_without_usage_in_docker_with_two_events() {
        let c = Common {
            usage_count: None,
            docker: true,
            ..common()
        };
        let events = [
            Event::session_start("c", sid(), 1),
            Event::custom("c", "a", "l", -7, Arc::from("s2"), 2).unwrap(),
        ];
        let expected = concat!(
            r#"{"client_id":"b05ef51d-3610-4440-bce3-6140be6d302c","non_personalized_ads":false,"events":["#,
            r#"{"name":"session","params":{"event_category":"c","event_label":"start","event_count":1,"#,
            r#""session_id":"d0c07d56-3e3a-424a-b4f9-1f2179cc86b8","app_name":"peer_golden","app_version":"1.2.3","#,
            r#""os":"Linux","docker":"True"},"timestamp_micros":1},"#,
            r#"{"name":"a","params":{"event_category":"c","event_label":"l","event_count":-7,"#,
            r#""session_id":"s2","app_name":"peer_golden","app_version":"1.2.3","#,
            r#""os":"Linux","docker":"True"},"timestamp_micros":2}]}"#
        );
        assert_eq!(body_text(&c, &events), expected);
    }

    #[test]
    fn wire_events_json_are_the_bodys_events_without_the_client_id() {
        let events = [
            Event::session_start("c", sid(), 1),
            Event::custom("c", "a", "l\"x", -7, Arc::from("s2"), 2).unwrap(),
        ];
        let lines = wire_events_json(&common(), &events);
        let body: serde_json::Value =
            serde_json::from_slice(&request_body(&common(), &events)).unwrap();
        let from_body: Vec<String> = body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        assert_eq!(lines, from_body);
        assert!(lines.iter().all(|l| !l.contains(CID)));
    }

    #[test]
    fn body_escapes_json_and_normalises_app_values() {
        let c = Common {
            app_name: "app\n\"x\"\\".to_owned(),
            app_version: "v".repeat(150),
            ..common()
        };
        let e = Event::custom("ü\"", "act", "a\\b", 1, sid(), TS).unwrap();
        let body = body_text(&c, &[e]);
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        let params = &parsed["events"][0]["params"];
        assert_eq!(params["app_name"], "app \"x\"\\");
        assert_eq!(params["app_version"], "v".repeat(100).as_str());
        assert_eq!(params["event_category"], "ü\"");
        assert_eq!(params["event_label"], "a\\b");
        let keys: Vec<&str> = parsed
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["client_id", "non_personalized_ads", "events"]);
    }

    #[test]
    fn empty_request_body_is_valid_json() {
        assert_eq!(
            body_text(&common(), &[]),
            r#"{"client_id":"b05ef51d-3610-4440-bce3-6140be6d302c","non_personalized_ads":false,"events":[]}"#
        );
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

    // ---- name normalisation, one test per rule ----

    #[test]
    fn name_valid_passes_through() {
        for name in [
            "act",
            "error_",
            "stack_trace",
            "session",
            "accepted",
            "A1_b2",
            "x",
        ] {
            assert_eq!(normalise_name(name), name);
        }
        let forty = format!("a{}", "b".repeat(39));
        assert_eq!(normalise_name(&forty), forty);
    }

    #[test]
    fn name_trims_whitespace() {
        assert_eq!(normalise_name("  act \t"), "act");
    }

    #[test]
    fn name_replaces_invalid_characters() {
        assert_eq!(normalise_name("my-event.v2"), "my_event_v2");
        assert_eq!(normalise_name("a b"), "a_b");
        assert_eq!(normalise_name("café"), "caf_");
        assert_eq!(normalise_name("a😀b"), "a_b");
        assert_eq!(normalise_name("x\0y"), "x_y");
    }

    #[test]
    fn name_not_starting_with_a_letter_gets_prefix() {
        assert_eq!(normalise_name("1st"), "e_1st");
        assert_eq!(normalise_name("_x"), "e__x");
        assert_eq!(normalise_name("éa"), "e__a");
        assert_eq!(normalise_name(""), "e_");
        assert_eq!(normalise_name("!!"), "e___");
    }

    #[test]
    fn name_with_reserved_prefix_gets_prefix() {
        assert_eq!(normalise_name("firebase_x"), "e_firebase_x");
        assert_eq!(normalise_name("ga_x"), "e_ga_x");
        assert_eq!(normalise_name("google_x"), "e_google_x");
        assert_eq!(normalise_name("GA_x"), "e_GA_x");
        assert_eq!(normalise_name("ga.x"), "e_ga_x");
        // "gtag." cannot survive the character rule; "gtag_" is not reserved.
        assert_eq!(normalise_name("gtag.x"), "gtag_x");
        // Not a prefix of the form "ga_": left alone.
        assert_eq!(normalise_name("gallery"), "gallery");
    }

    #[test]
    fn name_reserved_gets_trailing_underscore() {
        for &reserved in RESERVED_EVENT_NAMES {
            assert!(reserved.len() < MAX_NAME_CHARS);
            assert_eq!(normalise_name(reserved), format!("{reserved}_"));
        }
        assert_eq!(normalise_name("error"), "error_");
        assert_eq!(normalise_name("Session_Start"), "Session_Start_");
        assert_eq!(normalise_name("page view"), "page_view_");
        assert_eq!(normalise_name("session"), "session");
    }

    #[test]
    fn name_truncated_to_40_characters() {
        let long = "a".repeat(100);
        assert_eq!(normalise_name(&long), "a".repeat(40));
        let prefixed = normalise_name(&"1".repeat(100));
        assert_eq!(prefixed, format!("e_{}", "1".repeat(38)));
        assert_eq!(
            normalise_name(&"ü".repeat(100)),
            format!("e_{}", "_".repeat(38))
        );
    }

    #[test]
    fn name_normalisation_is_idempotent_and_always_valid() {
        let inputs = [
            "",
            " ",
            "error",
            "ga_",
            "_",
            "1",
            "a-b",
            "ÿ",
            "firebase_error",
            "e_",
            "x".repeat(41).as_str(),
            "page_view",
            "gtag.js",
            "😀😀😀",
            "A",
        ]
        .map(str::to_owned);
        for input in inputs {
            let once = normalise_name(&input);
            assert!(is_valid_name(&once), "{input:?} -> {once:?}");
            assert_eq!(normalise_name(&once), once, "{input:?}");
        }
    }

    // ---- value normalisation, one test per rule ----

    #[test]
    fn value_valid_passes_through() {
        for value in [
            "",
            " spaced ",
            "ünïcødé 😀",
            "{prev_state:undefined, new_state: accepted}",
        ] {
            assert_eq!(normalise_value(value), value);
        }
        let hundred = "é".repeat(100);
        assert_eq!(normalise_value(&hundred), hundred);
    }

    #[test]
    fn value_control_characters_become_spaces() {
        assert_eq!(
            normalise_value("a\nb\tc\rd\0e\u{7f}f\u{85}g\u{1b}[0m"),
            "a b c d e f g [0m"
        );
    }

    #[test]
    fn value_cut_to_100_characters_on_a_char_boundary() {
        assert_eq!(normalise_value(&"x".repeat(101)), "x".repeat(100));
        let wide = "é😀".repeat(80);
        let cut = normalise_value(&wide);
        assert_eq!(cut.chars().count(), 100);
        assert_eq!(cut, "é😀".repeat(50));
        // Both rules at once.
        assert_eq!(normalise_value(&"\n".repeat(300)), " ".repeat(100));
    }

    #[test]
    fn normalisation_of_huge_input_does_not_panic() {
        let huge = "ü\n".repeat(5_000_000);
        assert_eq!(normalise_value(&huge).chars().count(), 100);
        assert_eq!(normalise_name(&huge).len(), 40);
    }

    // ---- usage group, OS, docker ----

    #[test]
    fn usage_group_boundaries() {
        let cases = [
            (1, "first_usage"),
            (2, "1-100_usages"),
            (100, "1-100_usages"),
            (101, "101-1000_usages"),
            (1000, "101-1000_usages"),
            (1001, "1001-5000_usages"),
            (5000, "1001-5000_usages"),
            (5001, "5000+_usages"),
            (u64::MAX, "5000+_usages"),
        ];
        for (count, group) in cases {
            assert_eq!(usage_group(count), group, "{count}");
        }
    }

    #[test]
    fn os_is_python_platform_system() {
        let expected = if cfg!(target_os = "linux") {
            "Linux"
        } else if cfg!(windows) {
            "Windows"
        } else if cfg!(target_os = "macos") {
            "Darwin"
        } else {
            return;
        };
        assert_eq!(detect_os(), expected);
    }

    #[test]
    fn docker_markers_detected() {
        let dir = std::env::temp_dir().join(format!("ovt-event-docker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dockerenv = dir.join("dockerenv");
        let cgroup = dir.join("cgroup");
        let mountinfo = dir.join("mountinfo");
        let missing = dir.join("missing");
        std::fs::write(&cgroup, "0::/user.slice\n").unwrap();
        std::fs::write(&mountinfo, b"1 2 0:3 / / rw - overlay overlay \xff\n").unwrap();
        assert!(!docker_markers(
            &dockerenv,
            &[&cgroup, &mountinfo, &missing]
        ));
        std::fs::write(
            &mountinfo,
            "1 2 0:3 / / rw - overlay /var/lib/docker/overlay2/x\n",
        )
        .unwrap();
        assert!(docker_markers(&dockerenv, &[&cgroup, &mountinfo]));
        assert!(!docker_markers(&dockerenv, &[&cgroup]));
        std::fs::write(&cgroup, "0::/docker/abc\n").unwrap();
        assert!(docker_markers(&dockerenv, &[&cgroup]));
        std::fs::write(&dockerenv, "").unwrap();
        assert!(docker_markers(&dockerenv, &[&missing]));
        std::fs::remove_dir_all(&dir).unwrap();
        // The real probe runs without panicking wherever the tests run.
        let _ = detect_docker();
    }

    // ---- batching ----

    fn small_events(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| Event::custom("cat", "act", &format!("l{i}"), 1, sid(), TS).unwrap())
            .collect()
    }

    fn big_event(label_bytes: usize) -> Event {
        // Built directly: constructors would cut the label to 100 characters.
        Event {
            label: "x".repeat(label_bytes),
            ..Event::session_start("cat", sid(), TS)
        }
    }

    #[test]
    fn batch_sizes_caps_at_25_events() {
        assert_eq!(batch_sizes(&common(), &small_events(60)), [25, 25, 10]);
        assert_eq!(batch_sizes(&common(), &small_events(25)), [25]);
        assert_eq!(batch_sizes(&common(), &small_events(1)), [1]);
        assert!(batch_sizes(&common(), &[]).is_empty());
    }

    #[test]
    fn batch_sizes_keeps_bodies_under_130_kb_and_fills_them() {
        let c = common();
        let events: Vec<Event> = (0..40).map(|i| big_event(20_000 + i * 97)).collect();
        let sizes = batch_sizes(&c, &events);
        assert_eq!(sizes.iter().sum::<usize>(), events.len());
        let mut at = 0;
        for (k, &n) in sizes.iter().enumerate() {
            assert!((1..=MAX_EVENTS_PER_REQUEST).contains(&n));
            let batch = &events[at..at + n];
            assert!(request_body(&c, batch).len() < MAX_BODY_BYTES);
            if k + 1 < sizes.len() {
                // One more event would have broken the limit.
                assert!(request_body(&c, &events[at..at + n + 1]).len() >= MAX_BODY_BYTES);
            }
            at += n;
        }
        assert!(
            sizes.len() > 1 && sizes[0] < MAX_EVENTS_PER_REQUEST,
            "{sizes:?}"
        );
    }

    #[test]
    fn batch_sizes_gives_an_oversized_event_its_own_batch() {
        let events = [big_event(10), big_event(200_000), big_event(10)];
        assert_eq!(batch_sizes(&common(), &events), [1, 1, 1]);
    }

    #[test]
    fn predicted_body_length_matches_serialisation() {
        let c = Common {
            usage_count: Some(4242),
            ..common()
        };
        let shared = Shared::new(&c);
        let events: Vec<Event> = (0..7)
            .map(|i| {
                Event::custom("ç\"at", "a", &"é\\".repeat(i * 7), i as i64 - 3, sid(), TS).unwrap()
            })
            .collect();
        let empty = json_len(&wire_body(&shared, &[]));
        let sum: usize = events
            .iter()
            .map(|e| json_len(&WireEvent::new(&shared, e)))
            .sum();
        assert_eq!(
            empty + sum + events.len() - 1,
            request_body(&c, &events).len()
        );
    }

    // ---- scrubbing ----

    fn scrubber() -> Scrubber {
        Scrubber::new(vec!["/home/alice".to_owned()], vec!["alice".to_owned()])
    }

    #[test]
    fn scrub_home_at_start_middle_and_end() {
        let s = Scrubber::new(vec!["/home/alice".to_owned()], vec![]);
        assert_eq!(s.scrub("/home/alice/model.xml: bad"), "~/model.xml: bad");
        assert_eq!(
            s.scrub("cannot open /home/alice/m.xml now"),
            "cannot open ~/m.xml now"
        );
        assert_eq!(s.scrub("cwd is /home/alice"), "cwd is ~");
        assert_eq!(s.scrub("in /home/alice."), "in ~.");
        assert_eq!(
            s.scrub("'/home/alice' and \"/home/alice/x\""),
            "'~' and \"~/x\""
        );
        assert_eq!(s.scrub("PATH=/home/alice/bin:/home/alice"), "PATH=~/bin:~");
    }

    #[test]
    fn scrub_home_is_not_a_prefix_of_another_directory() {
        let s = Scrubber::new(vec!["/home/al".to_owned()], vec![]);
        assert_eq!(s.scrub("/home/alice/x"), "/home/alice/x");
        assert_eq!(
            s.scrub("/home/al-old/x /home/al_2 /home/al.bak"),
            "/home/al-old/x /home/al_2 /home/al.bak"
        );
        assert_eq!(s.scrub("/home/alice and /home/al/x"), "/home/alice and ~/x");
    }

    #[test]
    fn scrub_longest_home_first_and_windows_separators() {
        let s = Scrubber::new(
            vec![
                "/home/alice".to_owned(),
                "/home/alice/work/".to_owned(),
                r"C:\Users\alice".to_owned(),
            ],
            vec![],
        );
        assert_eq!(s.scrub("/home/alice/work/a /home/alice/b"), "~/a ~/b");
        assert_eq!(s.scrub(r"at C:\Users\alice\x.cpp:3"), r"at ~\x.cpp:3");
    }

    #[test]
    fn scrub_user_name_as_whole_word_only() {
        let s = Scrubber::new(vec![], vec!["bob".to_owned()]);
        assert_eq!(
            s.scrub("bob bobby bob_x xbob bob's /home/bob/f bob"),
            "<user> bobby bob_x xbob <user>'s /home/<user>/f <user>"
        );
        assert_eq!(s.scrub("émilbob bobé"), "émilbob bobé");
    }

    #[test]
    fn scrub_home_then_user() {
        assert_eq!(
            scrubber().scrub("/home/alice/alice.txt by alice"),
            "~/<user>.txt by <user>"
        );
        // The inserted "<user>" is never matched again, even by a name "user".
        let s = Scrubber::new(vec![], vec!["user".to_owned(), "alice".to_owned()]);
        assert_eq!(s.scrub("alice user"), "<user> <user>");
    }

    #[test]
    fn scrub_without_match_returns_the_same_text() {
        let s = scrubber();
        for text in ["", "nothing here", "/home/al/x", "malice", "MALICE", "ü😀"] {
            assert_eq!(s.scrub(text), text);
        }
        let huge = "no match ".repeat(1_000_000);
        assert_eq!(s.scrub(&huge), huge);
    }

    #[test]
    fn scrubber_ignores_useless_inputs() {
        let s = Scrubber::new(
            vec![
                String::new(),
                "/".to_owned(),
                "//".to_owned(),
                r"C:\".to_owned(),
            ],
            vec![
                String::new(),
                "a".to_owned(),
                " ".to_owned(),
                "é".to_owned(),
            ],
        );
        assert!(
            s.homes.is_empty() && s.users.is_empty(),
            "{:?}",
            (&s.homes, &s.users)
        );
        assert_eq!(s.scrub("/ a é C:\\x"), "/ a é C:\\x");
        // Debug output reveals nothing.
        let shown = format!("{:?}", scrubber());
        assert!(!shown.contains("alice"), "{shown}");
    }

    #[test]
    fn scrub_ignores_letter_case_of_homes_and_names() {
        let s = Scrubber::new(
            vec!["/home/alice".to_owned(), r"C:\Users\Alice".to_owned()],
            vec!["alice".to_owned()],
        );
        assert_eq!(s.scrub("ALICE Alice aLiCe"), "<user> <user> <user>");
        assert_eq!(s.scrub("open /HOME/ALICE/x"), "open ~/x");
        assert_eq!(s.scrub(r"at c:\users\ALICE\m.xml"), r"at ~\m.xml");
        assert_eq!(s.scrub("MALICE /HOME/ALICEX"), "MALICE /HOME/ALICEX");
        // A letter whose other case has another length in UTF-8 (Kelvin sign, 3 bytes).
        let k = Scrubber::new(vec![], vec!["kim".to_owned()]);
        assert_eq!(k.scrub("\u{212A}IM was here"), "<user> was here");
    }

    #[test]
    fn scrub_prefix_reads_only_what_it_needs_and_never_cuts_a_name() {
        let s = scrubber();
        // The result is the first 100 characters of what the full scrub gives.
        let text = format!("{}/home/alice/x alice {}", "a ".repeat(40), "b".repeat(300));
        let full = s.scrub(&text);
        let cut: String = full.chars().take(100).collect();
        assert_eq!(s.scrub_prefix(&text, 100, true), cut);
        // A name straddling character 100 is still recognised as a whole.
        let text = format!("{}alice tail", "z ".repeat(49));
        let scrubbed = s.scrub_prefix(&text, 100, true);
        assert!(!scrubbed.to_lowercase().contains("ali"), "{scrubbed}");
        // Homes shrink to `~`: text far past character 100 can reach the output.
        let text = "/home/alice/".repeat(200) + "alice";
        let scrubbed = s.scrub_prefix(&text, 100, true);
        assert_eq!(scrubbed.chars().count(), 100);
        assert!(!scrubbed.contains("alice"), "{scrubbed}");
        // A cut copy never shows the piece of a name at its end.
        let text = "/home/alice/".repeat(1000);
        let cut_copy = &text[..RAW_TEXT_LIMIT.min(text.len()) - 3];
        assert!(cut_copy.ends_with("/home/ali"));
        let scrubbed = s.scrub_prefix(cut_copy, usize::MAX, false);
        assert!(!scrubbed.contains("ali"), "{scrubbed}");
        // A huge message costs what a short one does (100 characters produced).
        let huge = "no match ".repeat(1_000_000);
        assert_eq!(s.scrub_prefix(&huge, 100, true), huge[..100]);
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

    #[test]
    fn scrub_overlapping_candidates() {
        // The first occurrence is rejected (followed by a word char); the overlapping one
        // starting one character later is a whole word.
        let s = Scrubber::new(vec![], vec!["a.a".to_owned()]);
        assert_eq!(s.scrub("xa.a.a"), "xa.<user>");
    }

    #[test]
    fn scrubber_from_environment_scrubs_home() {
        let s = Scrubber::from_environment();
        if let Ok(home) = std::env::var("HOME") {
            let home = home.trim_end_matches('/');
            if !home.is_empty() {
                let scrubbed = s.scrub(&format!("open {home}/x failed"));
                assert_eq!(scrubbed, "open ~/x failed");
            }
        }
    }
}
