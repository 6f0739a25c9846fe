//! Time and number formatting the way nmap prints them. Times are UTC: nmap
//! prints local time, and vigie prints UTC with the zone spelled out where
//! nmap spells it (`2026-11-21 04:58 UTC`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (negative before it).
pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let s = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            // round toward minus infinity, like time_t arithmetic on floors
            if d.subsec_nanos() > 0 {
                -s - 1
            } else {
                -s
            }
        }
    }
}

/// Broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32, // 1..=12
    pub day: u32,   // 1..=31
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub weekday: u32, // 0 = Sunday
}

pub(crate) fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's days-from-civil inverse (public-domain algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    // 1970-01-01 was a Thursday (4).
    let weekday = (days + 4).rem_euclid(7) as u32;
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        min: rem / 60 % 60,
        sec: rem % 60,
        weekday,
    }
}

const WDAY: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MON: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// C `ctime()` layout without the newline: "Sat Nov 21 04:58:06 2026",
/// day of month padded with a space ("Sat Nov  1 …").
pub(crate) fn ctime(t: SystemTime) -> String {
    let c = civil(unix_secs(t));
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        WDAY[c.weekday as usize],
        MON[(c.month - 1) as usize],
        c.day,
        c.hour,
        c.min,
        c.sec,
        c.year
    )
}

/// "2026-11-21 04:58 UTC" (the "Starting … at" line).
pub(crate) fn minute_stamp(t: SystemTime) -> String {
    let c = civil(unix_secs(t));
    format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        c.year, c.month, c.day, c.hour, c.min
    )
}

/// "2026-11-21 04:58:49 UTC" (the "Scanned at" line).
pub(crate) fn second_stamp(t: SystemTime) -> String {
    let c = civil(unix_secs(t));
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        c.year, c.month, c.day, c.hour, c.min, c.sec
    )
}

/// Seconds with two significant digits in plain notation, as nmap prints
/// latency: 2µs → "0.0000020", 15µs → "0.000015", 100µs → "0.00010",
/// 1.27s → "1.3", 12.3s → "12".
pub(crate) fn two_sig_digits(d: Duration) -> String {
    let x = d.as_secs_f64();
    if x == 0.0 {
        return "0.0".to_string();
    }
    // Let the float formatter do the rounding, then read back the exponent.
    let sci = format!("{x:.1e}");
    let exp: i32 = sci
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let decimals = (1 - exp).max(0) as usize;
    format!("{x:.decimals$}")
}

/// Microseconds as nmap writes `<times srtt rttvar to>`.
pub(crate) fn micros(d: Duration) -> u128 {
    d.as_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn ctime_matches_nmap_run() {
        // nmap 7.93 printed start="1795237086" startstr="Sat Nov 21 04:58:06 2026"
        assert_eq!(ctime(at(1_795_237_086)), "Sat Nov 21 04:58:06 2026");
        assert_eq!(minute_stamp(at(1_795_237_086)), "2026-11-21 04:58 UTC");
        assert_eq!(second_stamp(at(1_795_237_129)), "2026-11-21 04:58:49 UTC");
        assert_eq!(ctime(at(0)), "Thu Jan  1 00:00:00 1970");
        // leap day, single-digit day padded with a space
        assert_eq!(ctime(at(951_782_400)), "Tue Feb 29 00:00:00 2000");
        assert_eq!(ctime(at(1_709_251_199)), "Thu Feb 29 23:59:59 2024");
        assert_eq!(ctime(at(1_704_067_200)), "Mon Jan  1 00:00:00 2024");
        assert_eq!(
            ctime(UNIX_EPOCH - Duration::from_secs(1)),
            "Wed Dec 31 23:59:59 1969"
        );
    }

    #[test]
    fn unix_secs_rounds_down() {
        assert_eq!(unix_secs(at(5) + Duration::from_millis(999)), 5);
        assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_millis(1)), -1);
    }

    #[test]
    fn latency_two_significant_digits() {
        let us = Duration::from_micros;
        assert_eq!(two_sig_digits(us(2)), "0.0000020");
        assert_eq!(two_sig_digits(us(15)), "0.000015");
        assert_eq!(two_sig_digits(us(32)), "0.000032");
        assert_eq!(two_sig_digits(us(100)), "0.00010");
        assert_eq!(two_sig_digits(Duration::from_nanos(99_960)), "0.00010");
        assert_eq!(two_sig_digits(Duration::from_millis(1270)), "1.3");
        assert_eq!(two_sig_digits(Duration::from_millis(12_300)), "12");
        assert_eq!(two_sig_digits(Duration::from_millis(123_000)), "123");
        assert_eq!(two_sig_digits(Duration::ZERO), "0.0");
    }
}
