//! `deletionPolicy` acts on a Vault 404 only when Vault confirms the KV
//! secret is gone (a soft-deleted or destroyed version, a missing secret
//! under a KV mount): a disabled mount, a store pointed at an unmounted path
//! or at another OpenBao namespace keeps the Secret as it is (`Delete` does
//! not delete it, `Merge` does not empty it) and says why.

use serde_json::json;

use crate::bao::Bao;
use crate::common::*;

/// SecretStore `name` over the KV v2 mount `mount` (OpenBao namespace
/// `namespace` if given), root token.
async fn store(world: &World, name: &str, mount: &str, namespace: Option<&str>) {
    let login = VaultLogin::token("vault-token", "token");
    let store =
        StoreManifest::vault(name, &world.env.vault.addr, mount, login).provider("version", "v2");
    match namespace {
        Some(ns) => world.apply(store.provider("namespace", ns)).await,
        None => world.apply(store).await,
    }
}

async fn es(world: &World, name: &str, store: &str, key: &str, creation: &str, deletion: &str) {
    world
        .apply(
            ExternalSecretManifest::new(name, store)
                .refresh("1s")
                .target(json!({"creationPolicy": creation, "deletionPolicy": deletion}))
                .property("value", key, "v"),
        )
        .await;
}

#[tokio::test]
async fn only_a_secret_vault_confirms_gone_deletes_or_empties_a_target() {
    let world = World::new("not-found").await;
    let bao = Bao::new(world.env);
    world
        .put_secret("vault-token", &[("token", &world.env.vault.token)])
        .await;
    let kept = format!("kv-{}", world.name());
    let doomed = format!("kv-off-{}", world.name());
    for mount in [&kept, &doomed] {
        bao.mount_kv(mount, "2").await;
        for key in ["soft", "destroyed", "k"] {
            bao.put_v2(mount, key, json!({ "v": key })).await;
        }
    }
    let other_ns = format!("elsewhere-{}", world.name());
    bao.create_namespace(&other_ns).await;
    store(&world, "vault", &kept, None).await;
    store(&world, "moved", &kept, None).await;
    store(&world, "wrong-ns", &kept, None).await;
    store(&world, "disabled", &doomed, None).await;
    // Merge needs its target to exist.
    world.put_secret("merged", &[("theirs", "kept")]).await;
    let cases = [
        ("soft", "vault", "soft", "Owner", "Delete"),
        ("destroyed", "vault", "destroyed", "Owner", "Delete"),
        ("moved", "moved", "k", "Owner", "Delete"),
        ("wrong-ns", "wrong-ns", "k", "Owner", "Delete"),
        ("disabled", "disabled", "k", "Owner", "Delete"),
        ("merged", "disabled", "k", "Merge", "Merge"),
    ];
    for (name, store, key, creation, deletion) in cases {
        es(&world, name, store, key, creation, deletion).await;
        world
            .wait_secret(name, &format!("{name} synced"), |s| {
                value(s, "value").is_some()
            })
            .await;
    }

    // Vault: the latest version soft-deleted, one destroyed, a mount
    // disabled; the stores: one moved to an unmounted path, one to another
    // (existing) OpenBao namespace.
    bao.call("DELETE", &format!("{kept}/data/soft"), None).await;
    bao.call(
        "POST",
        &format!("{kept}/destroy/destroyed"),
        Some(json!({ "versions": [1] })),
    )
    .await;
    bao.call("DELETE", &format!("sys/mounts/{doomed}"), None)
        .await;
    store(
        &world,
        "moved",
        &format!("unmounted-{}", world.name()),
        None,
    )
    .await;
    store(&world, "wrong-ns", &kept, Some(&other_ns)).await;

    for name in ["soft", "destroyed"] {
        let secrets = world.secrets();
        eventually(&format!("{name}'s Secret deleted"), || async {
            secrets.get_opt(name).await.unwrap().is_none().then_some(())
        })
        .await;
    }
    for name in ["moved", "wrong-ns", "disabled", "merged"] {
        let failed = world
            .wait_ready(name, &format!("{name} Ready=False"), |c| {
                c.status == "False"
            })
            .await;
        let message = failed.message.unwrap_or_default();
        assert!(
            message.contains("not confirmed as a missing KV secret"),
            "{name}: {message}"
        );
        let secret = world.secrets().get(name).await.unwrap();
        assert_eq!(
            value(&secret, "value").as_deref(),
            Some("k"),
            "{name} emptied"
        );
    }
    let merged = world.secrets().get("merged").await.unwrap();
    assert_eq!(value(&merged, "theirs").as_deref(), Some("kept"));
}
