//! What the dialog says, and the screen it says it on: the consent message of the OpenVINO
//! telemetry page, the prompt, and one confirmation per way the dialog ends.

use std::io::Write;

use super::Outcome;

/// The consent message of the OpenVINO telemetry page, with the opt-out command written
/// correctly and without the documentation markup.
pub const MESSAGE: &str = "\
Intel would like your permission to collect software performance and usage data
for the purpose of improving Intel products and services. This data will be collected
directly by Intel or through the use of Google Analytics. This data will be stored
in countries where Intel or Google operate.

You can opt-out at any time in the future by running opt_in_out --opt_out.

More Information is available at docs.openvino.ai.

Please type Y to give your consent or N to decline.";

/// Shown again after an answer that is neither yes nor no.
pub const SHORT_PROMPT: &str = "Please type Y to give your consent or N to decline.";

/// The input prompt, printed (uncoloured, without a newline) whenever an answer is expected.
pub const PROMPT: &str = ">> ";

/// Confirmation after `Y` / `yes`.
pub const ACCEPTED_TEXT: &str = "The selected option was to collect telemetry data.";

/// Confirmation after `N` / `no`.
pub const DECLINED_TEXT: &str = "The selected option was NOT to collect telemetry data.";

/// Shown when the total timeout expired without an answer.
pub const TIMER_TEXT: &str = "The timer has expired and no data will be collected.";

/// Shown when input ended (Ctrl-D, read error) or a signal handler interrupted the wait.
pub const NO_ANSWER_TEXT: &str = "No answer was given and no data will be collected.";

pub(super) const GREEN: &str = "\x1b[32m";
pub(super) const RESET: &str = "\x1b[0m";

/// The output side: texts in green when asked to, prompts plain, flushed at each prompt.
pub(super) struct Screen<'a> {
    pub(super) out: &'a mut dyn Write,
    pub(super) color: bool,
}

impl Screen<'_> {
    pub(super) fn say(&mut self, text: &str) {
        // Errors are ignored on purpose: a closed stdout must not change the answer.
        let _ = if self.color {
            writeln!(self.out, "{GREEN}{text}{RESET}")
        } else {
            writeln!(self.out, "{text}")
        };
    }

    /// After an answer that is neither yes nor no.
    pub(super) fn ask_again(&mut self) {
        self.say(SHORT_PROMPT);
        self.prompt();
    }

    pub(super) fn prompt(&mut self) {
        let _ = self.out.write_all(PROMPT.as_bytes());
        let _ = self.out.flush();
    }

    /// Prints the confirmation that belongs to `outcome` and returns it.
    pub(super) fn finish(&mut self, outcome: Outcome) -> Outcome {
        let text = match outcome {
            Outcome::Accepted => ACCEPTED_TEXT,
            Outcome::Declined => DECLINED_TEXT,
            Outcome::NoReply => TIMER_TEXT,
            Outcome::Closed | Outcome::Interrupted => NO_ANSWER_TEXT,
        };
        if !matches!(outcome, Outcome::Accepted | Outcome::Declined) {
            // The cursor is still on the prompt line: nothing typed ended it.
            let _ = writeln!(self.out);
        }
        self.say(text);
        let _ = self.out.flush();
        outcome
    }
}
