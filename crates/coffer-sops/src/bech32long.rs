//! Bech32 (BIP-173) without its 90-character limit, as age encodes keys:
//! an `age1pq1…` recipient carries 1216 bytes, far past what BIP-173 (and
//! the `bech32` crate's default checksum) accepts. The checksum is Bech32's
//! own (not Bech32m), matching filippo.io/age's internal encoder.

use bech32::Hrp;
use bech32::primitives::decode::CheckedHrpstring;

/// Bech32's checksum with the length limit lifted.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Bech32Unbounded {}

impl bech32::Checksum for Bech32Unbounded {
    type MidstateRepr = u32;
    const CODE_LENGTH: usize = usize::MAX;
    const CHECKSUM_LENGTH: usize = bech32::Bech32::CHECKSUM_LENGTH;
    const GENERATOR_SH: [u32; 5] = bech32::Bech32::GENERATOR_SH;
    const TARGET_RESIDUE: u32 = bech32::Bech32::TARGET_RESIDUE;
}

/// Longest string accepted: an `age1pq1…` recipient is 1960 characters;
/// the bound keeps a hostile `.sops.yaml` or flag from costing more.
pub(crate) const MAX_LEN: usize = 4096;

/// Decodes `s` into its lower-cased HRP and data bytes. The error names
/// what is wrong without repeating `s` (it may be a secret key).
pub(crate) fn decode(s: &str) -> Result<(String, Vec<u8>), String> {
    if s.len() > MAX_LEN {
        return Err(format!("longer than {MAX_LEN} characters"));
    }
    let parsed = CheckedHrpstring::new::<Bech32Unbounded>(s).map_err(|e| match e {
        bech32::primitives::decode::CheckedHrpstringError::Checksum(_) => {
            "bad checksum or characters".to_string()
        }
        _ => "malformed Bech32 string".to_string(),
    })?;
    Ok((parsed.hrp().to_lowercase(), parsed.byte_iter().collect()))
}

/// Encodes `data` with `hrp`, lower case.
pub(crate) fn encode(hrp: &str, data: &[u8]) -> String {
    let hrp = Hrp::parse(hrp).expect("our HRPs are valid");
    bech32::encode_lower::<Bech32Unbounded>(hrp, data).expect("no length limit to exceed")
}
