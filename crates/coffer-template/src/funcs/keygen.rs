//! sprig's `genPrivateKey TYPE`: a new key as the PEM sprig writes: `rsa`
//! (or empty) a 4096-bit RSA key as PKCS#1 `RSA PRIVATE KEY`, `ecdsa` a
//! P-256 key as SEC 1 `EC PRIVATE KEY` (with the curve and the public
//! key, as Go's `MarshalECPrivateKey`), `ed25519` PKCS#8 `PRIVATE KEY`;
//! another type gives sprig's "Unknown type" text. Keys are made by
//! aws-lc-rs. DSA, which aws-lc-rs does not make, fails. Making an RSA
//! key takes a good part of a second and cannot be stopped: each call is
//! charged 16 MiB of the render's byte budget (so at most three), and
//! counts against [`MAX_RSA_KEYS`], which sprig's certificate functions
//! (`certs`) share.

use std::collections::BTreeMap;

use aws_lc_rs::encoding::{AsBigEndian, AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair,
};
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

/// The most RSA keys one render generates (`genPrivateKey` and the
/// certificate functions together): each takes tens to hundreds of
/// milliseconds of CPU that nothing can interrupt.
pub(super) const MAX_RSA_KEYS: u32 = 4;

/// A new RSA key of `size`, counted against [`MAX_RSA_KEYS`] and charged
/// `cost` bytes (which also reads the clock) before it is made.
pub(super) fn generate_rsa(
    ctx: &Budget,
    size: KeySize,
    cost: usize,
) -> Result<RsaKeyPair, FuncError> {
    if !ctx.rsa_key(MAX_RSA_KEYS) {
        return Err(FuncError::Other("a render generates at most 4 RSA keys"));
    }
    ctx.bytes(cost)?;
    RsaKeyPair::generate(size).map_err(|_| FAILED)
}

fn gen_private_key(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let kind = str_arg(&args[0])?;
    read(ctx, &[kind])?;
    let (label, der): (&[u8], Zeroizing<Vec<u8>>) = match kind {
        b"" | b"rsa" => {
            let key = generate_rsa(ctx, KeySize::Rsa4096, COST)?;
            (b"RSA PRIVATE KEY", rsa_pkcs1(&key)?)
        }
        b"ecdsa" => {
            ctx.bytes(COST / 64)?;
            let key =
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).map_err(|_| FAILED)?;
            (b"EC PRIVATE KEY", ec_sec1(&key, P256)?)
        }
        b"ed25519" => {
            ctx.bytes(COST / 64)?;
            let key = Ed25519KeyPair::generate().map_err(|_| FAILED)?;
            (b"PRIVATE KEY", ed25519_pkcs8(&key)?)
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

/// An RSA key as PKCS#1 (Go's `MarshalPKCS1PrivateKey`): the key
/// aws-lc-rs writes as PKCS#8, unwrapped.
pub(super) fn rsa_pkcs1(key: &RsaKeyPair) -> Result<Zeroizing<Vec<u8>>, FuncError> {
    let pkcs8 = AsDer::<Pkcs8V1Der<'_>>::as_der(key).map_err(|_| FAILED)?;
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

/// The named curves' object identifiers.
pub(super) const P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
pub(super) const P384: &[u64] = &[1, 3, 132, 0, 34];
pub(super) const P521: &[u64] = &[1, 3, 132, 0, 35];

/// An EC key on `curve` as Go's `MarshalECPrivateKey` writes it: version
/// 1, the scalar (padded to the curve's size), [0] the curve, [1] the
/// public point.
pub(super) fn ec_sec1(key: &EcdsaKeyPair, curve: &[u64]) -> Result<Zeroizing<Vec<u8>>, FuncError> {
    let scalar = key.private_key().as_be_bytes().map_err(|_| FAILED)?;
    let point = key.public_key().as_ref().to_vec();
    let curve = ObjectIdentifier::from_slice(curve);
    Ok(Zeroizing::new(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(1);
            w.next().write_bytes(scalar.as_ref());
            w.next()
                .write_tagged(yasna::Tag::context(0), |w| w.write_oid(&curve));
            w.next().write_tagged(yasna::Tag::context(1), |w| {
                w.write_bitvec_bytes(&point, point.len() * 8);
            });
        });
    })))
}

/// An Ed25519 key as Go's `MarshalPKCS8PrivateKey` writes it.
pub(super) fn ed25519_pkcs8(key: &Ed25519KeyPair) -> Result<Zeroizing<Vec<u8>>, FuncError> {
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
