//! Converts RSA private keys between PKCS#1 and PKCS#8 DER.
//!
//! aws-lc-rs reads and writes RSA decryption keys as PKCS#8 only, while
//! Bitnami's key Secrets hold PKCS#1 (`RSA PRIVATE KEY`, Go's
//! `x509.MarshalPKCS1PrivateKey`). An RSA PKCS#8 document is a fixed wrapper
//! around the PKCS#1 one (RFC 5208 §5, RFC 8017 A.1), so converting needs only
//! these few lines of DER, with the key bytes kept in zeroizing buffers.

use zeroize::Zeroizing;

/// `AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }`.
const RSA_ALGORITHM_ID: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_SEQUENCE: u8 = 0x30;

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn len_len(len: usize) -> usize {
    let mut header = Vec::with_capacity(9);
    push_len(&mut header, len);
    header.len()
}

/// Reads one DER TLV: returns (tag, contents, rest).
fn read_tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), &'static str> {
    let (&tag, rest) = input.split_first().ok_or("unexpected end of data")?;
    let (&first, rest) = rest.split_first().ok_or("unexpected end of data")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("unsupported or truncated length");
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err("length runs past the end of the data");
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// Wraps a PKCS#1 `RSAPrivateKey` into a PKCS#8 v1 `PrivateKeyInfo`.
pub(crate) fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Zeroizing<Vec<u8>> {
    let octets_len = 1 + len_len(pkcs1.len()) + pkcs1.len();
    let inner_len = 3 + RSA_ALGORITHM_ID.len() + octets_len;
    let mut out = Zeroizing::new(Vec::with_capacity(1 + len_len(inner_len) + inner_len));
    out.push(TAG_SEQUENCE);
    push_len(&mut out, inner_len);
    out.extend_from_slice(&[TAG_INTEGER, 0x01, 0x00]);
    out.extend_from_slice(RSA_ALGORITHM_ID);
    out.push(TAG_OCTET_STRING);
    push_len(&mut out, pkcs1.len());
    out.extend_from_slice(pkcs1);
    out
}

/// Finds the PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo`.
pub(crate) fn pkcs8_to_pkcs1(pkcs8: &[u8]) -> Result<&[u8], &'static str> {
    let (tag, info, _) = read_tlv(pkcs8)?;
    if tag != TAG_SEQUENCE {
        return Err("not a der sequence");
    }
    let (tag, version, rest) = read_tlv(info)?;
    if tag != TAG_INTEGER || !(version == [0] || version == [1]) {
        return Err("unsupported pkcs#8 version");
    }
    let (tag, _, after_alg) = read_tlv(rest)?;
    if tag != TAG_SEQUENCE || !rest.starts_with(RSA_ALGORITHM_ID) {
        return Err("not an rsa key");
    }
    let (tag, key, _) = read_tlv(after_alg)?;
    if tag != TAG_OCTET_STRING {
        return Err("missing private key octet string");
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_and_unwrap_round_trip_for_short_and_long_contents() {
        for len in [0usize, 1, 127, 128, 255, 256, 2000, 70_000] {
            let pkcs1: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let pkcs8 = pkcs1_to_pkcs8(&pkcs1);
            assert_eq!(
                pkcs8_to_pkcs1(&pkcs8).unwrap(),
                pkcs1.as_slice(),
                "len {len}"
            );
        }
    }

    #[test]
    fn unwrap_rejects_garbage_without_panicking() {
        for input in [
            &[][..],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x02, 0x01, 0x00],
        ] {
            assert!(pkcs8_to_pkcs1(input).is_err(), "{input:?}");
        }
    }
}
