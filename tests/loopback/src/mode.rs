//! How the server answers: the [`Mode`] a test picks, its text form (the C API and the
//! binary's `--mode`), and the [`Reply`] it gives to the Nth request.

use std::str::FromStr;
use std::time::Duration;

/// How the server answers the requests it receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Always `204 No Content`. Text: `ok`.
    Ok204,
    /// Answers `status` (e.g. 500) `failures` times, then 204. Text: `fail:FAILURES:STATUS`.
    FailThenOk { failures: usize, status: u16 },
    /// Answers `429` with `Retry-After: retry_after_secs` `times` times, then 204.
    /// Text: `429:SECS:TIMES`.
    TooManyRequests { retry_after_secs: u64, times: usize },
    /// Always answers with this status (e.g. 400 or 503). Text: `status:STATUS`.
    Status(u16),
    /// Reads the request, then closes the connection with a TCP RST. Text: `reset`.
    Reset,
    /// Reads requests and never answers; the connection stays open until the client closes
    /// it or the server is dropped. Text: `hang`.
    Hang,
    /// Answers 204 `answers` times, then hangs as [`Mode::Hang`]. Text: `ok-then-hang:ANSWERS`.
    OkThenHang(usize),
    /// Waits this long (or until the server is dropped), then answers 204. Text: `slow:MS`.
    Slow(Duration),
    /// Answers `200 OK` at once but pauses this long (or until the server is dropped) in the
    /// middle of the body. Text: `slow-body:MS`.
    SlowBody(Duration),
    /// Answers `status` (e.g. 307) with `Location: location`. Text: `redirect:STATUS:URL`.
    Redirect { status: u16, location: String },
}

/// The body `Mode::SlowBody` sends, in two halves.
const SLOW_BODY: &[u8] = b"{\"slow\":\"body\"}";

/// What to do with one received request.
pub(crate) enum Reply {
    Answer(Answer),
    Reset,
    Hang,
}

/// An HTTP answer and its timing.
pub(crate) struct Answer {
    pub status: u16,
    pub header: Option<(&'static str, String)>,
    pub body: &'static [u8],
    /// Before the answer is sent.
    pub delay: Duration,
    /// Between the two halves of the body.
    pub body_pause: Duration,
}

impl Answer {
    fn status(status: u16) -> Answer {
        Answer {
            status,
            header: None,
            body: b"",
            delay: Duration::ZERO,
            body_pause: Duration::ZERO,
        }
    }
}

impl Mode {
    /// The reply to the request that `served` earlier requests under this mode preceded.
    pub(crate) fn reply(&self, served: usize) -> Reply {
        let answer = match *self {
            Mode::Ok204 => Answer::status(204),
            Mode::FailThenOk { failures, status } if served < failures => Answer::status(status),
            Mode::TooManyRequests {
                retry_after_secs,
                times,
            } if served < times => Answer {
                header: Some(("Retry-After", retry_after_secs.to_string())),
                ..Answer::status(429)
            },
            Mode::FailThenOk { .. } | Mode::TooManyRequests { .. } => Answer::status(204),
            Mode::Status(status) => Answer::status(status),
            Mode::Reset => return Reply::Reset,
            Mode::Hang => return Reply::Hang,
            Mode::OkThenHang(answers) if served >= answers => return Reply::Hang,
            Mode::OkThenHang(_) => Answer::status(204),
            Mode::Slow(delay) => Answer {
                delay,
                ..Answer::status(204)
            },
            Mode::SlowBody(body_pause) => Answer {
                body: SLOW_BODY,
                body_pause,
                ..Answer::status(200)
            },
            Mode::Redirect {
                status,
                ref location,
            } => Answer {
                header: Some(("Location", location.clone())),
                ..Answer::status(status)
            },
        };
        Reply::Answer(answer)
    }
}

impl FromStr for Mode {
    type Err = String;

    /// The text forms in the variants' docs, e.g. `ok`, `fail:2:500`, `slow:200`.
    fn from_str(text: &str) -> Result<Mode, String> {
        let bad = || format!("unknown server mode {text:?}");
        let mut parts = text.splitn(3, ':');
        let name = parts.next().unwrap_or_default();
        let mut number =
            || -> Result<u64, String> { parts.next().and_then(|n| n.parse().ok()).ok_or_else(bad) };
        let status = |n: u64| u16::try_from(n).map_err(|_| bad());
        let mode = match name {
            "ok" => Mode::Ok204,
            "hang" => Mode::Hang,
            "ok-then-hang" => Mode::OkThenHang(number()? as usize),
            "reset" => Mode::Reset,
            "status" => Mode::Status(status(number()?)?),
            "fail" => Mode::FailThenOk {
                failures: number()? as usize,
                status: status(number()?)?,
            },
            "429" => Mode::TooManyRequests {
                retry_after_secs: number()?,
                times: number()? as usize,
            },
            "slow" => Mode::Slow(Duration::from_millis(number()?)),
            "slow-body" => Mode::SlowBody(Duration::from_millis(number()?)),
            "redirect" => {
                let status = status(number()?)?;
                let location = parts.next().ok_or_else(bad)?.to_string();
                Mode::Redirect { status, location }
            }
            _ => return Err(bad()),
        };
        Ok(mode)
    }
}
