//! The stored decision: `<config dir>/openvino_telemetry`, read as the Python client reads
//! it, written atomically, changed the way `opt_in_out` changes it.

use std::path::Path;
use std::time::Duration;

use super::Consent;
use crate::error::{Error, Result};
use crate::{files, identity};

pub const CONSENT_FILE: &str = "openvino_telemetry";
const CONSENT_READ_LIMIT: usize = 4096;

/// Reads the stored decision. The second value explains a file that counts as declined
/// because it is empty, malformed or unreadable. A file that reads as neither `1` nor `0`
/// is re-read for a moment first (the Python client rewrites it in place:
/// [`files::SETTLE_WAIT`]). A decline found here removes this library's own files, which
/// a Python opt-out does not know about.
pub fn read(dir: &Path) -> (Consent, Option<String>) {
    let read = read_settled(dir, files::SETTLE_WAIT);
    // Only a plain `0`: a file that stays unreadable may be a stalled rewrite.
    if read == (Consent::Declined, None) {
        crate::store::observe(dir, read.0);
    }
    read
}

/// [`read`] with a given wait for a file being rewritten, and nothing deleted.
pub fn read_settled(dir: &Path, settle: Duration) -> (Consent, Option<String>) {
    let path = dir.join(CONSENT_FILE);
    match files::read_settled(&path, CONSENT_READ_LIMIT, settle, |b| parse(b).is_some()) {
        Ok(None) => (Consent::Undecided, None),
        Ok(Some(bytes)) => parse(&bytes).map_or_else(
            || {
                let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(16)]).into_owned();
                (
                    Consent::Declined,
                    Some(format!(
                        "{} holds {shown:?}, neither 1 nor 0: treated as declined",
                        path.display()
                    )),
                )
            },
            |consent| (consent, None),
        ),
        Err(e) => {
            // A directory that does not exist yet holds no decision.
            if let Error::Io { source, .. } = &e {
                if source.kind() == std::io::ErrorKind::NotFound {
                    return (Consent::Undecided, None);
                }
            }
            (Consent::Declined, Some(format!("{e}: treated as declined")))
        }
    }
}

/// `1` → accepted, `0` → declined, reading the file as the Python client does: UTF-8 text
/// (invalid UTF-8 decides nothing), its first line (`\n`, `\r\n` or a lone `\r` ends it),
/// stripped of Python's whitespace (Unicode White_Space and U+001C–U+001F).
pub fn parse(bytes: &[u8]) -> Option<Consent> {
    let text = std::str::from_utf8(bytes).ok()?;
    let first_line = text.split(['\n', '\r']).next().unwrap_or_default();
    let python_space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
    match first_line.trim_matches(python_space) {
        "1" => Some(Consent::Accepted),
        "0" => Some(Consent::Declined),
        _ => None,
    }
}

/// Writes the bare decision (`1` or `0`, no newline, like the Python client).
pub fn write(dir: &Path, accepted: bool) -> Result<()> {
    files::ensure_dir(dir)?;
    files::write_atomic(dir, CONSENT_FILE, if accepted { b"1" } else { b"0" })
}

/// Changes the decision the way `opt_in_out` does. Accepting writes `1` and a new client
/// id; declining writes `0` first, then deletes the client id (both names), `stats` and
/// everything kept on disk. Returns the decision that was stored before. Taken under the
/// directory lock when it can be had within a second (an init in progress then sees the
/// change whole); the user's decision is applied even when it cannot.
pub fn set(dir: &Path, accepted: bool) -> Result<Consent> {
    let (previous, _) = read_settled(dir, files::SETTLE_WAIT);
    files::ensure_dir(dir)?;
    let _lock = files::DirLock::acquire(dir, files::STATS_LOCK_WAIT).ok();
    write(dir, accepted)?;
    crate::store::consent_changed_here(dir);
    if accepted {
        identity::regenerate(dir)?;
    } else {
        crate::store::forget_everything_but_the_decision(dir)?;
    }
    Ok(previous)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{spool, stats};
    use std::fs;

    #[test]
    fn parse_reads_the_first_line_trimmed() {
        assert_eq!(parse(b"1"), Some(Consent::Accepted));
        assert_eq!(parse(b" 1 \r\nanything"), Some(Consent::Accepted));
        assert_eq!(parse(b"0\n"), Some(Consent::Declined));
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"yes"), None);
        assert_eq!(parse(b"\n1"), None);
        assert_eq!(parse(b"10"), None);
        assert_eq!(
            parse(b"1\r0"),
            Some(Consent::Accepted),
            "a lone CR ends the line"
        );
        assert_eq!(
            parse(b"1\n\xff"),
            None,
            "invalid UTF-8 anywhere decides nothing"
        );
        assert_eq!(parse("\u{a0}1\u{2003}".as_bytes()), Some(Consent::Accepted));
    }

    #[test]
    fn file_states_map_to_decisions() {
        let dir = tempfile::tempdir().unwrap().keep();
        assert_eq!(read(&dir), (Consent::Undecided, None));
        assert_eq!(
            read(&dir.join("missing-subdir")),
            (Consent::Undecided, None)
        );
        fs::write(dir.join(CONSENT_FILE), "1").unwrap();
        assert_eq!(read(&dir), (Consent::Accepted, None));
        fs::write(dir.join(CONSENT_FILE), "0").unwrap();
        assert_eq!(read(&dir), (Consent::Declined, None));
        for bad in ["", "2", "true", "\u{0}"] {
            fs::write(dir.join(CONSENT_FILE), bad).unwrap();
            let (consent, warning) = read(&dir);
            assert_eq!(consent, Consent::Declined, "{bad:?}");
            assert!(warning.unwrap().contains("neither 1 nor 0"));
        }
        fs::remove_file(dir.join(CONSENT_FILE)).unwrap();
        fs::create_dir(dir.join(CONSENT_FILE)).unwrap();
        let (consent, warning) = read(&dir);
        assert_eq!(consent, Consent::Declined);
        assert!(warning.unwrap().contains("not a regular file"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn set_accept_makes_new_ids_and_decline_forgets_everything() {
        let dir = tempfile::tempdir().unwrap().keep();
        assert_eq!(set(&dir, true).unwrap(), Consent::Undecided);
        let first = identity::peek(&dir).unwrap();
        stats::record_usage(&dir).unwrap();
        assert_eq!(set(&dir, true).unwrap(), Consent::Accepted);
        let second = identity::peek(&dir).unwrap();
        assert_ne!(first, second);
        fs::write(dir.join(identity::LEGACY_CLIENT_ID_FILE), &first).unwrap();
        fs::write(dir.join(spool::SPOOL_FILE), "{}\n").unwrap();
        assert_eq!(set(&dir, false).unwrap(), Consent::Accepted);
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec![CONSENT_FILE.to_string()]);
        assert_eq!(fs::read_to_string(dir.join(CONSENT_FILE)).unwrap(), "0");
        assert_eq!(read(&dir).0, Consent::Declined);
        fs::remove_dir_all(dir).unwrap();
    }
}
