//! The little big-number arithmetic an OpenSSH RSA key needs before
//! aws-lc-rs can import it: `d mod (p-1)` and `d mod (q-1)` (OpenSSH does
//! not store them; PKCS#1 does), computed bit by bit with masks instead of
//! branches so the time taken does not depend on the secret values, and
//! the DER of the resulting PKCS#8 key. All buffers zeroize.

use zeroize::Zeroizing;

/// Big-endian bytes to little-endian 64-bit limbs, `width` limbs.
fn to_limbs(be: &[u8], width: usize) -> Zeroizing<Vec<u64>> {
    let mut limbs = Zeroizing::new(vec![0u64; width]);
    for (i, byte) in be.iter().rev().enumerate() {
        limbs[i / 8] |= u64::from(*byte) << (8 * (i % 8));
    }
    limbs
}

/// `d mod (p - 1)` for an odd `p` (so `p - 1` is `p` with its low bit
/// cleared), both big-endian; the result is big-endian without leading
/// zeros. Runs in time that depends only on the lengths of `d` and `p`.
pub(crate) fn rem_by_even_predecessor(d: &[u8], p: &[u8]) -> Zeroizing<Vec<u8>> {
    // One spare limb: the running remainder doubles to below 2(p-1).
    let width = p.len().div_ceil(8) + 1;
    let mut m = to_limbs(p, width);
    m[0] &= !1;
    let mut r = Zeroizing::new(vec![0u64; width]);
    let mut t = Zeroizing::new(vec![0u64; width]);
    for byte in d {
        for shift in (0..8).rev() {
            // r = 2r + bit, still below 2m.
            let mut carry = u64::from((byte >> shift) & 1);
            for limb in r.iter_mut() {
                let out = *limb >> 63;
                *limb = (*limb << 1) | carry;
                carry = out;
            }
            // t = r - m; keep t when there was no borrow (r >= m).
            let mut borrow = 0u64;
            for i in 0..width {
                let (x, b1) = r[i].overflowing_sub(m[i]);
                let (y, b2) = x.overflowing_sub(borrow);
                t[i] = y;
                borrow = u64::from(b1 | b2);
            }
            let keep_t = borrow.wrapping_sub(1);
            for i in 0..width {
                r[i] = (t[i] & keep_t) | (r[i] & !keep_t);
            }
        }
    }
    let mut be = Zeroizing::new(Vec::with_capacity(width * 8));
    for limb in r.iter().rev() {
        be.extend_from_slice(&limb.to_be_bytes());
    }
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    Zeroizing::new(be[start..].to_vec())
}

/// A DER length.
fn der_len(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend_from_slice(&[0x81, len as u8]),
        _ => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
    }
}

/// A DER TLV (lengths below 64 KiB, far above any RSA key we accept).
fn der(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    der_len(out, content.len());
    out.extend_from_slice(content);
}

/// A DER INTEGER from unsigned big-endian bytes.
fn der_uint(out: &mut Vec<u8>, v: &[u8]) {
    let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    let v = &v[start..];
    let mut content = Zeroizing::new(Vec::with_capacity(v.len() + 1));
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(v);
    der(out, 0x02, &content);
}

/// PKCS#8 `PrivateKeyInfo` wrapping a PKCS#1 `RSAPrivateKey` with the
/// given n, e, d, p, q, d mod (p-1), d mod (q-1), q⁻¹ mod p.
pub(crate) fn rsa_pkcs8(ints: &[&[u8]; 8]) -> Zeroizing<Vec<u8>> {
    let mut fields = Zeroizing::new(vec![0x02, 0x01, 0x00]); // version 0
    for v in ints {
        der_uint(&mut fields, v);
    }
    let mut pkcs1 = Zeroizing::new(Vec::new());
    der(&mut pkcs1, 0x30, &fields);
    let mut info = Zeroizing::new(vec![0x02, 0x01, 0x00]);
    // AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }
    info.extend_from_slice(&[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ]);
    der(&mut info, 0x04, &pkcs1);
    let mut out = Zeroizing::new(Vec::new());
    der(&mut out, 0x30, &info);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remainder_matches_native_arithmetic() {
        let cases: [(u128, u128); 6] = [
            (0, 7),
            (5, 7),
            (6, 7),
            (u128::MAX, 0xffff_ffff_ffff_fffb),
            (
                0x1234_5678_9abc_def0_1122_3344_5566_7788,
                0xfedc_ba98_7654_3211,
            ),
            (1 << 100, (1 << 70) + 1),
        ];
        for (d, p) in cases {
            let got = rem_by_even_predecessor(&d.to_be_bytes(), &p.to_be_bytes());
            let want = d % (p - 1);
            let want_be = want.to_be_bytes();
            let start = want_be.iter().position(|&b| b != 0).unwrap_or(16);
            assert_eq!(&got[..], &want_be[start..], "{d} mod {p}-1");
        }
    }
}
