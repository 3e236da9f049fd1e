//! sprig's `genPrivateKey TYPE`: a new key as the PEM sprig writes: `rsa`
//! (or empty) a 4096-bit RSA key as PKCS#1 `RSA PRIVATE KEY`, `ecdsa` a
//! P-256 key as SEC 1 `EC PRIVATE KEY` (with the curve and the public
//! key, as Go's `MarshalECPrivateKey`), `ed25519` PKCS#8 `PRIVATE KEY`;
//! another type gives sprig's "Unknown type" text. Keys are made by
//! aws-lc-rs. DSA, which aws-lc-rs does not make, fails. Making an RSA
//! key takes a good part of a second and cannot be stopped: each call is
//! charged 16 MiB of the render's byte budget (so at most three).

use std::collections::BTreeMap;

use aws_lc_rs::encoding::{AsBigEndian, AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeySize, PrivateDecryptingKey};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use yasna::models::ObjectIdentifier;
use zeroize::Zeroizing;

use super::pem::encode_parts;
use super::{Budget, FResult, Func, FuncError, arity, copied, finish, read, result_buf, str_arg};
use crate::value::Value;

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "genPrivateKey" => gen_private_key,
        _ => return None,
    })
}

const FAILED: FuncError = FuncError::Other("failed to generate private key");
const COST: usize = 16 << 20;

fn gen_private_key(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let kind = str_arg(&args[0])?;
    read(ctx, &[kind])?;
    let (label, der): (&[u8], Zeroizing<Vec<u8>>) = match kind {
        b"" | b"rsa" => {
            ctx.bytes(COST)?;
            (b"RSA PRIVATE KEY", rsa_pkcs1()?)
        }
        b"ecdsa" => {
            ctx.bytes(COST / 64)?;
            (b"EC PRIVATE KEY", ec_sec1()?)
        }
        b"ed25519" => {
            ctx.bytes(COST / 64)?;
            (b"PRIVATE KEY", ed25519_pkcs8()?)
        }
        b"dsa" => return Err(FuncError::Other("DSA keys are not supported")),
        other => {
            let mut text = b"Unknown type ".to_vec();
            text.extend_from_slice(other);
            return copied(ctx, &text);
        }
    };
    let mut out = result_buf(ctx, der.len() * 2);
    let built = encode_parts(&mut out, label, &BTreeMap::new(), &der);
    finish(ctx, out, built)
}

/// A 4096-bit RSA key as PKCS#1: the key aws-lc-rs writes as PKCS#8,
/// unwrapped.
fn rsa_pkcs1() -> Result<Zeroizing<Vec<u8>>, FuncError> {
    let key = PrivateDecryptingKey::generate(KeySize::Rsa4096).map_err(|_| FAILED)?;
    let pkcs8 = AsDer::<Pkcs8V1Der<'_>>::as_der(&key).map_err(|_| FAILED)?;
    yasna::parse_der(pkcs8.as_ref(), |r| {
        r.read_sequence(|r| {
            r.next().read_u8()?;
            r.next().read_sequence(|r| {
                r.next().read_oid()?;
                r.next().read_null()
            })?;
            r.next().read_bytes()
        })
    })
    .map(Zeroizing::new)
    .map_err(|_| FAILED)
}

/// A P-256 key as Go's `MarshalECPrivateKey` writes it: version 1, the
/// scalar, [0] the curve, [1] the public point.
fn ec_sec1() -> Result<Zeroizing<Vec<u8>>, FuncError> {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).map_err(|_| FAILED)?;
    let scalar = key.private_key().as_be_bytes().map_err(|_| FAILED)?;
    let point = key.public_key().as_ref().to_vec();
    let p256 = ObjectIdentifier::from_slice(&[1, 2, 840, 10045, 3, 1, 7]);
    Ok(Zeroizing::new(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(1);
            w.next().write_bytes(scalar.as_ref());
            w.next()
                .write_tagged(yasna::Tag::context(0), |w| w.write_oid(&p256));
            w.next().write_tagged(yasna::Tag::context(1), |w| {
                w.write_bitvec_bytes(&point, point.len() * 8);
            });
        });
    })))
}

/// An Ed25519 key as Go's `MarshalPKCS8PrivateKey` writes it.
fn ed25519_pkcs8() -> Result<Zeroizing<Vec<u8>>, FuncError> {
    let key = Ed25519KeyPair::generate().map_err(|_| FAILED)?;
    let seed = key.seed().map_err(|_| FAILED)?;
    let seed = seed.as_be_bytes().map_err(|_| FAILED)?;
    let inner = Zeroizing::new(yasna::construct_der(|w| w.write_bytes(seed.as_ref())));
    Ok(Zeroizing::new(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(0);
            w.next().write_sequence(|w| {
                w.next()
                    .write_oid(&ObjectIdentifier::from_slice(&[1, 3, 101, 112]));
            });
            w.next().write_bytes(&inner);
        });
    })))
}
