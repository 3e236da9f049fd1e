//! Test support for the SealedSecret controller's unit tests: a key
//! registry without a cluster.

use std::sync::Arc;

use coffer_crypto::{KeyOptions, KeyPair, KeySize};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;

use crate::sealed::keys::KeyRegistry;

/// A registry holding one fresh key, loaded through a stand-in API server
/// that lists no key Secrets.
pub(crate) async fn registry() -> Arc<KeyRegistry> {
    let service = tower::service_fn(|_request: http::Request<kube::client::Body>| async {
        let list = serde_json::json!({
            "apiVersion": "v1", "kind": "SecretList", "metadata": {}, "items": []
        });
        let body = kube::client::Body::from(serde_json::to_vec(&list).unwrap());
        Ok::<_, std::convert::Infallible>(http::Response::new(body))
    });
    let client = kube::Client::new(service, "default");
    let registry = KeyRegistry::load(client, "kube-system", "sealed-secrets-key")
        .await
        .unwrap();
    let pair = KeyPair::generate(&KeyOptions {
        size: KeySize::Rsa2048,
        ..KeyOptions::default()
    })
    .unwrap();
    let pem = pair.private_key().to_pkcs1_pem().unwrap();
    let key_secret = Secret {
        metadata: ObjectMeta {
            name: Some("sealed-secrets-key-test".into()),
            ..ObjectMeta::default()
        },
        data: Some(
            [
                (
                    "tls.crt".to_owned(),
                    ByteString(pair.certificate().to_pem().into_bytes()),
                ),
                ("tls.key".to_owned(), ByteString(pem.as_bytes().to_vec())),
            ]
            .into(),
        ),
        ..Secret::default()
    };
    assert!(registry.insert(&key_secret).unwrap());
    registry
}
