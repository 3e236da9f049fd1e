//! Unit tests of the mlkem768x25519 recipient type: key derivation against
//! the specification's example, wrapping round trips, and the stanza checks
//! the specification requires.

use age::{Identity as _, Recipient as _};
use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret;
use base64::Engine as _;

use super::*;

/// The C2SP age specification's example identity and its recipient.
const SPEC_IDENTITY: &str =
    "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR";
const SPEC_RECIPIENT: &str = "age1pq1x34nzsvr0rxjsgdn8zgyhfe8j7ceq5r9rdelkjuh3y235jzxshfg87pzf5zrqtzdxz95paef6caq5aapdmwjjqpjfdyxnzr2zampc3uxy0dg4z2n2gm9su72p0pc3u0jvev55l694v78snxg3yzvcl7yda0eyytqj6a0ec477lnhcy5hzpz4zq3pxanve4cn62gqj3pjy5lqj9c6kyj4v2z8alktn8zh99970x79gjkv7522hv9kfz35zsnxhsx8wwtmu9cy3ftzjgwcp4sshn3llnylnpdsyz5jm72vefv4x5vfwytrefxg4wq3mv42wcrvkj742479zrxzpvp2p3e9fed9f0739vcu80r7ma28qfhnvlv4gfzel9q654dj3zmuvvz893azhxdvs9fxd0r7jzchzcfcs5mkyyjxhw0n2z6dvp9yn9qfdp29h0azxqyjw6v7fhyuzj7zel0uq6j9rd7wgrpz7mf5dnj43jwsgvrc8qcnhy7tu6dkdujuxzkp9xj43xe8h92ktre2a3u3s8mm5mrp9nr9pwkgtz4mdlq9hgn4fps4k57ff6wddn2fy23t47sm20r8km8sd2pcyyafnet8f0dajsrlyjeah4n3mssr6aseevuuskdvq5lzguyvpgwpta742c6698vgutzqgny8usfg0w2he7kq5vyxjd0f9hqg8xk26y9e4th0gezq92q4cpp5p2y9hf5f2cje5l0c3sa3a2qxmm38pxxvhxh99yzmfz0zk7r2s64nnwjhkfgfr3gf8xnmppcgmaykvh5sh6g7vk9790rf8ws0axmr2t7z8aae5fq2029uvcn2ghgt4fu4wgwdc0k0cz52qkvwmuzj8p8k5jgf3xzk5zmrkavjekjrpeq408xz3zxazwkc6tyfmhayrkfpjhwtz5mp8j8guqe43k2q6m2kte03vrw27y3wmqyu5etmt9dnkwcnnpmu9gz9dekfhdevf42ucshphnrk38ra6hx8w5f8q5ru0xdhrjxmwqf6cused7zc5xvq43r0zscjglpwlptpwydhqw64xz7ptjdyeyzpq2zkxtmzg29gzjpvzva4d3l0cenn9xs297wf4y4ukwrunf57xj6pm7nvrkwvtrt8hwcmgv8x7ajw7258ugf9wvkmk4052ekg87tw5vnx8nq2swyzv77v8yqlwsenvamr0zssknwts8rrhfuwj7ykysnq9jxy0uv3kuyt22djszjdtvpz6d0s0kwh8ryynddzud92emeyvvyqktd0jtj7rvvg5gch25v8smlvny3kvn5gagyz475ze2y6q466xqmz2n3hs77lddeqyta2nch5k2u5yacuk9ywnwfdzvyejnucz724hj77hrrmakm7pr3kxsrxq22ejexlud9fy2kdqmkg5yncz7jm5wv2qjk5w5kvcpqsry2yqffh2la52dxfjkjq5rzhjzeyn6dupn0qwtyv7s4lwg3xdarsdlwe2y3tujy480y7z39q259fzx6jhd2j0f5hagqpcpees7hzc2yrk5cy788uk3s7qvp5cpepx24gvws3m2g433exgwppnkjscec8qu4y9z9r7vccexjcjaen42245lmgmxmuavg9alej92322gvvyy2t6267v09ch64y0m53jff0vjj96s0ypk60hr3jw4myd6m5hpn3xjstx7tl2szhpr5qe8jj08ydjc4wy2rch2fhuy3pdfjax5awe9j99ly5hkntzz9fe5zatgjvzdd0kgtxs25njnajyf6ssekp7gelxquusn4pt25czh3scj68kq79wdn5tgm6yvm9nzavrg043x3msnygf8dweknw5jmqd0uvny6ttsn09508k0c55zfnegrm9efhxpfqdkmhh6gjtqmwze9pyyzk3tlhl53k2ykx3qheyty7saeq0d3fzv49zc0k";

fn file_key() -> FileKey {
    FileKey::new(Box::new([42u8; 16]))
}

fn stanza_for(id: &Identity) -> Stanza {
    let (mut stanzas, labels) = id.to_public().wrap_file_key(&file_key()).unwrap();
    assert!(labels.contains("postquantum"));
    stanzas.pop().unwrap()
}

#[test]
fn spec_identity_derives_the_spec_recipient() {
    let id = Identity::parse(SPEC_IDENTITY).unwrap();
    assert_eq!(id.to_public().to_bech32(), SPEC_RECIPIENT);
    assert_eq!(id.to_bech32().as_str(), SPEC_IDENTITY);
    assert_eq!(
        Recipient::parse(SPEC_RECIPIENT).unwrap().to_bech32(),
        SPEC_RECIPIENT
    );
}

#[test]
fn wrapped_file_key_unwraps_with_its_identity_only() {
    let id = Identity::generate();
    let stanza = stanza_for(&id);
    assert_eq!(stanza.tag, "mlkem768x25519");
    assert_eq!(stanza.body.len(), BODY_LEN);
    let key = id.unwrap_stanza(&stanza).unwrap().unwrap();
    assert_eq!(key.expose_secret(), &[42u8; 16]);
    // Another identity does not match (implicit rejection, then the tag).
    assert!(Identity::generate().unwrap_stanza(&stanza).is_none());
    // A re-parsed identity string is the same identity.
    let again = Identity::parse(&id.to_bech32()).unwrap();
    assert!(again.unwrap_stanza(&stanza).is_some());
}

#[test]
fn other_stanza_types_are_ignored() {
    let id = Identity::generate();
    let mut stanza = stanza_for(&id);
    stanza.tag = "X25519".into();
    assert!(id.unwrap_stanza(&stanza).is_none());
}

#[test]
fn malformed_stanzas_are_rejected_as_invalid_headers() {
    let id = Identity::generate();
    let good = stanza_for(&id);
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let enc = b64.decode(&good.args[0]).unwrap();
    let mut cases: Vec<(&str, Stanza)> = Vec::new();
    let mut s = Stanza {
        tag: good.tag.clone(),
        args: vec![],
        body: good.body.clone(),
    };
    cases.push(("no argument", s));
    s = Stanza {
        tag: good.tag.clone(),
        args: vec![good.args[0].clone(), "x".into()],
        body: good.body.clone(),
    };
    cases.push(("two arguments", s));
    s = Stanza {
        tag: good.tag.clone(),
        args: vec![b64.encode(&enc[..ENC_LEN - 1])],
        body: good.body.clone(),
    };
    cases.push(("short enc", s));
    s = Stanza {
        tag: good.tag.clone(),
        args: vec![b64.encode([&enc[..], &[0]].concat())],
        body: good.body.clone(),
    };
    cases.push(("long enc", s));
    s = Stanza {
        tag: good.tag.clone(),
        args: vec![format!("{}=", good.args[0])],
        body: good.body.clone(),
    };
    cases.push(("padded base64", s));
    s = Stanza {
        tag: good.tag.clone(),
        args: good.args.clone(),
        body: good.body[..BODY_LEN - 1].to_vec(),
    };
    cases.push(("short body", s));
    s = Stanza {
        tag: good.tag.clone(),
        args: good.args.clone(),
        body: [&good.body[..], &[0]].concat(),
    };
    cases.push(("long body", s));
    for (what, stanza) in cases {
        let got = id.unwrap_stanza(&stanza);
        assert!(
            matches!(got, Some(Err(age::DecryptError::InvalidHeader))),
            "{what}"
        );
    }
    // A tampered body or encapsulation is "not for this identity".
    let mut s = Stanza {
        tag: good.tag.clone(),
        args: good.args.clone(),
        body: good.body.clone(),
    };
    s.body[0] ^= 1;
    assert!(id.unwrap_stanza(&s).is_none());
    let mut bad = enc.clone();
    bad[0] ^= 1;
    s = Stanza {
        tag: good.tag.clone(),
        args: vec![b64.encode(&bad)],
        body: good.body.clone(),
    };
    assert!(id.unwrap_stanza(&s).is_none());
}

#[test]
fn key_strings_with_the_wrong_prefix_or_size_are_refused_without_echo() {
    let x25519 = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";
    assert!(matches!(
        Recipient::parse(x25519),
        Err(KeyError::Prefix { .. })
    ));
    let short = bech32long::encode(RECIPIENT_HRP, &[1; 100]);
    assert!(matches!(
        Recipient::parse(&short),
        Err(KeyError::Length { found: 100, .. })
    ));
    let long_id = bech32long::encode(IDENTITY_HRP, &[7; 33]).to_ascii_uppercase();
    let err = Identity::parse(&long_id).unwrap_err().to_string();
    assert!(err.contains("33"), "{err}");
    assert!(!err.contains(&long_id[20..40]), "{err}");
    let mut typo = SPEC_IDENTITY.to_string();
    typo.replace_range(30..31, "Q");
    let err = Identity::parse(&typo).unwrap_err().to_string();
    assert!(!err.contains(&SPEC_IDENTITY[19..]), "{err}");
    assert!(Identity::parse(&"A".repeat(10_000)).is_err());
}
