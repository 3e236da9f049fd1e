//! What a user sees of a sync: the Secret's value, the ExternalSecret's and
//! the store's Ready conditions, and the namespace's Events, none of which
//! may show a credential.

#![allow(dead_code)]

use coffer_api::SecretStore;
use k8s_openapi::api::core::v1::Event;
use kube::Api;

use crate::common::*;

/// Applies ExternalSecret `name` reading `key` (`property`, when given)
/// from SecretStore `store` into Secret `name`, key `value`.
pub async fn external_secret(world: &World, name: &str, store: &str, key: &str, property: &str) {
    let es = ExternalSecretManifest::new(name, store);
    let es = if property.is_empty() {
        es.data("value", key)
    } else {
        es.property("value", key, property)
    };
    world.apply(es).await;
}

/// Waits until ExternalSecret `name` has synced: Ready=True
/// (`SecretSynced`) and Secret `name` holds `value`.
pub async fn assert_synced(world: &World, name: &str, value: &str) {
    let secret = world
        .wait_secret(name, &format!("Secret {name} synced"), |s| {
            crate::common::value(s, "value").is_some()
        })
        .await;
    assert_eq!(
        crate::common::value(&secret, "value").as_deref(),
        Some(value),
        "Secret {name}"
    );
    let ready = world
        .wait_ready(name, &format!("{name} Ready=True"), |c| c.status == "True")
        .await;
    assert_eq!(ready.reason.as_deref(), Some("SecretSynced"));
}

/// Waits until ExternalSecret `name` is Ready=False; checks that no Secret
/// was written and returns the condition's message.
pub async fn assert_failed(world: &World, name: &str) -> String {
    let failed = world
        .wait_ready(name, &format!("{name} Ready=False"), |c| {
            c.status == "False"
        })
        .await;
    assert_eq!(failed.reason.as_deref(), Some("SecretSyncedError"));
    assert!(
        world.secrets().get_opt(name).await.unwrap().is_none(),
        "a failed sync wrote Secret {name}"
    );
    failed.message.unwrap_or_default()
}

/// Waits for SecretStore `name`'s Ready condition and returns (status,
/// reason, message).
pub async fn store_ready(world: &World, name: &str) -> (String, String, String) {
    let api: Api<SecretStore> = Api::namespaced(world.client.clone(), world.name());
    eventually(&format!("SecretStore {name}'s Ready condition"), || async {
        let store = api.get(name).await.ok()?;
        let c = store
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready")?;
        Some((
            c.status,
            c.reason.unwrap_or_default(),
            c.message.unwrap_or_default(),
        ))
    })
    .await
}

/// Checks that none of `credentials` appears in any Event of the namespace,
/// any ExternalSecret's or SecretStore's condition.
pub async fn assert_undisclosed(world: &World, credentials: &[&str]) {
    let mut shown = Vec::new();
    let events: Api<Event> = Api::namespaced(world.client.clone(), world.name());
    for e in events.list(&Default::default()).await.unwrap().items {
        shown.extend(e.message);
        shown.extend(e.reason);
    }
    for es in world
        .external_secrets()
        .list(&Default::default())
        .await
        .unwrap()
        .items
    {
        for c in es.status.into_iter().flat_map(|s| s.conditions) {
            shown.extend(c.message);
        }
    }
    let stores: Api<SecretStore> = Api::namespaced(world.client.clone(), world.name());
    for s in stores.list(&Default::default()).await.unwrap().items {
        for c in s.status.into_iter().flat_map(|s| s.conditions) {
            shown.extend(c.message);
        }
    }
    for text in &shown {
        for (n, credential) in credentials.iter().enumerate() {
            assert!(
                !text.contains(credential),
                "credential #{n} is shown to users: {}",
                text.replace(credential, "<credential>")
            );
        }
    }
}
