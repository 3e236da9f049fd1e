//! Go's `time` package as sprig's date functions use it: layouts by
//! example (`"2006-01-02 15:04:05 MST"`) for `Format` and `Parse`,
//! `Duration.String` and `ParseDuration`. Ported from Go 1.26's
//! `time/format.go` and `time/time.go` chunk by chunk (`nextStdChunk`,
//! `appendFormat`, `parse`), on jiff for calendars and time zones.

use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, Zoned};

use crate::buf::{Buf, Full};
use crate::value::Time;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Std {
    Month,
    LongMonth,
    NumMonth,
    ZeroMonth,
    WeekDay,
    LongWeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    LowerPm,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// `.000`/`,000` (digits, separator)
    FracSecond0(usize, u8),
    /// `.999`/`,999`
    FracSecond9(usize, u8),
}

const ZERO_X: [Std; 6] = [
    Std::ZeroMonth,
    Std::ZeroDay,
    Std::ZeroHour12,
    Std::ZeroMinute,
    Std::ZeroSecond,
    Std::Year,
];

fn starts_lower(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_lowercase)
}

fn is_digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

/// Go's `nextStdChunk`: the text before the first layout element, the
/// element, and the rest.
fn next_chunk(l: &[u8]) -> (&[u8], Option<Std>, &[u8]) {
    let at = |i: usize, s: &[u8]| l.get(i..i + s.len()) == Some(s);
    for i in 0..l.len() {
        let hit = |len: usize, std: Std| Some((&l[..i], Some(std), &l[i + len..]));
        let found = match l[i] {
            b'J' if at(i, b"Jan") => {
                if at(i, b"January") {
                    hit(7, Std::LongMonth)
                } else if !starts_lower(&l[i + 3..]) {
                    hit(3, Std::Month)
                } else {
                    None
                }
            }
            b'M' if l.len() >= i + 3 => {
                if at(i, b"Monday") {
                    hit(6, Std::LongWeekDay)
                } else if at(i, b"Mon") && !starts_lower(&l[i + 3..]) {
                    hit(3, Std::WeekDay)
                } else if at(i, b"MST") {
                    hit(3, Std::Tz)
                } else {
                    None
                }
            }
            b'0' if l.len() >= i + 2 && (b'1'..=b'6').contains(&l[i + 1]) => {
                hit(2, ZERO_X[usize::from(l[i + 1] - b'1')])
            }
            b'0' if at(i, b"002") => hit(3, Std::ZeroYearDay),
            b'1' if at(i, b"15") => hit(2, Std::Hour),
            b'1' => hit(1, Std::NumMonth),
            b'2' if at(i, b"2006") => hit(4, Std::LongYear),
            b'2' => hit(1, Std::Day),
            b'_' if at(i, b"_2") => {
                if at(i + 1, b"2006") {
                    return (&l[..i + 1], Some(Std::LongYear), &l[i + 5..]);
                }
                hit(2, Std::UnderDay)
            }
            b'_' if at(i, b"__2") => hit(3, Std::UnderYearDay),
            b'3' => hit(1, Std::Hour12),
            b'4' => hit(1, Std::Minute),
            b'5' => hit(1, Std::Second),
            b'P' if at(i, b"PM") => hit(2, Std::Pm),
            b'p' if at(i, b"pm") => hit(2, Std::LowerPm),
            b'-' if at(i, b"-070000") => hit(7, Std::NumSecondsTz),
            b'-' if at(i, b"-07:00:00") => hit(9, Std::NumColonSecondsTz),
            b'-' if at(i, b"-0700") => hit(5, Std::NumTz),
            b'-' if at(i, b"-07:00") => hit(6, Std::NumColonTz),
            b'-' if at(i, b"-07") => hit(3, Std::NumShortTz),
            b'Z' if at(i, b"Z070000") => hit(7, Std::Iso8601SecondsTz),
            b'Z' if at(i, b"Z07:00:00") => hit(9, Std::Iso8601ColonSecondsTz),
            b'Z' if at(i, b"Z0700") => hit(5, Std::Iso8601Tz),
            b'Z' if at(i, b"Z07:00") => hit(6, Std::Iso8601ColonTz),
            b'Z' if at(i, b"Z07") => hit(3, Std::Iso8601ShortTz),
            sep @ (b'.' | b',') if i + 1 < l.len() && (l[i + 1] == b'0' || l[i + 1] == b'9') => {
                let ch = l[i + 1];
                let mut j = i + 1;
                while j < l.len() && l[j] == ch {
                    j += 1;
                }
                if is_digit(l, j) {
                    None
                } else {
                    let n = j - (i + 1);
                    let std = if ch == b'0' {
                        Std::FracSecond0(n, sep)
                    } else {
                        Std::FracSecond9(n, sep)
                    };
                    return (&l[..i], Some(std), &l[j..]);
                }
            }
            _ => None,
        };
        if let Some(f) = found {
            return f;
        }
    }
    (l, None, &[])
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's `appendInt`: `x` zero-padded to `width` digits.
fn put_int(out: &mut Buf, x: i64, width: usize) -> Result<(), Full> {
    if x < 0 {
        out.push(b'-')?;
    }
    let digits = x.unsigned_abs().to_string();
    out.fill(b'0', width.saturating_sub(digits.len()))?;
    out.extend(digits.as_bytes())
}

/// The zone name Go would print for `t` (`MST` in a layout): the zone's
/// abbreviation, or none for an unnamed fixed offset.
fn zone_name(t: &Time) -> String {
    if let Some(name) = &t.name {
        return name.clone();
    }
    let info = t.at.time_zone().to_offset_info(t.at.timestamp());
    info.abbreviation().to_owned()
}

/// Go's `Time.Format(layout)`, appended to `out`.
pub(super) fn format(out: &mut Buf, t: &Time, mut layout: &[u8]) -> Result<(), Full> {
    let z = &t.at;
    let (year, month, day) = (i64::from(z.year()), z.month(), i64::from(z.day()));
    let yday = i64::from(z.day_of_year());
    let (hour, min, sec) = (
        i64::from(z.hour()),
        i64::from(z.minute()),
        i64::from(z.second()),
    );
    let offset = i64::from(z.offset().seconds());
    loop {
        let (prefix, std, suffix) = next_chunk(layout);
        out.extend(prefix)?;
        let Some(std) = std else { return Ok(()) };
        layout = suffix;
        let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
        let day_name = DAYS[usize::from(z.weekday().to_sunday_zero_offset().unsigned_abs())];
        match std {
            Std::Year => put_int(out, year.abs() % 100, 2)?,
            Std::LongYear => put_int(out, year, 4)?,
            Std::Month => out.extend(&month_name.as_bytes()[..3])?,
            Std::LongMonth => out.extend(month_name.as_bytes())?,
            Std::NumMonth => put_int(out, i64::from(month), 0)?,
            Std::ZeroMonth => put_int(out, i64::from(month), 2)?,
            Std::WeekDay => out.extend(&day_name.as_bytes()[..3])?,
            Std::LongWeekDay => out.extend(day_name.as_bytes())?,
            Std::Day => put_int(out, day, 0)?,
            Std::UnderDay => {
                if day < 10 {
                    out.push(b' ')?;
                }
                put_int(out, day, 0)?;
            }
            Std::ZeroDay => put_int(out, day, 2)?,
            Std::UnderYearDay => {
                if yday < 100 {
                    out.push(b' ')?;
                    if yday < 10 {
                        out.push(b' ')?;
                    }
                }
                put_int(out, yday, 0)?;
            }
            Std::ZeroYearDay => put_int(out, yday, 3)?,
            Std::Hour => put_int(out, hour, 2)?,
            Std::Hour12 | Std::ZeroHour12 => {
                let hr = if hour % 12 == 0 { 12 } else { hour % 12 };
                put_int(out, hr, if std == Std::Hour12 { 0 } else { 2 })?;
            }
            Std::Minute => put_int(out, min, 0)?,
            Std::ZeroMinute => put_int(out, min, 2)?,
            Std::Second => put_int(out, sec, 0)?,
            Std::ZeroSecond => put_int(out, sec, 2)?,
            Std::Pm => out.extend(if hour >= 12 { b"PM" } else { b"AM" })?,
            Std::LowerPm => out.extend(if hour >= 12 { b"pm" } else { b"am" })?,
            Std::Iso8601Tz
            | Std::Iso8601ColonTz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonSecondsTz
            | Std::NumTz
            | Std::NumColonTz
            | Std::NumSecondsTz
            | Std::NumShortTz
            | Std::NumColonSecondsTz => {
                let iso = matches!(
                    std,
                    Std::Iso8601Tz
                        | Std::Iso8601ColonTz
                        | Std::Iso8601SecondsTz
                        | Std::Iso8601ShortTz
                        | Std::Iso8601ColonSecondsTz
                );
                if offset == 0 && iso {
                    out.push(b'Z')?;
                    continue;
                }
                // Go: the sign of the offset in whole minutes
                let negative = offset / 60 < 0;
                let zone = (offset / 60).abs();
                out.push(if negative { b'-' } else { b'+' })?;
                put_int(out, zone / 60, 2)?;
                let colon = matches!(
                    std,
                    Std::Iso8601ColonTz
                        | Std::NumColonTz
                        | Std::Iso8601ColonSecondsTz
                        | Std::NumColonSecondsTz
                );
                if colon {
                    out.push(b':')?;
                }
                if !matches!(std, Std::NumShortTz | Std::Iso8601ShortTz) {
                    put_int(out, zone % 60, 2)?;
                }
                if matches!(
                    std,
                    Std::Iso8601SecondsTz
                        | Std::NumSecondsTz
                        | Std::NumColonSecondsTz
                        | Std::Iso8601ColonSecondsTz
                ) {
                    if matches!(std, Std::NumColonSecondsTz | Std::Iso8601ColonSecondsTz) {
                        out.push(b':')?;
                    }
                    put_int(out, if negative { -offset } else { offset } % 60, 2)?;
                }
            }
            Std::Tz => {
                let name = zone_name(t);
                if !name.is_empty() {
                    out.extend(name.as_bytes())?;
                    continue;
                }
                let zone = offset / 60;
                out.push(if zone < 0 { b'-' } else { b'+' })?;
                put_int(out, zone.abs() / 60, 2)?;
                put_int(out, zone.abs() % 60, 2)?;
            }
            Std::FracSecond0(n, sep) | Std::FracSecond9(n, sep) => {
                let trim = matches!(std, Std::FracSecond9(..));
                let nanos = z.subsec_nanosecond();
                if trim && (n == 0 || nanos == 0) {
                    continue;
                }
                let digits = format!("{nanos:09}");
                let mut frac = &digits.as_bytes()[..n.min(9)];
                if trim {
                    while let [rest @ .., b'0'] = frac {
                        frac = rest;
                    }
                    if frac.is_empty() {
                        continue;
                    }
                }
                out.push(sep)?;
                out.extend(frac)?;
            }
        }
    }
}

/// Go's `time.LoadLocation` as sprig uses it (an unknown name is UTC).
pub(super) fn load_location(name: &[u8]) -> TimeZone {
    match name {
        b"" | b"UTC" => TimeZone::UTC,
        b"Local" => TimeZone::system(),
        other => std::str::from_utf8(other)
            .ok()
            .and_then(|n| TimeZone::get(n).ok())
            .unwrap_or(TimeZone::UTC),
    }
}

/// A time in a zone.
pub(super) fn in_zone(ts: Timestamp, tz: TimeZone) -> Time {
    Time {
        at: ts.to_zoned(tz),
        name: None,
    }
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn getnum(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    if !is_digit(s, 0) {
        return None;
    }
    if !is_digit(s, 1) {
        if fixed {
            return None;
        }
        return Some((i64::from(s[0] - b'0'), &s[1..]));
    }
    Some((
        i64::from(s[0] - b'0') * 10 + i64::from(s[1] - b'0'),
        &s[2..],
    ))
}

/// Go's `getnum3`: one to three digits (exactly three when `fixed`).
fn getnum3(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    let mut n = 0;
    let mut i = 0;
    while i < 3 && is_digit(s, i) {
        n = n * 10 + i64::from(s[i] - b'0');
        i += 1;
    }
    if i == 0 || (fixed && i != 3) {
        return None;
    }
    Some((n, &s[i..]))
}

/// Go's `lookup`: which of `names` `s` starts with (ignoring ASCII case).
fn lookup<'a>(names: &[&str], s: &'a [u8], short: bool) -> Option<(usize, &'a [u8])> {
    names.iter().enumerate().find_map(|(i, n)| {
        let n = if short {
            &n.as_bytes()[..3]
        } else {
            n.as_bytes()
        };
        let head = s.get(..n.len())?;
        head.eq_ignore_ascii_case(n).then(|| (i, &s[n.len()..]))
    })
}

/// Go's `skip`: `value` without `prefix` (runs of spaces match loosely).
fn skip<'a>(mut value: &'a [u8], mut prefix: &[u8]) -> Option<&'a [u8]> {
    while !prefix.is_empty() {
        if prefix[0] == b' ' {
            if !value.is_empty() && value[0] != b' ' {
                return None;
            }
            prefix = prefix.trim_ascii_start_matches_space();
            value = value.trim_ascii_start_matches_space();
            continue;
        }
        if value.first() != Some(&prefix[0]) {
            return None;
        }
        prefix = &prefix[1..];
        value = &value[1..];
    }
    Some(value)
}

trait TrimSpaces {
    fn trim_ascii_start_matches_space(&self) -> &Self;
}

impl TrimSpaces for [u8] {
    fn trim_ascii_start_matches_space(&self) -> &[u8] {
        let n = self.iter().take_while(|&&b| b == b' ').count();
        &self[n..]
    }
}

/// Go's `parseNanoseconds` of `value[..n]` (a separator, then digits).
fn parse_nanos(value: &[u8], n: usize) -> Option<i64> {
    if value.first().is_none_or(|b| *b != b'.' && *b != b',') {
        return None;
    }
    let digits = value.get(1..n)?;
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut ns: i64 = 0;
    for d in digits {
        ns = ns * 10 + i64::from(d - b'0');
    }
    Some(ns * 10i64.pow(9 - digits.len() as u32))
}

/// Go's `parseSignedOffset`: the length of `±h` (at most 12) at the
/// start of `s`, or 0.
fn signed_offset_len(s: &[u8]) -> usize {
    if !matches!(s.first(), Some(b'+' | b'-')) {
        return 0;
    }
    let digits = s[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    let value = std::str::from_utf8(&s[1..1 + digits])
        .ok()
        .and_then(|d| d.parse::<u64>().ok());
    match value {
        Some(x) if digits > 0 && x <= 12 => 1 + digits,
        _ => 0,
    }
}

/// Go's `parseTimeZone`: the length of the zone abbreviation at the start
/// of `s`.
fn zone_abbrev_len(s: &[u8]) -> Option<usize> {
    if s.len() < 3 {
        return None;
    }
    if s.len() >= 4 && (&s[..4] == b"ChST" || &s[..4] == b"MeST") {
        return Some(4);
    }
    if &s[..3] == b"GMT" {
        return Some(3 + signed_offset_len(&s[3..]));
    }
    if matches!(s[0], b'+' | b'-') {
        let n = signed_offset_len(s);
        return (n > 0).then_some(n);
    }
    let upper = s
        .iter()
        .take(6)
        .take_while(|b| b.is_ascii_uppercase())
        .count();
    match upper {
        5 if s[4] == b'T' => Some(5),
        4 if s[3] == b'T' || &s[..4] == b"WITA" => Some(4),
        3 => Some(3),
        _ => None,
    }
}

/// Go's `time.ParseInLocation(layout, value, Local)`; `None` where Go
/// returns an error.
pub(super) fn parse(mut layout: &[u8], mut value: &[u8]) -> Option<Time> {
    let local = TimeZone::system();
    let (mut am, mut pm) = (false, false);
    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let mut utc = false;
    let mut zone_offset: Option<i64> = None;
    let mut zone_name: Option<Vec<u8>> = None;
    loop {
        let (prefix, std, suffix) = next_chunk(layout);
        value = skip(value, prefix)?;
        let Some(std) = std else {
            if !value.is_empty() {
                return None;
            }
            break;
        };
        layout = suffix;
        match std {
            Std::Year => {
                let p = value.get(..2)?;
                year = std::str::from_utf8(p).ok()?.parse().ok()?;
                value = &value[2..];
                year += if year >= 69 { 1900 } else { 2000 };
            }
            Std::LongYear => {
                if value.len() < 4 || !is_digit(value, 0) {
                    return None;
                }
                year = std::str::from_utf8(&value[..4]).ok()?.parse().ok()?;
                value = &value[4..];
            }
            Std::Month | Std::LongMonth => {
                let (i, rest) = lookup(&MONTHS, value, std == Std::Month)?;
                month = i as i64 + 1;
                value = rest;
            }
            Std::NumMonth | Std::ZeroMonth => {
                (month, value) = getnum(value, std == Std::ZeroMonth)?;
                if !(1..=12).contains(&month) {
                    return None;
                }
            }
            Std::WeekDay | Std::LongWeekDay => {
                (_, value) = lookup(&DAYS, value, std == Std::WeekDay)?;
            }
            Std::Day | Std::UnderDay | Std::ZeroDay => {
                if std == Std::UnderDay && value.first() == Some(&b' ') {
                    value = &value[1..];
                }
                (day, value) = getnum(value, std == Std::ZeroDay)?;
            }
            Std::UnderYearDay | Std::ZeroYearDay => {
                for _ in 0..2 {
                    if std == Std::UnderYearDay && value.first() == Some(&b' ') {
                        value = &value[1..];
                    }
                }
                (yday, value) = getnum3(value, std == Std::ZeroYearDay)?;
            }
            Std::Hour => {
                (hour, value) = getnum(value, false)?;
                if hour >= 24 {
                    return None;
                }
            }
            Std::Hour12 | Std::ZeroHour12 => {
                (hour, value) = getnum(value, std == Std::ZeroHour12)?;
                if hour > 12 {
                    return None;
                }
            }
            Std::Minute | Std::ZeroMinute => {
                (min, value) = getnum(value, std == Std::ZeroMinute)?;
                if min >= 60 {
                    return None;
                }
            }
            Std::Second | Std::ZeroSecond => {
                (sec, value) = getnum(value, std == Std::ZeroSecond)?;
                if sec >= 60 {
                    return None;
                }
                if value.len() >= 2 && matches!(value[0], b'.' | b',') && is_digit(value, 1) {
                    let (_, next, _) = next_chunk(layout);
                    if !matches!(next, Some(Std::FracSecond0(..) | Std::FracSecond9(..))) {
                        let mut n = 2;
                        while is_digit(value, n) {
                            n += 1;
                        }
                        nsec = parse_nanos(value, n)?;
                        value = &value[n..];
                    }
                }
            }
            Std::Pm | Std::LowerPm => {
                let p = value.get(..2)?;
                value = &value[2..];
                let (pm_s, am_s): (&[u8], &[u8]) = if std == Std::Pm {
                    (b"PM", b"AM")
                } else {
                    (b"pm", b"am")
                };
                if p == pm_s {
                    pm = true;
                } else if p == am_s {
                    am = true;
                } else {
                    return None;
                }
            }
            Std::Iso8601Tz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonTz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ColonSecondsTz
                if value.first() == Some(&b'Z') =>
            {
                value = &value[1..];
                utc = true;
            }
            Std::Iso8601Tz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonTz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ColonSecondsTz
            | Std::NumTz
            | Std::NumShortTz
            | Std::NumColonTz
            | Std::NumSecondsTz
            | Std::NumColonSecondsTz => {
                let (sign, h, m, s, rest): (u8, &[u8], &[u8], &[u8], &[u8]) = match std {
                    Std::Iso8601ColonTz | Std::NumColonTz => {
                        if value.len() < 6 || value[3] != b':' {
                            return None;
                        }
                        (value[0], &value[1..3], &value[4..6], b"00", &value[6..])
                    }
                    Std::NumShortTz | Std::Iso8601ShortTz => {
                        if value.len() < 3 {
                            return None;
                        }
                        (value[0], &value[1..3], b"00", b"00", &value[3..])
                    }
                    Std::Iso8601ColonSecondsTz | Std::NumColonSecondsTz => {
                        if value.len() < 9 || value[3] != b':' || value[6] != b':' {
                            return None;
                        }
                        (
                            value[0],
                            &value[1..3],
                            &value[4..6],
                            &value[7..9],
                            &value[9..],
                        )
                    }
                    Std::Iso8601SecondsTz | Std::NumSecondsTz => {
                        if value.len() < 7 {
                            return None;
                        }
                        (
                            value[0],
                            &value[1..3],
                            &value[3..5],
                            &value[5..7],
                            &value[7..],
                        )
                    }
                    _ => {
                        if value.len() < 5 {
                            return None;
                        }
                        (value[0], &value[1..3], &value[3..5], b"00", &value[5..])
                    }
                };
                value = rest;
                let (hr, _) = getnum(h, true)?;
                let (mm, _) = getnum(m, true)?;
                let (ss, _) = getnum(s, true)?;
                if hr > 24 || mm > 60 || ss > 60 {
                    return None;
                }
                let off = (hr * 60 + mm) * 60 + ss;
                zone_offset = Some(match sign {
                    b'+' => off,
                    b'-' => -off,
                    _ => return None,
                });
            }
            Std::Tz => {
                if value.starts_with(b"UTC") {
                    utc = true;
                    value = &value[3..];
                } else {
                    let n = zone_abbrev_len(value)?;
                    zone_name = Some(value[..n].to_vec());
                    value = &value[n..];
                }
            }
            Std::FracSecond0(n, _) => {
                let nd = 1 + n;
                if value.len() < nd {
                    return None;
                }
                nsec = parse_nanos(value, nd)?;
                value = &value[nd..];
            }
            Std::FracSecond9(..) => {
                if value.len() >= 2 && matches!(value[0], b'.' | b',') && is_digit(value, 1) {
                    let mut i = 0;
                    while is_digit(value, i + 1) {
                        i += 1;
                    }
                    nsec = parse_nanos(value, 1 + i)?;
                    value = &value[1 + i..];
                }
            }
        }
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    let leap = |y: i64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    if yday >= 0 {
        let date = Date::new(i16::try_from(year).ok()?, 1, 1).ok()?;
        let days_in_year = if leap(year) { 366 } else { 365 };
        if yday < 1 || yday > days_in_year {
            return None;
        }
        let d = date.checked_add(jiff::Span::new().days(yday - 1)).ok()?;
        if month >= 0 && month != i64::from(d.month()) {
            return None;
        }
        if day >= 0 && day != i64::from(d.day()) {
            return None;
        }
        month = i64::from(d.month());
        day = i64::from(d.day());
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    let date = Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()?;
    let civil = date.at(
        i8::try_from(hour).ok()?,
        i8::try_from(min).ok()?,
        i8::try_from(sec).ok()?,
        i32::try_from(nsec).ok()?,
    );
    if utc {
        return Some(Time {
            at: civil.to_zoned(TimeZone::UTC).ok()?,
            name: None,
        });
    }
    if let Some(off) = zone_offset {
        let ts = civil
            .to_zoned(TimeZone::fixed(Offset::from_seconds(off as i32).ok()?))
            .ok()?
            .timestamp();
        let local_off = local.to_offset(ts);
        let local_name = local.to_offset_info(ts).abbreviation().to_owned();
        if i64::from(local_off.seconds()) == off
            && zone_name
                .as_deref()
                .is_none_or(|n| n == local_name.as_bytes())
        {
            return Some(in_zone(ts, local));
        }
        return Some(Time {
            at: ts.to_zoned(TimeZone::fixed(Offset::from_seconds(off as i32).ok()?)),
            name: Some(String::from_utf8_lossy(zone_name.as_deref().unwrap_or(b"")).into_owned()),
        });
    }
    if let Some(name) = zone_name {
        let guess = civil.to_zoned(TimeZone::UTC).ok()?.timestamp();
        // the local zone's offset for that abbreviation, if it has one
        for probe in [guess, guess - jiff::SignedDuration::from_hours(12)] {
            let info = local.to_offset_info(probe);
            if info.abbreviation().as_bytes() == name.as_slice() {
                let off = info.offset();
                let ts = civil.to_zoned(TimeZone::fixed(off)).ok()?.timestamp();
                return Some(in_zone(ts, local));
            }
        }
        let mut off = 0i32;
        if name.len() > 3 && name.starts_with(b"GMT") {
            off = std::str::from_utf8(&name[3..]).ok()?.parse::<i32>().ok()? * 3600;
        }
        // Go keeps the instant read as UTC and only labels it with the
        // made-up zone
        let tz = TimeZone::fixed(Offset::from_seconds(off).ok()?);
        let ts = guess;
        return Some(Time {
            at: ts.to_zoned(tz),
            name: Some(String::from_utf8_lossy(&name).into_owned()),
        });
    }
    Some(Time {
        at: civil.to_zoned(local).ok()?,
        name: None,
    })
}

/// Go's `Duration.String` of `d` nanoseconds.
pub(super) fn duration_string(d: i64) -> String {
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out: Vec<u8> = Vec::new();
    // written backwards, as Go does
    let frac = |out: &mut Vec<u8>, v: u64, prec: usize| -> u64 {
        let mut v = v;
        let mut print = false;
        for _ in 0..prec {
            let digit = (v % 10) as u8;
            print = print || digit != 0;
            if print {
                out.push(b'0' + digit);
            }
            v /= 10;
        }
        if print {
            out.push(b'.');
        }
        v
    };
    let int = |out: &mut Vec<u8>, mut v: u64| {
        if v == 0 {
            out.push(b'0');
        }
        while v > 0 {
            out.push(b'0' + (v % 10) as u8);
            v /= 10;
        }
    };
    if u < 1_000_000_000 {
        out.push(b's');
        let prec;
        if u == 0 {
            return "0s".to_owned();
        } else if u < 1_000 {
            prec = 0;
            out.push(b'n');
        } else if u < 1_000_000 {
            prec = 3;
            out.extend("µ".bytes().rev());
        } else {
            prec = 6;
            out.push(b'm');
        }
        u = frac(&mut out, u, prec);
        int(&mut out, u);
    } else {
        out.push(b's');
        u = frac(&mut out, u, 9);
        int(&mut out, u % 60);
        u /= 60;
        if u > 0 {
            out.push(b'm');
            int(&mut out, u % 60);
            u /= 60;
            if u > 0 {
                out.push(b'h');
                int(&mut out, u);
            }
        }
    }
    if neg {
        out.push(b'-');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub(super) fn parse_duration(s: &[u8]) -> Option<i64> {
    let mut s = s;
    let mut neg = false;
    if let Some(&c @ (b'-' | b'+')) = s.first() {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return None;
        }
        let int_len = s.iter().take_while(|b| b.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &d in &s[..int_len] {
            v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        let pre = int_len > 0;
        s = &s[int_len..];
        let mut f: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
            post = n > 0;
            let mut overflow = false;
            for &d in &s[..n] {
                if overflow {
                    continue;
                }
                if f > (1u64 << 63) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(d - b'0');
                if y > 1u64 << 63 {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            s = &s[n..];
        }
        if !pre && !post {
            return None;
        }
        let unit_len = s
            .iter()
            .take_while(|&&b| b != b'.' && !b.is_ascii_digit())
            .count();
        if unit_len == 0 {
            return None;
        }
        let unit: u64 = match &s[..unit_len] {
            b"ns" => 1,
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => return None,
        };
        s = &s[unit_len..];
        if v > (1u64 << 63) / unit {
            return None;
        }
        v *= unit;
        if f > 0 {
            v = v.checked_add((f as f64 * (unit as f64 / scale)) as u64)?;
            if v > 1u64 << 63 {
                return None;
            }
        }
        total = total.checked_add(v)?;
        if total > 1u64 << 63 {
            return None;
        }
    }
    if neg {
        return (total as i128)
            .checked_neg()
            .and_then(|n| i64::try_from(n).ok());
    }
    if total > (1u64 << 63) - 1 {
        return None;
    }
    Some(total as i64)
}

/// `t` plus `nanos` (Go's `Time.Add`), in the same zone.
pub(super) fn add(t: &Time, nanos: i64) -> Option<Time> {
    let ts =
        t.at.timestamp()
            .checked_add(jiff::SignedDuration::from_nanos(nanos))
            .ok()?;
    Some(Time {
        at: ts.to_zoned(t.at.time_zone().clone()),
        name: t.name.clone(),
    })
}

/// Now, in the local zone.
pub(super) fn now() -> Time {
    Time {
        at: Zoned::now(),
        name: None,
    }
}
