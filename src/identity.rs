//! The client id shared with the Python client: `openvino_ga_cid` (a UUID v4 string, no
//! newline), with the legacy name `openvino_ga_uid` read and migrated when the new one is
//! missing. A new id is made at every opt-in; opt-out deletes both names.

use std::path::Path;

use crate::error::Result;
use crate::files;

pub const CLIENT_ID_FILE: &str = "openvino_ga_cid";
pub const LEGACY_CLIENT_ID_FILE: &str = "openvino_ga_uid";

/// A client id file is a UUID, nothing more; anything larger is not one.
const ID_READ_LIMIT: usize = 256;

/// A fresh random UUID, version 4, lowercase, hyphenated: what Python's
/// `str(uuid.uuid4())` writes. The bytes come from the operating system; if it fails, from
/// [`files::random_u32`]'s fallback, so this never panics (`Uuid::new_v4` would).
pub fn new_uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        for chunk in bytes.chunks_mut(4) {
            chunk.copy_from_slice(&files::random_u32().to_ne_bytes());
        }
    }
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// True for the 8-4-4-4-12 hexadecimal form (either case, any version), which is what
/// both clients write. The other forms the `uuid` crate parses (braced, URN, 32 bare
/// digits) have other lengths and are refused.
pub fn is_valid_uuid(text: &str) -> bool {
    text.len() == uuid::fmt::Hyphenated::LENGTH && uuid::Uuid::try_parse(text).is_ok()
}

fn is_valid_id_file(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| is_valid_uuid(text.trim()))
}

/// The id in `dir/name`; a file found empty or invalid is re-read for a moment first
/// (the Python client rewrites it in place), so only a file that stays invalid is.
fn read_id(dir: &Path, name: &str) -> Option<String> {
    read_id_within(dir, name, files::SETTLE_WAIT)
}

fn read_id_within(dir: &Path, name: &str, settle: std::time::Duration) -> Option<String> {
    let bytes =
        files::read_settled(&dir.join(name), ID_READ_LIMIT, settle, is_valid_id_file).ok()??;
    let text = String::from_utf8(bytes).ok()?;
    let id = text.trim();
    is_valid_uuid(id).then(|| id.to_string())
}

/// The current client id, if a valid one is stored (legacy name included). Never writes.
pub fn peek(dir: &Path) -> Option<String> {
    read_id(dir, CLIENT_ID_FILE).or_else(|| read_id(dir, LEGACY_CLIENT_ID_FILE))
}

/// What the client id file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdState {
    Valid(String),
    /// Missing, or unreadable (a link, a directory).
    Missing,
    /// Present but empty or invalid after the wait: being rewritten, or broken.
    Invalid,
}

/// The id under the current name only, re-reading a file being rewritten for at most
/// `settle` (the gate's check: a handle's id must still be the one on disk).
pub fn read_state(dir: &Path, settle: std::time::Duration) -> IdState {
    match files::read_settled(
        &dir.join(CLIENT_ID_FILE),
        ID_READ_LIMIT,
        settle,
        is_valid_id_file,
    ) {
        Ok(Some(bytes)) => match std::str::from_utf8(&bytes).map(str::trim) {
            Ok(id) if is_valid_uuid(id) => IdState::Valid(id.to_owned()),
            _ => IdState::Invalid,
        },
        Ok(None) | Err(_) => IdState::Missing,
    }
}

/// The client id to use: the stored one, the legacy one migrated to the new name, or a new
/// one when neither is valid. Called under the directory lock ([`crate::store::open`]). A
/// missing id is created without replacing one that appears meanwhile (the Python client
/// does not take our lock): two creators end with one id. Only a file that stays invalid
/// is replaced.
///
/// Returns the id and whether it is new (neither file held a valid one).
pub fn load_or_create(dir: &Path) -> Result<(String, bool)> {
    if let Some(id) = read_id(dir, CLIENT_ID_FILE) {
        return Ok((id, false));
    }
    let legacy = read_id(dir, LEGACY_CLIENT_ID_FILE);
    let created = legacy.is_none();
    let id = legacy.unwrap_or_else(new_uuid_v4);
    if files::write_new(dir, CLIENT_ID_FILE, id.as_bytes())? {
        return Ok((id, created));
    }
    // Something is there: the id another client just created, or a broken file.
    if let Some(theirs) = read_id(dir, CLIENT_ID_FILE) {
        return Ok((theirs, false));
    }
    // Still empty: a writer stalled between truncating and writing (the Python client
    // writes in place); its id is on the way, and replacing it would split the user in
    // two. Only content that is really not an id is replaced.
    if files::read_limited(&dir.join(CLIENT_ID_FILE), ID_READ_LIMIT)
        .is_ok_and(|b| b.is_some_and(|b| b.iter().all(u8::is_ascii_whitespace)))
    {
        return Err(crate::Error::io(
            "read",
            dir.join(CLIENT_ID_FILE),
            std::io::Error::other("it stays empty: another client is writing it"),
        ));
    }
    files::write_atomic(dir, CLIENT_ID_FILE, id.as_bytes())?;
    Ok((id, created))
}

/// Writes a new client id (used at every opt-in).
pub fn regenerate(dir: &Path) -> Result<String> {
    let id = new_uuid_v4();
    files::write_atomic(dir, CLIENT_ID_FILE, id.as_bytes())?;
    Ok(id)
}

/// Deletes the client id under both names.
pub fn forget(dir: &Path) -> Result<()> {
    files::remove(dir, CLIENT_ID_FILE)?;
    files::remove(dir, LEGACY_CLIENT_ID_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn uuid_v4_has_version_and_variant_bits_and_differs() {
        let a = new_uuid_v4();
        let b = new_uuid_v4();
        assert!(is_valid_uuid(&a), "{a}");
        assert_ne!(a, b);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_eq!(a, a.to_lowercase());
    }

    #[test]
    fn validation_rejects_near_misses() {
        assert!(is_valid_uuid("B05EF51D-3610-4440-BCE3-6140BE6D302C"));
        // Any version and variant, as before: only the form is checked.
        assert!(is_valid_uuid("00000000-0000-0000-0000-000000000000"));
        assert!(is_valid_uuid("b05ef51d-3610-1440-7ce3-6140be6d302c"));
        assert!(!is_valid_uuid("b05ef51d36104440bce36140be6d302c"));
        assert!(!is_valid_uuid("{b05ef51d-3610-4440-bce3-6140be6d302c}"));
        assert!(!is_valid_uuid(
            "urn:uuid:b05ef51d-3610-4440-bce3-6140be6d302c"
        ));
        assert!(!is_valid_uuid("b05ef51d-3610-4440-bce36-140be6d302c"));
        assert!(!is_valid_uuid(" b05ef51d-3610-4440-bce3-6140be6d302"));
        assert!(!is_valid_uuid("b05ef51d-3610-4440-bce3-6140be6d302"));
        assert!(!is_valid_uuid("b05ef51d+3610-4440-bce3-6140be6d302c"));
        assert!(!is_valid_uuid("g05ef51d-3610-4440-bce3-6140be6d302c"));
        assert!(!is_valid_uuid(""));
    }

    #[test]
    fn invalid_id_is_regenerated_and_legacy_is_migrated() {
        let dir = tempfile::tempdir().unwrap().keep();
        fs::write(dir.join(CLIENT_ID_FILE), "not-a-uuid").unwrap();
        let id = load_or_create(&dir).unwrap().0;
        assert!(is_valid_uuid(&id));
        assert_eq!(fs::read_to_string(dir.join(CLIENT_ID_FILE)).unwrap(), id);

        let legacy = "b05ef51d-3610-4440-bce3-6140be6d302c";
        fs::remove_file(dir.join(CLIENT_ID_FILE)).unwrap();
        fs::write(dir.join(LEGACY_CLIENT_ID_FILE), format!("{legacy}\n")).unwrap();
        assert_eq!(peek(&dir).as_deref(), Some(legacy));
        assert_eq!(load_or_create(&dir).unwrap().0, legacy);
        assert_eq!(
            fs::read_to_string(dir.join(CLIENT_ID_FILE)).unwrap(),
            legacy
        );
        // The stored id is kept from then on.
        assert_eq!(load_or_create(&dir).unwrap().0, legacy);
        forget(&dir).unwrap();
        assert!(!dir.join(CLIENT_ID_FILE).exists());
        assert!(!dir.join(LEGACY_CLIENT_ID_FILE).exists());
        assert!(peek(&dir).is_none());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn regenerate_makes_a_new_id() {
        let dir = tempfile::tempdir().unwrap().keep();
        let first = load_or_create(&dir).unwrap().0;
        let second = regenerate(&dir).unwrap();
        assert_ne!(first, second);
        assert_eq!(load_or_create(&dir).unwrap().0, second);
        fs::remove_dir_all(dir).unwrap();
    }
}
