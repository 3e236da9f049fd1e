//! Fingerprints: how logs, metrics and errors name a key without showing it.

use std::fmt;

/// A stable identifier of a public key: SHA-256 of its DER
/// SubjectPublicKeyInfo, shown as lowercase hex (as `openssl pkey -pubin
/// -outform der | sha256sum` prints it). A private key, its public key and
/// its certificate share one fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Fingerprint of a DER SubjectPublicKeyInfo.
    pub fn of_spki_der(spki: &[u8]) -> Fingerprint {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Fingerprint(bytes)
    }

    /// The raw 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_64_lowercase_hex_digits() {
        let fp = Fingerprint::of_spki_der(b"abc");
        // SHA-256("abc"), a published test vector.
        assert_eq!(
            fp.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(format!("{fp:?}"), format!("Fingerprint({fp})"));
    }
}
