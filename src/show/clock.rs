//! Times as people read them: an event's `timestamp_micros` as a civil date and time, in
//! local time from the C library (`localtime_r` on Unix, `localtime_s` on Windows; both
//! honour `TZ`); where neither exists, in UTC, and the output says so. No date crate is
//! needed for this.

/// A civil date and time, and how far it is from UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CivilTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// Seconds east of UTC.
    offset: i64,
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01 (H. Hinnant's `days_from_civil`).
#[cfg_attr(not(any(unix, windows)), allow(dead_code))]
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn utc(secs: i64) -> CivilTime {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rest = secs.rem_euclid(86_400);
    CivilTime {
        year,
        month,
        day,
        hour: (rest / 3600) as u32,
        minute: (rest / 60 % 60) as u32,
        second: (rest % 60) as u32,
        offset: 0,
    }
}

/// Local time from the C library: `localtime_r` on Unix, `localtime_s` (the CRT, which
/// honours `TZ` too) on Windows.
#[cfg(any(unix, windows))]
fn local(secs: i64) -> Option<CivilTime> {
    let t = libc::time_t::try_from(secs).ok()?;
    // SAFETY: `tm` is plain data; all-zero is a valid value that the call overwrites.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    #[cfg(unix)]
    // SAFETY: both pointers are valid for the call; localtime_r is the thread-safe form.
    let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
    #[cfg(windows)]
    // SAFETY: both pointers are valid for the call; localtime_s is the thread-safe form.
    let ok = unsafe { libc::localtime_s(&mut tm, &t) } == 0;
    if !ok {
        return None;
    }
    let (year, month, day) = (
        i64::from(tm.tm_year) + 1900,
        u32::try_from(tm.tm_mon + 1).ok()?,
        u32::try_from(tm.tm_mday).ok()?,
    );
    let (hour, minute, second) = (
        u32::try_from(tm.tm_hour).ok()?,
        u32::try_from(tm.tm_min).ok()?,
        u32::try_from(tm.tm_sec).ok()?.min(59),
    );
    // The offset, portably: the local fields read as if they were UTC, minus the instant.
    let as_utc = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    Some(CivilTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        offset: as_utc - secs,
    })
}

#[cfg(not(any(unix, windows)))]
fn local(_secs: i64) -> Option<CivilTime> {
    None
}

/// How times are shown; `Local` on Unix, UTC elsewhere or where local time is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    Local,
    Utc,
}

impl Clock {
    /// Local time where the C library gives it (Unix, Windows).
    pub fn system() -> Clock {
        if cfg!(any(unix, windows)) {
            Clock::Local
        } else {
            Clock::Utc
        }
    }

    fn civil(self, micros: u64) -> CivilTime {
        let secs = i64::try_from(micros / 1_000_000).unwrap_or(i64::MAX / 2);
        match self {
            Clock::Local => local(secs).unwrap_or_else(|| utc(secs)),
            Clock::Utc => utc(secs),
        }
    }

    /// `YYYY-MM-DD HH:MM:SS`.
    pub fn format(self, micros: u64) -> String {
        let t = self.civil(micros);
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        )
    }

    /// Which clock the times are on, e.g. `local time, UTC+01:00`.
    pub(super) fn describe(self, micros: u64) -> String {
        match self {
            Clock::Utc if cfg!(any(unix, windows)) => "UTC".into(),
            Clock::Utc => "UTC; local time is not available on this platform".into(),
            Clock::Local => {
                let offset = self.civil(micros).offset;
                let sign = if offset < 0 { '-' } else { '+' };
                let minutes = offset.abs() / 60;
                format!(
                    "local time, UTC{sign}{:02}:{:02}",
                    minutes / 60,
                    minutes % 60
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip_and_match_known_instants() {
        assert_eq!(Clock::Utc.format(0), "1970-01-01 00:00:00");
        assert_eq!(
            Clock::Utc.format(1_700_000_000_123_456),
            "2023-11-14 22:13:20"
        );
        assert_eq!(
            Clock::Utc.format(951_782_400_000_000),
            "2000-02-29 00:00:00"
        );
        for days in [-800_000i64, -1, 0, 59, 10_957, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
