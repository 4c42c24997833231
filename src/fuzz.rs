//! The checks behind the fuzz targets, one function per target.
//!
//! Each function takes the raw fuzz input (and, for the file readers, a scratch directory
//! that belongs to the caller alone), drives the library's functions with it, and panics
//! when a promise is broken. The checks sit next to the code they drive: they are compiled
//! only into the unit tests and into fuzz builds (cargo-fuzz sets `--cfg fuzzing`), never
//! into the library. The fuzz targets under `fuzz/fuzz_targets/` call them; the unit tests
//! in `fuzz/replay.rs` replay every input kept under `fuzz/regressions/<target>/` through
//! the same functions, so `cargo test` keeps every finding fixed.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::consent::{self, Consent};
use crate::event::{self, Common, Event, Scrubber};
use crate::files::now_micros;
use crate::spool;
use crate::stats;
use crate::transport::Endpoint;
use serde_json::Value;

/// The targets, by the name of their directory under `fuzz/regressions/`.
pub const TARGETS: [(&str, Check); 5] = [
    ("consent_file", consent_file),
    ("stats_file", stats_file),
    ("normalise", normalise),
    ("endpoint", endpoint),
    ("spool_file", spool_file),
];

/// A check: scratch directory (empty, private to the caller), input.
pub type Check = fn(&Path, &[u8]);

/// A fresh private directory under the system temp dir, removed on drop.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!(
            "ovt-fuzz-{tag}-{}-{:08x}",
            std::process::id(),
            crate::files::random_u32()
        ));
        fs::create_dir_all(&path).expect("create the scratch directory");
        Scratch { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Splits the input at `0xFF` bytes (never part of UTF-8) into exactly `n` byte strings;
/// missing parts are empty, the last part keeps any further `0xFF`.
fn split(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = data.splitn(n, |b| *b == 0xff).collect();
    parts.resize(n, b"");
    parts
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Removes every entry of `dir` (the scratch directory is reused between inputs).
fn empty_dir(dir: &Path) {
    for entry in fs::read_dir(dir)
        .expect("list the scratch directory")
        .flatten()
    {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = fs::remove_dir_all(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
}

/// How the Python client 2025.2.0 reads the decision: `open(path).readline().strip()` —
/// UTF-8 text (anything else fails to decode: no decision), universal newlines (`\n`,
/// `\r\n` or a lone `\r` ends the line), Python's whitespace (Unicode White_Space and the
/// separators U+001C–U+001F) stripped; then `"1"` or `"0"`.
pub fn python_reading(data: &[u8]) -> Option<Consent> {
    let text = std::str::from_utf8(data).ok()?;
    let first_line = text.split(['\n', '\r']).next().unwrap_or_default();
    let python_space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
    match first_line.trim_matches(python_space) {
        "1" => Some(Consent::Accepted),
        "0" => Some(Consent::Declined),
        _ => None,
    }
}

/// `consent_file`: the reader of `openvino_telemetry` (shared with the Python client).
///
/// `consent::parse` reaches the Python client's decision on every input (so a decision is
/// honoured by both clients alike), and `consent::read` agrees with it: a first line of
/// exactly `1` or `0` decides; anything else, including a file over the 4 KiB read limit,
/// counts as declined with a warning; the reader never writes.
pub fn consent_file(dir: &Path, data: &[u8]) {
    empty_dir(dir);
    let parsed = consent::parse(data);
    assert_eq!(
        parsed,
        python_reading(data),
        "parse of {data:?} differs from the Python client"
    );

    let path = dir.join(consent::CONSENT_FILE);
    fs::write(&path, data).expect("write the consent file");
    let (consent, warning) = consent::read(dir);
    match parsed {
        Some(decision) if data.len() <= 4096 => {
            assert_eq!((consent, warning.as_deref()), (decision, None));
        }
        _ => {
            assert_eq!(consent, Consent::Declined, "{data:?}");
            let warning = warning.expect("a declined-by-malformation file has a warning");
            assert!(
                warning.contains("treated as declined"),
                "the warning says what happens: {warning}"
            );
        }
    }
    assert_eq!(fs::read(&path).expect("the file is still there"), data);
    let names: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
    assert_eq!(names.len(), 1, "reading created files");
}

/// `stats_file`: the `stats` reader and its read-modify-write.
///
/// A file that is empty (or only blanks) is a writer stalled between truncating and
/// writing: `record_usage` refuses to count and leaves it as it is. Whatever else the file
/// holds, `record_usage` succeeds with a count ≥ 1, leaves an ASCII JSON object holding that
/// count (which `read_usage` then returns), keeps every other key of a valid object
/// unchanged, and continues a valid positive count.
pub fn stats_file(dir: &Path, data: &[u8]) {
    empty_dir(dir);
    let path = dir.join(stats::STATS_FILE);
    fs::write(&path, data).expect("write the stats file");
    if data.iter().all(u8::is_ascii_whitespace) {
        let err = stats::record_usage(dir).expect_err("an empty stats file is not counted over");
        assert!(err.to_string().contains("stays empty"), "{err}");
        assert_eq!(fs::read(&path).expect("the file is still there"), data);
        return;
    }
    let before: Option<serde_json::Map<String, Value>> = match serde_json::from_slice(data) {
        Ok(Value::Object(object)) if data.len() <= 64 * 1024 => Some(object),
        _ => None,
    };
    let usage = stats::record_usage(dir).expect("record_usage on a writable directory");
    assert!(usage.count >= 1);
    assert_eq!(stats::read_usage(dir), Some(usage.count));

    let after = fs::read(&path).expect("the stats file exists");
    assert!(after.is_ascii(), "written like Python: ASCII only");
    let after: Value = serde_json::from_slice(&after).expect("the stats file is valid JSON");
    let after = after.as_object().expect("the stats file holds an object");
    assert_eq!(after.get("usage_count"), Some(&Value::from(usage.count)));

    match before {
        Some(object) => {
            assert!(usage.warning.is_none(), "a valid object gives no warning");
            let expected = match object.get("usage_count").and_then(Value::as_u64) {
                Some(n) if n > 0 => n.saturating_add(1),
                _ => 1,
            };
            assert_eq!(usage.count, expected);
            for (key, value) in &object {
                if key != "usage_count" {
                    assert_eq!(after.get(key), Some(value), "key {key:?} was changed");
                }
            }
            assert_eq!(
                after.len(),
                object.len() + usize::from(!object.contains_key("usage_count"))
            );
        }
        None => {
            assert_eq!(usage.count, 1, "a corrupt file restarts the count");
            assert!(usage.warning.is_some(), "a corrupt file is reported");
        }
    }
    // Nothing else is left behind (no lock file either, on any platform).
    let names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [stats::STATS_FILE]);
}

fn is_valid_name(name: &str) -> bool {
    name.len() <= event::MAX_NAME_CHARS
        && name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn assert_valid_value(value: &str, input: &str) {
    assert!(value.chars().count() <= event::MAX_VALUE_CHARS, "{value:?}");
    assert!(!value.chars().any(char::is_control), "{value:?}");
    // Only control characters change, one for one, and only the end is cut.
    let mapped: String = input
        .chars()
        .take(event::MAX_VALUE_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    assert_eq!(value, mapped);
}

/// `normalise`: the payload normaliser, with arbitrary bytes as category, action and
/// label (split at `0xFF`, then lossy UTF-8, as the C layer never passes invalid UTF-8).
///
/// Names are ≤ 40 characters of `[A-Za-z0-9_]` starting with a letter, never a reserved
/// name or prefix, and normalising is idempotent; values are ≤ 100 characters without
/// control characters; the request body is valid JSON carrying exactly those strings;
/// the scrubber never panics and leaves text without a match alone.
pub fn normalise(_dir: &Path, data: &[u8]) {
    let parts = split(data, 3);
    let (category, action, label) = (lossy(parts[0]), lossy(parts[1]), lossy(parts[2]));
    let value = data.iter().fold(0i64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(i64::from(*b))
    });

    for input in [&category, &action, &label] {
        let name = event::normalise_name(input);
        assert!(is_valid_name(&name), "name {name:?} from {input:?}");
        let lower = name.to_ascii_lowercase();
        assert!(
            !["firebase_", "ga_", "google_"]
                .iter()
                .any(|p| lower.starts_with(p)),
            "reserved prefix in {name:?}"
        );
        assert!(
            !event::RESERVED_EVENT_NAMES.contains(&lower.as_str()),
            "reserved name {name:?}"
        );
        assert_eq!(event::normalise_name(&name), name, "idempotent");

        let normalised = event::normalise_value(input);
        assert_valid_value(&normalised, input);
        assert_eq!(
            event::normalise_value(&normalised),
            normalised,
            "idempotent"
        );
    }

    let session: Arc<str> = Arc::from("0b0e0f1e-0000-4000-8000-000000000000");
    let ts = 1_700_000_000_000_000u64;
    let custom = Event::custom(&category, &action, &label, value, Arc::clone(&session), ts);
    let Ok(custom) = custom else {
        assert!(action.trim().is_empty(), "only an empty action is refused");
        return;
    };
    assert!(!action.trim().is_empty());
    let events = vec![
        custom,
        Event::error(&category, &label, Arc::clone(&session), ts + 1),
        Event::stack_trace(&category, &action, Arc::clone(&session), ts + 2),
        Event::session_start(&category, Arc::clone(&session), ts + 3),
    ];
    let common = Common {
        client_id: "b05ef51d-3610-4440-bce3-6140be6d302c".into(),
        app_name: label.clone(),
        app_version: category.clone(),
        os: "Linux",
        docker: false,
        usage_count: Some(value.unsigned_abs() % 10_000),
    };
    let body = event::request_body(&common, &events);
    assert!(body.len() < event::MAX_BODY_BYTES);
    let json: Value = serde_json::from_slice(&body).expect("the request body is JSON");
    let wire = json["events"].as_array().expect("events[]");
    assert_eq!(wire.len(), events.len());
    for (sent, kept) in wire.iter().zip(&events) {
        let name = sent["name"].as_str().unwrap();
        assert!(is_valid_name(name), "{name:?}");
        assert_eq!(name, kept.name);
        let params = &sent["params"];
        for key in ["event_category", "event_label", "app_name", "app_version"] {
            let text = params[key].as_str().unwrap();
            assert!(text.chars().count() <= event::MAX_VALUE_CHARS, "{key}");
            assert!(!text.chars().any(char::is_control), "{key}: {text:?}");
        }
        assert_eq!(params["event_category"], kept.category.as_str());
        assert_eq!(params["event_label"], kept.label.as_str());
        assert_eq!(sent["timestamp_micros"], kept.timestamp_micros);
    }
    assert_eq!(wire[0]["params"]["event_count"], value);
    assert_eq!(event::batch_sizes(&common, &events), [events.len()]);

    // Scrubbing, as done on error messages before they are normalised.
    let scrubber = Scrubber::new(vec![category.clone()], vec![action.clone()]);
    let scrubbed = scrubber.scrub(&label);
    let home = category.trim_end_matches(['/', '\\']);
    let user = action.trim();
    let home_absent = home.is_empty() || !label.contains(home);
    let user_absent = user.chars().count() < 2 || !label.contains(user);
    if home_absent && user_absent {
        assert_eq!(scrubbed, label, "text without a match is left alone");
    }
}

fn is_loopback_host(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || match host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback(),
            Ok(std::net::IpAddr::V6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
            Err(_) => false,
        }
}

/// `endpoint`: the collect URL check against the parser the transport really uses.
///
/// A URL the library accepts is one ureq sends to a host of the same kind: plain
/// `http://` only ever reaches a loopback host, and what the library calls loopback (and
/// therefore sends without a proxy) is loopback to ureq too. The appended query never
/// changes the host.
pub fn endpoint(_dir: &Path, data: &[u8]) {
    let url = lossy(data);
    let Ok(endpoint) = Endpoint::parse(&url) else {
        return;
    };
    let full = endpoint.collect_url("G-FUZZ", "s&e=c r/e?t#x");
    let Ok(uri) = full.parse::<ureq::http::Uri>() else {
        // ureq then fails the request (and the sender retries): never a wrong host.
        return;
    };
    let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
    let host = uri.host().unwrap_or_default();
    assert!(
        scheme == "https" || scheme == "http",
        "{url:?} is sent with scheme {scheme:?}"
    );
    if scheme == "http" {
        assert!(
            is_loopback_host(host),
            "{url:?} is plain http to the non-loopback host {host:?}"
        );
    }
    assert_eq!(
        endpoint.is_loopback(),
        is_loopback_host(host),
        "{url:?}: the library and ureq disagree about host {host:?}"
    );
    if let Ok(plain) = endpoint.as_str().parse::<ureq::http::Uri>() {
        assert_eq!(
            plain.host(),
            uri.host(),
            "{url:?}: the query moved the host"
        );
    }
}

/// `spool_file`: the pending files' reader and writer.
///
/// The input is an existing pending file (left by a finished handle), then (after a
/// `0xFF`) the name, category and label of a new event. Whatever the file held, keeping the
/// new event in a file of its own leaves a private file of at most 1,000 JSON lines and
/// 1 MiB; claiming returns only events younger than 72 hours, in time order, the new one
/// among them unchanged, never twice; releasing leaves nothing behind.
pub fn spool_file(dir: &Path, data: &[u8]) {
    const CID: &str = "b05ef51d-3610-4440-bce3-6140be6d302c";
    empty_dir(dir);
    let parts = split(data, 4);
    fs::write(dir.join(spool::new_pending_name()), parts[0]).expect("write a pending file");
    let now = now_micros();
    let new = Event {
        name: lossy(parts[1]),
        category: lossy(parts[2]),
        label: lossy(parts[3]),
        count: {
            let mut bytes = [0u8; 8];
            for (slot, b) in bytes.iter_mut().zip(data) {
                *slot = *b;
            }
            i64::from_le_bytes(bytes)
        },
        session_id: Arc::from("s"),
        timestamp_micros: now,
        scrub: crate::event::ScrubState::Done,
        extra: None,
    };
    let mut kept = vec![new.clone()];
    let text = spool::render_bounded(&mut kept, CID);
    assert!(text.len() <= spool::MAX_BYTES || kept.is_empty());
    let name = spool::new_pending_name();
    crate::files::write_atomic(dir, &name, &text).expect("keep in a writable dir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.join(&name)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let claim = spool::claim(dir, CID, now_micros());
    assert!(claim.events.len() <= spool::MAX_EVENTS);
    assert!(claim.events.contains(&new), "the new event is claimed");
    assert!(claim
        .events
        .windows(2)
        .all(|w| w[0].timestamp_micros <= w[1].timestamp_micros));
    let max_age = spool::MAX_AGE.as_micros() as u64;
    let after = now_micros();
    for e in &claim.events {
        assert!(
            after.saturating_sub(e.timestamp_micros) < max_age + (after - now),
            "an event older than 72 hours was claimed: {}",
            e.timestamp_micros
        );
    }
    assert!(
        spool::claim(dir, CID, now_micros()).events.is_empty(),
        "claimed twice"
    );
    spool::release(&claim.files);
    let left: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[cfg(test)]
mod replay;
