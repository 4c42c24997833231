//! What `opt_in_out --show` prints: the sent record ([`crate::sent`]) as a table for people
//! or as JSON lines for scripts.
//!
//! Times are the events' `timestamp_micros` in local time from the C library
//! (`localtime_r` on Unix, `localtime_s` on Windows; both honour `TZ`); where neither
//! exists, in UTC, and the output says so. No date crate is needed for this.

use std::path::Path;

use crate::sent::{Entry, Record};

/// The table's columns, in order.
const HEADERS: [&str; 6] = ["TIME", "APP", "EVENT", "CATEGORY", "LABEL", "VALUE"];
const GAP: &str = "  ";

/// A civil date and time, and how far it is from UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CivilTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// Seconds east of UTC.
    offset: i64,
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01 (H. Hinnant's `days_from_civil`).
#[cfg_attr(not(any(unix, windows)), allow(dead_code))]
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn utc(secs: i64) -> CivilTime {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rest = secs.rem_euclid(86_400);
    CivilTime {
        year,
        month,
        day,
        hour: (rest / 3600) as u32,
        minute: (rest / 60 % 60) as u32,
        second: (rest % 60) as u32,
        offset: 0,
    }
}

/// Local time from the C library: `localtime_r` on Unix, `localtime_s` (the CRT, which
/// honours `TZ` too) on Windows.
#[cfg(any(unix, windows))]
fn local(secs: i64) -> Option<CivilTime> {
    let t = libc::time_t::try_from(secs).ok()?;
    // SAFETY: `tm` is plain data; all-zero is a valid value that the call overwrites.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    #[cfg(unix)]
    // SAFETY: both pointers are valid for the call; localtime_r is the thread-safe form.
    let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
    #[cfg(windows)]
    // SAFETY: both pointers are valid for the call; localtime_s is the thread-safe form.
    let ok = unsafe { libc::localtime_s(&mut tm, &t) } == 0;
    if !ok {
        return None;
    }
    let (year, month, day) = (
        i64::from(tm.tm_year) + 1900,
        u32::try_from(tm.tm_mon + 1).ok()?,
        u32::try_from(tm.tm_mday).ok()?,
    );
    let (hour, minute, second) = (
        u32::try_from(tm.tm_hour).ok()?,
        u32::try_from(tm.tm_min).ok()?,
        u32::try_from(tm.tm_sec).ok()?.min(59),
    );
    // The offset, portably: the local fields read as if they were UTC, minus the instant.
    let as_utc = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    Some(CivilTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        offset: as_utc - secs,
    })
}

#[cfg(not(any(unix, windows)))]
fn local(_secs: i64) -> Option<CivilTime> {
    None
}

/// How times are shown; `Local` on Unix, UTC elsewhere or where local time is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    Local,
    Utc,
}

impl Clock {
    /// Local time where the C library gives it (Unix, Windows).
    pub fn system() -> Clock {
        if cfg!(any(unix, windows)) {
            Clock::Local
        } else {
            Clock::Utc
        }
    }

    fn civil(self, micros: u64) -> CivilTime {
        let secs = i64::try_from(micros / 1_000_000).unwrap_or(i64::MAX / 2);
        match self {
            Clock::Local => local(secs).unwrap_or_else(|| utc(secs)),
            Clock::Utc => utc(secs),
        }
    }

    /// `YYYY-MM-DD HH:MM:SS`.
    pub fn format(self, micros: u64) -> String {
        let t = self.civil(micros);
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        )
    }

    /// Which clock the times are on, e.g. `local time, UTC+01:00`.
    fn describe(self, micros: u64) -> String {
        match self {
            Clock::Utc if cfg!(any(unix, windows)) => "UTC".into(),
            Clock::Utc => "UTC; local time is not available on this platform".into(),
            Clock::Local => {
                let offset = self.civil(micros).offset;
                let sign = if offset < 0 { '-' } else { '+' };
                let minutes = offset.abs() / 60;
                format!(
                    "local time, UTC{sign}{:02}:{:02}",
                    minutes / 60,
                    minutes % 60
                )
            }
        }
    }
}

/// Control characters (from a hand-edited record) must not reach the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn row(entry: &Entry, clock: Clock) -> [String; 6] {
    let time = entry
        .timestamp_micros
        .map_or_else(|| "?".to_string(), |ts| clock.format(ts));
    let app = format!("{} {}", entry.param("app_name"), entry.param("app_version"));
    [
        time,
        app.trim().to_string(),
        entry.name.clone(),
        entry.param("event_category"),
        entry.param("event_label"),
        entry.param("event_count"),
    ]
    .map(|cell| printable(&cell))
}

/// The notes about lines that were skipped or not read; empty when there are none.
pub fn notes(record: &Record) -> Vec<String> {
    let mut notes = Vec::new();
    if record.partial {
        notes
            .push("note: the record is larger than expected; only its newest part was read".into());
    }
    if record.skipped > 0 {
        let s = if record.skipped == 1 { "" } else { "s" };
        notes.push(format!(
            "note: {} line{s} of the record could not be read (damaged or not an event) and {} not shown",
            record.skipped,
            if s.is_empty() { "is" } else { "are" }
        ));
    }
    notes
}

/// The table, oldest first, then a summary line (or one clear line when there is nothing),
/// then the notes. `path` is the record's file, named in the output.
pub fn table(record: &Record, path: &Path, clock: Clock) -> String {
    let mut out = String::new();
    if record.entries.is_empty() {
        if record.exists {
            out.push_str(&format!(
                "Nothing to show: {} holds no readable event.\n",
                path.display()
            ));
        } else {
            out.push_str(&format!(
                "Nothing has been sent from this user account ({} does not exist).\n",
                path.display()
            ));
        }
    } else {
        let rows: Vec<[String; 6]> = record.entries.iter().map(|e| row(e, clock)).collect();
        let mut widths = HEADERS.map(|h| h.chars().count());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut line = |cells: &[String; 6]| {
            let mut text = String::new();
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                if i > 0 {
                    text.push_str(GAP);
                }
                text.push_str(cell);
                let pad = width.saturating_sub(cell.chars().count());
                text.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&HEADERS.map(String::from));
        for row in &rows {
            line(row);
        }
        let stamps: Vec<u64> = record
            .entries
            .iter()
            .filter_map(|e| e.timestamp_micros)
            .collect();
        let n = record.entries.len();
        let events = if n == 1 { "event" } else { "events" };
        match (stamps.first(), stamps.last()) {
            (Some(first), Some(last)) => out.push_str(&format!(
                "{n} {events} sent, first {}, last {} ({}).\n",
                clock.format(*first),
                clock.format(*last),
                clock.describe(*last),
            )),
            _ => out.push_str(&format!("{n} {events} sent, times unknown.\n")),
        }
        out.push_str(&format!(
            "Record: {} (the last 30 days, at most 1 MiB; opt_in_out --opt_out deletes it)\n",
            path.display()
        ));
    }
    for note in notes(record) {
        out.push_str(&note);
        out.push('\n');
    }
    out
}

/// One JSON object per event, oldest first: `name`, `params`, `timestamp_micros`, as sent.
pub fn json_lines(record: &Record) -> String {
    let mut out = String::new();
    for entry in &record.entries {
        out.push_str(&entry.to_json().to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(label: &str, ts: Option<u64>) -> Entry {
        let Ok(serde_json::Value::Object(params)) = serde_json::to_value(json!({
            "event_category": "cat",
            "event_label": label,
            "event_count": 3,
            "app_name": "tool",
            "app_version": "2.1",
        })) else {
            unreachable!()
        };
        Entry {
            name: "act".into(),
            params,
            timestamp_micros: ts,
        }
    }

    #[test]
    fn civil_dates_round_trip_and_match_known_instants() {
        assert_eq!(Clock::Utc.format(0), "1970-01-01 00:00:00");
        assert_eq!(
            Clock::Utc.format(1_700_000_000_123_456),
            "2023-11-14 22:13:20"
        );
        assert_eq!(
            Clock::Utc.format(951_782_400_000_000),
            "2000-02-29 00:00:00"
        );
        for days in [-800_000i64, -1, 0, 59, 10_957, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn the_table_has_one_row_per_event_a_summary_and_no_control_characters() {
        let record = Record {
            entries: vec![
                entry("first", Some(1_700_000_000_000_000)),
                entry("bell\u{7}\u{1b}[31m", Some(1_700_000_060_000_000)),
            ],
            skipped: 2,
            partial: false,
            exists: true,
        };
        let text = table(&record, Path::new("/x/sent.jsonl"), Clock::Utc);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "TIME                 APP       EVENT  CATEGORY  LABEL       VALUE"
        );
        assert_eq!(
            lines[1],
            "2023-11-14 22:13:20  tool 2.1  act    cat       first       3"
        );
        assert_eq!(
            lines[2],
            "2023-11-14 22:14:20  tool 2.1  act    cat       bell  [31m  3"
        );
        assert_eq!(
            lines[3],
            "2 events sent, first 2023-11-14 22:13:20, last 2023-11-14 22:14:20 (UTC)."
        );
        assert!(lines[4].starts_with("Record: /x/sent.jsonl (the last 30 days"));
        assert!(lines[5].contains("2 lines of the record could not be read"));
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn nothing_to_show_is_one_clear_line() {
        let missing = table(&Record::default(), Path::new("/x/r"), Clock::Utc);
        assert_eq!(
            missing,
            "Nothing has been sent from this user account (/x/r does not exist).\n"
        );
        let empty = Record {
            exists: true,
            ..Record::default()
        };
        assert!(table(&empty, Path::new("/x/r"), Clock::Utc).starts_with("Nothing to show"));
        assert_eq!(json_lines(&empty), "");
    }

    #[test]
    fn json_lines_are_the_events_as_sent() {
        let record = Record {
            entries: vec![entry("a", Some(5)), entry("b", None)],
            ..Record::default()
        };
        let text = json_lines(&record);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["name"], "act");
        assert_eq!(lines[0]["params"]["event_label"], "a");
        assert_eq!(lines[0]["timestamp_micros"], 5);
        assert!(lines[1].get("timestamp_micros").is_none());
    }
}
