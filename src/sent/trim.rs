//! Writing the record within its bounds: appending in place when the new lines are the
//! newest, merging them among the last lines, or re-sorting the whole record; dropping
//! what is older than 30 days, then the oldest until it holds at most 1 MiB.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::MAX_BYTES;
use crate::error::{Error, Result};
use crate::files;

/// New events older than the record's last lines are merged among them when they belong
/// within this many bytes of the end; further back, the whole record is re-sorted.
const TAIL_MERGE_BYTES: usize = 64 * 1024;
/// When a write must cut the record for size, it cuts it to this, so the appends that
/// follow are plain appends again for a while (not a rewrite of a full megabyte each).
pub(super) const TRIM_TO: usize = MAX_BYTES - MAX_BYTES / 8;
/// How much of each end of the record the append fast path looks at.
const END_PEEK: usize = 4096;
/// The key that ends every recorded line (`…,"timestamp_micros":N}`), as `WireEvent`
/// serialises it.
const STAMP_KEY: &[u8] = b",\"timestamp_micros\":";

/// The timestamp of a line this module wrote, found without parsing the whole line (a
/// full record is re-read at every append). `None` for anything else.
pub(super) fn stamp(line: &[u8]) -> Option<u64> {
    if !line.starts_with(b"{\"name\":") {
        return None;
    }
    let rest = line.strip_suffix(b"}")?;
    let at = rest
        .windows(STAMP_KEY.len())
        .rposition(|w| w == STAMP_KEY)?;
    let digits = &rest[at + STAMP_KEY.len()..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The usual write: the new lines go after the record's last one (they are newer), the
/// record stays within its bound, and its first line is younger than 30 days: then they
/// are appended (`O_APPEND`, under the directory lock) and only the record's two ends are
/// read. False when a rewrite is needed (or there is no record yet).
pub(super) fn append_in_place(path: &Path, new: &[(u64, &[u8])], oldest: u64) -> Result<bool> {
    let Some(&(first_new, _)) = new.first() else {
        return Ok(true);
    };
    let Some((mut file, len)) = files::open_regular(path)? else {
        return Ok(false);
    };
    let added: usize = new.iter().map(|(_, l)| l.len() + 1).sum();
    if len == 0 || len as usize + added > MAX_BYTES {
        return Ok(false);
    }
    let io = |e| Error::io("append to", path, e);
    let mut head = vec![0u8; END_PEEK.min(len as usize)];
    file.read_exact(&mut head).map_err(io)?;
    let first_fresh = head
        .split(|b| *b == b'\n')
        .next()
        .and_then(stamp)
        .is_some_and(|ts| ts >= oldest);
    let tail_len = END_PEEK.min(len as usize);
    file.seek(SeekFrom::Start(len - tail_len as u64))
        .map_err(io)?;
    let mut tail = vec![0u8; tail_len];
    file.read_exact(&mut tail).map_err(io)?;
    let last_before_new = tail
        .strip_suffix(b"\n")
        .and_then(|body| body.rsplit(|b| *b == b'\n').next())
        .and_then(stamp)
        .is_some_and(|ts| ts <= first_new);
    if !(first_fresh && last_before_new) {
        return Ok(false);
    }
    let mut text = Vec::with_capacity(added);
    for (_, line) in new {
        text.extend_from_slice(line);
        text.push(b'\n');
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    let mut appender = options.open(path).map_err(io)?;
    std::io::Write::write_all(&mut appender, &text).map_err(io)?;
    Ok(true)
}

/// Every write leaves the record sorted by time, valid lines only. So in the usual case the
/// new events belong at the end, or among the last few lines (several threads stamp events
/// a few microseconds apart), and the lines to drop (too old, or too many bytes) are all
/// at the front: only those ends are looked at, the rest is copied as it is, and the lock
/// is held for a read and a write of the file, not for parsing a megabyte. `None` when the
/// record's end is not such a line (torn, foreign), or the new events belong further back
/// than [`TAIL_MERGE_BYTES`]: then [`merge_all`] sorts everything.
pub(super) fn append_sorted<'a>(
    old: &'a [u8],
    new: &[(u64, &'a [u8])],
    oldest: u64,
) -> Option<Vec<&'a [u8]>> {
    let first_new = new.first()?.0;
    // The old lines from `split` on are newer than the oldest new line: merged with them.
    let mut split = old.len();
    if !old.is_empty() {
        let body = old.strip_suffix(b"\n")?;
        let mut end = body.len();
        loop {
            let start = body[..end]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            if stamp(&body[start..end])? <= first_new {
                break;
            }
            split = start;
            if start == 0 || old.len() - split > TAIL_MERGE_BYTES {
                break;
            }
            end = start - 1;
        }
        if old.len() - split > TAIL_MERGE_BYTES {
            return None;
        }
    }
    let mut tail: Vec<(u64, &[u8])> = old[split..]
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        // Every one of them was stamped by the loop above.
        .filter_map(|line| stamp(line).map(|ts| (ts, line)))
        .chain(new.iter().copied())
        .collect();
    tail.sort_by_key(|(ts, _)| *ts);
    let tail_bytes: usize = tail.iter().map(|(_, l)| l.len() + 1).sum();
    let limit = if split + tail_bytes > MAX_BYTES {
        TRIM_TO
    } else {
        MAX_BYTES
    };
    let budget = limit.checked_sub(tail_bytes)?;
    let mut start = 0;
    while start < split {
        let end = old[start..split]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(split, |i| start + i + 1);
        let line = &old[start..end - 1];
        if split - start <= budget && stamp(line).is_some_and(|ts| ts >= oldest) {
            break;
        }
        start = end;
    }
    let mut pieces = Vec::with_capacity(1 + 2 * tail.len());
    pieces.push(&old[start..split]);
    for (_, line) in tail {
        pieces.push(line);
        pieces.push(b"\n".as_slice());
    }
    Some(pieces)
}

/// Keeps the valid lines not older than `oldest`, sorted by time (stable: the old lines
/// first), then drops the oldest until the bound holds.
pub(super) fn merge_all<'a>(old: &'a [u8], new: &[(u64, &'a [u8])], oldest: u64) -> Vec<&'a [u8]> {
    let mut kept: Vec<(u64, &[u8])> = old
        .split(|b| *b == b'\n')
        .filter_map(|line| stamp(line).map(|ts| (ts, line)))
        .filter(|(ts, _)| *ts >= oldest)
        .chain(new.iter().copied())
        .collect();
    kept.sort_by_key(|(ts, _)| *ts);
    let mut total: usize = kept.iter().map(|(_, l)| l.len() + 1).sum();
    let limit = if total > MAX_BYTES {
        TRIM_TO
    } else {
        MAX_BYTES
    };
    let mut skip = 0;
    while total > limit && skip < kept.len() {
        total -= kept[skip].1.len() + 1;
        skip += 1;
    }
    let mut pieces = Vec::with_capacity(2 * (kept.len() - skip));
    for (_, line) in &kept[skip..] {
        pieces.push(*line);
        pieces.push(b"\n".as_slice());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::super::tests::{accepted, common, event, labels};
    use super::super::{append, now_micros, read, SENT_FILE};
    use super::*;
    use crate::event::{self, Event};
    use std::fs;

    #[test]
    fn entries_older_than_30_days_are_cut_at_the_next_write() {
        let dir = accepted();
        let common = common(&dir);
        let now = now_micros();
        let day = 24 * 3600 * 1_000_000u64;
        let old = [
            event("31 days", now - 31 * day),
            event("29 days", now - 29 * day),
        ];
        // Written as another run left them (no cut happens at read).
        let text = event::wire_events_json(&common, &old).join("\n") + "\n";
        fs::write(dir.join(SENT_FILE), text).unwrap();
        assert_eq!(labels(&dir), ["31 days", "29 days"]);
        append(&dir, &common, &[event("now", now)]).unwrap();
        assert_eq!(labels(&dir), ["29 days", "now"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_record_past_1_mib_is_cut_to_its_newest_part_at_the_next_write() {
        let dir = accepted();
        let common = common(&dir);
        let now = now_micros();
        let label = "x".repeat(100);
        let many: Vec<Event> = (0..8000)
            .map(|i| event(&format!("{i:04}{label}"), now - 10_000 + i))
            .collect();
        let lines = event::wire_events_json(&common, &many);
        let text = lines.join("\n") + "\n";
        assert!(text.len() > 2 * MAX_BYTES, "{}", text.len());
        fs::write(dir.join(SENT_FILE), &text).unwrap();
        let record = read(&dir).unwrap();
        assert!(record.partial);
        assert_eq!(
            record.skipped, 0,
            "the cut first line is dropped, not shown"
        );
        append(&dir, &common, &[event("newest", now)]).unwrap();
        let kept = fs::read_to_string(dir.join(SENT_FILE)).unwrap();
        assert!(kept.len() <= MAX_BYTES, "{}", kept.len());
        assert!(
            kept.len() > TRIM_TO - 1000,
            "cut to the trim size, not further: {}",
            kept.len()
        );
        let kept: Vec<&str> = kept.lines().collect();
        assert!(kept.last().unwrap().contains("\"newest\""));
        // The newest of the old lines are kept, in order, none twice.
        let old = &kept[..kept.len() - 1];
        assert_eq!(old, &lines[lines.len() - old.len()..]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn out_of_order_batches_are_stored_oldest_first() {
        let dir = accepted();
        let common = common(&dir);
        let now = now_micros();
        append(&dir, &common, &[event("b", now - 5)]).unwrap();
        // Spooled in an earlier run, delivered later.
        append(&dir, &common, &[event("a", now - 100)]).unwrap();
        append(&dir, &common, &[event("c", now)]).unwrap();
        // Stamped by two threads a few microseconds apart: merged among the last lines.
        append(&dir, &common, &[event("d", now - 3), event("e", now + 1)]).unwrap();
        let text = fs::read_to_string(dir.join(SENT_FILE)).unwrap();
        let order: Vec<u64> = text.lines().map(|l| stamp(l.as_bytes()).unwrap()).collect();
        assert_eq!(order, [now - 100, now - 5, now - 3, now, now + 1]);
        assert_eq!(labels(&dir), ["a", "b", "d", "c", "e"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_torn_or_foreign_end_is_cleaned_by_the_next_write() {
        let dir = accepted();
        let common = common(&dir);
        let now = now_micros();
        append(&dir, &common, &[event("a", now - 10)]).unwrap();
        let mut text = fs::read(dir.join(SENT_FILE)).unwrap();
        text.extend_from_slice(b"{\"name\":\"torn\",\"par");
        fs::write(dir.join(SENT_FILE), &text).unwrap();
        append(&dir, &common, &[event("b", now)]).unwrap();
        assert_eq!(labels(&dir), ["a", "b"]);
        let text = fs::read_to_string(dir.join(SENT_FILE)).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn stamp_reads_only_lines_of_the_record_format() {
        assert_eq!(
            stamp(br#"{"name":"a","params":{},"timestamp_micros":12}"#),
            Some(12)
        );
        assert_eq!(stamp(br#"{"name":"a","timestamp_micros":}"#), None);
        assert_eq!(stamp(br#"{"name":"a","timestamp_micros":-1}"#), None);
        assert_eq!(stamp(br#"{"x":1,"timestamp_micros":12}"#), None);
        assert_eq!(stamp(b"garbage"), None);
    }
}
