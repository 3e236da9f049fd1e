//! Property: any Secret data (keys Kubernetes accepts, arbitrary bytes)
//! comes back byte for byte after seal → unseal, in every scope.

mod common;

use std::collections::BTreeMap;

use coffer_crypto::Scope;
use coffer_sealed::{seal_secret, unseal};
use common::{key, owned};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_data_round_trips(
        data in prop::collection::btree_map("[-._a-zA-Z0-9]{1,20}", prop::collection::vec(any::<u8>(), 0..300), 0..5),
        scope in prop::sample::select(Scope::ALL.to_vec()),
    ) {
        let mut secret = common::secret("ns", "name", &[]);
        secret.data = Some(data.iter().map(|(k, v)| (k.clone(), ByteString(v.clone()))).collect());
        let sealed = seal_secret(&secret, key().public_key(), Some(scope)).unwrap();
        let opened = unseal(&sealed, &[owned(key())]).unwrap();
        let back: BTreeMap<String, Vec<u8>> = opened.secret.data.clone().unwrap_or_default()
            .into_iter().map(|(k, v)| (k, v.0)).collect();
        prop_assert_eq!(back, data);
        let _: &Secret = &opened.secret;
    }
}
