//! One ClusterSecretStore serving two tenants whose credentials are their
//! own: a Vault JWT read from a Secret of each ExternalSecret's namespace
//! (`auth.jwt.secretRef` without a namespace). Each namespace logs in as
//! itself and reads under its own Vault policy, never under another
//! namespace's login, and a rotated credential logs in anew.

use serde_json::json;

use crate::bao::Bao;
use crate::common::*;
use crate::identity::{self, ISSUER};
use crate::sync::*;

const AUDIENCE: &str = "coffer-tenancy-test";

/// OpenBao's JWT auth at a mount of its own, trusting the API server's
/// service-account signing key, with one role `tenant` for any
/// ServiceAccount token of [`AUDIENCE`]: what a token may read comes from
/// the identity entity of its subject (one per tenant), so the store's
/// single role serves every namespace with different rights.
struct Tenancy {
    bao: Bao,
    auth: String,
    accessor: String,
    mount: String,
}

impl Tenancy {
    async fn new(world: &World) -> Tenancy {
        let bao = Bao::new(world.env);
        let auth = format!("jwt-{}", world.name());
        bao.enable_auth(&auth, "jwt").await;
        bao.call(
            "POST",
            &format!("auth/{auth}/config"),
            Some(json!({
                "jwt_validation_pubkeys": [identity::service_account_signing_key(world.env)],
                "bound_issuer": ISSUER,
            })),
        )
        .await;
        bao.call(
            "POST",
            &format!("auth/{auth}/role/tenant"),
            Some(json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": [AUDIENCE],
                "token_ttl": "1h",
            })),
        )
        .await;
        let accessor =
            bao.call("GET", "sys/auth", None).await["data"][format!("{auth}/")]["accessor"]
                .as_str()
                .expect("the auth mount's accessor")
                .to_owned();
        let mount = format!("kv-{}", world.name());
        bao.mount_kv(&mount, "2").await;
        Tenancy {
            bao,
            auth,
            accessor,
            mount,
        }
    }

    /// ServiceAccount `sa` of `world` logs in as an entity whose policy
    /// reads `folder/` of the mount.
    async fn tenant(&self, world: &World, sa: &str, folder: &str) {
        let policy = format!("{}-{sa}-{folder}", world.name());
        self.bao
            .read_policy(&policy, &[&format!("{}/data/{folder}/", self.mount)])
            .await;
        let entity = self
            .bao
            .call(
                "POST",
                "identity/entity",
                Some(json!({ "name": policy, "policies": [policy] })),
            )
            .await["data"]["id"]
            .as_str()
            .expect("entity id")
            .to_owned();
        self.bao
            .call(
                "POST",
                "identity/entity-alias",
                Some(json!({
                    "name": format!("system:serviceaccount:{}:{sa}", world.name()),
                    "canonical_id": entity,
                    "mount_accessor": self.accessor,
                })),
            )
            .await;
        identity::service_account(world, sa, &[]).await;
    }

    async fn put(&self, key: &str, value: &str) {
        self.bao
            .put_v2(&self.mount, key, json!({ "password": value }))
            .await;
    }
}

/// Puts a JWT of ServiceAccount `sa` into Secret `vault-jwt` of `world`.
async fn jwt_secret(world: &World, sa: &str) {
    let jwt = identity::token_for(world, sa, &[AUDIENCE]).await;
    world.put_secret("vault-jwt", &[("token", &jwt)]).await;
}

async fn external_secret_via(world: &World, name: &str, store: &str, key: &str) {
    world
        .apply(
            ExternalSecretManifest::new(name, store)
                .cluster_store()
                .property("value", key, "password"),
        )
        .await;
}

fn logins(world: &World) -> u64 {
    world
        .metrics
        .provider_calls("HashiCorp/Vault", "Login", "success")
}

#[tokio::test]
async fn a_cluster_store_with_namespace_credentials_never_lends_one_namespace_s_login_to_another() {
    let mut a = World::without_controller("tenancy-a").await;
    let b = World::without_controller("tenancy-b").await;
    let tenancy = Tenancy::new(&a).await;
    tenancy.tenant(&a, "ci", "a").await;
    tenancy.tenant(&a, "ci2", "extra").await;
    tenancy.tenant(&b, "ci", "b").await;
    tenancy.put("a/db", "for-a").await;
    tenancy.put("b/db", "for-b").await;
    tenancy.put("extra/db", "extra-for-a").await;
    jwt_secret(&a, "ci").await;
    jwt_secret(&b, "ci").await;
    let store = format!("tenants-{}", a.name());
    let login = VaultLogin::jwt_secret(&tenancy.auth, "tenant", "vault-jwt", "token");
    a.apply(
        StoreManifest::vault(&store, &tenancy.bao.addr, &tenancy.mount, login)
            .provider("version", "v2")
            .cluster()
            .set("conditions", json!([{"namespaces": [a.name(), b.name()]}])),
    )
    .await;
    // One controller for both namespaces, as in a cluster; a short store
    // configuration lifetime so the rotation below is seen at once.
    let mut config = a.config();
    config.namespaces = vec![a.name().to_owned(), b.name().to_owned()];
    config.store_config_ttl = std::time::Duration::from_secs(1);
    a.start_with(config).await;

    // A logs in first and reads its own secret.
    external_secret_via(&a, "db", &store, "a/db").await;
    assert_synced(&a, "db", "for-a").await;
    // B reads under B's login: its own secret, and not A's.
    external_secret_via(&b, "mine", &store, "b/db").await;
    external_secret_via(&b, "theirs", &store, "a/db").await;
    assert_synced(&b, "mine", "for-b").await;
    let refused = assert_failed(&b, "theirs").await;
    assert!(
        refused.contains("access denied") && refused.contains("permission denied"),
        "{refused}"
    );
    assert!(!refused.contains("for-a"), "{refused}");

    // A's credential Secret rotates to another identity: a new login, with
    // that identity's rights (before, A may not read `extra`).
    external_secret_via(&a, "extra", &store, "extra/db").await;
    assert_failed(&a, "extra").await;
    let before = logins(&a);
    jwt_secret(&a, "ci2").await;
    a.annotate_es("extra", "force-sync", "1").await;
    assert_synced(&a, "extra", "extra-for-a").await;
    assert!(logins(&a) > before, "the rotated JWT logged in");

    let api: kube::Api<coffer_api::ClusterSecretStore> = kube::Api::all(a.client.clone());
    api.delete(&store, &Default::default()).await.unwrap();
}
