//! The Event recorder against the real API server: repeats become a
//! series on one Event, as with client-go, and a series whose Event is gone
//! starts a new one.

use coffer_external::events::{Event, EventType, Recorder, Reporter};
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Resource};

use crate::common::*;

async fn events_on(world: &World, name: &str) -> Vec<K8sEvent> {
    let api: Api<K8sEvent> = Api::namespaced(world.client.clone(), world.name());
    let mut events: Vec<K8sEvent> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .collect();
    events.sort_by_key(|e| e.metadata.creation_timestamp.clone().map(|t| t.0));
    events
}

fn count(e: &K8sEvent) -> i32 {
    e.series.as_ref().map_or(1, |s| s.count)
}

#[tokio::test]
async fn a_repeated_event_is_one_event_with_a_count_and_a_new_note_is_another() {
    let world = World::without_controller("events-series").await;
    let configmaps: Api<ConfigMap> = Api::namespaced(world.client.clone(), world.name());
    let mut object = ConfigMap::default();
    object.metadata.name = Some("regarding".into());
    let object = configmaps
        .create(&PostParams::default(), &object)
        .await
        .unwrap();
    let regarding: ObjectReference = object.object_ref(&());
    let recorder = Recorder::with_capacity(
        world.client.clone(),
        Reporter {
            controller: "coffer-test".into(),
            instance: None,
        },
        16,
    );
    let event = |note: &str| Event {
        type_: EventType::Normal,
        reason: "Updated".into(),
        note: Some(note.into()),
        action: "Sync".into(),
        secondary: None,
    };

    for _ in 0..3 {
        recorder.publish(&event("same"), &regarding).await.unwrap();
    }
    recorder
        .publish(&event("another"), &regarding)
        .await
        .unwrap();
    let events = events_on(&world, "regarding").await;
    let counts: Vec<(Option<String>, i32)> =
        events.iter().map(|e| (e.note.clone(), count(e))).collect();
    assert_eq!(
        counts,
        [(Some("same".into()), 3), (Some("another".into()), 1)],
        "{events:#?}"
    );
    assert_eq!(recorder.remembered(), 2);

    // The series' Event deleted (expired, or removed by hand): the next
    // repeat is a new Event, not an error.
    let api: Api<K8sEvent> = Api::namespaced(world.client.clone(), world.name());
    let first = events[0].metadata.name.clone().unwrap();
    api.delete(&first, &DeleteParams::default()).await.unwrap();
    recorder.publish(&event("same"), &regarding).await.unwrap();
    let notes: Vec<(Option<String>, i32)> = events_on(&world, "regarding")
        .await
        .iter()
        .map(|e| (e.note.clone(), count(e)))
        .collect();
    assert!(notes.contains(&(Some("same".into()), 1)), "{notes:?}");
}
