//! sprig's random and password functions: `randAlphaNum`, `randAlpha`,
//! `randAscii`, `randNumeric`, `randBytes`, `randInt`, `uuidv4`,
//! `shuffle`, `bcrypt`, `htpasswd`. Randomness comes from the operating
//! system through aws-lc-rs (as Go's crypto/rand), with unbiased choices;
//! results are built in zeroizing buffers (they are often passwords).

use base64::Engine as _;
use zeroize::Zeroizing;

use super::encoding::GO_STD;
use super::{
    Budget, FResult, Func, FuncError, arity, check_len, copied, finish, int_arg, read, result_buf,
    str_arg,
};
use crate::value::Value;

const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const DIGITS: &[u8] = b"0123456789";

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "randAlphaNum" => |c, a| chars(c, a, ALNUM),
        "randAlpha" => |c, a| chars(c, a, ALPHA),
        "randNumeric" => |c, a| chars(c, a, DIGITS),
        // goutils' CryptoRandomAscii: code points 32 to 126
        "randAscii" => |c, a| {
            let printable: Vec<u8> = (32u8..=126).collect();
            chars(c, a, &printable)
        },
        "randBytes" => |c, a| {
            arity(a, 1)?;
            let n =
                usize::try_from(int_arg(&a[0])?).map_err(|_| FuncError::Other("negative count"))?;
            check_len(c, n.div_ceil(3).saturating_mul(4))?;
            let mut bytes = Zeroizing::new(vec![0u8; n]);
            fill(&mut bytes)?;
            let mut out = Zeroizing::new(vec![0u8; n.div_ceil(3) * 4]);
            let len = GO_STD
                .encode_slice(&bytes[..], &mut out[..])
                .map_err(|_| FuncError::Other("base64 encoding failed"))?;
            copied(c, &out[..len])
        },
        "randInt" => |_, a| {
            arity(a, 2)?;
            let (min, max) = (int_arg(&a[0])?, int_arg(&a[1])?);
            let span = max
                .checked_sub(min)
                .filter(|s| *s > 0)
                .ok_or(FuncError::Other("invalid argument to Intn"))?;
            Ok(Value::Int(min + below(span.unsigned_abs())? as i64))
        },
        "uuidv4" => |c, a| {
            arity(a, 0)?;
            let mut b = [0u8; 16];
            fill(&mut b)?;
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            let text = format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            );
            copied(c, text.as_bytes())
        },
        // xstrings' Shuffle: the runes in random order
        "shuffle" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            let mut runes: Zeroizing<Vec<char>> =
                Zeroizing::new(String::from_utf8_lossy(s).chars().collect());
            for i in (1..runes.len()).rev() {
                let j = below(i as u64 + 1)? as usize;
                runes.swap(i, j);
            }
            let mut out = result_buf(c, s.len());
            let built = runes.iter().try_for_each(|&ch| out.push_char(ch));
            finish(c, out, built)
        },
        "bcrypt" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            let mut out = result_buf(c, 60);
            let built = bcrypt_into(&mut out, s)?;
            finish(c, out, built)
        },
        // sprig's htpasswd: `user:` and the bcrypt hash (an error text if
        // the user name has a colon, as sprig returns)
        "htpasswd" => |c, a| {
            arity(a, 2)?;
            let (user, password) = (str_arg(&a[0])?, str_arg(&a[1])?);
            read(c, &[user, password])?;
            let mut out = result_buf(c, user.len() + 61);
            if user.contains(&b':') {
                let built = out
                    .extend(b"invalid username: ")
                    .and_then(|()| out.extend(user));
                return finish(c, out, built);
            }
            let built = out.extend(user).and_then(|()| out.push(b':'));
            if built.is_err() {
                return finish(c, out, built);
            }
            let built = bcrypt_into(&mut out, password)?;
            finish(c, out, built)
        },
        _ => return None,
    })
}

/// Random bytes from the operating system.
fn fill(buf: &mut [u8]) -> Result<(), FuncError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| FuncError::Other("no randomness available"))
}

/// A uniform random number below `n` (> 0), by rejection.
fn below(n: u64) -> Result<u64, FuncError> {
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let mut b = [0u8; 8];
        fill(&mut b)?;
        let x = u64::from_le_bytes(b);
        if x < zone {
            return Ok(x % n);
        }
    }
}

/// `count` characters drawn uniformly from `set`.
fn chars(ctx: &Budget, args: &[Value], set: &[u8]) -> FResult {
    arity(args, 1)?;
    let n = int_arg(&args[0])?;
    // goutils: a negative count is an error, which sprig drops: ""
    let n = usize::try_from(n).unwrap_or(0);
    check_len(ctx, n)?;
    let mut out = result_buf(ctx, n);
    for _ in 0..n {
        let i = below(set.len() as u64)? as usize;
        out.push(set[i])?;
    }
    finish(ctx, out, Ok(()))
}

/// Go's `bcrypt.GenerateFromPassword(password, 10)` (`$2a$10$...`),
/// appended; a password over 72 bytes gives sprig's error text instead.
fn bcrypt_into(
    out: &mut crate::buf::Buf,
    password: &[u8],
) -> Result<Result<(), crate::buf::Full>, FuncError> {
    if password.len() > 72 {
        return Ok(out.extend(
            b"failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes",
        ));
    }
    let mut salt = [0u8; 16];
    fill(&mut salt)?;
    let hash = bcrypt::hash_with_salt(password, 10, salt)
        .map_err(|_| FuncError::Other("bcrypt failed"))?;
    let text = Zeroizing::new(hash.format_for_version(bcrypt::Version::TwoA));
    Ok(out.extend(text.as_bytes()))
}
