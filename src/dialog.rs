//! TEMPORARY stub, replaced by the real dialog.
use std::time::Duration;
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Declined,
    NoReply,
    Closed,
    Interrupted,
}
pub fn can_prompt() -> bool {
    false
}
pub fn ask(_timeout: Duration) -> Outcome {
    Outcome::NoReply
}
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(50);
