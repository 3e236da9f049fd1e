//! The writers' API client: every request that changes something is
//! checked against [`super::Leadership::may_write`] (with sharding: of the leader
//! Lease or of any shard) at the moment it is sent, so
//! a writer that is still running when this replica steps down or its
//! lease deadline passes (a slow reconcile, a task not yet dropped) cannot
//! write anything.

use http::Method;

/// The error a refused write gets.
#[derive(Debug, thiserror::Error)]
#[error(
    "refused to write: this replica no longer holds the leader Lease (or a shard Lease), or its lease is about to expire"
)]
pub struct NotLeader;

/// `client`, with every request other than GET, HEAD and OPTIONS (reads,
/// lists and watches) refused with [`NotLeader`] unless `may_write`
/// answers yes when it is sent (e.g. [`super::Leadership::may_write`]).
pub fn guarded_client(
    client: kube::Client,
    may_write: impl Fn() -> bool + Clone + Send + Sync + 'static,
) -> kube::Client {
    let namespace = client.default_namespace().to_owned();
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let reads = matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
        let allowed = reads || may_write();
        let client = client.clone();
        async move {
            if !allowed {
                return Err(kube::Error::Service(Box::new(NotLeader)));
            }
            client.send(request).await
        }
    });
    kube::Client::new(service, namespace)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, PostParams};
    use tokio::time::Instant;

    use super::super::Holder;
    use super::*;

    /// A client whose "API server" records each request's method and
    /// answers with an empty ConfigMap.
    fn recording_client() -> (kube::Client, Arc<Mutex<Vec<Method>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            log.lock().unwrap().push(request.method().clone());
            async move {
                let body = serde_json::to_vec(&serde_json::json!({
                    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}
                }))
                .unwrap();
                Ok::<_, std::convert::Infallible>(http::Response::new(kube::client::Body::from(
                    body,
                )))
            }
        });
        (kube::Client::new(service, "default"), seen)
    }

    #[tokio::test]
    async fn writes_pass_only_while_this_replica_may_write_and_reads_always() {
        let (inner, seen) = recording_client();
        let (holder, leadership) = Holder::new();
        let api: Api<ConfigMap> =
            Api::default_namespaced(guarded_client(inner, move || leadership.may_write()));
        let (pp, map) = (PostParams::default(), ConfigMap::default());
        let write = || api.create(&pp, &map);

        let refused = write().await.unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("no longer holds the leader Lease"),
            "{refused}"
        );
        api.get("x").await.expect("a follower reads");
        assert_eq!(*seen.lock().unwrap(), [Method::GET], "nothing was sent");

        holder.lead(Instant::now() + Duration::from_millis(300));
        write().await.expect("the leader writes");
        tokio::time::sleep(Duration::from_millis(400)).await;
        write().await.expect_err("not after the deadline");
        assert_eq!(*seen.lock().unwrap(), [Method::GET, Method::POST]);
    }
}
