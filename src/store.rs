//! The one owner of the shared directory's rules (DESIGN §3a).
//!
//! Every write a handle makes in the config directory goes through here, under one check:
//! the decision file says `1` **and** the client id on disk is the one the handle started
//! with ([`Gate::allows`]). What each writer does:
//!
//! | who | writes | under |
//! |---|---|---|
//! | init ([`open`]) | client id (only if missing or invalid), `stats` (once per process and directory) | the directory lock, consent re-read under it |
//! | worker, before each request | nothing; sends only if the gate allows, else the handle is withdrawn | the gate |
//! | worker / shutdown, hand-off ([`Keeper::keep`]) | the handle's own pending file, replaced by rename | the gate before *and after* the rename, no lock |
//! | opt-out (any process) | `0` first, then deletes the rest | the lock when it can be had |
//!
//! Why the check after the rename is enough without the lock: an opt-out writes `0`, then
//! lists and deletes. If our re-check still saw `1`, the `0` came later, so its listing
//! sees our file and deletes it; if it saw anything else, we delete the file ourselves.
//! Either way nothing is left beside a `0`.
//!
//! What a crash leaves: during init, at most a client id or a usage count (both valid
//! files, written atomically); during a hand-off, a temporary file (`.name.tmp`, ignored)
//! or a complete pending file; between writing a hand-off and deleting the claimed files
//! it replaces, both (the only duplicates on disk).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::consent::{self, Consent};
use crate::event::Event;
use crate::files::{self, DirLock};
use crate::{identity, spool, stats};

/// Bumped by every consent change this process makes (`set_consent`, `opt_in_out`), so
/// its own handles notice at once, without reading a file on the send path.
static CONSENT_EPOCH: AtomicU64 = AtomicU64::new(0);

/// The current consent epoch of this process.
pub fn consent_epoch() -> u64 {
    CONSENT_EPOCH.load(Ordering::Acquire)
}

/// The directories whose decision this process changed, with the epoch of the last change.
static CHANGED: Mutex<Vec<(PathBuf, u64)>> = Mutex::new(Vec::new());

/// `dir` as handles compare it (canonical when it exists).
pub fn canonical(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Records that this process changed the decision in `dir`.
pub fn consent_changed_here(dir: &Path) {
    let dir = canonical(dir);
    let mut changed = CHANGED.lock().unwrap_or_else(|e| e.into_inner());
    let epoch = CONSENT_EPOCH.fetch_add(1, Ordering::AcqRel) + 1;
    match changed.iter_mut().find(|(d, _)| *d == dir) {
        Some(entry) => entry.1 = epoch,
        None => changed.push((dir, epoch)),
    }
}

/// Whether this process changed the decision in `canonical_dir` after `epoch`. Asked only
/// when the process-wide epoch moved, so the send path stays two atomic loads.
pub fn changed_since(canonical_dir: &Path, epoch: u64) -> bool {
    CHANGED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|(d, e)| *e > epoch && d == canonical_dir)
}

/// Whether a handle may still send and write: the decision says `1` and the client id on
/// disk is the handle's. A withdrawn consent or a new identity closes it for good.
///
/// One exception keeps a user from being split in two: when this handle created the id
/// and another client (the Python one takes no lock) wrote its own id over it meanwhile,
/// with the decision file untouched since init (so no opt-out and opt-in happened), the
/// handle adopts the id on disk.
pub struct Gate {
    dir: PathBuf,
    state: Mutex<GateState>,
}

struct GateState {
    client_id: String,
    /// This handle created `client_id` (it was missing).
    created_here: bool,
    /// The decision file's identity at init.
    decision_at_init: Option<FileId>,
    /// The files' identities when they were last found to allow: unchanged files need no
    /// re-read, so the check before a request costs two `stat`s.
    allowed: Option<[Option<FileId>; 2]>,
}

type FileId = (u64, Option<SystemTime>, u64);

fn file_id(path: &Path) -> Option<FileId> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    Some((meta.len(), meta.modified().ok(), inode))
}

fn fingerprint(dir: &Path) -> [Option<FileId>; 2] {
    [
        file_id(&dir.join(consent::CONSENT_FILE)),
        file_id(&dir.join(identity::CLIENT_ID_FILE)),
    ]
}

impl Gate {
    pub fn new(dir: &Path, client_id: &str, created_here: bool) -> Gate {
        let now = fingerprint(dir);
        Gate {
            dir: dir.to_path_buf(),
            state: Mutex::new(GateState {
                client_id: client_id.to_owned(),
                created_here,
                decision_at_init: now[0],
                allowed: Some(now).filter(|f| f.iter().all(Option::is_some)),
            }),
        }
    }

    /// The client id to send and keep under (it changes only by adoption, see above).
    pub fn client_id(&self) -> String {
        self.lock().client_id.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when the decision file says `1` and the client id file holds this handle's
    /// id. A file found empty or half-written (another client rewriting it in place) is
    /// re-read for at most `settle`; a client id file that is still being rewritten then
    /// (the Python client rewrites it in place, even with the same id) is no withdrawal —
    /// only another valid id, or none, is. The files are read without holding the gate's
    /// lock, so a hand-off on the host's thread never waits for the worker's reads.
    pub fn allows(&self, settle: Duration) -> bool {
        let before = fingerprint(&self.dir);
        {
            let state = self.lock();
            if before.iter().all(Option::is_some) && state.allowed == Some(before) {
                return true;
            }
        }
        if consent::read_settled(&self.dir, settle).0 != Consent::Accepted {
            self.lock().allowed = None;
            return false;
        }
        let on_disk = match identity::read_state(&self.dir, settle) {
            identity::IdState::Valid(id) => id,
            // Being rewritten: the decision says `1`; nothing tells of another identity.
            identity::IdState::Invalid => {
                self.lock().allowed = None;
                return true;
            }
            identity::IdState::Missing => {
                self.lock().allowed = None;
                return false;
            }
        };
        let mut state = self.lock();
        if on_disk != state.client_id {
            let untouched = state.decision_at_init.is_some()
                && file_id(&self.dir.join(consent::CONSENT_FILE)) == state.decision_at_init;
            if !(state.created_here && untouched) {
                state.allowed = None;
                return false;
            }
            state.client_id = on_disk;
            state.created_here = false;
        }
        state.allowed = Some(before).filter(|f| f.iter().all(Option::is_some));
        true
    }
}

/// What init found and did in the directory, consent re-checked under the lock.
pub struct Opened {
    pub client_id: String,
    /// The id was missing and this init created it.
    pub created: bool,
    pub usage_count: Option<u64>,
    /// Degradations worth telling (`Telemetry::reason`).
    pub notes: Vec<String>,
}

/// Processes × directories whose usage was counted: one process is one usage, however
/// many handles it opens (DESIGN §7). The pid keys out a forked child, a new process.
static COUNTED: Mutex<Vec<(u32, PathBuf)>> = Mutex::new(Vec::new());

fn first_use_here(dir: &Path) -> bool {
    let key = (
        std::process::id(),
        std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
    );
    let mut counted = COUNTED.lock().unwrap_or_else(|e| e.into_inner());
    if counted.contains(&key) {
        return false;
    }
    counted.push(key);
    true
}

/// Forgets that this process counted a usage in `dir` (a failed count may be retried).
fn unmark_use(dir: &Path) {
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let pid = std::process::id();
    COUNTED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(p, d)| !(*p == pid && *d == canonical));
}

/// At init with consent: the client id (created only when missing or invalid) and the
/// usage count (counted once per process), under the directory lock with the decision
/// re-read under it. `Err` is the reason the handle must stay disabled.
pub fn open(dir: &Path) -> Result<Opened, String> {
    let lock = DirLock::acquire(dir, files::STATS_LOCK_WAIT);
    let Ok(_lock) = lock else {
        // Busy for a whole second (a hung process, a debugger): use the existing id without
        // counting; never create one without the lock.
        let why = lock.err().map(|e| e.to_string()).unwrap_or_default();
        return match (
            consent::read_settled(dir, files::SETTLE_WAIT).0,
            identity::peek(dir),
        ) {
            (Consent::Accepted, Some(client_id)) => Ok(Opened {
                usage_count: stats::read_usage(dir),
                client_id,
                created: false,
                notes: vec![format!("usage statistics unavailable: {why}")],
            }),
            (Consent::Accepted, None) => Err(format!("no client id, and {why}")),
            _ => Err("consent was withdrawn while this tool started".to_owned()),
        };
    };
    if consent::read_settled(dir, files::SETTLE_WAIT).0 != Consent::Accepted {
        return Err("consent was withdrawn while this tool started".to_owned());
    }
    let (client_id, created) =
        identity::load_or_create(dir).map_err(|e| format!("no client id: {e}"))?;
    let mut notes = Vec::new();
    // A client that takes no lock (the Python one) may opt out meanwhile: re-read after
    // the writes below, and undo them if the decision is no longer `1`.
    let withdrawn_meanwhile = |dir: &Path| {
        if consent::read_settled(dir, files::SETTLE_WAIT).0 == Consent::Accepted {
            return false;
        }
        let _ = forget_everything_but_the_decision(dir);
        true
    };
    let usage_count = if first_use_here(dir) {
        match stats::record_usage_locked(dir) {
            Ok(usage) => {
                if let Some(warning) = usage.warning {
                    notes.push(format!("stats restarted: {warning}"));
                }
                Some(usage.count)
            }
            Err(e) => {
                unmark_use(dir);
                notes.push(format!("usage statistics unavailable: {e}"));
                None
            }
        }
    } else {
        stats::read_usage(dir)
    };
    if withdrawn_meanwhile(dir) {
        return Err("consent was withdrawn while this tool started".to_owned());
    }
    Ok(Opened {
        client_id,
        created,
        usage_count,
        notes,
    })
}

/// The result of a hand-off to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// On disk for a later run.
    OnDisk,
    /// Consent is withdrawn (or the identity changed): dropped, nothing written.
    Withdrawn,
    /// The file could not be written (a full disk, say).
    Failed,
}

/// A handle's pending file: what it could not deliver, kept for a later run.
pub struct Keeper {
    gate: Arc<Gate>,
    name: String,
    /// What the file holds (in time order); the lock serialises the worker's and the
    /// host's hand-offs.
    kept: Mutex<Vec<Event>>,
}

impl Keeper {
    pub fn new(gate: Arc<Gate>) -> Keeper {
        let name = spool::new_pending_name();
        spool::register_live(&name);
        Keeper {
            gate,
            name,
            kept: Mutex::new(Vec::new()),
        }
    }

    /// Adds `events` to the handle's pending file (replaced atomically, without the
    /// directory lock), if and only if the gate allows before and after the rename (see
    /// the module documentation).
    pub fn keep(&self, events: &[Event], settle: Duration) -> Kept {
        if events.is_empty() {
            return Kept::OnDisk;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if !self.gate.allows(settle) {
            return Kept::Withdrawn;
        }
        let before = kept.len();
        kept.extend(events.iter().cloned());
        kept.sort_by_key(|e| e.timestamp_micros);
        let text = spool::render_bounded(&mut kept, &self.gate.client_id());
        if files::write_atomic(&self.gate.dir, &self.name, &text).is_err() {
            // The file still holds what it held; so must our copy.
            let _ = before;
            kept.retain(|e| !events.contains(e));
            return Kept::Failed;
        }
        if !self.gate.allows(settle) {
            let _ = files::remove(&self.gate.dir, &self.name);
            kept.clear();
            return Kept::Withdrawn;
        }
        Kept::OnDisk
    }

    /// The handle is done: a later init, in this process too, may claim the file.
    pub fn close(&self) {
        spool::unregister_live(&self.name);
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.close();
    }
}

/// Deletes what only this library keeps (pending events, and the records of later
/// versions' features), which the Python client's opt-out does not know about.
pub fn forget_own_files(dir: &Path) {
    let _ = spool::discard(dir);
    let _ = crate::sent::forget(dir);
    crate::crash::discard_records(dir);
}

/// Deletes everything but the decision: client id, usage statistics, and our own files.
pub fn forget_everything_but_the_decision(dir: &Path) -> crate::Result<()> {
    identity::forget(dir)?;
    files::remove(dir, stats::STATS_FILE)?;
    forget_own_files(dir);
    Ok(())
}

/// Called wherever a native process reads the decision: a `0` (written by any client,
/// the Python one included) removes what only this library keeps.
pub fn observe(dir: &Path, consent: Consent) {
    if consent == Consent::Declined {
        forget_own_files(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const OTHER: &str = "b05ef51d-3610-4440-bce3-6140be6d302c";

    fn consented() -> PathBuf {
        let dir = tempfile::tempdir().unwrap().keep();
        consent::write(&dir, true).unwrap();
        dir
    }

    #[test]
    fn the_gate_closes_for_a_decline_a_missing_decision_or_another_id() {
        let dir = consented();
        let (id, created) = identity::load_or_create(&dir).unwrap();
        assert!(created);
        let gate = Gate::new(&dir, &id, false);
        assert!(gate.allows(Duration::ZERO));
        consent::write(&dir, false).unwrap();
        assert!(!gate.allows(Duration::ZERO));
        consent::write(&dir, true).unwrap();
        assert!(gate.allows(Duration::ZERO), "a `1` again with the same id");
        fs::write(dir.join(identity::CLIENT_ID_FILE), OTHER).unwrap();
        assert!(!gate.allows(Duration::ZERO), "another identity");
        fs::remove_file(dir.join(identity::CLIENT_ID_FILE)).unwrap();
        assert!(!gate.allows(Duration::ZERO));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_id_written_over_ours_just_after_we_created_it_is_adopted_unless_the_decision_changed() {
        let dir = consented();
        let (id, created) = identity::load_or_create(&dir).unwrap();
        let gate = Gate::new(&dir, &id, created);
        // The Python client, which takes no lock, wrote its own new id over ours.
        fs::write(dir.join(identity::CLIENT_ID_FILE), OTHER).unwrap();
        assert!(gate.allows(Duration::ZERO));
        assert_eq!(gate.client_id(), OTHER);

        let dir2 = consented();
        let (id, created) = identity::load_or_create(&dir2).unwrap();
        let gate = Gate::new(&dir2, &id, created);
        // An opt-out and an opt-in happened: the decision file was rewritten.
        consent::set(&dir2, false).unwrap();
        consent::set(&dir2, true).unwrap();
        assert!(!gate.allows(Duration::ZERO));
        fs::remove_dir_all(dir).unwrap();
        fs::remove_dir_all(dir2).unwrap();
    }

    #[test]
    fn a_hand_off_after_a_withdrawal_leaves_nothing() {
        let dir = consented();
        let (id, _) = identity::load_or_create(&dir).unwrap();
        let gate = Arc::new(Gate::new(&dir, &id, false));
        let keeper = Keeper::new(Arc::clone(&gate));
        let event = Event::session_start("c", Arc::from("s"), 1);
        assert_eq!(
            keeper.keep(std::slice::from_ref(&event), Duration::ZERO),
            Kept::OnDisk
        );
        assert_eq!(spool::pending_count(&dir), 1);
        assert_eq!(
            keeper.keep(std::slice::from_ref(&event), Duration::ZERO),
            Kept::OnDisk
        );
        assert_eq!(spool::pending_count(&dir), 2, "one file, both events");
        consent::set(&dir, false).unwrap();
        assert_eq!(keeper.keep(&[event], Duration::ZERO), Kept::Withdrawn);
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(consent::CONSENT_FILE)]);
        fs::remove_dir_all(dir).unwrap();
    }
}
