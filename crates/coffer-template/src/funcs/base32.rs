//! Go's `base32.StdEncoding` for sprig's `b32enc`/`b32dec`: RFC 4648
//! alphabet with `=` padding. Decoding follows Go's `DecodeString` step
//! for step (line breaks ignored, padding checked per quantum, the same
//! error offsets), because sprig returns Go's error text as the result.

use zeroize::Zeroizing;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Encodes with padding.
pub(super) fn encode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len().div_ceil(5) * 8);
    for chunk in s.chunks(5) {
        let mut block = [0u8; 5];
        block[..chunk.len()].copy_from_slice(chunk);
        let bits = block.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(ALPHABET[((bits >> (35 - 5 * i)) & 31) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

fn value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'2'..=b'7' => Some(c - b'2' + 26),
        _ => None,
    }
}

/// Decodes as Go's `StdEncoding.DecodeString`; the error is the input
/// offset Go's `CorruptInputError` reports (after line breaks are removed).
pub(super) fn decode(s: &[u8]) -> Result<Zeroizing<Vec<u8>>, usize> {
    let src: Zeroizing<Vec<u8>> = Zeroizing::new(
        s.iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect(),
    );
    let olen = src.len();
    let mut out = Zeroizing::new(Vec::with_capacity(olen / 8 * 5 + 5));
    let mut pos = 0;
    let mut end = false;
    while pos < olen && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8;
        let mut j = 0;
        while j < 8 {
            if pos == olen {
                // The end, with padding missing.
                return Err(olen - j);
            }
            let c = src[pos];
            pos += 1;
            let left = olen - pos;
            if c == b'=' && j >= 2 && left < 8 {
                // Padding: the rest of the quantum must be padding too.
                if left + j < 8 - 1 {
                    return Err(olen);
                }
                for k in 0..8 - 1 - j {
                    if left > k && src[pos + k] != b'=' {
                        return Err(pos + k - 1);
                    }
                }
                dlen = j;
                end = true;
                if matches!(dlen, 1 | 3 | 6) {
                    return Err(pos - 1);
                }
                break;
            }
            match value(c) {
                Some(v) => dbuf[j] = v,
                None => return Err(pos - 1),
            }
            j += 1;
        }
        let bytes = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        let bits = dbuf.iter().fold(0u64, |acc, &v| (acc << 5) | u64::from(v));
        for i in 0..bytes {
            out.push((bits >> (32 - 8 * i)) as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc_4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "MY======"),
            ("fo", "MZXQ===="),
            ("foo", "MZXW6==="),
            ("foob", "MZXW6YQ="),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI======"),
        ] {
            assert_eq!(encode(plain.as_bytes()), enc.as_bytes());
            assert_eq!(&decode(enc.as_bytes()).unwrap()[..], plain.as_bytes());
        }
    }
}
