//! Shamir's secret sharing over GF(2^8), compatible with sops's `shamir`
//! package (itself HashiCorp Vault's): each part is the polynomial values
//! for every secret byte followed by the part's x-coordinate (1, 2, …), so a
//! data key split by sops combines here and the reverse.

use zeroize::Zeroizing;

use crate::{Error, Result};

fn mult(a: u8, b: u8) -> u8 {
    // Carry-less multiply reduced by x^8 + x^4 + x^3 + x + 1 (the AES field).
    let mut acc: u8 = 0;
    for i in (0..8).rev() {
        let bit = (b >> i) & 1;
        let a_or_zero = 0u8.wrapping_sub(bit) & a;
        let reduce = 0u8.wrapping_sub(acc >> 7) & 0x1b;
        acc = a_or_zero ^ (reduce ^ acc.wrapping_add(acc));
    }
    acc
}

fn inverse(a: u8) -> u8 {
    // a^254 = a^-1 in GF(2^8).
    let mut result = 1u8;
    let mut base = a;
    let mut e = 254u32;
    while e > 0 {
        if e & 1 == 1 {
            result = mult(result, base);
        }
        base = mult(base, base);
        e >>= 1;
    }
    result
}

fn interpolate_at_zero(xs: &[u8], ys: &[u8]) -> u8 {
    let mut result = 0u8;
    for i in 0..xs.len() {
        let mut basis = 1u8;
        for j in 0..xs.len() {
            if i != j {
                let num = xs[j];
                let denom = xs[i] ^ xs[j];
                basis = mult(basis, mult(num, inverse(denom)));
            }
        }
        result ^= mult(ys[i], basis);
    }
    result
}

/// Splits `secret` into `parts` shares, any `threshold` of which recombine it.
pub fn split(secret: &[u8], parts: usize, threshold: usize) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    if parts < threshold {
        return Err(Error::Shamir("parts cannot be less than threshold".into()));
    }
    if parts > 255 || threshold > 255 {
        return Err(Error::Shamir(
            "parts and threshold cannot exceed 255".into(),
        ));
    }
    if threshold < 2 {
        return Err(Error::Shamir("threshold must be at least 2".into()));
    }
    if secret.is_empty() {
        return Err(Error::Shamir("cannot split an empty secret".into()));
    }
    let mut out: Vec<Zeroizing<Vec<u8>>> = (0..parts)
        .map(|i| {
            let mut p = vec![0u8; secret.len() + 1];
            p[secret.len()] = (i + 1) as u8;
            Zeroizing::new(p)
        })
        .collect();
    let mut coeffs = Zeroizing::new(vec![0u8; threshold]);
    for (idx, &byte) in secret.iter().enumerate() {
        coeffs[0] = byte;
        getrandom::getrandom(&mut coeffs[1..]).map_err(|e| Error::Random(e.to_string()))?;
        for (i, part) in out.iter_mut().enumerate() {
            let x = (i + 1) as u8;
            // Horner's rule.
            let mut y = coeffs[threshold - 1];
            for c in coeffs[..threshold - 1].iter().rev() {
                y = mult(y, x) ^ c;
            }
            part[idx] = y;
        }
    }
    Ok(out)
}

/// Recombines shares produced by [`split`] (or by sops).
pub fn combine(parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>> {
    if parts.len() < 2 {
        return Err(Error::Shamir(
            "less than two parts cannot be used to reconstruct the secret".into(),
        ));
    }
    let len = parts[0].len();
    if len < 2 {
        return Err(Error::Shamir("parts must be at least two bytes".into()));
    }
    if parts.iter().any(|p| p.len() != len) {
        return Err(Error::Shamir("all parts must be the same length".into()));
    }
    let xs: Vec<u8> = parts.iter().map(|p| p[len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err(Error::Shamir("duplicate part detected".into()));
        }
    }
    let mut secret = Zeroizing::new(vec![0u8; len - 1]);
    let mut ys = vec![0u8; parts.len()];
    for (idx, out) in secret.iter_mut().enumerate() {
        for (i, p) in parts.iter().enumerate() {
            ys[i] = p[idx];
        }
        *out = interpolate_at_zero(&xs, &ys);
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn field_inverse_is_correct() {
        for a in 1..=255u8 {
            assert_eq!(mult(a, inverse(a)), 1);
        }
    }

    #[test]
    fn fewer_parts_than_threshold_do_not_reveal_the_secret() {
        let secret = [42u8; 32];
        let parts = split(&secret, 3, 3).unwrap();
        let two: Vec<&[u8]> = parts[..2].iter().map(|p| &p[..]).collect();
        assert_ne!(&combine(&two).unwrap()[..], &secret[..]);
    }

    proptest! {
        #[test]
        fn any_threshold_subset_recombines(secret in proptest::collection::vec(any::<u8>(), 1..40), n in 2usize..6, t_off in 0usize..4, skip in 0usize..6) {
            let t = 2 + t_off % (n - 1);
            let parts = split(&secret, n, t).unwrap();
            let chosen: Vec<&[u8]> = parts.iter().cycle().skip(skip % n).take(t).map(|p| &p[..]).collect();
            prop_assert_eq!(&combine(&chosen).unwrap()[..], &secret[..]);
        }
    }
}
