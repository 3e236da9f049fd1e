//! sprig's certificate functions against Go's: `genCA`, `genCAWithKey`,
//! `genSelfSignedCert(WithKey)`, `genSignedCert(WithKey)` and
//! `buildCustomCert`, rendered by Go's text/template with sprig v3.3.0
//! (`tests/reference-tools/gotemplate`) and by coffer-template.
//!
//! Keys and serials are random, so the certificates are compared by what
//! they say (parsed with x509-parser): subject, issuer, CA flag, key usage,
//! extended key usage, SANs, validity length, key algorithm and size,
//! signature algorithm, extension criticality. What does not depend on the
//! draw is compared byte for byte: the key a `*WithKey` function writes
//! back, printing, `toJson`, `typeOf`, and which calls fail. And each side
//! verifies the other's: ours signed by Go's CA and Go's signed by ours
//! verify with Go's crypto/x509 and with aws-lc-rs here (no openssl).

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use golden::{b64_data, pem, run_go};
use x509_parser::prelude::*;

mod golden;

fn go_render(data: &[(&str, String)], templates: &[&str]) -> Vec<Option<Vec<u8>>> {
    golden::go_render("gotemplate", data, templates)
}

fn ours(data: &[(&str, String)], t: &str) -> Result<Vec<u8>, String> {
    golden::render(data, t)
}

/// Go's crypto/x509 verifies `leaf` against `roots`.
fn go_verifies(roots: &str, leaf: &str) -> Result<(), String> {
    let d = b64_data(&[("roots", roots), ("leaf", leaf)]);
    run_go(
        "gotemplate",
        &[serde_json::json!({"template": "", "data": d, "verify": true})],
    )
    .remove(0)
    .map(|_| ())
}

/// Fixed keys in every form sprig reads, made here with aws-lc-rs.
fn keys() -> Vec<(&'static str, String)> {
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let rsa8 = AsDer::<Pkcs8V1Der<'_>>::as_der(&rsa).unwrap();
    let rsa1 = golden::pkcs1_of_pkcs8(rsa8.as_ref());
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let p384 =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, &rng).unwrap();
    let p521 =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P521_SHA512_ASN1_SIGNING, &rng).unwrap();
    let ed = signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let sec1 = ours(&[], "{{ genPrivateKey \"ecdsa\" }}").unwrap();
    vec![
        ("rsa1", pem("RSA PRIVATE KEY", &rsa1)),
        ("rsa8", pem("PRIVATE KEY", rsa8.as_ref())),
        ("sec1", String::from_utf8(sec1).unwrap()),
        ("p384", pem("PRIVATE KEY", p384.as_ref())),
        ("p521", pem("PRIVATE KEY", p521.as_ref())),
        ("ed", pem("PRIVATE KEY", ed.as_ref())),
    ]
}

/// The PEM blocks of a rendered `{{ $c.Cert }}{{ $c.Key }}`.
fn blocks(out: &[u8]) -> (Vec<u8>, String) {
    let text = std::str::from_utf8(out).unwrap();
    let end = "-----END CERTIFICATE-----\n";
    let i = text.find(end).expect("a certificate") + end.len();
    let cert = &text[..i];
    let body: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
    (STANDARD.decode(body).unwrap(), text[i..].to_owned())
}

/// What a certificate says, as compared with Go's.
fn profile(der: &[u8], key_pem: &str) -> String {
    let (_, c) = X509Certificate::from_der(der).unwrap();
    let names = |n: &X509Name<'_>| {
        n.iter_common_name()
            .map(|a| format!("{}:{}", a.attr_value().tag(), a.as_str().unwrap()))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut exts: Vec<String> = c
        .extensions()
        .iter()
        .filter(|e| {
            // identifiers are hashes; their presence is compared below
            !matches!(
                e.parsed_extension(),
                ParsedExtension::SubjectKeyIdentifier(_)
                    | ParsedExtension::AuthorityKeyIdentifier(_)
            )
        })
        .map(|e| {
            let v = match e.parsed_extension() {
                ParsedExtension::KeyUsage(k) => format!("{k}"),
                ParsedExtension::ExtendedKeyUsage(k) => {
                    format!(
                        "server={} client={} n={}",
                        k.server_auth,
                        k.client_auth,
                        k.other.len()
                    )
                }
                ParsedExtension::BasicConstraints(b) => format!("{b:?}"),
                ParsedExtension::SubjectAlternativeName(s) => format!("{:?}", s.general_names),
                other => format!("{other:?}"),
            };
            format!("{}(critical={}): {v}", e.oid, e.critical)
        })
        .collect();
    exts.sort();
    let spki = c.public_key();
    let key = match spki.parsed().unwrap() {
        public_key::PublicKey::RSA(r) => format!("RSA {}", r.key_size()),
        public_key::PublicKey::EC(p) => {
            format!(
                "EC {} {:?}",
                p.key_size(),
                spki.algorithm
                    .parameters
                    .as_ref()
                    .map(|p| p.as_oid().unwrap().to_id_string())
            )
        }
        other => format!(
            "{:?} {}",
            spki.algorithm.algorithm,
            match other {
                public_key::PublicKey::Unknown(b) => b.len(),
                _ => 0,
            }
        ),
    };
    let validity = c.validity().not_after.timestamp() - c.validity().not_before.timestamp();
    let ski = c.extensions().iter().any(|e| {
        matches!(
            e.parsed_extension(),
            ParsedExtension::SubjectKeyIdentifier(_)
        )
    });
    let aki = c.extensions().iter().any(|e| {
        matches!(
            e.parsed_extension(),
            ParsedExtension::AuthorityKeyIdentifier(_)
        )
    });
    let key_label = key_pem.lines().next().unwrap_or("").to_owned();
    format!(
        "v{} subject=[{}] issuer=[{}] self_issued={} serial_bits<=128:{} validity={validity}s key={key} sig={} ski={ski} aki={aki} key_pem={key_label}\n  {}",
        c.version().0,
        names(c.subject()),
        names(c.issuer()),
        c.subject().as_raw() == c.issuer().as_raw(),
        c.tbs_certificate.raw_serial().len() <= 17,
        c.signature_algorithm.algorithm.to_id_string(),
        exts.join("\n  ")
    )
}

/// Verifies `child`'s signature with `issuer`'s public key in aws-lc-rs,
/// after checking that the names chain and the issuer is a CA.
fn rust_verifies(child: &[u8], issuer: &[u8]) {
    let (_, c) = X509Certificate::from_der(child).unwrap();
    let (_, i) = X509Certificate::from_der(issuer).unwrap();
    assert_eq!(c.issuer().as_raw(), i.subject().as_raw(), "names chain");
    assert!(i.is_ca(), "the issuer is a CA");
    assert!(c.validity().is_valid(), "valid now");
    let spki = i.public_key();
    let alg: &dyn signature::VerificationAlgorithm =
        match c.signature_algorithm.algorithm.to_id_string().as_str() {
            "1.2.840.113549.1.1.11" => &signature::RSA_PKCS1_2048_8192_SHA256,
            "1.2.840.10045.4.3.2" => &signature::ECDSA_P256_SHA256_ASN1,
            "1.2.840.10045.4.3.3" => &signature::ECDSA_P384_SHA384_ASN1,
            "1.2.840.10045.4.3.4" => &signature::ECDSA_P521_SHA512_ASN1,
            "1.3.101.112" => &signature::ED25519,
            other => panic!("unexpected signature algorithm {other}"),
        };
    signature::UnparsedPublicKey::new(alg, spki.subject_public_key.data.as_ref())
        .verify(c.tbs_certificate.as_ref(), c.signature_value.data.as_ref())
        .expect("the signature verifies with the issuer's key");
}

/// Each certificate case, `{{ $c := CALL }}{{ $c.Cert }}{{ $c.Key }}`.
const CALLS: &[&str] = &[
    "genCA \"coffer CA\" 365",
    "genCA \"Ünïcode & * CA\" 1",
    "genCAWithKey \"ca rsa1\" 30 .rsa1",
    "genCAWithKey \"ca rsa8\" 30 .rsa8",
    "genCAWithKey \"ca sec1\" 30 .sec1",
    "genCAWithKey \"ca p384\" 30 .p384",
    "genCAWithKey \"ca p521\" 30 .p521",
    "genCAWithKey \"ca ed\" 30 .ed",
    "genSelfSignedCert \"leaf.example\" (list \"10.0.0.1\" \"::1\" \"::ffff:1.2.3.4\" \"2001:db8::7\") (list \"a.example\" \"*.b.example\") 90",
    "genSelfSignedCert \"\" nil (list \"only-san.example\") 1",
    "genSelfSignedCert \"none\" nil nil 7",
    "genSelfSignedCertWithKey \"ss ed\" (list \"127.0.0.1\") nil 2 .ed",
    "genSelfSignedCertWithKey \"ss sec1\" nil (list \"x.example\") 2 .sec1",
    "genSelfSignedCertWithKey \"ss rsa1\" nil nil 2 .rsa1",
    "genSignedCert \"leaf\" (list \"127.0.0.1\") (list \"leaf.example\") 10 (genCA \"the ca\" 20)",
    "genSignedCert \"same\" nil nil 10 (genCA \"same\" 20)",
    "genSignedCertWithKey \"leaf p384\" nil (list \"l.example\") 10 (genCAWithKey \"ec ca\" 20 .sec1) .p384",
    "genSignedCertWithKey \"leaf ed\" nil nil 10 (genCAWithKey \"ed ca\" 20 .ed) .ed",
    "genSignedCertWithKey \"leaf rsa8\" nil nil 10 (genCAWithKey \"p521 ca\" 20 .p521) .rsa8",
];

#[test]
fn certificates_say_what_gos_say() {
    let keys = keys();
    let templates: Vec<String> = CALLS
        .iter()
        .map(|c| format!("{{{{ $c := {c} }}}}{{{{ $c.Cert }}}}{{{{ $c.Key }}}}"))
        .collect();
    let refs: Vec<&str> = templates.iter().map(String::as_str).collect();
    let go = go_render(&keys, &refs);
    let mut failures = Vec::new();
    for ((call, t), go) in CALLS.iter().zip(&refs).zip(go) {
        let go = go.unwrap_or_else(|| panic!("Go failed on {call}"));
        let ours = ours(&keys, t).unwrap_or_else(|e| panic!("{call}: {e}"));
        let ((go_der, go_key), (our_der, our_key)) = (blocks(&go), blocks(&ours));
        let (g, o) = (profile(&go_der, &go_key), profile(&our_der, &our_key));
        if g != o {
            failures.push(format!("{call}\n go:   {g}\n ours: {o}"));
        }
        // a key given is written back as Go writes it, byte for byte
        if call.contains("WithKey") {
            assert_eq!(go_key, our_key, "{call}: the key written back");
        }
        // each is a certificate Go parses and trusts as its own root
        // (self-signed) or under the CA in the same template
        if !call.starts_with("genSigned") {
            go_verifies(
                std::str::from_utf8(&ours).unwrap(),
                std::str::from_utf8(&ours).unwrap(),
            )
            .unwrap_or_else(|e| panic!("{call}: Go does not verify ours: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn each_side_verifies_certificates_the_other_signed() {
    let keys = keys();
    let ca_of = |call: &str| format!("{{{{ $c := {call} }}}}{{{{ $c.Cert }}}}{{{{ $c.Key }}}}");
    let leaf = "{{ $ca := buildCustomCert (b64enc .cacert) (b64enc .cakey) }}{{ (genSignedCert \"leaf\" (list \"10.1.2.3\") (list \"leaf.example\") 10 $ca).Cert }}";
    for ca_call in [
        "genCA \"a CA\" 30",
        "genCAWithKey \"ec CA\" 30 .sec1",
        "genCAWithKey \"ed CA\" 30 .ed",
    ] {
        let template = ca_of(ca_call);
        let go_ca = go_render(&keys, &[&template]).remove(0).expect("Go's CA");
        let our_ca = ours(&keys, &template).unwrap();
        for (who, ca) in [("Go's", go_ca), ("our", our_ca)] {
            let (ca_der, ca_key) = blocks(&ca);
            let ca_pem = pem("CERTIFICATE", &ca_der);
            let data = [("cacert", ca_pem.clone()), ("cakey", ca_key)];
            let by_us = ours(&data, leaf).unwrap();
            let by_go = go_render(&data, &[leaf]).remove(0).expect("Go signs");
            for (signer, cert) in [("us", by_us), ("Go", by_go)] {
                let cert = String::from_utf8(cert).unwrap();
                go_verifies(&ca_pem, &cert).unwrap_or_else(|e| {
                    panic!("{ca_call}: {who} CA, signed by {signer}: Go does not verify: {e}")
                });
                rust_verifies(&blocks(cert.as_bytes()).0, &ca_der);
            }
        }
    }
}

/// Printing, encoding, reflection and failures do not depend on the keys
/// drawn: byte for byte with Go.
#[test]
fn certificate_objects_print_and_fail_as_gos() {
    let mut data = keys();
    let ca = ours(
        &data,
        "{{ $c := genCAWithKey \"fixed\" 1 .sec1 }}{{ $c.Cert }}",
    )
    .unwrap();
    data.push(("cacert", String::from_utf8(ca).unwrap()));
    let cases = [
        "{{ $c := buildCustomCert (b64enc .cacert) (b64enc .sec1) }}{{ $c }}|{{ $c.Cert }}|{{ $c.Key }}|{{ toJson $c }}|{{ toPrettyJson $c }}",
        "{{ $c := buildCustomCert (b64enc .cacert) (b64enc .sec1) }}{{ typeOf $c }}|{{ kindOf $c }}|{{ list $c | len }}|{{ empty $c }}|{{ if $c }}t{{ end }}|{{ eq $c $c }}|{{ deepEqual $c $c }}|{{ printf \"%v|%s\" $c $c }}",
        "{{ $c := buildCustomCert (b64enc .cacert) (b64enc .sec1) }}{{ printf \"%q|%+v|%x|%.10s|%5.3s|%d\" $c $c $c $c $c $c }}",
        "{{ $c := buildCustomCert (b64enc (printf \"junk%sjunk\" .cacert)) (b64enc .ed) }}{{ $c.Cert }}",
        "{{ (genSelfSignedCertWithKey \"x\" nil nil 1 .ed).Key }}",
        "{{ (genSelfSignedCertWithKey \"x\" nil nil 1 .rsa8).Key }}",
        "{{ (genCAWithKey \"x\" 1 .p521).Key }}",
        // failures
        "{{ (buildCustomCert (b64enc .cacert) (b64enc .sec1)).Nope }}",
        "{{ buildCustomCert \"!!\" (b64enc .sec1) }}",
        "{{ buildCustomCert (b64enc .cacert) \"!!\" }}",
        "{{ buildCustomCert (b64enc \"no pem\") (b64enc .sec1) }}",
        "{{ buildCustomCert (b64enc .cacert) (b64enc \"no pem\") }}",
        "{{ buildCustomCert (b64enc .cacert) (b64enc .cacert) }}",
        "{{ genCAWithKey \"x\" 1 \"junk\" }}",
        "{{ genCAWithKey \"x\" 1 .cacert }}",
        "{{ genCAWithKey \"x\" \"1\" .ed }}",
        "{{ genSelfSignedCertWithKey \"x\" (list 1) nil 1 .ed }}",
        "{{ genSelfSignedCertWithKey \"x\" (list \"300.1.1.1\") nil 1 .ed }}",
        "{{ genSelfSignedCertWithKey \"x\" (list \"01.2.3.4\") nil 1 .ed }}",
        "{{ genSelfSignedCertWithKey \"x\" (list \"fe80::1%eth0\") nil 1 .ed }}",
        "{{ genSelfSignedCertWithKey \"x\" nil (list 1) 1 .ed }}",
        "{{ genSelfSignedCertWithKey \"x\" nil (list \"é.example\") 1 .ed }}",
        "{{ genSelfSignedCertWithKey \"x\" \"10.0.0.1\" nil 1 .ed }}",
        "{{ genSelfSignedCertWithKey \"x\" nil nil 1 }}",
        "{{ genSignedCertWithKey \"x\" nil nil 1 (dict \"Cert\" .cacert \"Key\" .sec1) .ed }}",
        "{{ genSignedCertWithKey \"x\" nil nil 1 nil .ed }}",
        "{{ genSignedCertWithKey \"x\" nil nil 1 (buildCustomCert (b64enc .cacert) (b64enc .ed)) .ed }}",
    ];
    let go = go_render(&data, &cases);
    golden::assert_same_as_go("Go", &cases, go, |t| ours(&data, t).ok());
}

/// What we refuse where sprig goes on: days outside what Go's Duration
/// holds, a fifth RSA key generation in one render (the cap is shared
/// with genPrivateKey), each with an error naming the function.
#[test]
fn refusals_name_the_function_and_the_bound() {
    let keys = keys();
    for t in [
        "{{ genCAWithKey \"x\" -1 .ed }}",
        "{{ genSelfSignedCertWithKey \"x\" nil nil 106752 .ed }}",
    ] {
        let err = ours(&keys, t).unwrap_err();
        assert!(
            err.contains("error calling genCA")
                || err.contains("error calling genSelfSignedCertWithKey"),
            "{err}"
        );
        assert!(err.contains("days must be between 0 and 106751"), "{err}");
    }
    let long = ours(&keys, "{{ (genCAWithKey \"x\" 106751 .ed).Cert }}").unwrap();
    let der = blocks(&long).0;
    let (_, c) = X509Certificate::from_der(&der).unwrap();
    assert_eq!(
        c.validity().not_after.timestamp() - c.validity().not_before.timestamp(),
        106_751 * 86_400
    );

    let err = ours(&keys, "{{ range until 5 }}{{ genCA \"x\" 1 }}{{ end }}").unwrap_err();
    assert!(
        err.contains("error calling genCA: a render generates at most 4 RSA keys"),
        "{err}"
    );
    let err = ours(
        &keys,
        "{{ range until 4 }}{{ $_ := genSignedCert \"x\" nil nil 1 (genCAWithKey \"ca\" 1 $.ed) }}{{ end }}{{ genPrivateKey \"rsa\" }}",
    )
    .unwrap_err();
    assert!(
        err.contains("error calling genPrivateKey: a render generates at most 4 RSA keys"),
        "{err}"
    );
    // keys given are not generated: any number of those
    ours(
        &keys,
        "{{ range until 20 }}{{ genSelfSignedCertWithKey \"x\" nil nil 1 $.ed }}{{ end }}",
    )
    .unwrap();
}

/// A CA from elsewhere (`buildCustomCert`) signs with its subject copied
/// byte for byte as the issuer: several attributes of the usual string
/// types chain (Go verifies the result); a subject rcgen cannot write back
/// (here a TeletexString) is refused by name rather than written wrongly.
#[test]
fn custom_cas_sign_only_with_their_exact_subject() {
    let keys = keys();
    let make_ca = |dn: rcgen::DistinguishedName| {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = dn;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let leaf = "{{ $ca := buildCustomCert (b64enc .cacert) (b64enc .cakey) }}{{ (genSignedCertWithKey \"leaf\" nil (list \"leaf.example\") 10 $ca .ed).Cert }}";

    let mut dn = rcgen::DistinguishedName::new();
    dn.push(
        rcgen::DnType::CountryName,
        rcgen::DnValue::PrintableString("DE".try_into().unwrap()),
    );
    dn.push(rcgen::DnType::OrganizationName, "Ünïcode Org");
    dn.push(rcgen::DnType::CommonName, "Custom CA");
    let (ca_pem, ca_key) = make_ca(dn);
    let mut data = keys.clone();
    data.extend([("cacert", ca_pem.clone()), ("cakey", ca_key.clone())]);
    let cert = String::from_utf8(ours(&data, leaf).unwrap()).unwrap();
    go_verifies(&ca_pem, &cert).unwrap();
    rust_verifies(&blocks(cert.as_bytes()).0, &blocks(ca_pem.as_bytes()).0);

    let mut dn = rcgen::DistinguishedName::new();
    dn.push(
        rcgen::DnType::CommonName,
        rcgen::DnValue::TeletexString("Teletex CA".try_into().unwrap()),
    );
    let (ca_pem, ca_key) = make_ca(dn);
    let mut data = keys;
    data.extend([("cacert", ca_pem), ("cakey", ca_key)]);
    let err = ours(&data, leaf).unwrap_err();
    assert!(
        err.contains("error calling genSignedCertWithKey: the CA certificate's subject cannot be written as an issuer"),
        "{err}"
    );
}
