//! Timestamps as sops handles them: YAML plain scalars that look like dates
//! become `time` values written back in RFC 3339 with nanoseconds (Go's
//! `time.RFC3339Nano`), and `lastmodified` is RFC 3339 in seconds, which is
//! also the MAC's additional data. Small and dependency-free on purpose.

use std::time::{SystemTime, UNIX_EPOCH};

/// A calendar timestamp with an optional UTC offset in minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    /// Offset from UTC in minutes (0 means `Z`).
    offset_minutes: i32,
}

fn digits(s: &str, min: usize, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n < min || n > max {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl Timestamp {
    /// Parses the forms Go's YAML library accepts for an unquoted timestamp
    /// (matches go.yaml.in/yaml/v3 `allowedTimestampFormats`): `2006-1-2`,
    /// `2006-1-2T15:4:5.999999999Z07:00` (also with `t`), and
    /// `2006-1-2 15:4:5.999999999` (no zone, UTC).
    pub fn parse_yaml(s: &str) -> Option<Timestamp> {
        let (year, rest) = digits(s, 4, 4)?;
        let rest = rest.strip_prefix('-')?;
        let (month, rest) = digits(rest, 1, 2)?;
        let rest = rest.strip_prefix('-')?;
        let (day, rest) = digits(rest, 1, 2)?;
        let mut ts = Timestamp {
            year: i64::from(year),
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
            nanos: 0,
            offset_minutes: 0,
        };
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(ts.year, month) {
            return None;
        }
        if rest.is_empty() {
            return Some(ts);
        }
        let (with_zone, rest) = match rest.as_bytes()[0] {
            b'T' | b't' => (true, &rest[1..]),
            b' ' => (false, &rest[1..]),
            _ => return None,
        };
        let rest = ts.parse_clock(rest, 1)?;
        if with_zone {
            let rest = ts.parse_zone(rest)?;
            if !rest.is_empty() {
                return None;
            }
        } else if !rest.is_empty() {
            return None;
        }
        Some(ts)
    }

    /// Parses RFC 3339 (`2024-11-12T13:33:42Z`, fractions and offsets allowed).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
            return None;
        }
        let ts = Self::parse_yaml(s)?;
        // RFC 3339 needs two-digit fields; parse_yaml is laxer.
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        Some(ts)
    }

    fn parse_clock<'a>(&mut self, s: &'a str, min: usize) -> Option<&'a str> {
        let (hour, rest) = digits(s, min, 2)?;
        let rest = rest.strip_prefix(':')?;
        let (minute, rest) = digits(rest, min, 2)?;
        let rest = rest.strip_prefix(':')?;
        let (second, mut rest) = digits(rest, min, 2)?;
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        (self.hour, self.minute, self.second) = (hour, minute, second);
        if let Some(frac) = rest.strip_prefix('.') {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 9 {
                return None;
            }
            let mut nanos: u32 = frac[..n].parse().ok()?;
            for _ in n..9 {
                nanos *= 10;
            }
            self.nanos = nanos;
            rest = &frac[n..];
        }
        Some(rest)
    }

    fn parse_zone<'a>(&mut self, s: &'a str) -> Option<&'a str> {
        if let Some(rest) = s.strip_prefix('Z') {
            return Some(rest);
        }
        let sign = match s.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, rest) = digits(&s[1..], 2, 2)?;
        let rest = rest.strip_prefix(':')?;
        let (m, rest) = digits(rest, 2, 2)?;
        if h > 23 || m > 59 {
            return None;
        }
        self.offset_minutes = sign * (h as i32 * 60 + m as i32);
        Some(rest)
    }

    fn write_zone(&self, out: &mut String) {
        if self.offset_minutes == 0 {
            out.push('Z');
        } else {
            let sign = if self.offset_minutes < 0 { '-' } else { '+' };
            let m = self.offset_minutes.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", m / 60, m % 60));
        }
    }

    fn base(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// Formats as Go's `time.RFC3339` (whole seconds).
    pub fn to_rfc3339(self) -> String {
        let mut s = self.base();
        self.write_zone(&mut s);
        s
    }

    /// Formats as Go's `time.RFC3339Nano` (fraction without trailing zeros).
    pub fn to_rfc3339_nano(self) -> String {
        let mut s = self.base();
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        self.write_zone(&mut s);
        s
    }

    /// The current time in UTC, truncated to seconds.
    pub fn now_utc() -> Timestamp {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Self::from_unix(secs)
    }

    /// The UTC timestamp of a Unix time in seconds.
    pub fn from_unix(secs: i64) -> Timestamp {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        // Civil-from-days (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Timestamp {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            nanos: 0,
            offset_minutes: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_dates_normalize_like_go() {
        let t = Timestamp::parse_yaml("2024-01-02").unwrap();
        assert_eq!(t.to_rfc3339_nano(), "2024-01-02T00:00:00Z");
        let t = Timestamp::parse_yaml("2024-1-2t3:4:5.120+01:30").unwrap();
        assert_eq!(t.to_rfc3339_nano(), "2024-01-02T03:04:05.12+01:30");
        let t = Timestamp::parse_yaml("2024-01-02 10:11:12").unwrap();
        assert_eq!(t.to_rfc3339_nano(), "2024-01-02T10:11:12Z");
        assert!(Timestamp::parse_yaml("2024-13-01").is_none());
        assert!(Timestamp::parse_yaml("2024-02-30").is_none());
        assert!(Timestamp::parse_yaml("20240101").is_none());
        assert!(Timestamp::parse_yaml("2024-01-01T10:00:00").is_none());
    }

    #[test]
    fn unix_time_converts_to_civil_utc() {
        assert_eq!(Timestamp::from_unix(0).to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_unix(1_731_418_422).to_rfc3339(),
            "2024-11-12T13:33:42Z"
        );
    }

    #[test]
    fn rfc3339_round_trips_lastmodified() {
        let t = Timestamp::parse_rfc3339("2024-11-12T13:33:42Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-11-12T13:33:42Z");
        assert!(Timestamp::parse_rfc3339("2024-11-12").is_none());
    }
}
