//! Scrubbing: the user's home directory and user name are removed from free text (error
//! messages, stack traces) before it becomes an event label.
//!
//! Done on the full text *before* the value is normalised, so a truncation can never cut a
//! home directory in half and leave a recognisable piece behind.
//!
//! - Home directories become `~`. The longest home is tried first; a home matches only
//!   when what follows it is the end of the text, `/`, `\`, or a character that cannot
//!   continue a file name (anything but a letter, a digit, `_`, `-`, or a `.` followed by
//!   one of those). So with home `/home/al`, `/home/al/x` and `/home/al.` are scrubbed but
//!   `/home/alice` and `/home/al.bak` are not. Trailing separators of a home are ignored;
//!   empty homes, `/` and drive roots (`C:\`) are ignored. What precedes a home is not
//!   checked (`/data/home/al/x` with home `/home/al` becomes `/data~/x`): over-scrubbing
//!   is the safe side. A `\` spelling of a Windows home also gets its `/` spelling
//!   ([`Scrubber::from_environment`]).
//! - User names become `<user>`, only as a whole word: the characters before and after the
//!   match must not be word characters (alphanumeric or `_`). So user `bob` scrubs
//!   `bob's` and `/home/bob` but not `bobby` or `bob_x`. Names shorter than two characters
//!   are ignored.
//! - Matching ignores letter case (`ALICE`, `C:\\USERS\\Alice`): case-insensitive file
//!   systems (Windows, macOS) make other spellings of a home common.
//! - Only the part of a message that can reach the wire is looked at: the first 100
//!   characters of the scrubbed text ([`Scrubber::scrub_prefix`]); matches are judged on
//!   the whole text around them, so a cut never leaves half a name.

use std::fmt;

/// Replaces the user's home directory and user name in free text (error messages, stack
/// traces). The rules are in the module documentation.
#[derive(Clone)]
pub struct Scrubber {
    /// Longest first, without trailing separators, no duplicates.
    homes: Vec<String>,
    /// Longest first, no duplicates.
    users: Vec<String>,
    /// The same, lower-cased: matching ignores letter case (Windows and macOS file
    /// systems do, and a name is as telling in capitals).
    homes_folded: Vec<String>,
    users_folded: Vec<String>,
}

impl fmt::Debug for Scrubber {
    // The whole point is not to reveal these, so not even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("homes", &self.homes.len())
            .field("users", &self.users.len())
            .finish()
    }
}

fn is_drive_root(path: &str) -> bool {
    let b = path.as_bytes();
    b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

fn longest_first(mut list: Vec<String>) -> Vec<String> {
    list.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    list.dedup();
    list
}

impl Scrubber {
    /// A scrubber for these home directories and user names. Trailing `/` and `\` of a home
    /// are dropped; empty homes, `/` and drive roots are ignored; user names are trimmed and
    /// ignored when shorter than two characters.
    pub fn new(homes: Vec<String>, users: Vec<String>) -> Scrubber {
        let homes = homes
            .iter()
            .map(|h| h.trim_end_matches(['/', '\\']))
            .filter(|h| !h.trim().is_empty() && !is_drive_root(h))
            .map(str::to_owned)
            .collect();
        let users = users
            .iter()
            .map(|u| u.trim())
            .filter(|u| u.chars().count() >= 2)
            .map(str::to_owned)
            .collect();
        let homes = longest_first(homes);
        let users = longest_first(users);
        let folded = |list: &[String]| longest_first(list.iter().map(|n| fold(n)).collect());
        Scrubber {
            homes_folded: folded(&homes),
            users_folded: folded(&users),
            homes,
            users,
        }
    }

    /// A scrubber for the current user. Homes: `$HOME` (and `%USERPROFILE%` on Windows),
    /// the account database's home directory (unix), and the canonical path of each, plus
    /// a `/` spelling of any home written with `\`. Users: the account database's name
    /// (unix), `$USER`, `$LOGNAME`, `$USERNAME`. Values that are not UTF-8 are ignored.
    pub fn from_environment() -> Scrubber {
        #[cfg(unix)]
        let account = passwd_entry();
        #[cfg(not(unix))]
        let account = None;
        Scrubber::from_sources(|name| std::env::var(name).ok(), account)
    }

    /// [`Scrubber::from_environment`] over a given environment and account-database entry
    /// (`(user name, home directory)`).
    fn from_sources(
        var: impl Fn(&str) -> Option<String>,
        account: Option<(String, String)>,
    ) -> Scrubber {
        let env = |name: &str| var(name).filter(|v| !v.is_empty());
        let mut homes: Vec<String> = Vec::new();
        let mut users: Vec<String> = Vec::new();
        homes.extend(env("HOME"));
        if cfg!(windows) {
            homes.extend(env("USERPROFILE"));
        }
        if let Some((name, dir)) = account {
            users.push(name);
            homes.push(dir);
        }
        users.extend(["USER", "LOGNAME", "USERNAME"].into_iter().filter_map(env));

        let canonical: Vec<String> = homes
            .iter()
            .filter_map(|h| {
                std::fs::canonicalize(h)
                    .ok()?
                    .into_os_string()
                    .into_string()
                    .ok()
            })
            .map(|h| match h.strip_prefix(r"\\?\") {
                Some(plain) => plain.to_owned(),
                None => h,
            })
            .collect();
        homes.extend(canonical);
        let forward: Vec<String> = homes
            .iter()
            .filter(|h| h.contains('\\'))
            .map(|h| h.replace('\\', "/"))
            .collect();
        homes.extend(forward);
        Scrubber::new(homes, users)
    }

    /// `text` with every home directory replaced by `~` and every user name (as a whole
    /// word) by `<user>`, letter case ignored.
    pub fn scrub(&self, text: &str) -> String {
        self.scrub_prefix(text, usize::MAX, true)
    }

    /// The first `max_chars` characters of the scrubbed `text`, looking at no more of
    /// `text` than those need: a 10 MB message costs what a short one does. Matches are
    /// judged on the whole text around them, so a name is never cut in half. When `text`
    /// is itself a cut copy (`complete` false), its last [`Scrubber::margin`] bytes are
    /// dropped unread: a name starting there might continue past the cut.
    pub fn scrub_prefix(&self, text: &str, max_chars: usize, complete: bool) -> String {
        let usable = if complete {
            text.len()
        } else {
            floor_char_boundary(text, text.len().saturating_sub(self.margin()))
        };
        let mut out = String::new();
        let mut out_chars = 0usize;
        let mut pos = 0usize;
        while out_chars < max_chars && pos < usable {
            // Only a match starting within the characters still to be produced matters.
            let window_end = advance_chars(text, pos, max_chars - out_chars).min(usable);
            match self.first_match(text, pos, window_end) {
                Some((start, end, with)) => {
                    out.push_str(&text[pos..start]);
                    out.push_str(with);
                    out_chars += text[pos..start].chars().count() + with.chars().count();
                    pos = end;
                }
                None => {
                    out.push_str(&text[pos..window_end]);
                    out_chars += text[pos..window_end].chars().count();
                    pos = window_end;
                }
            }
        }
        out
    }

    /// How many bytes at the end of a cut copy may hold the start of a name that
    /// continues past the cut: the longest name (4 bytes a character, as a letter's other
    /// case may be longer) plus the characters a boundary check looks at.
    pub fn margin(&self) -> usize {
        let longest = self
            .homes
            .iter()
            .chain(&self.users)
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0);
        longest * 4 + 8
    }

    /// The earliest accepted match starting in `text[from..before]`: (start, end,
    /// replacement). Homes win over user names at the same start, longer over shorter.
    fn first_match(
        &self,
        text: &str,
        from: usize,
        before: usize,
    ) -> Option<(usize, usize, &'static str)> {
        for (start, _) in text[from..before].char_indices() {
            let start = from + start;
            for home in &self.homes_folded {
                if let Some(end) = match_folded(text, start, home) {
                    if home_ends_at(text, start, end) {
                        return Some((start, end, "~"));
                    }
                }
            }
            for user in &self.users_folded {
                if let Some(end) = match_folded(text, start, user) {
                    if is_whole_word(text, start, end) {
                        return Some((start, end, "<user>"));
                    }
                }
            }
        }
        None
    }
}

/// `s` in lower case, the form names are compared in.
fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// The end of a match of `folded` (a lower-cased name) at `text[start..]`, letter case
/// ignored; `None` when there is none. A character whose lower case is several characters
/// must match all of them.
fn match_folded(text: &str, start: usize, folded: &str) -> Option<usize> {
    let mut want = folded.chars();
    for (i, c) in text[start..].char_indices() {
        for lower in c.to_lowercase() {
            if want.next() != Some(lower) {
                return None;
            }
        }
        if want.as_str().is_empty() {
            return Some(start + i + c.len_utf8());
        }
    }
    None
}

/// The byte index `n` characters after `from` (the end of the text if it is shorter).
fn advance_chars(text: &str, from: usize, n: usize) -> usize {
    text[from..]
        .char_indices()
        .nth(n)
        .map_or(text.len(), |(i, _)| from + i)
}

/// The largest character boundary at or below `index`.
pub(crate) fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut i = index.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The account database's (user name, home directory) for the real user id.
#[cfg(unix)]
fn passwd_entry() -> Option<(String, String)> {
    use std::ffi::CStr;

    fn owned(ptr: *const libc::c_char) -> Option<String> {
        if ptr.is_null() {
            return None;
        }
        // SAFETY: getpwuid_r succeeded, so a non-NULL field points at a NUL-terminated
        // string inside the buffer, which outlives this call.
        let s = unsafe { CStr::from_ptr(ptr) };
        s.to_str().ok().map(str::to_owned)
    }

    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let mut buf_len = 1024usize;
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; buf_len];
        // SAFETY: passwd is plain old data; all-zero is a valid value (NULL pointers).
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the duration of the call, and buf_len is
        // the length of buf.
        let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf_len, &mut result) };
        if rc == libc::ERANGE && buf_len < (1 << 20) {
            buf_len *= 2;
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        let name = owned(pwd.pw_name)?;
        let dir = owned(pwd.pw_dir)?;
        return Some((name, dir));
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A character that may continue a file name (so a home directory does not end before it).
fn continues_file_name(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Whether a home directory found at `text[start..end]` ends there: followed by the end,
/// a path separator, or a character that cannot continue a file name.
fn home_ends_at(text: &str, _start: usize, end: usize) -> bool {
    let mut rest = text[end..].chars();
    match rest.next() {
        None | Some('/') | Some('\\') => true,
        Some('.') => !rest.next().is_some_and(continues_file_name),
        Some(c) => !continues_file_name(c),
    }
}

/// Whether `text[start..end]` is a whole word.
fn is_whole_word(text: &str, start: usize, end: usize) -> bool {
    !text[..start].chars().next_back().is_some_and(is_word_char)
        && !text[end..].chars().next().is_some_and(is_word_char)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RAW_TEXT_LIMIT;

    fn scrubber() -> Scrubber {
        Scrubber::new(vec!["/home/alice".to_owned()], vec!["alice".to_owned()])
    }

    #[test]
    fn scrub_home_at_start_middle_and_end() {
        let s = Scrubber::new(vec!["/home/alice".to_owned()], vec![]);
        assert_eq!(s.scrub("/home/alice/model.xml: bad"), "~/model.xml: bad");
        assert_eq!(
            s.scrub("cannot open /home/alice/m.xml now"),
            "cannot open ~/m.xml now"
        );
        assert_eq!(s.scrub("cwd is /home/alice"), "cwd is ~");
        assert_eq!(s.scrub("in /home/alice."), "in ~.");
        assert_eq!(
            s.scrub("'/home/alice' and \"/home/alice/x\""),
            "'~' and \"~/x\""
        );
        assert_eq!(s.scrub("PATH=/home/alice/bin:/home/alice"), "PATH=~/bin:~");
    }

    #[test]
    fn scrub_home_is_not_a_prefix_of_another_directory() {
        let s = Scrubber::new(vec!["/home/al".to_owned()], vec![]);
        assert_eq!(s.scrub("/home/alice/x"), "/home/alice/x");
        assert_eq!(
            s.scrub("/home/al-old/x /home/al_2 /home/al.bak"),
            "/home/al-old/x /home/al_2 /home/al.bak"
        );
        assert_eq!(s.scrub("/home/alice and /home/al/x"), "/home/alice and ~/x");
    }

    #[test]
    fn scrub_longest_home_first_and_windows_separators() {
        let s = Scrubber::new(
            vec![
                "/home/alice".to_owned(),
                "/home/alice/work/".to_owned(),
                r"C:\Users\alice".to_owned(),
            ],
            vec![],
        );
        assert_eq!(s.scrub("/home/alice/work/a /home/alice/b"), "~/a ~/b");
        assert_eq!(s.scrub(r"at C:\Users\alice\x.cpp:3"), r"at ~\x.cpp:3");
    }

    #[test]
    fn scrub_user_name_as_whole_word_only() {
        let s = Scrubber::new(vec![], vec!["bob".to_owned()]);
        assert_eq!(
            s.scrub("bob bobby bob_x xbob bob's /home/bob/f bob"),
            "<user> bobby bob_x xbob <user>'s /home/<user>/f <user>"
        );
        assert_eq!(s.scrub("émilbob bobé"), "émilbob bobé");
    }

    #[test]
    fn scrub_home_then_user() {
        assert_eq!(
            scrubber().scrub("/home/alice/alice.txt by alice"),
            "~/<user>.txt by <user>"
        );
        // The inserted "<user>" is never matched again, even by a name "user".
        let s = Scrubber::new(vec![], vec!["user".to_owned(), "alice".to_owned()]);
        assert_eq!(s.scrub("alice user"), "<user> <user>");
    }

    #[test]
    fn scrub_without_match_returns_the_same_text() {
        let s = scrubber();
        for text in ["", "nothing here", "/home/al/x", "malice", "MALICE", "ü😀"] {
            assert_eq!(s.scrub(text), text);
        }
        let huge = "no match ".repeat(1_000_000);
        assert_eq!(s.scrub(&huge), huge);
    }

    #[test]
    fn scrubber_ignores_useless_inputs() {
        let s = Scrubber::new(
            vec![
                String::new(),
                "/".to_owned(),
                "//".to_owned(),
                r"C:\".to_owned(),
            ],
            vec![
                String::new(),
                "a".to_owned(),
                " ".to_owned(),
                "é".to_owned(),
            ],
        );
        assert!(
            s.homes.is_empty() && s.users.is_empty(),
            "{:?}",
            (&s.homes, &s.users)
        );
        assert_eq!(s.scrub("/ a é C:\\x"), "/ a é C:\\x");
        // Debug output reveals nothing.
        let shown = format!("{:?}", scrubber());
        assert!(!shown.contains("alice"), "{shown}");
    }

    #[test]
    fn scrub_ignores_letter_case_of_homes_and_names() {
        let s = Scrubber::new(
            vec!["/home/alice".to_owned(), r"C:\Users\Alice".to_owned()],
            vec!["alice".to_owned()],
        );
        assert_eq!(s.scrub("ALICE Alice aLiCe"), "<user> <user> <user>");
        assert_eq!(s.scrub("open /HOME/ALICE/x"), "open ~/x");
        assert_eq!(s.scrub(r"at c:\users\ALICE\m.xml"), r"at ~\m.xml");
        assert_eq!(s.scrub("MALICE /HOME/ALICEX"), "MALICE /HOME/ALICEX");
        // A letter whose other case has another length in UTF-8 (Kelvin sign, 3 bytes).
        let k = Scrubber::new(vec![], vec!["kim".to_owned()]);
        assert_eq!(k.scrub("\u{212A}IM was here"), "<user> was here");
    }

    #[test]
    fn scrub_prefix_reads_only_what_it_needs_and_never_cuts_a_name() {
        let s = scrubber();
        // The result is the first 100 characters of what the full scrub gives.
        let text = format!("{}/home/alice/x alice {}", "a ".repeat(40), "b".repeat(300));
        let full = s.scrub(&text);
        let cut: String = full.chars().take(100).collect();
        assert_eq!(s.scrub_prefix(&text, 100, true), cut);
        // A name straddling character 100 is still recognised as a whole.
        let text = format!("{}alice tail", "z ".repeat(49));
        let scrubbed = s.scrub_prefix(&text, 100, true);
        assert!(!scrubbed.to_lowercase().contains("ali"), "{scrubbed}");
        // Homes shrink to `~`: text far past character 100 can reach the output.
        let text = "/home/alice/".repeat(200) + "alice";
        let scrubbed = s.scrub_prefix(&text, 100, true);
        assert_eq!(scrubbed.chars().count(), 100);
        assert!(!scrubbed.contains("alice"), "{scrubbed}");
        // A cut copy never shows the piece of a name at its end.
        let text = "/home/alice/".repeat(1000);
        let cut_copy = &text[..RAW_TEXT_LIMIT.min(text.len()) - 3];
        assert!(cut_copy.ends_with("/home/ali"));
        let scrubbed = s.scrub_prefix(cut_copy, usize::MAX, false);
        assert!(!scrubbed.contains("ali"), "{scrubbed}");
        // A huge message costs what a short one does (100 characters produced).
        let huge = "no match ".repeat(1_000_000);
        assert_eq!(s.scrub_prefix(&huge, 100, true), huge[..100]);
    }

    #[test]
    fn scrub_overlapping_candidates() {
        // The first occurrence is rejected (followed by a word char); the overlapping one
        // starting one character later is a whole word.
        let s = Scrubber::new(vec![], vec!["a.a".to_owned()]);
        assert_eq!(s.scrub("xa.a.a"), "xa.<user>");
    }

    #[test]
    fn scrubber_from_its_sources_scrubs_homes_and_users() {
        let env = |name: &str| match name {
            "HOME" => Some("/home/alice/".to_string()),
            "USER" => Some("alice".to_string()),
            "LOGNAME" => Some(String::new()),
            _ => None,
        };
        let s = Scrubber::from_sources(env, Some(("bob".into(), "/srv/bob".into())));
        assert_eq!(
            s.scrub("open /home/alice/x and /srv/bob/y as alice, bob"),
            "open ~/x and ~/y as <user>, <user>"
        );
        // Empty variables name nobody.
        assert_eq!(s.scrub("a  b"), "a  b");
    }
}
