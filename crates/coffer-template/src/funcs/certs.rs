//! sprig's certificate functions (`crypto.go`, v3.3.0): `genCA`,
//! `genCAWithKey`, `genSelfSignedCert`, `genSelfSignedCertWithKey`,
//! `genSignedCert`, `genSignedCertWithKey` and `buildCustomCert`. Each
//! returns sprig's `certificate{Cert, Key}` (`crate::object`), PEM text.
//!
//! The certificates are Go's `x509.CreateCertificate` of sprig's template:
//! a random serial below 2^128, subject the common name alone (a
//! PrintableString when it can be, else UTF8String; none when empty),
//! valid from now for DAYS days, key usage digital signature and key
//! encipherment (plus certificate signing for a CA), extended key usage
//! server and client authentication, basic constraints (critical; `CA:
//! TRUE` without a path length for a CA, empty otherwise), DNS then IP
//! subject alternative names (an IPv4-mapped address as IPv4), a CA's
//! subject key identifier as Go 1.25 and later compute it (the first 20
//! bytes of SHA-256 of the public key bits), and a signed certificate's
//! authority key identifier from its CA's. rcgen writes the DER (the
//! extensions in its own order); aws-lc-rs makes and uses the keys
//! (`cert_keys`).
//!
//! What differs from sprig: DAYS must be 0 to [`MAX_DAYS`] (Go accepts a
//! negative count, making a certificate that expired before it began, and
//! wraps past its `Duration`); a render generates at most four RSA keys
//! (`keygen::MAX_RSA_KEYS`); DSA keys are refused; a CA whose subject rcgen
//! cannot write back byte for byte (a multi-valued or repeated attribute)
//! cannot sign. Errors are fixed texts, never key or certificate bytes.

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose, PublicKeyData, SanType,
    SerialNumber,
};
use zeroize::Zeroizing;

use super::cert_keys::Key;
use super::encoding::GO_STD;
use super::pem;
use super::{Budget, FResult, Func, FuncError, arity, int_arg, read, result_buf, str_arg};
use crate::object::{Kind, Object};
use crate::value::{Str, Value};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "genCA" => |c, a| {
            arity(a, 2)?;
            let req = Request::new(c, &a[0], None, &a[1])?;
            req.issue(c, Key::generate(c)?, None)
        },
        "genCAWithKey" => |c, a| {
            arity(a, 3)?;
            let req = Request::new(c, &a[0], None, &a[1])?;
            req.issue(c, key_arg(c, &a[2])?, None)
        },
        "genSelfSignedCert" => |c, a| {
            arity(a, 4)?;
            let req = Request::new(c, &a[0], Some((&a[1], &a[2])), &a[3])?;
            req.issue(c, Key::generate(c)?, None)
        },
        "genSelfSignedCertWithKey" => |c, a| {
            arity(a, 5)?;
            let req = Request::new(c, &a[0], Some((&a[1], &a[2])), &a[3])?;
            req.issue(c, key_arg(c, &a[4])?, None)
        },
        "genSignedCert" => |c, a| {
            arity(a, 5)?;
            let req = Request::new(c, &a[0], Some((&a[1], &a[2])), &a[3])?;
            let ca = Ca::new(c, &a[4])?;
            req.issue(c, Key::generate(c)?, Some(&ca))
        },
        "genSignedCertWithKey" => |c, a| {
            arity(a, 6)?;
            let req = Request::new(c, &a[0], Some((&a[1], &a[2])), &a[3])?;
            let ca = Ca::new(c, &a[4])?;
            req.issue(c, key_arg(c, &a[5])?, Some(&ca))
        },
        "buildCustomCert" => build_custom_cert,
        _ => return None,
    })
}

/// The longest validity in days: the most Go's `time.Duration` holds
/// (about 292 years; sprig's arithmetic wraps past it).
pub(super) const MAX_DAYS: i64 = 106_751;

/// A certificate function's arguments, checked before any key is made.
struct Request {
    cn: String,
    /// The subject alternative names; `None` for a CA (`genCA*`).
    sans: Option<Vec<SanType>>,
    days: i64,
}

/// The "IPS" and "DNS" arguments, as written.
type Sans<'a> = (&'a Value, &'a Value);

impl Request {
    fn new(
        ctx: &Budget,
        cn: &Value,
        sans: Option<Sans<'_>>,
        days: &Value,
    ) -> Result<Request, FuncError> {
        let cn = str_arg(cn)?;
        read(ctx, &[cn])?;
        let cn = std::str::from_utf8(cn)
            .map_err(|_| FuncError::Other("the common name is not valid UTF-8"))?
            .to_owned();
        let days = int_arg(days)?;
        if !(0..=MAX_DAYS).contains(&days) {
            return Err(FuncError::Other(
                "days must be between 0 and 106751 (what Go's time.Duration holds)",
            ));
        }
        let sans = match sans {
            None => None,
            Some((ips, dns)) => {
                let ips = strings(ctx, ips, "error parsing ip: not a string")?;
                let dns = strings(
                    ctx,
                    dns,
                    "error processing alternate dns name: not a string",
                )?;
                // Go's order: DNS names, then IP addresses
                let mut sans = Vec::with_capacity(ips.len() + dns.len());
                for name in dns {
                    let name = std::str::from_utf8(name)
                        .ok()
                        .and_then(|n| rcgen::string::Ia5String::try_from(n).ok())
                        .ok_or(FuncError::Other(
                            "a DNS name cannot be encoded as an IA5String",
                        ))?;
                    sans.push(SanType::DnsName(name));
                }
                for ip in ips {
                    sans.push(SanType::IpAddress(
                        parse_ip(ip).ok_or(FuncError::Other("error parsing ip"))?,
                    ));
                }
                Some(sans)
            }
        };
        Ok(Request { cn, sans, days })
    }

    /// `getCertAndKey`: the certificate for `key`, self-signed or signed by
    /// `ca`, and the key, as sprig's `certificate`.
    fn issue(self, ctx: &Budget, key: Key, ca: Option<&Ca>) -> FResult {
        let params = self.params(&key)?;
        let issued = match ca {
            None => params.self_signed(&key),
            Some(ca) => {
                let mut issuer = CertificateParams::default();
                issuer.distinguished_name = ca.dn.clone();
                let mut params = params;
                // Go: from the CA's key identifier, unless the names match
                let same_name = subject_der(&self.cn) == ca.subject;
                if let (Some(ski), false) = (&ca.ski, same_name) {
                    issuer.key_identifier_method = KeyIdMethod::PreSpecified(ski.clone());
                    params.use_authority_key_identifier_extension = true;
                }
                params.signed_by(&key, &Issuer::new(issuer, &ca.key))
            }
        }
        .map_err(|_| FuncError::Other("error creating certificate"))?;
        if let Some(ca) = ca {
            // rcgen re-encodes the CA's subject as our issuer: only a
            // byte-for-byte copy chains
            let parsed = x509_parser::parse_x509_certificate(issued.der())
                .map_err(|_| FuncError::Other("error creating certificate"))?;
            if parsed.1.issuer().as_raw() != ca.subject.as_slice() {
                return Err(UNWRITABLE_SUBJECT);
            }
        }
        let mut cert = result_buf(ctx, issued.der().len() * 2);
        let built = pem::encode_parts(&mut cert, b"CERTIFICATE", &Default::default(), issued.der());
        ctx.bytes(cert.len())?;
        built?;
        let mut pem_key = result_buf(ctx, 4096);
        let built = key.write_pem(&mut pem_key)?;
        ctx.bytes(pem_key.len())?;
        built?;
        ctx.values(3)?;
        Ok(Object::certificate(
            Str::from(cert.into_bytes()),
            Str::from(pem_key.into_bytes()),
        ))
    }

    /// sprig's `getBaseCertTemplate`, with a CA's overrides.
    fn params(&self, key: &Key) -> Result<CertificateParams, FuncError> {
        let mut serial = [0u8; 16];
        aws_lc_rs::rand::fill(&mut serial)
            .map_err(|_| FuncError::Other("error creating certificate"))?;
        let now = time::OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.distinguished_name = common_name(&self.cn);
        params.not_before = now;
        params.not_after = now + time::Duration::days(self.days);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        match &self.sans {
            None => {
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                    KeyUsagePurpose::KeyCertSign,
                ];
                // Go 1.25+: RFC 7093 method 1 over the public key bits
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.der_bytes());
                params.key_identifier_method =
                    KeyIdMethod::PreSpecified(digest.as_ref()[..20].to_vec());
            }
            Some(sans) => {
                params.subject_alt_names = sans.clone();
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                // Go writes basic constraints (critical, empty) on every
                // certificate, and no subject key identifier on a leaf:
                // rcgen's `ExplicitNoCa` would add one, so write it here
                let mut bc = CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x00]);
                bc.set_criticality(true);
                params.custom_extensions = vec![bc];
            }
        }
        Ok(params)
    }
}

const UNWRITABLE_SUBJECT: FuncError = FuncError::Other(
    "the CA certificate's subject cannot be written as an issuer (a repeated, multi-valued or unusual attribute)",
);

/// sprig's `pkix.Name{CommonName: cn}`: no attribute when empty; Go's
/// asn1 writes a PrintableString when every character allows it.
fn common_name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if !cn.is_empty() {
        let value = match rcgen::string::PrintableString::try_from(cn) {
            Ok(p) => DnValue::PrintableString(p),
            Err(_) => DnValue::Utf8String(cn.to_owned()),
        };
        dn.push(DnType::CommonName, value);
    }
    dn
}

/// The DER of the subject [`common_name`] makes, to compare with a CA's
/// subject as Go does (byte for byte).
fn subject_der(cn: &str) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            if cn.is_empty() {
                return;
            }
            w.next().write_set(|w| {
                w.next().write_sequence(|w| {
                    w.next()
                        .write_oid(&yasna::models::ObjectIdentifier::from_slice(&[2, 5, 4, 3]));
                    if rcgen::string::PrintableString::try_from(cn).is_ok() {
                        w.next().write_printable_string(cn);
                    } else {
                        w.next().write_utf8_string(cn);
                    }
                });
            });
        });
    })
}

/// A `[]interface{}` of strings (nil is empty), each charged as read.
fn strings<'a>(
    ctx: &Budget,
    v: &'a Value,
    not_string: &'static str,
) -> Result<Vec<&'a [u8]>, FuncError> {
    match v {
        Value::Nil => Ok(Vec::new()),
        Value::List(l) => {
            ctx.bytes(l.len())?;
            l.iter()
                .map(|e| match e {
                    Value::Str(s) => {
                        ctx.bytes(s.len())?;
                        Ok(s.as_bytes())
                    }
                    _ => Err(FuncError::Other(not_string)),
                })
                .collect()
        }
        _ => Err(FuncError::Type("[]interface {}")),
    }
}

/// Go's `net.ParseIP` (dotted IPv4 without leading zeros, IPv6 with an
/// optional dotted tail, no zone), and `To4`: an IPv4-mapped IPv6 address
/// is written as IPv4.
fn parse_ip(s: &[u8]) -> Option<std::net::IpAddr> {
    use std::net::IpAddr;
    let ip: IpAddr = std::str::from_utf8(s).ok()?.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// A "KEY" argument: PEM text.
fn key_arg(ctx: &Budget, v: &Value) -> Result<Key, FuncError> {
    let text = str_arg(v)?;
    read(ctx, &[text])?;
    Key::from_pem(text)
}

/// A "CA" argument, read as sprig's `generateSignedCertificateWithKeyInternal`
/// reads it: its certificate, its key, and what a certificate it signs
/// takes from them.
struct Ca {
    key: Key,
    /// The subject, as written in the certificate: our issuer.
    subject: Vec<u8>,
    /// The subject as rcgen writes it (checked against `subject`).
    dn: DistinguishedName,
    /// Its subject key identifier, which Go copies into what it signs.
    ski: Option<Vec<u8>>,
}

impl Ca {
    fn new(ctx: &Budget, v: &Value) -> Result<Ca, FuncError> {
        let Value::Object(o) = v else {
            return Err(match v {
                Value::Nil => FuncError::Invalid("sprig.certificate"),
                _ => FuncError::Type("sprig.certificate"),
            });
        };
        let Kind::Certificate { cert, key } = &o.0 else {
            return Err(FuncError::Type("sprig.certificate"));
        };
        read(ctx, &[cert.as_bytes(), key.as_bytes()])?;
        let (block, _) =
            pem::decode(cert.as_bytes()).ok_or(FuncError::Other("unable to decode certificate"))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&block.bytes)
            .map_err(|_| FuncError::Other("error parsing certificate"))?;
        let key = Key::from_pem(key.as_bytes())?;
        if parsed.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
            return Err(FuncError::Other(
                "the CA's private key does not match its certificate",
            ));
        }
        let ski = parsed
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => {
                    Some(id.0.to_vec())
                }
                _ => None,
            });
        let dn = distinguished_name(parsed.subject()).ok_or(UNWRITABLE_SUBJECT)?;
        Ok(Ca {
            key,
            subject: parsed.subject().as_raw().to_vec(),
            dn,
            ski,
        })
    }
}

/// A CA's subject as rcgen's `DistinguishedName`: single-valued RDNs, each
/// attribute type once, in order, with its string type. `None` for what
/// rcgen cannot write.
fn distinguished_name(name: &x509_parser::x509::X509Name<'_>) -> Option<DistinguishedName> {
    use x509_parser::der_parser::asn1_rs::Tag;
    let mut dn = DistinguishedName::new();
    for rdn in name.iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return None;
        };
        let oid: Vec<u64> = attr.attr_type().iter()?.collect();
        let ty = DnType::from_oid(&oid);
        if dn.get(&ty).is_some() {
            return None;
        }
        let text = std::str::from_utf8(attr.as_slice()).ok()?;
        let value = match attr.attr_value().tag() {
            Tag::PrintableString => DnValue::PrintableString(text.try_into().ok()?),
            Tag::Utf8String => DnValue::Utf8String(text.to_owned()),
            Tag::Ia5String => DnValue::Ia5String(text.try_into().ok()?),
            _ => return None,
        };
        dn.push(ty, value);
    }
    Some(dn)
}

/// sprig's `buildCustomCertificate B64CERT B64KEY`: both base64, the
/// certificate's first PEM block a certificate Go parses, the key one
/// `parsePrivateKeyPEM` reads; the result holds the decoded texts as they
/// are.
fn build_custom_cert(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 2)?;
    let (cert, key) = (str_arg(&args[0])?, str_arg(&args[1])?);
    read(ctx, &[cert, key])?;
    let cert = base64_std(cert).ok_or(FuncError::Other("unable to decode base64 certificate"))?;
    let key = base64_std(key).ok_or(FuncError::Other("unable to decode base64 private key"))?;
    let (block, _) = pem::decode(&cert).ok_or(FuncError::Other("unable to decode certificate"))?;
    x509_parser::parse_x509_certificate(&block.bytes)
        .map_err(|_| FuncError::Other("error parsing certificate"))?;
    Key::from_pem(&key)?;
    ctx.values(3)?;
    Ok(Object::certificate(Str::from(cert), Str::from(key)))
}

/// Go's `base64.StdEncoding.DecodeString` (line breaks ignored).
fn base64_std(s: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let input: Zeroizing<Vec<u8>> = Zeroizing::new(
        s.iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect(),
    );
    let mut out = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(input.len())]);
    let n = GO_STD.decode_slice(&input[..], &mut out[..]).ok()?;
    out.truncate(n);
    Some(out)
}
