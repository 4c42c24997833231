//! The consent decision, in one place.
//!
//! The decision is stored in `<config dir>/openvino_telemetry`, shared with the Python
//! client: `1` accepted, `0` declined; the first line is read, blanks trimmed; a missing
//! file is undecided; an empty, unreadable or other file counts as declined (with a
//! warning). At init the first matching rule wins:
//!
//! 1. `DO_NOT_TRACK` or `OPENVINO_TELEMETRY_DISABLE` holds a true value (`1`, `true`, `yes`,
//!    any case) → disabled; no file is touched.
//! 2. `disable_in_ci` is on and a CI service is detected → disabled.
//! 3. The file says `1` → enabled; anything else that exists → disabled.
//! 4. No file: a command-line tool that asked for the dialog, running in the foreground of
//!    a terminal, writes `0`, then asks; only `Y`/`yes` writes `1` (and a new client id).
//!    Anyone else — a library, a service, a notebook — stays disabled and creates nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::dialog;
use crate::error::{Error, Result};
use crate::{files, identity};

pub const CONSENT_FILE: &str = "openvino_telemetry";
const CONSENT_READ_LIMIT: usize = 4096;

/// Variables that turn telemetry off whatever the file says.
pub const OPT_OUT_VARIABLES: [&str; 2] = ["DO_NOT_TRACK", "OPENVINO_TELEMETRY_DISABLE"];

/// Variables whose presence (non-empty) means a CI service runs us. `CI` itself must hold
/// a true value.
pub const CI_VARIABLES: [&str; 12] = [
    "TF_BUILD",
    "JENKINS_URL",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "TEAMCITY_VERSION",
    "TRAVIS",
    "APPVEYOR",
    "BITBUCKET_BUILD_NUMBER",
    "CODEBUILD_BUILD_ID",
    "DRONE",
];

/// The stored decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    Undecided,
    Declined,
    Accepted,
}

/// Where the shared files live when no directory is given: `$HOME/intel` on Linux and
/// macOS, `%LOCALAPPDATA%\Intel Corporation` on Windows.
pub fn default_config_dir() -> Option<PathBuf> {
    let base = directories::BaseDirs::new()?;
    #[cfg(windows)]
    {
        Some(base.data_local_dir().join("Intel Corporation"))
    }
    #[cfg(not(windows))]
    {
        let home = base.home_dir();
        if home.as_os_str().is_empty() {
            return None;
        }
        Some(home.join("intel"))
    }
}

/// The directory to use: the one given, else the default.
pub fn config_dir(given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(dir) if dir.as_os_str().is_empty() => {
            Err(Error::InvalidArgument("config_dir is empty".to_string()))
        }
        Some(dir) => Ok(dir.to_path_buf()),
        None => default_config_dir().ok_or_else(|| {
            Error::Disabled("no home directory is known (HOME is unset)".to_string())
        }),
    }
}

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
        forget_everything_but_the_decision(dir)?;
    }
    Ok(previous)
}

/// Deletes what only exists with consent: client id, usage statistics, queued events, the
/// record of sent events.
pub fn forget_everything_but_the_decision(dir: &Path) -> Result<()> {
    crate::store::forget_everything_but_the_decision(dir)
}

/// Reads environment variables; tests pass a map instead of the process environment.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// `1`, `true`, `yes`, in any case, blanks ignored.
pub fn is_true_value(value: &str) -> bool {
    let value = value.trim();
    value == "1" || value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("yes")
}

/// The opt-out variable that is set to a true value, if any.
pub fn opted_out_by_env(env: &dyn Env) -> Option<&'static str> {
    OPT_OUT_VARIABLES
        .into_iter()
        .find(|name| env.var(name).is_some_and(|v| is_true_value(&v)))
}

/// The variable that shows a CI service, if any.
pub fn detect_ci(env: &dyn Env) -> Option<&'static str> {
    if env.var("CI").is_some_and(|v| is_true_value(&v)) {
        return Some("CI");
    }
    CI_VARIABLES
        .into_iter()
        .find(|name| env.var(name).is_some_and(|v| !v.trim().is_empty()))
}

/// Why telemetry is on or off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// An opt-out variable is set.
    Environment(&'static str),
    /// A CI service was detected and `disable_in_ci` is on.
    Ci(&'static str),
    /// The consent file decided (accepted or declined).
    File(Consent),
    /// The file counts as declined; the text says why.
    BadFile(String),
    /// The user answered the dialog now.
    Dialog(dialog::Outcome),
    /// No decision exists and this process may not ask (the condition that failed):
    /// nothing is created.
    Undecided(dialog::NoDialog),
    /// The configuration directory cannot be used; the text says why.
    Directory(String),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Environment(name) => write!(f, "{name} is set"),
            Reason::Ci(name) => write!(f, "a CI service was detected ({name} is set)"),
            Reason::File(Consent::Accepted) => f.write_str("the user accepted (consent file)"),
            Reason::File(_) => f.write_str("the user declined (consent file)"),
            Reason::BadFile(why) => f.write_str(why),
            Reason::Dialog(dialog::Outcome::Accepted) => f.write_str("the user accepted now"),
            Reason::Dialog(dialog::Outcome::Declined) => f.write_str("the user declined now"),
            Reason::Dialog(outcome) => write!(f, "the consent dialog got no answer ({outcome:?})"),
            Reason::Undecided(why) => {
                write!(
                    f,
                    "no consent was given (no decision stored, and no dialog: {why})"
                )
            }
            Reason::Directory(why) => write!(f, "the config directory cannot be used: {why}"),
        }
    }
}

/// What the init of a handle asked for.
#[derive(Clone, Debug)]
pub struct DecideOptions {
    pub config_dir: PathBuf,
    pub consent_dialog: bool,
    pub dialog_timeout: Duration,
    pub disable_in_ci: bool,
}

/// The outcome of the decision at init.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub enabled: bool,
    pub reason: Reason,
}

impl Decision {
    fn off(reason: Reason) -> Decision {
        Decision {
            enabled: false,
            reason,
        }
    }

    /// True when the user said yes in this process's dialog (the `accepted` event is due).
    pub fn accepted_now(&self) -> bool {
        self.reason == Reason::Dialog(dialog::Outcome::Accepted)
    }
}

/// Applies the rules of the module documentation, in order.
pub fn decide(options: &DecideOptions, env: &dyn Env) -> Decision {
    if let Some(name) = opted_out_by_env(env) {
        return Decision::off(Reason::Environment(name));
    }
    if options.disable_in_ci {
        if let Some(name) = detect_ci(env) {
            return Decision::off(Reason::Ci(name));
        }
    }
    let dir = &options.config_dir;
    if dir.exists() && !dir.is_dir() {
        return Decision::off(Reason::Directory(format!(
            "{} exists but is not a directory",
            dir.display()
        )));
    }
    match read_settled(dir, files::SETTLE_WAIT) {
        (Consent::Accepted, _) => Decision {
            enabled: true,
            reason: Reason::File(Consent::Accepted),
        },
        (Consent::Declined, Some(why)) => Decision::off(Reason::BadFile(why)),
        (Consent::Declined, None) => Decision::off(Reason::File(Consent::Declined)),
        (Consent::Undecided, _) => {
            let terminal = if options.consent_dialog {
                dialog::Terminal::open()
            } else {
                Err(dialog::NoDialog::OptionOff)
            };
            match terminal {
                Ok(terminal) => ask(dir, terminal, options.dialog_timeout),
                Err(why) => Decision::off(Reason::Undecided(why)),
            }
        }
    }
}

/// `0` is stored before asking, so an interrupted dialog leaves a decline behind.
fn ask(dir: &Path, mut terminal: dialog::Terminal, timeout: Duration) -> Decision {
    if let Err(e) = write(dir, false) {
        return Decision::off(Reason::Directory(e.to_string()));
    }
    let outcome = terminal.ask(timeout);
    if outcome != dialog::Outcome::Accepted {
        return Decision::off(Reason::Dialog(outcome));
    }
    match set(dir, true) {
        Ok(_) => Decision {
            enabled: true,
            reason: Reason::Dialog(outcome),
        },
        Err(e) => Decision::off(Reason::Directory(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::temp_dir;
    use crate::{spool, stats};
    use std::collections::HashMap;
    use std::fs;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    fn options(dir: &Path) -> DecideOptions {
        DecideOptions {
            config_dir: dir.to_path_buf(),
            consent_dialog: false,
            dialog_timeout: Duration::from_millis(10),
            disable_in_ci: false,
        }
    }

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
        let dir = temp_dir("consent");
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
    fn environment_opt_out_wins_and_touches_nothing() {
        let dir = temp_dir("consent");
        write(&dir, true).unwrap();
        for (name, value) in [
            ("DO_NOT_TRACK", "1"),
            ("DO_NOT_TRACK", "TRUE"),
            ("OPENVINO_TELEMETRY_DISABLE", " Yes "),
        ] {
            let decision = decide(&options(&dir), &env(&[(name, value)]));
            assert_eq!(decision, Decision::off(Reason::Environment(name)));
        }
        for value in ["0", "false", "no", ""] {
            let decision = decide(&options(&dir), &env(&[("DO_NOT_TRACK", value)]));
            assert!(decision.enabled, "DO_NOT_TRACK={value:?}");
        }
        assert_eq!(fs::read_to_string(dir.join(CONSENT_FILE)).unwrap(), "1");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn ci_disables_only_when_asked_to() {
        let dir = temp_dir("consent");
        write(&dir, true).unwrap();
        let mut opts = options(&dir);
        assert!(decide(&opts, &env(&[("CI", "true")])).enabled);
        opts.disable_in_ci = true;
        assert_eq!(
            decide(&opts, &env(&[("CI", "true")])).reason,
            Reason::Ci("CI")
        );
        assert!(decide(&opts, &env(&[("CI", "false")])).enabled);
        for name in [
            "TF_BUILD",
            "JENKINS_URL",
            "GITHUB_ACTIONS",
            "GITLAB_CI",
            "BUILDKITE",
            "CIRCLECI",
            "TEAMCITY_VERSION",
        ] {
            assert_eq!(decide(&opts, &env(&[(name, "x")])).reason, Reason::Ci(name));
        }
        assert!(decide(&opts, &env(&[])).enabled);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn undecided_library_creates_nothing() {
        let base = temp_dir("consent");
        let dir = base.join("intel");
        let mut opts = options(&dir);
        let decision = decide(&opts, &env(&[]));
        assert_eq!(
            decision,
            Decision::off(Reason::Undecided(dialog::NoDialog::OptionOff))
        );
        assert!(decision
            .reason
            .to_string()
            .ends_with("no dialog: the consent dialog option is off)"));
        assert!(!dir.exists());
        // A dialog is asked for, but the test process is not on a terminal's foreground
        // (the pseudo-terminal tests cover the other case).
        opts.consent_dialog = true;
        if let Err(why) = dialog::check() {
            assert_eq!(decide(&opts, &env(&[])).reason, Reason::Undecided(why));
            assert!(!dir.exists());
        }
        fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn a_file_in_place_of_the_directory_disables_and_is_kept() {
        let base = temp_dir("consent");
        let dir = base.join("intel");
        fs::write(&dir, "mine").unwrap();
        let decision = decide(&options(&dir), &env(&[]));
        assert!(!decision.enabled);
        assert!(decision.reason.to_string().contains("not a directory"));
        assert_eq!(fs::read_to_string(&dir).unwrap(), "mine");
        assert!(write(&dir, true).is_err());
        fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn set_accept_makes_new_ids_and_decline_forgets_everything() {
        let dir = temp_dir("consent");
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
