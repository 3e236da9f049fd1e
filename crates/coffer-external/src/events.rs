//! Event publishing, shared by the controllers of this process: an Event
//! on an object, with the action it was about; a failure to publish is
//! logged and never fails the reconcile (Events are best effort, as in
//! client-go).

use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};

/// Publishes an Event of `type_` on `object` through `recorder`.
pub async fn publish<K>(
    recorder: &Recorder,
    object: &K,
    action: &str,
    type_: EventType,
    reason: &str,
    note: &str,
) where
    K: Resource<DynamicType = ()>,
{
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note.to_owned()),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &object.object_ref(&())).await {
        tracing::warn!(error = %e, reason, "failed to publish Event");
    }
}
