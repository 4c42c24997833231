//! Usage statistics shared with the Python client: the `stats` file, a JSON object such as
//! `{"usage_count": 7}`, written as Python's `json.dumps(obj, indent=4)` does (4-space
//! indent, no trailing newline). Other keys are kept. Each initialisation with consent
//! counts one usage, under an inter-process lock so concurrent increments are never lost.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::files::{self, DirLock};

pub const STATS_FILE: &str = "stats";
const USAGE_COUNT: &str = "usage_count";
/// A stats file is a handful of bytes; a larger one is treated as corrupt and replaced.
const STATS_READ_LIMIT: usize = 64 * 1024;

/// What `record_usage` found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub count: u64,
    /// Set when the file was unreadable or corrupt and had to be started afresh.
    pub warning: Option<String>,
}

/// Adds one usage and returns the new count. A missing, corrupt, oversized or binary file,
/// or a count that is not a positive integer, restarts the count at 1 (with a warning).
pub fn record_usage(dir: &Path) -> Result<Usage> {
    let _lock = DirLock::acquire(dir, files::STATS_LOCK_WAIT)?;
    record_usage_locked(dir)
}

/// [`record_usage`] for a caller that holds the directory lock already.
pub fn record_usage_locked(dir: &Path) -> Result<Usage> {
    let (mut object, warning) = match read_object(dir) {
        // Still empty after the wait: a writer stalled between truncating and writing (the
        // Python client writes in place). Its count is on the way: counting from 1 over it
        // would lower it, so this usage is not counted.
        Err(_) if stays_empty(dir) => {
            return Err(crate::Error::io(
                "read",
                dir.join(STATS_FILE),
                std::io::Error::other("it stays empty: another client is writing it"),
            ))
        }
        Ok(Some(object)) => (object, None),
        Ok(None) => (Map::new(), None),
        Err(why) => (Map::new(), Some(why)),
    };
    let count = match object.get(USAGE_COUNT).and_then(Value::as_u64) {
        Some(previous) if previous > 0 => previous.saturating_add(1),
        _ => 1,
    };
    object.insert(USAGE_COUNT.to_string(), Value::from(count));
    files::write_atomic(dir, STATS_FILE, render(&object).as_bytes())?;
    Ok(Usage { count, warning })
}

fn stays_empty(dir: &Path) -> bool {
    files::read_limited(&dir.join(STATS_FILE), STATS_READ_LIMIT)
        .is_ok_and(|b| b.is_some_and(|b| b.iter().all(u8::is_ascii_whitespace)))
}

/// The stored count, if there is a valid positive one. Never writes.
pub fn read_usage(dir: &Path) -> Option<u64> {
    read_object(dir)
        .ok()??
        .get(USAGE_COUNT)
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
}

fn read_object(dir: &Path) -> std::result::Result<Option<Map<String, Value>>, String> {
    let path = dir.join(STATS_FILE);
    // The Python client rewrites `stats` in place: an empty or half-written file is read
    // again for a moment before it counts as corrupt (and the count restarts).
    let is_object = |b: &[u8]| matches!(serde_json::from_slice::<Value>(b), Ok(Value::Object(_)));
    let bytes = match files::read_settled(&path, STATS_READ_LIMIT, files::SETTLE_WAIT, is_object) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(Some(object)),
        Ok(_) => Err(format!("{} does not hold a JSON object", path.display())),
        Err(e) => Err(format!("{} is not valid JSON: {e}", path.display())),
    }
}

/// Python's `json.dumps(obj, indent=4)`: 4 spaces, `": "` and `","` separators, ASCII only.
fn render(object: &Map<String, Value>) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(object, &mut serializer).expect("a JSON map always serialises");
    let text = String::from_utf8(out).expect("serde_json writes UTF-8");
    // Python writes the file in text mode: on Windows its lines end with CRLF. Line breaks
    // are only structural here (string contents are escaped), so this is exact.
    #[cfg(windows)]
    let text = text.replace('\n', "\r\n");
    escape_non_ascii(&text)
}

/// Python escapes every non-ASCII character as `\uXXXX` (surrogate pairs above U+FFFF).
/// Only string contents can hold such characters, so replacing them everywhere is exact.
fn escape_non_ascii(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// The file as Python writes it here: in text mode, so with CRLF on Windows.
    fn python_text(lf: &str) -> String {
        if cfg!(windows) {
            lf.replace('\n', "\r\n")
        } else {
            lf.to_string()
        }
    }

    #[test]
    fn first_usage_is_written_like_python() {
        let dir = tempfile::tempdir().unwrap().keep();
        assert_eq!(record_usage(&dir).unwrap().count, 1);
        assert_eq!(
            fs::read_to_string(dir.join(STATS_FILE)).unwrap(),
            python_text("{\n    \"usage_count\": 1\n}")
        );
        assert_eq!(record_usage(&dir).unwrap().count, 2);
        assert_eq!(read_usage(&dir), Some(2));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn other_keys_are_kept_in_order_and_escaped_like_python() {
        let dir = tempfile::tempdir().unwrap().keep();
        fs::write(
            dir.join(STATS_FILE),
            "{\"zeta\": [1, 2], \"usage_count\": 41, \"name\": \"caf\u{e9} \u{1f600}\", \"big\": 1180591620717411303424, \"f\": 1.847467444746744e+36}",
        )
        .unwrap();
        assert_eq!(record_usage(&dir).unwrap().count, 42);
        // Numbers other than the count keep their exact text (Python keeps big integers).
        assert_eq!(
            fs::read_to_string(dir.join(STATS_FILE)).unwrap(),
            python_text("{\n    \"zeta\": [\n        1,\n        2\n    ],\n    \"usage_count\": 42,\n    \"name\": \"caf\\u00e9 \\ud83d\\ude00\",\n    \"big\": 1180591620717411303424,\n    \"f\": 1.847467444746744e+36\n}")
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn corrupt_binary_oversized_and_non_positive_restart_at_one() {
        let dir = tempfile::tempdir().unwrap().keep();
        let cases: Vec<(Vec<u8>, bool)> = vec![
            (b"{not json".to_vec(), true),
            (vec![0xff, 0x00, 0x9c, 0x01], true),
            (vec![b' '; 10 * 1024 * 1024], true),
            (b"[1, 2]".to_vec(), true),
            (b"{\"usage_count\": -5}".to_vec(), false),
            (b"{\"usage_count\": 0}".to_vec(), false),
            (b"{\"usage_count\": \"7\"}".to_vec(), false),
            (b"{\"usage_count\": 2.5}".to_vec(), false),
        ];
        for (contents, warns) in cases {
            fs::write(dir.join(STATS_FILE), &contents).unwrap();
            let usage = record_usage(&dir).unwrap();
            assert_eq!(
                usage.count,
                1,
                "{:?}",
                String::from_utf8_lossy(&contents[..contents.len().min(20)])
            );
            assert_eq!(usage.warning.is_some(), warns);
            assert_eq!(read_usage(&dir), Some(1));
        }
        fs::write(
            dir.join(STATS_FILE),
            format!("{{\"usage_count\": {}}}", u64::MAX),
        )
        .unwrap();
        assert_eq!(record_usage(&dir).unwrap().count, u64::MAX);
        fs::remove_dir_all(dir).unwrap();
    }
}
