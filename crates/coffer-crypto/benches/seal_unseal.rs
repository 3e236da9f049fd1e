//! Seal and unseal of one 64-byte value at 2048 and 4096 bits, on one thread.
//!
//! Unseal is dominated by one RSA private-key operation, so
//! `benches/compare-openssl.sh` prints these next to `openssl speed` for the
//! same key sizes. Two baselines show where the time goes: aws-lc-rs's bare
//! RSA-OAEP decryption of the same block, and its RSA PKCS#1 signature (the
//! operation `openssl speed` times). Run:
//! `cargo bench -p coffer-crypto --bench seal_unseal`.

#![allow(clippy::print_stdout)]

use std::hint::black_box;

use aws_lc_rs::rsa::{
    KeyPair as SigningKey, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use coffer_crypto::{KeySize, PrivateKey, seal, unseal};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let plaintext = [0x5au8; 64];
    let label = b"prod/db";
    for size in [KeySize::Rsa2048, KeySize::Rsa4096] {
        let key = PrivateKey::generate(size).expect("generate key");
        let keys = std::slice::from_ref(&key);
        let public = key.public_key();
        let sealed = seal(public, label, &plaintext).expect("seal");
        let bits = size.bits();
        c.bench_function(&format!("seal/rsa{bits}"), |b| {
            b.iter(|| seal(black_box(public), black_box(label), black_box(&plaintext)))
        });
        c.bench_function(&format!("unseal/rsa{bits}"), |b| {
            b.iter(|| unseal(black_box(keys), black_box(label), black_box(&sealed)))
        });

        let pkcs8 = key.to_pkcs8_der().expect("pkcs8");
        let oaep = OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(&pkcs8).unwrap())
            .expect("oaep key");
        let rsa_block = &sealed[2..2 + bits / 8];
        let mut out = vec![0u8; oaep.min_output_size()];
        c.bench_function(&format!("baseline-oaep-decrypt/rsa{bits}"), |b| {
            b.iter(|| {
                let session_key = oaep
                    .decrypt(
                        &OAEP_SHA256_MGF1SHA256,
                        black_box(rsa_block),
                        &mut out,
                        Some(label),
                    )
                    .expect("decrypt");
                black_box(session_key.len())
            })
        });
        let signer = SigningKey::from_pkcs8(&pkcs8).expect("signing key");
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut signature = vec![0u8; signer.public_modulus_len()];
        c.bench_function(&format!("baseline-sign/rsa{bits}"), |b| {
            b.iter(|| {
                signer
                    .sign(
                        &RSA_PKCS1_SHA256,
                        &rng,
                        black_box(&plaintext),
                        &mut signature,
                    )
                    .expect("sign")
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
