//! What `init` is given: [`Options`], and its validation.

use std::path::PathBuf;
use std::time::Duration;

use crate::dialog;
use crate::error::{Error, Result};
use crate::transport::Endpoint;

/// The OpenVINO API secret of the GA4 property, the Python client's default.
pub const DEFAULT_API_SECRET: &str = "zbEMioDXSE-MUHHPLRIi0A";

/// Everything `init` needs. Build with [`Options::new`] and adjust the public fields.
#[derive(Clone, Debug)]
pub struct Options {
    pub app_name: String,
    pub app_version: String,
    /// The GA4 measurement id (`G-…`).
    pub measurement_id: String,
    pub api_secret: String,
    /// Command-line tools only: ask on the terminal when no decision is stored.
    pub consent_dialog: bool,
    /// How long the dialog waits for an answer in total (50 s).
    pub dialog_timeout: Duration,
    /// Disable when a CI service is detected.
    pub disable_in_ci: bool,
    /// The collect URL without its query; `None` is GA4's.
    pub endpoint: Option<String>,
    /// The directory holding the shared files; `None` is `$HOME/intel`.
    pub config_dir: Option<PathBuf>,
    /// Events the queue holds before sends return `QueueFull` (≥ 1).
    pub queue_capacity: usize,
    /// With consent: install handlers for fatal signals that record a crash for the next
    /// run to report (DESIGN §5a). Default false.
    pub crash_reports: bool,
}

impl Options {
    pub fn new(app_name: &str, app_version: &str, measurement_id: &str) -> Options {
        Options {
            app_name: app_name.to_string(),
            app_version: app_version.to_string(),
            measurement_id: measurement_id.to_string(),
            api_secret: DEFAULT_API_SECRET.to_string(),
            consent_dialog: false,
            dialog_timeout: dialog::DEFAULT_TIMEOUT,
            disable_in_ci: false,
            endpoint: None,
            config_dir: None,
            queue_capacity: crate::sender::DEFAULT_CAPACITY,
            crash_reports: false,
        }
    }

    pub(super) fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("app name", &self.app_name),
            ("measurement id", &self.measurement_id),
            ("api secret", &self.api_secret),
        ] {
            if value.trim().is_empty() {
                return Err(Error::InvalidArgument(format!("the {name} is empty")));
            }
        }
        check_measurement_id(&self.measurement_id)?;
        if self.queue_capacity == 0 {
            return Err(Error::InvalidArgument(
                "the queue capacity must be at least 1".into(),
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            Endpoint::parse(endpoint)?;
        }
        Ok(())
    }
}

/// A GA4 measurement id is `G-` followed by letters and digits (`G-W5E9RNLD4H`). Anything
/// else is refused before it can reach a collect URL, where GA4 would drop it silently.
fn check_measurement_id(id: &str) -> Result<()> {
    let valid = id
        .strip_prefix("G-")
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
    if valid {
        return Ok(());
    }
    let shown: String = id.chars().take(40).collect();
    Err(Error::InvalidArgument(format!(
        "the measurement id {shown:?} is not a GA4 measurement id: \
         expected G- followed by letters and digits only (like G-W5E9RNLD4H)"
    )))
}
