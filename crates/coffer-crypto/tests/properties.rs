//! Property tests over random plaintexts, names and namespaces, with one
//! shared 2048-bit key: every value round-trips under its own label, opens
//! under no other, and no input makes unsealing panic.

mod common;

use coffer_crypto::{Error, Scope, seal, split_sealed, unseal, unseal_base64};
use common::key_2048;
use proptest::prelude::*;

/// DNS-1123 labels, as Kubernetes namespaces and most names are.
fn dns_label() -> impl Strategy<Value = String> {
    "[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?"
}

fn scope() -> impl Strategy<Value = Scope> {
    prop::sample::select(Scope::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_value_round_trips_under_its_scope_label(
        plaintext in prop::collection::vec(any::<u8>(), 0..4096),
        namespace in dns_label(),
        name in dns_label(),
        scope in scope(),
    ) {
        let key = key_2048();
        let label = scope.label(&namespace, &name);
        let sealed = seal(key.public_key(), label.as_bytes(), &plaintext).unwrap();
        prop_assert_eq!(sealed.len(), 2 + 256 + plaintext.len() + 16);
        let opened = unseal(std::slice::from_ref(key), label.as_bytes(), &sealed).unwrap();
        prop_assert_eq!(opened.plaintext(), plaintext.as_slice());
    }

    #[test]
    fn value_never_opens_under_a_different_label(
        plaintext in prop::collection::vec(any::<u8>(), 0..64),
        sealed_at in (scope(), dns_label(), dns_label()),
        opened_at in (scope(), dns_label(), dns_label()),
    ) {
        let sealed_label = sealed_at.0.label(&sealed_at.1, &sealed_at.2);
        let opened_label = opened_at.0.label(&opened_at.1, &opened_at.2);
        prop_assume!(sealed_label != opened_label);
        let key = key_2048();
        let sealed = seal(key.public_key(), sealed_label.as_bytes(), &plaintext).unwrap();
        let err = unseal(std::slice::from_ref(key), opened_label.as_bytes(), &sealed).unwrap_err();
        let is_no_key_opened = matches!(err, Error::NoKeyOpened { .. });
        prop_assert!(is_no_key_opened, "{}", err);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_open(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let key = key_2048();
        let _ = split_sealed(&bytes);
        prop_assert!(unseal(std::slice::from_ref(key), b"ns/name", &bytes).is_err());
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let key = key_2048();
        prop_assert!(unseal_base64(std::slice::from_ref(key), b"", &text).is_err());
    }

    #[test]
    fn any_single_bit_flip_is_detected(
        plaintext in prop::collection::vec(any::<u8>(), 1..256),
        bit in any::<prop::sample::Index>(),
    ) {
        let key = key_2048();
        let mut sealed = seal(key.public_key(), b"ns", &plaintext).unwrap();
        let bit = bit.index(sealed.len() * 8);
        sealed[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(unseal(std::slice::from_ref(key), b"ns", &sealed).is_err());
    }
}
