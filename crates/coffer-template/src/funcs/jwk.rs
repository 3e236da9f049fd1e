//! ESO's `jwkPublicKeyPem` and `jwkPrivateKeyPem`: a JSON Web Key to the
//! PEM Go's `x509.MarshalPKIXPublicKey` / `MarshalPKCS8PrivateKey` write
//! (ESO parses the key with lestrrat-go/jwx). RSA (`n`, `e`, and for a
//! private key `d`, `p`, `q`, `dp`, `dq`, `qi`), EC on P-256/P-384/P-521
//! (`x`, `y`, `d`) and Ed25519 (`x`, `d`). As in ESO, a private JWK has no
//! public-key PEM here (Go refuses to marshal a private key as a public
//! one) and a public JWK no private-key PEM. Where Go computes the CRT
//! values an RSA JWK leaves out, we refuse the key instead. DER is written
//! with yasna; key bytes stay in zeroizing buffers.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;
use yasna::models::ObjectIdentifier;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::pem::encode_parts;
use super::{Func, FuncError, arity, finish, read, result_buf, str_arg};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "jwkPublicKeyPem" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            let der = public_der(&parse(s)?)?;
            let mut out = result_buf(c, der.len() * 2);
            let built = encode_parts(&mut out, b"PUBLIC KEY", &BTreeMap::new(), &der);
            finish(c, out, built)
        },
        "jwkPrivateKeyPem" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            let der = private_der(&parse(s)?)?;
            let mut out = result_buf(c, der.len() * 2);
            let built = encode_parts(&mut out, b"PRIVATE KEY", &BTreeMap::new(), &der);
            finish(c, out, built)
        },
        _ => return None,
    })
}

/// The JWK members we read (others are ignored, as jwx keeps them aside).
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct Jwk {
    kty: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    dp: Option<String>,
    dq: Option<String>,
    qi: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

const BAD: FuncError = FuncError::Other("failed to parse the JWK");

fn parse(s: &[u8]) -> Result<Jwk, FuncError> {
    serde_json::from_slice(s).map_err(|_| BAD)
}

/// jwx's base64: URL or standard alphabet, padded or not.
fn b64(field: &Option<String>) -> Result<Zeroizing<Vec<u8>>, FuncError> {
    const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    const URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CONFIG);
    const STD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
    let text = field.as_deref().ok_or(BAD)?;
    URL.decode(text)
        .or_else(|_| STD.decode(text))
        .map(Zeroizing::new)
        .map_err(|_| BAD)
}

/// An unsigned big-endian integer, as DER wants it (no leading zeros).
fn uint(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn oid(parts: &[u64]) -> ObjectIdentifier {
    ObjectIdentifier::from_slice(parts)
}

const RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
const EC: &[u64] = &[1, 2, 840, 10045, 2, 1];
const ED25519: &[u64] = &[1, 3, 101, 112];

/// The curve's OID and the byte length of its coordinates and scalars.
fn curve(crv: Option<&str>) -> Result<(&'static [u64], usize), FuncError> {
    match crv {
        Some("P-256") => Ok((&[1, 2, 840, 10045, 3, 1, 7], 32)),
        Some("P-384") => Ok((&[1, 3, 132, 0, 34], 48)),
        Some("P-521") => Ok((&[1, 3, 132, 0, 35], 66)),
        _ => Err(FuncError::Other("unsupported JWK curve")),
    }
}

/// `bytes` left-padded with zeros to `len` (longer is an error).
fn padded(bytes: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, FuncError> {
    let bytes = uint(bytes);
    if bytes.len() > len {
        return Err(BAD);
    }
    let mut out = Zeroizing::new(vec![0u8; len - bytes.len()]);
    out.extend_from_slice(bytes);
    Ok(out)
}

/// The uncompressed EC point of a JWK.
fn ec_point(k: &Jwk, size: usize) -> Result<Zeroizing<Vec<u8>>, FuncError> {
    let mut point = Zeroizing::new(vec![4u8]);
    point.extend_from_slice(&padded(&b64(&k.x)?, size)?);
    point.extend_from_slice(&padded(&b64(&k.y)?, size)?);
    Ok(point)
}

fn kty(k: &Jwk) -> Result<&str, FuncError> {
    k.kty.as_deref().ok_or(BAD)
}

/// `x509.MarshalPKIXPublicKey` of a public JWK.
fn public_der(k: &Jwk) -> Result<Vec<u8>, FuncError> {
    if k.d.is_some() {
        return Err(FuncError::Other(
            "a private JWK is not a public key (ESO refuses it too)",
        ));
    }
    match kty(k)? {
        "RSA" => {
            let (n, e) = (b64(&k.n)?, b64(&k.e)?);
            let pkcs1 = yasna::construct_der(|w| {
                w.write_sequence(|w| {
                    w.next().write_bigint_bytes(uint(&n), true);
                    w.next().write_bigint_bytes(uint(&e), true);
                });
            });
            Ok(spki(RSA, None, &pkcs1))
        }
        "EC" => {
            let (crv, size) = curve(k.crv.as_deref())?;
            Ok(spki(EC, Some(crv), &ec_point(k, size)?))
        }
        "OKP" if k.crv.as_deref() == Some("Ed25519") => {
            let x = b64(&k.x)?;
            if x.len() != 32 {
                return Err(BAD);
            }
            Ok(spki(ED25519, None, &x))
        }
        _ => Err(FuncError::Other("unsupported JWK key type")),
    }
}

/// A SubjectPublicKeyInfo: the algorithm (RSA's with NULL parameters, EC's
/// with the curve) and the key bits.
fn spki(alg: &[u64], curve: Option<&[u64]>, key: &[u8]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            algorithm(w.next(), alg, curve);
            w.next().write_bitvec_bytes(key, key.len() * 8);
        });
    })
}

fn algorithm(w: yasna::DERWriter<'_>, alg: &[u64], curve: Option<&[u64]>) {
    w.write_sequence(|w| {
        w.next().write_oid(&oid(alg));
        match curve {
            Some(c) => w.next().write_oid(&oid(c)),
            None if alg == RSA => w.next().write_null(),
            None => {}
        }
    });
}

/// `x509.MarshalPKCS8PrivateKey` of a private JWK.
fn private_der(k: &Jwk) -> Result<Zeroizing<Vec<u8>>, FuncError> {
    if k.d.is_none() {
        return Err(FuncError::Other(
            "a public JWK has no private key (ESO refuses it too)",
        ));
    }
    let d = b64(&k.d)?;
    let (alg, curve, inner): (&[u64], Option<&[u64]>, Zeroizing<Vec<u8>>) = match kty(k)? {
        "RSA" => {
            let parts = [&k.n, &k.e, &k.d, &k.p, &k.q, &k.dp, &k.dq, &k.qi]
                .into_iter()
                .map(b64)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    FuncError::Other("an RSA JWK without all of n, e, d, p, q, dp, dq, qi")
                })?;
            let pkcs1 = Zeroizing::new(yasna::construct_der(|w| {
                w.write_sequence(|w| {
                    w.next().write_u8(0);
                    for p in &parts {
                        w.next().write_bigint_bytes(uint(p), true);
                    }
                });
            }));
            (RSA, None, pkcs1)
        }
        "EC" => {
            let (crv, size) = curve(k.crv.as_deref())?;
            let point = ec_point(k, size)?;
            let scalar = padded(&d, size)?;
            // Go writes the curve in the PKCS#8 algorithm only
            let sec1 = Zeroizing::new(yasna::construct_der(|w| {
                w.write_sequence(|w| {
                    w.next().write_u8(1);
                    w.next().write_bytes(&scalar);
                    w.next().write_tagged(yasna::Tag::context(1), |w| {
                        w.write_bitvec_bytes(&point, point.len() * 8);
                    });
                });
            }));
            (EC, Some(crv), sec1)
        }
        "OKP" if k.crv.as_deref() == Some("Ed25519") => {
            if d.len() != 32 {
                return Err(BAD);
            }
            (
                ED25519,
                None,
                Zeroizing::new(yasna::construct_der(|w| w.write_bytes(&d))),
            )
        }
        _ => return Err(FuncError::Other("unsupported JWK key type")),
    };
    Ok(Zeroizing::new(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(0);
            algorithm(w.next(), alg, curve);
            w.next().write_bytes(&inner);
        });
    })))
}
