//! sprig's encoding and hashing functions: `b64enc`, `b64dec`,
//! `sha256sum`, `sha512sum`.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha2::{Digest, Sha256, Sha512};

use super::{Ctx, FResult, Func, arity, str_arg, string_result};
use crate::value::Value;

/// Go's `base64.StdEncoding`: padding required, non-zero trailing bits
/// accepted.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "b64enc" => |c, a| {
            arity(a, 1)?;
            string_result(c, GO_STD.encode(str_arg(&a[0])?).into_bytes())
        },
        "b64dec" => b64dec,
        "sha256sum" => |c, a| {
            arity(a, 1)?;
            string_result(c, hex(&Sha256::digest(str_arg(&a[0])?)))
        },
        "sha512sum" => |c, a| {
            arity(a, 1)?;
            string_result(c, hex(&Sha512::digest(str_arg(&a[0])?)))
        },
        _ => return None,
    })
}

fn hex(digest: &[u8]) -> Vec<u8> {
    digest
        .iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect()
}

/// sprig's `b64dec`: invalid input does not fail the template; the result
/// is Go's error text ("illegal base64 data at input byte N"), which names
/// an offset, never the data. Like Go, line breaks in the input are ignored.
fn b64dec(ctx: &Ctx, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let input: Vec<u8> = str_arg(&args[0])?
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    match GO_STD.decode(&input) {
        Ok(v) => string_result(ctx, v),
        Err(e) => {
            let at = match e {
                base64::DecodeError::InvalidByte(i, _)
                | base64::DecodeError::InvalidLastSymbol(i, _) => i,
                base64::DecodeError::InvalidLength(n) => n - n % 4,
                base64::DecodeError::InvalidPadding => input.len(),
            };
            string_result(
                ctx,
                format!("illegal base64 data at input byte {at}").into_bytes(),
            )
        }
    }
}
