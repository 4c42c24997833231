//! A record read back: its parsing, and the `crash` event it becomes (DESIGN §5a).

use std::sync::Arc;

use super::{EVENT_NAME, MAGIC};
use crate::event::{self, Event, Extra, COMMON_PARAMS, MAX_PARAMS_PER_EVENT};

/// One crash, as read back from its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub signal: String,
    pub time_micros: u64,
    pub app_name: String,
    pub app_version: String,
    pub client_id: String,
    pub exception: Option<String>,
    /// `(module+0xoffset, build id or None)`, innermost first.
    pub frames: Vec<(String, Option<String>)>,
}

/// Parses a record; `None` unless it is complete (magic line first, `end` last).
pub fn parse_record(text: &str) -> Option<Record> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let mut record = Record {
        signal: String::new(),
        time_micros: 0,
        app_name: String::new(),
        app_version: String::new(),
        client_id: String::new(),
        exception: None,
        frames: Vec::new(),
    };
    let mut ended = false;
    for line in lines {
        if ended {
            return None;
        }
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "signal" => record.signal = value.to_owned(),
            "time" => record.time_micros = value.parse().ok()?,
            "app" => record.app_name = value.to_owned(),
            "version" => record.app_version = value.to_owned(),
            "cid" => record.client_id = value.to_owned(),
            "exception" => record.exception = Some(value.to_owned()),
            "frame" => {
                let (frame, id) = value.split_once(' ').unwrap_or((value, "-"));
                let id = (id != "-" && !id.is_empty()).then(|| id.to_owned());
                record.frames.push((frame.to_owned(), id));
            }
            "end" => ended = true,
            _ => {} // a field a later version added
        }
    }
    (ended && !record.signal.is_empty()).then_some(record)
}

/// The `crash` event of a record (DESIGN §5a): category = the crashed app's name, label =
/// the signal or exception name, `app_name`/`app_version` = the crashed run's,
/// `exception` = the C++ exception type when known, `frame_0`… = `module+0xoffset` and the
/// module's build id, as many as GA4's 25 parameters allow, each at most 100 characters;
/// `timestamp_micros` = the crash time.
pub fn record_event(record: &Record, session_id: Arc<str>) -> Event {
    let mut params = Vec::new();
    if let Some(exception) = &record.exception {
        params.push(("exception".to_owned(), event::normalise_value(exception)));
    }
    let room = MAX_PARAMS_PER_EVENT - COMMON_PARAMS - params.len();
    for (i, (frame, id)) in record.frames.iter().take(room).enumerate() {
        params.push((format!("frame_{i}"), frame_value(frame, id.as_deref())));
    }
    let mut event = Event::custom(
        &record.app_name,
        EVENT_NAME,
        &record.signal,
        1,
        session_id,
        record.time_micros,
    )
    .expect("the crash event name is valid");
    event.extra = Some(Box::new(Extra {
        app_name: event::normalise_value(&record.app_name),
        app_version: event::normalise_value(&record.app_version),
        params,
    }));
    event
}

/// `module+0xoffset buildid`, cut to 100 characters by shortening the module name: the
/// offset and the build id are what resolve the frame.
fn frame_value(frame: &str, build_id: Option<&str>) -> String {
    let (module, offset) = frame.rsplit_once('+').unwrap_or((frame, ""));
    let id: String = build_id.unwrap_or("").chars().take(64).collect();
    let fixed = 1
        + offset.chars().count()
        + if id.is_empty() {
            0
        } else {
            1 + id.chars().count()
        };
    let keep = event::MAX_VALUE_CHARS.saturating_sub(fixed);
    let module: String = module.chars().take(keep).collect();
    let value = match (offset.is_empty(), id.is_empty()) {
        (true, _) => module,
        (false, true) => format!("{module}+{offset}"),
        (false, false) => format!("{module}+{offset} {id}"),
    };
    event::normalise_value(&value)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::fs;

    pub(crate) const CID: &str = "b05ef51d-3610-4440-bce3-6140be6d302c";

    pub(crate) fn text(frames: usize, exception: bool) -> String {
        let mut t =
            format!("{MAGIC}\nsignal SIGSEGV\ntime 1000\napp tool\nversion 1.2\ncid {CID}\n");
        if exception {
            t.push_str("exception std::runtime_error\n");
        }
        for i in 0..frames {
            t.push_str(&format!(
                "frame crasher+0x{:x} {}\n",
                0x1000 + i,
                "ab".repeat(20)
            ));
        }
        t.push_str("frame libc.so.6+0x2724a -\nend\n");
        t
    }

    #[test]
    fn a_record_parses_and_becomes_a_crash_event() {
        let record = parse_record(&text(1, true)).unwrap();
        assert_eq!(record.signal, "SIGSEGV");
        assert_eq!(record.time_micros, 1000);
        assert_eq!(record.frames.len(), 2);
        assert_eq!(record.frames[1], ("libc.so.6+0x2724a".to_owned(), None));
        let e = record_event(&record, Arc::from("s"));
        assert_eq!(e.name, "crash");
        assert_eq!(e.category, "tool");
        assert_eq!(e.label, "SIGSEGV");
        assert_eq!(e.timestamp_micros, 1000);
        let extra = e.extra.unwrap();
        assert_eq!(extra.app_version, "1.2");
        assert_eq!(
            extra.params[0],
            ("exception".to_owned(), "std::runtime_error".to_owned())
        );
        assert_eq!(
            extra.params[1],
            (
                "frame_0".to_owned(),
                format!("crasher+0x1000 {}", "ab".repeat(20))
            )
        );
        assert_eq!(extra.params[2].1, "libc.so.6+0x2724a");
    }

    #[test]
    fn frames_fill_the_25_parameters_and_no_more() {
        for exception in [false, true] {
            let e = record_event(&parse_record(&text(40, exception)).unwrap(), Arc::from("s"));
            assert_eq!(
                COMMON_PARAMS + e.extra.unwrap().params.len(),
                MAX_PARAMS_PER_EVENT
            );
        }
    }

    #[test]
    fn a_long_module_name_is_cut_and_the_offset_and_build_id_kept() {
        let id = "cd".repeat(20);
        let v = frame_value(&format!("{}+0x12345678", "m".repeat(200)), Some(&id));
        assert_eq!(v.chars().count(), 100);
        assert!(v.ends_with(&format!("+0x12345678 {id}")), "{v}");
    }

    #[test]
    fn a_crash_event_kept_in_the_spool_keeps_its_frames() {
        let dir = tempfile::tempdir().unwrap().keep();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        let mut record = parse_record(&text(3, true)).unwrap();
        record.time_micros = now;
        let event = record_event(&record, Arc::from("s"));
        const CID: &str = "b05ef51d-3610-4440-bce3-6140be6d302c";
        let text = crate::spool::render(std::slice::from_ref(&event), CID);
        crate::files::write_atomic(&dir, &crate::spool::new_pending_name(), &text).unwrap();
        let claim = crate::spool::claim(&dir, CID, now);
        assert_eq!(claim.events, vec![event]);
        crate::spool::release(&claim.files);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn incomplete_or_foreign_records_are_refused() {
        let full = text(1, false);
        assert!(parse_record(full.trim_end_matches("end\n")).is_none());
        assert!(parse_record(&full.replacen(MAGIC, "something else", 1)).is_none());
        assert!(parse_record(&full.replace("time 1000", "time x")).is_none());
    }
}
