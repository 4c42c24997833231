//! What `opt_in_out` prints: `--show`, the sent record ([`crate::sent`]) as a table for
//! people or as JSON lines for scripts (times in `clock`), and `--status` (`status`).

use std::path::Path;

use crate::sent::{Entry, Record};

mod clock;
mod status;

pub use clock::Clock;
pub use status::status;

/// The table's columns, in order.
const HEADERS: [&str; 6] = ["TIME", "APP", "EVENT", "CATEGORY", "LABEL", "VALUE"];
const GAP: &str = "  ";

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
