//! External Secrets' own template helpers (ESO v2.9 `runtime/template/v2`)
//! that we implement: `filterPEM`, `certSANs`, `rsaDecrypt`, and `hexdec`
//! from the sprig copy ESO now ships. ESO-only: not in sealed-secrets' set.
//!
//! Their input is key material, so every error is a fixed text that says
//! what kind of input was wrong, never where or what it held, and decoded
//! keys live in zeroizing buffers. RSA decryption runs in aws-lc-rs (never
//! the `rsa` crate, RUSTSEC-2023-0071).

use std::collections::BTreeMap;

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA512_MGF1SHA512, OaepAlgorithm,
    OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use zeroize::Zeroizing;

use super::pem;
use super::{
    Budget, FResult, Func, FuncError, arity, collection, copied, finish, read, result_buf, str_arg,
};
use crate::value::Value;

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "filterPEM" => filter_pem,
        "certSANs" => cert_sans,
        "rsaDecrypt" => rsa_decrypt,
        "hexdec" => hexdec,
        "filterCertChain" => filter_cert_chain,
        _ => return None,
    })
}

/// ESO's `trimJunk`: from the first BEGIN line on (what `pem.Decode` did
/// before Go 1.26).
fn trim_junk(s: &[u8]) -> &[u8] {
    match memchr::memmem::find(s, b"-----BEGIN") {
        Some(i) => &s[i..],
        None => s,
    }
}

/// `filterPEM TYPE PEM`: the blocks whose type is TYPE (ignoring case),
/// re-encoded; input with no such block and something left that is not a
/// block fails.
fn filter_pem(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 2)?;
    let (kind, input) = (str_arg(&args[0])?, str_arg(&args[1])?);
    read(ctx, &[input])?;
    let mut data = trim_junk(input);
    let mut out = result_buf(ctx, input.len());
    let mut found = false;
    let built = (|| {
        while let Some((block, rest)) = pem::decode(data) {
            data = rest;
            if eq_fold(&block.kind, kind) {
                found = true;
                pem::encode(&mut out, &block)?;
            }
        }
        Ok(())
    })();
    if !found && !data.is_empty() && built.is_ok() {
        return Err(FuncError::Other("error filtering pem: found junk"));
    }
    finish(ctx, out, built)
}

/// Go's `strings.EqualFold` (simple Unicode case folding) for the ASCII
/// case and, beyond ASCII, rune by rune upper/lower comparison.
fn eq_fold(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    a.chars().count() == b.chars().count()
        && a.chars().zip(b.chars()).all(|(x, y)| {
            x == y || x.to_lowercase().eq(y.to_lowercase()) || x.to_uppercase().eq(y.to_uppercase())
        })
}

/// `certSANs PEM`: the Subject Alternative Names of the first certificate,
/// as Go's `x509.Certificate` groups them: DNS names, IP addresses, email
/// addresses, URIs.
fn cert_sans(ctx: &Budget, args: &[Value]) -> FResult {
    use x509_parser::extensions::GeneralName;
    arity(args, 1)?;
    let input = str_arg(&args[0])?;
    read(ctx, &[input])?;
    let (block, _) =
        pem::decode(trim_junk(input)).ok_or(FuncError::Other("failed to decode PEM block"))?;
    let (rest, cert) = x509_parser::parse_x509_certificate(&block.bytes)
        .map_err(|_| FuncError::Other("failed to parse certificate"))?;
    if !rest.is_empty() {
        return Err(FuncError::Other("failed to parse certificate"));
    }
    let san = cert
        .subject_alternative_name()
        .map_err(|_| FuncError::Other("failed to parse certificate"))?;
    let names = san.map(|s| &s.value.general_names[..]).unwrap_or_default();
    let (mut dns, mut ips, mut emails, mut uris) = (vec![], vec![], vec![], vec![]);
    for name in names {
        match name {
            GeneralName::DNSName(s) => dns.push(s.to_string()),
            GeneralName::RFC822Name(s) => emails.push(s.to_string()),
            GeneralName::URI(s) => uris.push(s.to_string()),
            GeneralName::IPAddress(b) => ips.push(ip_string(b)?),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for s in dns.into_iter().chain(ips).chain(emails).chain(uris) {
        out.push(copied(ctx, s.as_bytes())?);
    }
    ctx.values(1)?;
    collection(ctx, Value::list(out))
}

/// Go's `net.IP.String()` of a SAN's address (4 or 16 bytes; an
/// IPv4-mapped IPv6 address prints as IPv4).
fn ip_string(b: &[u8]) -> Result<String, FuncError> {
    const BAD: FuncError = FuncError::Other("failed to parse certificate");
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        return Ok(std::net::Ipv4Addr::from(v4).to_string());
    }
    let v6 = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(b).map_err(|_| BAD)?);
    Ok(match v6.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => v6.to_string(),
    })
}

/// `rsaDecrypt SCHEME HASH CIPHERTEXT KEY`: scheme `None` returns the
/// input; `RSA-OAEP` decrypts with the PEM private key (PKCS#1 or PKCS#8),
/// OAEP with SHA1, SHA256 (also for `None` and any other name) or SHA512,
/// and no label, as ESO does.
fn rsa_decrypt(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 4)?;
    let (scheme, hash, input, key) = (
        str_arg(&args[0])?,
        str_arg(&args[1])?,
        str_arg(&args[2])?,
        str_arg(&args[3])?,
    );
    read(ctx, &[input, key])?;
    match scheme {
        b"None" => return copied(ctx, input),
        b"RSA-OAEP" => {}
        _ => return Err(FuncError::Other("the decryption scheme is not supported")),
    }
    let algorithm: &'static OaepAlgorithm = match hash {
        b"SHA1" => &OAEP_SHA1_MGF1SHA1,
        b"SHA512" => &OAEP_SHA512_MGF1SHA512,
        _ => &OAEP_SHA256_MGF1SHA256,
    };
    let (block, _) = pem::decode(key).ok_or(FuncError::Other("failed to decode PEM block"))?;
    let key = PrivateDecryptingKey::from_pkcs8(&block.bytes)
        .or_else(|_| PrivateDecryptingKey::from_pkcs8(&pkcs1_to_pkcs8(&block.bytes)))
        .map_err(|_| FuncError::Other("could not parse RSA private key"))?;
    let key = OaepPrivateDecryptingKey::new(key)
        .map_err(|_| FuncError::Other("could not parse RSA private key"))?;
    let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
    let n = key
        .decrypt(algorithm, input, &mut out[..], None)
        .map_err(|_| FuncError::Other("error decrypting data with RSA"))?
        .len();
    let mut buf = result_buf(ctx, n);
    let built = buf.extend(&out[..n]);
    finish(ctx, buf, built)
}

/// A PKCS#1 `RSAPrivateKey` wrapped as PKCS#8 (what aws-lc-rs reads).
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Zeroizing<Vec<u8>> {
    // rsaEncryption
    let oid = yasna::models::ObjectIdentifier::from_slice(&[1, 2, 840, 113549, 1, 1, 1]);
    Zeroizing::new(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(0);
            w.next().write_sequence(|w| {
                w.next().write_oid(&oid);
                w.next().write_null();
            });
            w.next().write_bytes(pkcs1);
        });
    }))
}

/// sprig's `hexdec` (in ESO's copy of sprig): invalid input gives Go's
/// error text as the result, as `b64dec` does.
fn hexdec(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let s = str_arg(&args[0])?;
    read(ctx, &[s])?;
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = result_buf(ctx, s.len() / 2);
    // Go checks the digits pair by pair, then the odd length.
    for pair in s.chunks(2) {
        let hi = digit(pair[0]);
        let lo = pair.get(1).map(|&b| digit(b));
        match (hi, lo) {
            (Some(h), Some(Some(l))) => {
                let built = out.push(h << 4 | l);
                if built.is_err() {
                    return finish(ctx, out, built);
                }
            }
            (None, _) => return invalid_byte(ctx, pair[0]),
            (Some(_), Some(None)) => return invalid_byte(ctx, pair[1]),
            (Some(_), None) => return copied(ctx, b"encoding/hex: odd length hex string"),
        }
    }
    finish(ctx, out, Ok(()))
}

/// Go's `hex.InvalidByteError` text (part of the result, like the data):
/// `%#U` of the byte read as a Latin-1 rune.
fn invalid_byte(ctx: &Budget, b: u8) -> FResult {
    let printable = (0x20..0x7f).contains(&b) || (b >= 0xa1 && b != 0xad);
    let text = if printable {
        format!(
            "encoding/hex: invalid byte: U+{:04X} '{}'",
            b,
            char::from(b)
        )
    } else {
        format!("encoding/hex: invalid byte: U+{b:04X}")
    };
    copied(ctx, text.as_bytes())
}

/// ESO's `filterCertChain TYPE PEM`: the certificates ordered leaf to root
/// by their key identifiers (ESO's `fetchX509CertChains`), then the leaf,
/// the intermediates or the root (`""` when there is none, or for any
/// other TYPE). No signature or trust is checked, as in ESO.
fn filter_cert_chain(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 2)?;
    let (kind, input) = (str_arg(&args[0])?, str_arg(&args[1])?);
    read(ctx, &[input])?;
    let certs = parse_certs(input)?;
    let order = chain_order(ctx, &certs)?;
    let is_root = |c: &ChainCert| c.aki.is_none() || c.aki == c.ski;
    let mut out = result_buf(ctx, input.len());
    let mut write =
        |c: &ChainCert| pem::encode_parts(&mut out, b"CERTIFICATE", &BTreeMap::new(), &c.der);
    let built = match kind {
        b"leaf" => {
            let c = &certs[order[0]];
            if c.aki.is_some() && c.aki != c.ski {
                write(c)
            } else {
                Ok(())
            }
        }
        b"intermediate" => order
            .iter()
            .skip(1)
            .map(|&i| &certs[i])
            .take_while(|c| !is_root(c))
            .try_for_each(&mut write),
        b"root" => {
            let c = &certs[order[order.len() - 1]];
            if is_root(c) { write(c) } else { Ok(()) }
        }
        _ => Ok(()),
    };
    finish(ctx, out, built)
}

/// A certificate of a chain: its DER and key identifiers (Go's
/// `AuthorityKeyId` and `SubjectKeyId`, `None` when absent).
pub(super) struct ChainCert {
    pub(super) der: Zeroizing<Vec<u8>>,
    aki: Option<Vec<u8>>,
    ski: Option<Vec<u8>>,
}

/// Every PEM block of `input` parsed as a certificate (ESO's `pemToNodes`:
/// any block that is not one fails).
pub(super) fn parse_certs(mut input: &[u8]) -> Result<Vec<ChainCert>, FuncError> {
    use x509_parser::extensions::ParsedExtension;
    let mut certs = Vec::new();
    while let Some((block, rest)) = pem::decode(input) {
        input = rest;
        let (trailing, cert) = x509_parser::parse_x509_certificate(&block.bytes)
            .map_err(|_| FuncError::Other("failed to parse certificate"))?;
        if !trailing.is_empty() {
            return Err(FuncError::Other("failed to parse certificate"));
        }
        let (mut aki, mut ski) = (None, None);
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    aki = a.key_identifier.as_ref().map(|k| k.0.to_vec());
                }
                ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0.to_vec()),
                _ => {}
            }
        }
        certs.push(ChainCert {
            der: Zeroizing::new(block.bytes.to_vec()),
            aki,
            ski,
        });
    }
    Ok(certs)
}

/// ESO's `fetchX509CertChains`: indexes into `certs` from the one leaf (the
/// one certificate no other names as its issuer) up its issuers. Go's
/// `bytes.Equal` makes an absent identifier equal an absent one, so do we.
/// The pairwise search is charged per comparison.
pub(super) fn chain_order(ctx: &Budget, certs: &[ChainCert]) -> Result<Vec<usize>, FuncError> {
    let id = |v: &Option<Vec<u8>>| v.as_deref().unwrap_or_default().to_vec();
    let mut parent = vec![None; certs.len()];
    let mut is_parent = vec![false; certs.len()];
    for i in 0..certs.len() {
        for j in 0..certs.len() {
            if i == j {
                continue;
            }
            ctx.bytes(1)?;
            if id(&certs[i].aki) == id(&certs[j].ski) {
                is_parent[j] = true;
                parent[i] = Some(j);
                break;
            }
        }
    }
    let mut leaf = None;
    for (i, p) in is_parent.iter().enumerate() {
        if !p {
            if leaf.is_some() {
                return Err(FuncError::Other(
                    "found multiple leaf or disjunct certificates",
                ));
            }
            leaf = Some(i);
        }
    }
    let mut at = leaf.ok_or(FuncError::Other("no leaf certificate found"))?;
    let mut order = vec![at];
    while let Some(p) = parent[at] {
        if order.len() >= certs.len() {
            return Err(FuncError::Other("constructing chain resulted in cycle"));
        }
        order.push(p);
        at = p;
    }
    Ok(order)
}
