//! Go duration strings (`time.ParseDuration`), which ESO uses for
//! `refreshInterval`, `refreshTime` and `retryInterval`: `"1h"`, `"2h30m"`,
//! `"15s"`, `"500ms"`, `"1.5h"`, `"0"`.

use std::time::Duration;

/// Why a Go duration string could not be read. The message names the input
/// (a duration is configuration, never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The string is empty.
    #[error("invalid duration \"\": empty string")]
    Empty,
    /// A number or unit is missing or malformed.
    #[error("invalid duration {input:?}: {reason}")]
    Invalid {
        /// The input as given (its first 64 bytes, then `…`).
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The duration is negative; an interval cannot be.
    #[error("invalid duration {input:?}: negative durations are not allowed")]
    Negative {
        /// The input as given (its first 64 bytes, then `…`).
        input: String,
    },
    /// The duration does not fit Go's `time.Duration` (about 292 years).
    #[error("invalid duration {input:?}: out of range")]
    Overflow {
        /// The input as given (its first 64 bytes, then `…`).
        input: String,
    },
}

/// At most this much of the input is repeated in an error (a status
/// condition and an Event carry the message).
const SHOWN_BYTES: usize = 64;

/// `input` for an error message: its first [`SHOWN_BYTES`] bytes (on a
/// character boundary), then `…` if there was more.
fn shown(input: &str) -> String {
    if input.len() <= SHOWN_BYTES {
        return input.to_owned();
    }
    let mut end = SHOWN_BYTES;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &input[..end])
}

/// Nanoseconds per unit, longest unit names first where one is a prefix of
/// another (`ms` before `m`). Matches Go: `µs` (micro sign) and `μs` (Greek
/// mu) both mean microseconds.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Go's `time.Duration` holds at most `i64::MAX` nanoseconds.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Parses a Go duration string into a [`Duration`], as Go's
/// `time.ParseDuration` does: a sequence of decimal numbers, each with an
/// optional fraction and a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), with
/// an optional leading `+`; `"0"` alone needs no unit. Negative durations
/// (allowed by Go) are rejected, since every ESO field using this is an
/// interval.
pub fn parse_go_duration(input: &str) -> Result<Duration, DurationError> {
    let invalid = |reason: &str| DurationError::Invalid {
        input: shown(input),
        reason: reason.to_owned(),
    };
    if input.is_empty() {
        return Err(DurationError::Empty);
    }
    // Matches Go: one optional sign; what follows must be a number. (Signs
    // were once handled by recursing, one call per `-`: a million of them
    // in a tenant's `refreshInterval` overflowed the stack.)
    let (negative, mut rest) = match input.as_bytes()[0] {
        b'-' => (true, &input[1..]),
        b'+' => (false, &input[1..]),
        _ => (false, input),
    };
    // Matches Go: a bare "0" is the only number allowed without a unit.
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid("no number"));
    }

    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(f) => {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                f.split_at(n)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid("expected a number"));
        }
        let unit_len = after
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(after.len(), |(i, _)| i);
        let (unit, next) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(invalid("missing unit (one of ns, us, ms, s, m, h)"));
        }
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, scale)| scale)
            // The unit is bounded like the input: it can be most of it.
            .ok_or_else(|| invalid(&format!("unknown unit {:?}", shown(unit))))?;

        let overflow = || DurationError::Overflow {
            input: shown(input),
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| overflow())?
        };
        let mut nanos = whole.checked_mul(scale).ok_or_else(overflow)?;
        // The fraction contributes frac * scale / 10^digits; digits beyond
        // what can matter at nanosecond precision are dropped, as Go does.
        let mut divisor: u128 = 1;
        let mut frac: u128 = 0;
        for digit in frac_part.bytes().take(18) {
            frac = frac * 10 + u128::from(digit - b'0');
            divisor *= 10;
        }
        nanos = nanos
            .checked_add(frac * scale / divisor)
            .ok_or_else(overflow)?;
        total = total.checked_add(nanos).ok_or_else(overflow)?;
        if total > MAX_NANOS {
            return Err(overflow());
        }
        rest = next;
    }
    // Zero is zero whatever its sign ("-0s" in Go); anything below it is
    // refused.
    if negative && total != 0 {
        return Err(DurationError::Negative {
            input: shown(input),
        });
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| DurationError::Overflow {
        input: shown(input),
    })?;
    // The remainder is below 10^9, so it fits in u32.
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// Formats a [`Duration`] the way Go's `Duration.String` does (`1h0m0s`,
/// `1m30s`, `500ms`, `0s`), for status messages and printer columns.
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        // Sub-second durations use the largest unit that keeps an integer
        // part, as Go does.
        let (scale, unit) = if nanos < 1_000 {
            (1, "ns")
        } else if nanos < 1_000_000 {
            (1_000, "\u{b5}s")
        } else {
            (1_000_000, "ms")
        };
        return format!("{}{unit}", decimal(nanos, scale));
    }
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    let secs = decimal(nanos % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

/// `value / scale` with the fraction's trailing zeros trimmed.
fn decimal(value: u128, scale: u128) -> String {
    let whole = value / scale;
    let frac = value % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_formatting_matches_go_duration_string() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_micros(3), "3\u{b5}s"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::from_secs(5400), "1h30m0s"),
        ];
        for (d, want) in cases {
            assert_eq!(format_go_duration(d), want, "{d:?}");
        }
    }
}
