//! sprig's encoding and hashing functions: `b64enc`, `b64dec`, `b32enc`,
//! `b32dec`, `sha1sum`, `sha256sum`, `sha512sum`, `adler32sum`.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha2::{Digest, Sha256, Sha512};

use super::base32;
use super::{Budget, FResult, Func, arity, check_len, copied, read, result_buf, str_arg};
use crate::value::{Str, Value};
use zeroize::Zeroizing;

/// Go's `base64.StdEncoding`: padding required, non-zero trailing bits
/// accepted.
pub(super) const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "b64enc" => b64enc,
        "b64dec" => b64dec,
        "b32enc" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            check_len(c, s.len().div_ceil(5).saturating_mul(8))?;
            copied(c, &Zeroizing::new(base32::encode(s)))
        },
        "b32dec" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            match base32::decode(s) {
                Ok(out) => copied(c, &out),
                Err(at) => copied(
                    c,
                    format!("illegal base32 data at input byte {at}").as_bytes(),
                ),
            }
        },
        "sha1sum" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            hex(c, &sha1::Sha1::digest(s))
        },
        "adler32sum" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            copied(c, adler32(s).to_string().as_bytes())
        },
        "sha256sum" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            hex(c, &Sha256::digest(s))
        },
        "sha512sum" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            hex(c, &Sha512::digest(s))
        },
        _ => return None,
    })
}

/// Go's `hash/adler32` checksum.
fn adler32(s: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the most that cannot overflow before the modulo.
    for chunk in s.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

fn hex(ctx: &Budget, digest: &[u8]) -> FResult {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let text: Vec<u8> = digest
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .collect();
    copied(ctx, &text)
}

/// sprig's `b64enc`; the length is known before encoding, so an encoding
/// past the value limit is refused before it is built.
fn b64enc(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let s = str_arg(&args[0])?;
    read(ctx, &[s])?;
    let len = s.len().div_ceil(3).saturating_mul(4);
    check_len(ctx, len)?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    let written = GO_STD
        .encode_slice(s, &mut out[..])
        .map_err(|_| super::FuncError::Other("base64 encoding failed"))?;
    out.truncate(written);
    ctx.bytes(written)?;
    ctx.values(1)?;
    Ok(Value::Str(Str::from(out)))
}

/// sprig's `b64dec`: invalid input does not fail the template; the result
/// is Go's error text ("illegal base64 data at input byte N"), which names
/// an offset, never the data. Like Go, line breaks in the input are ignored.
fn b64dec(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let s = str_arg(&args[0])?;
    read(ctx, &[s])?;
    let mut input = result_buf(ctx, s.len());
    for chunk in s.split(|&b| b == b'\r' || b == b'\n') {
        input.extend(chunk)?;
    }
    let input = input.into_bytes();
    let mut out = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(input.len())]);
    match GO_STD.decode_slice(&input[..], &mut out[..]) {
        Ok(n) => {
            out.truncate(n);
            ctx.bytes(n)?;
            ctx.values(1)?;
            Ok(Value::Str(Str::from(out)))
        }
        Err(e) => {
            let at = match e {
                base64::DecodeSliceError::DecodeError(
                    base64::DecodeError::InvalidByte(i, _)
                    | base64::DecodeError::InvalidLastSymbol(i, _),
                ) => i,
                base64::DecodeSliceError::DecodeError(base64::DecodeError::InvalidLength(n)) => {
                    n - n % 4
                }
                base64::DecodeSliceError::DecodeError(base64::DecodeError::InvalidPadding)
                | base64::DecodeSliceError::OutputSliceTooSmall => input.len(),
            };
            copied(
                ctx,
                format!("illegal base64 data at input byte {at}").as_bytes(),
            )
        }
    }
}
