//! sprig's `encryptAES PASSWORD TEXT` and `decryptAES PASSWORD BASE64`:
//! AES-256-CBC with the password's first 32 bytes (zero-padded) as the
//! key, a random IV in front, PKCS#7 padding, base64, in aws-lc-rs.
//! `decryptAES` strips padding as sprig does, by the last byte's value
//! without checking it (a wrong password gives other bytes, not an
//! error), and fails where sprig panics (input not whole blocks, a
//! padding length past the text).

use aws_lc_rs::cipher::{
    AES_256, DecryptingKey, DecryptionContext, EncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use base64::Engine as _;
use zeroize::Zeroizing;

use super::encoding::GO_STD;
use super::{Budget, FResult, Func, FuncError, arity, check_len, copied, read, str_arg};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "encryptAES" => |c, a| {
            arity(a, 2)?;
            let (password, text) = (str_arg(&a[0])?, str_arg(&a[1])?);
            encrypt(c, password, text)
        },
        "decryptAES" => |c, a| {
            arity(a, 2)?;
            let (password, b64) = (str_arg(&a[0])?, str_arg(&a[1])?);
            decrypt(c, password, b64)
        },
        _ => return None,
    })
}

const FAILED: FuncError = FuncError::Other("AES failed");

fn key(password: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    let n = password.len().min(32);
    key[..n].copy_from_slice(&password[..n]);
    key
}

fn encrypt(ctx: &Budget, password: &[u8], text: &[u8]) -> FResult {
    read(ctx, &[password, text])?;
    if text.is_empty() {
        return copied(ctx, b"");
    }
    let padding = 16 - text.len() % 16;
    let total = 16 + text.len() + padding;
    check_len(ctx, total.div_ceil(3) * 4)?;
    let mut body = Zeroizing::new(Vec::with_capacity(text.len() + padding));
    body.extend_from_slice(text);
    body.resize(text.len() + padding, padding as u8);
    let k = key(password);
    let key = EncryptingKey::cbc(UnboundCipherKey::new(&AES_256, &k[..]).map_err(|_| FAILED)?)
        .map_err(|_| FAILED)?;
    let context = key.encrypt(&mut body).map_err(|_| FAILED)?;
    let iv: &[u8] = (&context).try_into().map_err(|_| FAILED)?;
    let mut raw = Zeroizing::new(Vec::with_capacity(total));
    raw.extend_from_slice(iv);
    raw.extend_from_slice(&body);
    let mut out = Zeroizing::new(vec![0u8; total.div_ceil(3) * 4]);
    let n = GO_STD
        .encode_slice(&raw[..], &mut out[..])
        .map_err(|_| FAILED)?;
    copied(ctx, &out[..n])
}

fn decrypt(ctx: &Budget, password: &[u8], b64: &[u8]) -> FResult {
    read(ctx, &[password, b64])?;
    if b64.is_empty() {
        return copied(ctx, b"");
    }
    // Go's StdEncoding.DecodeString (line breaks ignored)
    let clean: Zeroizing<Vec<u8>> = Zeroizing::new(
        b64.iter()
            .copied()
            .filter(|b| !matches!(b, b'\r' | b'\n'))
            .collect(),
    );
    let mut raw = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(clean.len())]);
    let n = GO_STD
        .decode_slice(&clean[..], &mut raw[..])
        .map_err(|_| FuncError::Other("illegal base64 data"))?;
    raw.truncate(n);
    if raw.len() <= 16 || !raw.len().is_multiple_of(16) {
        return Err(FuncError::Other("the ciphertext is not whole AES blocks"));
    }
    let (iv, body) = raw.split_at_mut(16);
    let iv: [u8; 16] = (&*iv).try_into().map_err(|_| FAILED)?;
    let k = key(password);
    let key = DecryptingKey::cbc(UnboundCipherKey::new(&AES_256, &k[..]).map_err(|_| FAILED)?)
        .map_err(|_| FAILED)?;
    let plain = key
        .decrypt(body, DecryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| FAILED)?;
    let pad = usize::from(plain[plain.len() - 1]);
    let keep = plain
        .len()
        .checked_sub(pad)
        .ok_or(FuncError::Other("the padding is longer than the text"))?;
    copied(ctx, &plain[..keep])
}
