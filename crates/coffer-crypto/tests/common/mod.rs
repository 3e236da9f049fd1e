//! Keys shared by the tests of one test binary: generating RSA keys is slow,
//! so each size is generated at most once per binary.

#![allow(dead_code)] // each test binary uses a different subset

use std::sync::OnceLock;

use coffer_crypto::{KeyOptions, KeyPair, KeySize, PrivateKey};

fn cached(cell: &'static OnceLock<PrivateKey>, size: KeySize) -> &'static PrivateKey {
    cell.get_or_init(|| PrivateKey::generate(size).expect("generate test key"))
}

/// The shared 2048-bit key.
pub fn key_2048() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    cached(&KEY, KeySize::Rsa2048)
}

/// A second, unrelated 2048-bit key.
pub fn other_key_2048() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    cached(&KEY, KeySize::Rsa2048)
}

/// The shared 3072-bit key.
pub fn key_3072() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    cached(&KEY, KeySize::Rsa3072)
}

/// The shared 4096-bit key pair with its certificate (the default options).
pub fn key_pair_4096() -> &'static KeyPair {
    static PAIR: OnceLock<KeyPair> = OnceLock::new();
    PAIR.get_or_init(|| KeyPair::generate(&KeyOptions::default()).expect("generate key pair"))
}
