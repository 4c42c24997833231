//! The decision at init (DESIGN §4): the environment, CI, the stored decision, and the
//! dialog, first match wins.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{read_settled, set, write, Consent};
use crate::{dialog, files};

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
    use super::super::CONSENT_FILE;
    use super::*;
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
    fn environment_opt_out_wins_and_touches_nothing() {
        let dir = tempfile::tempdir().unwrap().keep();
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
        let dir = tempfile::tempdir().unwrap().keep();
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
        let base = tempfile::tempdir().unwrap().keep();
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
        let base = tempfile::tempdir().unwrap().keep();
        let dir = base.join("intel");
        fs::write(&dir, "mine").unwrap();
        let decision = decide(&options(&dir), &env(&[]));
        assert!(!decision.enabled);
        assert!(decision.reason.to_string().contains("not a directory"));
        assert_eq!(fs::read_to_string(&dir).unwrap(), "mine");
        assert!(write(&dir, true).is_err());
        fs::remove_dir_all(base).unwrap();
    }
}
