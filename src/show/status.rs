//! What `opt_in_out --status` prints: the decision and why telemetry is on or off, where it
//! is stored, what waits on disk, the size of the sent record.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use crate::consent::{self, Consent, DecideOptions, Env};
use crate::{crash, identity, sent, spool};

/// The status report of the config directory `dir`, one `name: value` line each, under the
/// environment `env` (the process's, in the tool).
pub fn status(dir: &Path, env: &dyn Env) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_status(&mut out, dir, env);
    out
}

fn write_status(out: &mut String, dir: &Path, env: &dyn Env) -> std::fmt::Result {
    let (stored, warning) = consent::read(dir);
    let decision = consent::decide(
        &DecideOptions {
            config_dir: dir.to_path_buf(),
            consent_dialog: false,
            dialog_timeout: Duration::ZERO,
            disable_in_ci: false,
        },
        env,
    );
    let stored = match stored {
        Consent::Accepted => "accepted",
        Consent::Declined => "declined",
        Consent::Undecided => "undecided",
    };
    writeln!(out, "decision:   {stored}")?;
    let enabled = if decision.enabled {
        "enabled"
    } else {
        "disabled"
    };
    writeln!(out, "telemetry:  {enabled} ({})", decision.reason)?;
    if let Some(warning) = warning {
        writeln!(out, "warning:    {warning}")?;
    }
    writeln!(out, "directory:  {}", dir.display())?;
    let client_id = if identity::peek(dir).is_some() {
        "present"
    } else {
        "none"
    };
    writeln!(out, "client id:  {client_id}")?;
    let waiting = spool::pending_count(dir);
    writeln!(
        out,
        "waiting:    {waiting} event{} on disk, not yet delivered",
        plural(waiting)
    )?;
    writeln!(out, "sent:       {}", sent_summary(dir))?;
    writeln!(
        out,
        "crashes:    {} waiting to be reported",
        crash::pending_records(dir)
    )?;
    if let Some(name) = consent::detect_ci(env) {
        writeln!(
            out,
            "ci:         detected ({name}); tools that disable telemetry in CI send nothing here"
        )?;
    }
    Ok(())
}

/// The `sent:` line: how many events the record holds and its size.
fn sent_summary(dir: &Path) -> String {
    match (sent::size(dir), sent::read(dir)) {
        (Some(bytes), Ok(record)) => format!(
            "{} event{} in the last 30 days, {} (see opt_in_out --show)",
            record.entries.len(),
            plural(record.entries.len()),
            human_size(bytes)
        ),
        (Some(bytes), Err(e)) => format!("{}, unreadable: {e}", human_size(bytes)),
        (None, _) => "nothing recorded".into(),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn human_size(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else {
        format!("{:.1} KiB ({bytes} bytes)", bytes as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoEnv;

    impl Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    #[test]
    fn an_empty_directory_is_undecided_with_nothing_waiting() {
        let dir = tempfile::tempdir().unwrap().keep();
        let text = status(&dir, &NoEnv);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "decision:   undecided");
        assert!(lines[1].starts_with("telemetry:  disabled ("), "{text}");
        assert_eq!(lines[3], "client id:  none");
        assert_eq!(lines[4], "waiting:    0 events on disk, not yet delivered");
        assert_eq!(lines[5], "sent:       nothing recorded");
        assert_eq!(lines[6], "crashes:    0 waiting to be reported");
        assert_eq!(lines.len(), 7, "{text}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn sizes_are_for_people() {
        assert_eq!(human_size(1023), "1023 bytes");
        assert_eq!(human_size(1536), "1.5 KiB (1536 bytes)");
    }
}
