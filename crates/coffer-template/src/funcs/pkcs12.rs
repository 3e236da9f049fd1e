//! ESO's PKCS#12 helpers: `pkcs12key`/`pkcs12keyPass` and
//! `pkcs12cert`/`pkcs12certPass` read a PKCS#12 file (the raw bytes, as a
//! Secret holds it) as go-pkcs12's `DecodeChain` does (exactly one key,
//! the first certificate is the leaf, the others its chain, which is put in
//! leaf-to-root order when it can be); `pemToPkcs12`, `fullPemToPkcs12`
//! and `pemTruststoreToPKCS12` (and `Pass` forms) write one, base64, as
//! go-pkcs12's `Modern` encoder does (PBES2 with PBKDF2-HMAC-SHA-256 and
//! AES-256-CBC, 2048 iterations, an HMAC-SHA-256 MAC). On p12-keystore.
//!
//! The output is salted at random, so it never equals Go's byte for byte;
//! `tests/eso_golden.rs` checks that each side reads what the other
//! writes. p12-keystore does not zeroize its own buffers; what we take out
//! of it is zeroized.

use std::collections::BTreeMap;

use base64::Engine as _;
use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, Pkcs12Archive,
    PrivateKey, PrivateKeyChain,
};
use sha1::Digest;
use zeroize::Zeroizing;

use super::eso::{chain_order, parse_certs};
use super::pem;
use super::{
    Budget, FResult, Func, FuncError, arity, check_len, copied, finish, read, result_buf, str_arg,
};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "pkcs12key" => |c, a| {
            arity(a, 1)?;
            pkcs12_key(c, b"", str_arg(&a[0])?)
        },
        "pkcs12keyPass" => |c, a| {
            arity(a, 2)?;
            pkcs12_key(c, str_arg(&a[0])?, str_arg(&a[1])?)
        },
        "pkcs12cert" => |c, a| {
            arity(a, 1)?;
            pkcs12_cert(c, b"", str_arg(&a[0])?)
        },
        "pkcs12certPass" => |c, a| {
            arity(a, 2)?;
            pkcs12_cert(c, str_arg(&a[0])?, str_arg(&a[1])?)
        },
        "pemToPkcs12" => |c, a| {
            arity(a, 2)?;
            to_pkcs12(c, str_arg(&a[0])?, str_arg(&a[1])?, b"", false)
        },
        "pemToPkcs12Pass" => |c, a| {
            arity(a, 3)?;
            to_pkcs12(c, str_arg(&a[0])?, str_arg(&a[1])?, str_arg(&a[2])?, false)
        },
        "fullPemToPkcs12" => |c, a| {
            arity(a, 2)?;
            to_pkcs12(c, str_arg(&a[0])?, str_arg(&a[1])?, b"", true)
        },
        "fullPemToPkcs12Pass" => |c, a| {
            arity(a, 3)?;
            to_pkcs12(c, str_arg(&a[0])?, str_arg(&a[1])?, str_arg(&a[2])?, true)
        },
        "pemTruststoreToPKCS12" => |c, a| {
            arity(a, 1)?;
            truststore(c, str_arg(&a[0])?, b"")
        },
        "pemTruststoreToPKCS12Pass" => |c, a| {
            arity(a, 2)?;
            truststore(c, str_arg(&a[0])?, str_arg(&a[1])?)
        },
        _ => return None,
    })
}

const DECODE: FuncError = FuncError::Other("unable to decode pkcs12 with password");

fn password(p: &[u8]) -> Result<Zeroizing<String>, FuncError> {
    std::str::from_utf8(p)
        .map(|s| Zeroizing::new(s.to_owned()))
        .map_err(|_| FuncError::Other("the password is not UTF-8"))
}

/// What a PKCS#12 file holds: the one key (PKCS#8 DER) and the
/// certificates (DER) in file order.
type Chain = (Zeroizing<Vec<u8>>, Vec<Zeroizing<Vec<u8>>>);

/// go-pkcs12's `DecodeChain`.
fn decode_chain(ctx: &Budget, pass: &[u8], input: &[u8]) -> Result<Chain, FuncError> {
    read(ctx, &[input])?;
    // key derivation and decryption cost far more than the bytes read
    ctx.bytes(input.len().saturating_mul(16))?;
    let pass = password(pass)?;
    let archive = Pkcs12Archive::from_pkcs12(input, &pass).map_err(|_| DECODE)?;
    let [key] = &archive.keys[..] else {
        return Err(if archive.keys.is_empty() {
            FuncError::Other("pkcs12: private key missing")
        } else {
            FuncError::Other("pkcs12: expected exactly one key bag")
        });
    };
    if archive.certs.is_empty() {
        return Err(FuncError::Other("pkcs12: certificate missing"));
    }
    let certs = archive
        .certs
        .iter()
        .map(|c| Zeroizing::new(c.cert.as_der().to_vec()))
        .collect();
    Ok((Zeroizing::new(key.key.as_der().to_vec()), certs))
}

fn pkcs12_key(ctx: &Budget, pass: &[u8], input: &[u8]) -> FResult {
    let (key, _) = decode_chain(ctx, pass, input)?;
    let mut out = result_buf(ctx, key.len() * 2);
    let built = pem::encode_parts(&mut out, b"PRIVATE KEY", &BTreeMap::new(), &key);
    finish(ctx, out, built)
}

/// The certificates as PEM, leaf to root when the chain can be ordered
/// (ESO's `fetchCertChains`), else as they are in the file.
fn pkcs12_cert(ctx: &Budget, pass: &[u8], input: &[u8]) -> FResult {
    let (_, certs) = decode_chain(ctx, pass, input)?;
    let mut unordered = result_buf(ctx, 0);
    let built = certs.iter().try_for_each(|der| {
        pem::encode_parts(&mut unordered, b"CERTIFICATE", &BTreeMap::new(), der)
    });
    ctx.bytes(unordered.len())?;
    built?;
    let parsed = parse_certs(unordered.as_slice())?;
    let Ok(order) = chain_order(ctx, &parsed) else {
        return finish(ctx, unordered, Ok(()));
    };
    let mut out = result_buf(ctx, unordered.len());
    let built = order.iter().try_for_each(|&i| {
        pem::encode_parts(&mut out, b"CERTIFICATE", &BTreeMap::new(), &parsed[i].der)
    });
    finish(ctx, out, built)
}

/// ESO's `parsePrivateKey` of the first PEM block of `key`, as PKCS#8 DER:
/// PKCS#1 (RSA), PKCS#8, or SEC 1 (EC), tried in Go's order.
fn private_key_pkcs8(key: &[u8]) -> Result<Zeroizing<Vec<u8>>, FuncError> {
    const BAD: FuncError = FuncError::Other("unable to parse private key type");
    let (block, _) = pem::decode(key).ok_or(FuncError::Other("failed to decode PEM block"))?;
    let der = &block.bytes;
    let wrap = |alg: &[u64], params: Option<&yasna::models::ObjectIdentifier>| {
        Zeroizing::new(yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_u8(0);
                w.next().write_sequence(|w| {
                    w.next()
                        .write_oid(&yasna::models::ObjectIdentifier::from_slice(alg));
                    match params {
                        Some(p) => w.next().write_oid(p),
                        None => w.next().write_null(),
                    }
                });
                w.next().write_bytes(der);
            });
        }))
    };
    // PKCS#1: version 0 and eight integers
    let pkcs1 = yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            if r.next().read_u8()? != 0 {
                return Err(yasna::ASN1Error::new(yasna::ASN1ErrorKind::Invalid));
            }
            for _ in 0..8 {
                r.next().read_bigint_bytes()?;
            }
            Ok(())
        })
    });
    if pkcs1.is_ok() {
        return Ok(wrap(&[1, 2, 840, 113549, 1, 1, 1], None));
    }
    if PrivateKey::from_der(der).is_ok() {
        return Ok(Zeroizing::new(der.to_vec()));
    }
    // SEC 1: version 1, the scalar, [0] the curve
    let curve = yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            if r.next().read_u8()? != 1 {
                return Err(yasna::ASN1Error::new(yasna::ASN1ErrorKind::Invalid));
            }
            r.next().read_bytes()?;
            let curve =
                r.read_optional(|r| r.read_tagged(yasna::Tag::context(0), |r| r.read_oid()))?;
            r.read_optional(|r| r.read_tagged(yasna::Tag::context(1), |r| r.read_bitvec_bytes()))?;
            Ok(curve)
        })
    });
    match curve {
        Ok(Some(curve)) => Ok(wrap(&[1, 2, 840, 10045, 2, 1], Some(&curve))),
        _ => Err(BAD),
    }
}

/// ESO's `pemToPkcs12Pass` (the first certificate of `cert`) and
/// `fullPemToPkcs12Pass` (`full`: the others are its chain).
fn to_pkcs12(ctx: &Budget, cert: &[u8], key: &[u8], pass: &[u8], full: bool) -> FResult {
    read(ctx, &[cert, key])?;
    let (block, rest) = pem::decode(cert).ok_or(FuncError::Other("failed to decode PEM block"))?;
    let leaf = Certificate::from_der(&block.bytes)
        .map_err(|_| FuncError::Other("failed to parse certificate"))?;
    let mut chain = vec![leaf];
    if full {
        chain.extend(ca_certs(rest)?);
    }
    let key = PrivateKey::from_der(&private_key_pkcs8(key)?)
        .map_err(|_| FuncError::Other("unable to parse private key type"))?;
    // go-pkcs12's local key ID: the SHA-1 of the leaf certificate
    let key_id = sha1::Sha1::digest(&block.bytes).to_vec();
    let mut store = KeyStore::new();
    store.add_entry(
        "key",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(key_id, key, chain)),
    );
    write(ctx, &store, pass)
}

/// ESO's `parseCaCerts`: every PEM block a certificate (a block that is not
/// one, or text that is no block, fails; Go panics on the latter).
fn ca_certs(mut rest: &[u8]) -> Result<Vec<Certificate>, FuncError> {
    let mut certs = Vec::new();
    while !rest.is_empty() {
        let (block, after) =
            pem::decode(rest).ok_or(FuncError::Other("failed to decode PEM block"))?;
        rest = after;
        certs.push(
            Certificate::from_der(&block.bytes)
                .map_err(|_| FuncError::Other("failed to parse certificate"))?,
        );
    }
    Ok(certs)
}

/// ESO's `pemTruststoreToPKCS12Pass`: the certificates as trusted entries
/// (Java's trust attribute), no key.
fn truststore(ctx: &Budget, certs: &[u8], pass: &[u8]) -> FResult {
    read(ctx, &[certs])?;
    let mut store = KeyStore::new();
    for (i, cert) in ca_certs(certs)?.into_iter().enumerate() {
        store.add_entry(&format!("{i:04}"), KeyStoreEntry::Certificate(cert));
    }
    write(ctx, &store, pass)
}

/// The store written as go-pkcs12's `Modern` encoder does, base64.
fn write(ctx: &Budget, store: &KeyStore, pass: &[u8]) -> FResult {
    let pass = password(pass)?;
    let pfx = Zeroizing::new(
        store
            .writer(&pass)
            .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .encryption_iterations(2048)
            .mac_algorithm(MacAlgorithm::HmacSha256)
            .mac_iterations(2048)
            .write()
            .map_err(|_| FuncError::Other("unable to encode pkcs12"))?,
    );
    ctx.bytes(pfx.len().saturating_mul(16))?;
    let len = pfx.len().div_ceil(3) * 4;
    check_len(ctx, len)?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    let n = super::encoding::GO_STD
        .encode_slice(&pfx[..], &mut out[..])
        .map_err(|_| FuncError::Other("base64 encoding failed"))?;
    copied(ctx, &out[..n])
}
