//! sprig's `derivePassword COUNTER TYPE PASSWORD USER SITE`: the Master
//! Password algorithm (scrypt N=32768 r=8 p=2 of the password salted with
//! the user, HMAC-SHA-256 of the site and counter, characters from the
//! type's templates). Deterministic, so compared with Go byte for byte.
//! One call takes 32 MiB of scrypt memory and some 100 ms, so it is
//! charged 16 MiB against the render's byte budget: with the default
//! limits a render derives at most three passwords.

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use super::{Budget, FResult, Func, FuncError, arity, copied, int_arg, read, str_arg};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "derivePassword" => derive_password,
        _ => return None,
    })
}

const SEED: &[u8] = b"com.lyndir.masterpassword";

/// What one call is charged against the render's byte budget (64 MiB by
/// default): a quarter, so a render derives at most three passwords.
const COST: usize = 16 << 20;

fn templates(kind: &[u8]) -> Option<&'static [&'static str]> {
    Some(match kind {
        b"maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        b"long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        b"medium" => &["CvcnoCvc", "CvcCvcno"],
        b"short" => &["Cvcn"],
        b"basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        b"pin" => &["nnnn"],
        _ => return None,
    })
}

fn characters(class: u8) -> &'static [u8] {
    match class {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

fn derive_password(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 5)?;
    let counter = u32::try_from(int_arg(&args[0])?)
        .map_err(|_| FuncError::Other("the counter does not fit uint32"))?;
    let (kind, password, user, site) = (
        str_arg(&args[1])?,
        str_arg(&args[2])?,
        str_arg(&args[3])?,
        str_arg(&args[4])?,
    );
    read(ctx, &[kind, password, user, site])?;
    let Some(templates) = templates(kind) else {
        let mut text = b"cannot find password template ".to_vec();
        text.extend_from_slice(kind);
        return copied(ctx, &text);
    };
    ctx.bytes(COST)?;
    let len32 = |s: &[u8]| {
        u32::try_from(s.len())
            .map(u32::to_be_bytes)
            .map_err(|_| FuncError::Other("input too long"))
    };
    let mut salt = SEED.to_vec();
    salt.extend_from_slice(&len32(user)?);
    salt.extend_from_slice(user);
    let params = scrypt::Params::new(15, 8, 2, 64).map_err(|_| FuncError::Other("scrypt"))?;
    let mut key = Zeroizing::new([0u8; 64]);
    scrypt::scrypt(password, &salt, &params, &mut key[..])
        .map_err(|_| FuncError::Other("failed to derive password"))?;
    let mut message = SEED.to_vec();
    message.extend_from_slice(&len32(site)?);
    message.extend_from_slice(site);
    message.extend_from_slice(&counter.to_be_bytes());
    let seed = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key[..]), &message);
    let seed = seed.as_ref();
    let template = templates[usize::from(seed[0]) % templates.len()].as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(template.len()));
    for (i, &class) in template.iter().enumerate() {
        let chars = characters(class);
        out.push(chars[usize::from(seed[i + 1]) % chars.len()]);
    }
    copied(ctx, &out)
}

use crate::value::Value;
