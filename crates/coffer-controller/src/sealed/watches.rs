//! The Secret watches that wake the SealedSecret controller (a Secret is
//! made from the SealedSecret of the same name, as in Bitnami), so that a
//! deleted or edited Secret is put back and a foreign Secret that is
//! deleted or opted in (`managed`, `patch`) is taken up at once.
//!
//! Two watches, so that no Secret's data passes through the controller
//! unless the controller wrote it:
//! - [`owned`]: Secrets labelled [`secret::OWNED_LABEL`], with their data,
//!   recorded into [`crate::sealed::written`] (a summary, not the data) and
//!   then wiped;
//! - [`others`]: the metadata of every other Secret (no data at all),
//!   recorded into [`crate::sealed::others`] (a hash of each name), waking
//!   a SealedSecret only when one of that name exists: a Secret written
//!   before the label existed (labelled by its first reconcile) or one the
//!   controller may not overwrite.
//!
//! (Bitnami's controller holds every Secret of the cluster in an informer
//! and only reacts to the deletion of one it controls.)

use coffer_api::SealedSecret;
use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ObjectMeta;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use crate::sealed::others::OthersRecorder;
use crate::sealed::secret;
use crate::sealed::written::{self, Recorder};

/// Secrets this controller wrote, recorded by `recorder` and then wiped.
pub fn owned(
    api: Api<Secret>,
    mut recorder: Recorder,
) -> impl Stream<Item = Result<Secret, watcher::Error>> + Send + 'static {
    let config = watcher::Config::default().labels(secret::OWNED_SELECTOR);
    watcher(api, config)
        .default_backoff()
        .map_ok(move |mut event| {
            recorder.record(&event);
            written::wipe(&mut event);
            event
        })
        .touched_objects()
}

/// Every other Secret, metadata only (an `Api` of `PartialObjectMeta`
/// asks the API server for metadata alone), recorded by `recorder`.
pub fn others(
    api: Api<PartialObjectMeta<Secret>>,
    mut recorder: OthersRecorder,
) -> impl Stream<Item = Result<PartialObjectMeta<Secret>, watcher::Error>> + Send + 'static {
    watcher(api, watcher::Config::default())
        .default_backoff()
        .map_ok(move |event| {
            recorder.record(&event);
            event
        })
        .touched_objects()
        .try_filter(|meta| {
            futures::future::ready(!secret::is_labelled(meta.metadata.labels.as_ref()))
        })
        .boxed()
}

/// The SealedSecret a Secret of ours is made from.
pub fn sealed_secret_of(meta: &ObjectMeta) -> Option<ObjectRef<SealedSecret>> {
    let namespace = meta.namespace.as_deref()?;
    Some(ObjectRef::new(meta.name.as_deref()?).within(namespace))
}

/// The SealedSecret of the same name as another Secret, if there is one.
pub fn existing_sealed_secret(
    store: &Store<SealedSecret>,
    meta: &ObjectMeta,
) -> Option<ObjectRef<SealedSecret>> {
    let target = sealed_secret_of(meta)?;
    store.get(&target).is_some().then_some(target)
}
