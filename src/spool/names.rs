//! The names of the spool's files, and what each name says: whose pending file, whose
//! claim.

use super::{CLAIMED_SUFFIX, PENDING_PREFIX, PENDING_SUFFIX, SPOOL_FILE};
use crate::files;

/// A fresh, unique pending file name for a handle of this process.
pub fn new_pending_name() -> String {
    format!(
        "{PENDING_PREFIX}{}{PENDING_SUFFIX}",
        new_stem(std::process::id())
    )
}

/// The name under which process `owner` holds the events of `stem` (`<writer>.<hex>`).
pub(super) fn claimed_name(stem: &str, owner: u32) -> String {
    format!("{PENDING_PREFIX}{stem}.{owner}{CLAIMED_SUFFIX}")
}

/// A fresh stem for a claim that has no writer's stem of its own.
pub(super) fn new_stem(writer: u32) -> String {
    format!(
        "{writer}.{:08x}{:08x}",
        files::random_u32(),
        files::random_u32()
    )
}

/// What a directory entry is to the spool.
pub(super) enum Entry {
    /// A handle's pending file, written by process `writer`.
    Pending {
        writer: u32,
        stem: String,
    },
    /// Claimed by the process `owner`; `stem` is `<writer>.<hex>`.
    Claimed {
        owner: u32,
        stem: String,
    },
    /// Version 1's spool, free to claim.
    Legacy,
    /// Version 1's claim by `owner`.
    LegacyClaimed {
        owner: u32,
    },
    Other,
}

pub(super) fn classify(name: &str) -> Entry {
    if let Some(rest) = name.strip_prefix(PENDING_PREFIX) {
        if let Some(stem) = rest.strip_suffix(PENDING_SUFFIX) {
            if let Some(writer) = stem.split('.').next().and_then(|p| p.parse().ok()) {
                return Entry::Pending {
                    writer,
                    stem: stem.to_owned(),
                };
            }
        }
        if let Some((stem, owner)) = rest
            .strip_suffix(CLAIMED_SUFFIX)
            .and_then(|chain| chain.rsplit_once('.'))
        {
            if let Ok(owner) = owner.parse::<u32>() {
                return Entry::Claimed {
                    owner,
                    stem: stem.to_owned(),
                };
            }
        }
        return Entry::Other;
    }
    if name == SPOOL_FILE {
        return Entry::Legacy;
    }
    if let Some(chain) = name
        .strip_prefix(&format!("{SPOOL_FILE}."))
        .and_then(|rest| rest.strip_suffix(CLAIMED_SUFFIX))
    {
        if let Some(owner) = chain.split('.').next().and_then(|p| p.parse::<u32>().ok()) {
            return Entry::LegacyClaimed { owner };
        }
    }
    Entry::Other
}

/// True for a pending or claimed file, and for version 1's spool and its claims.
pub(super) fn is_spool_file(name: &str) -> bool {
    !matches!(classify(name), Entry::Other)
}
