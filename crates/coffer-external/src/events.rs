//! Event publishing, shared by the controllers of this process: an Event
//! on an object, with the action it was about; a failure to publish is
//! logged and never fails the reconcile (Events are best effort, as in
//! client-go).
//!
//! [`Recorder`] stands in for kube's. Like it (and client-go), an Event
//! repeated within [`SERIES_WINDOW`] becomes a `series` patch of the first
//! instead of a new object. Unlike it, what it remembers for that is
//! bounded by count as well as time: kube's recorder keeps every Event it
//! sent, whole, for six minutes, so churn (a tenant creating and deleting
//! objects, each with its own uid) grew the controller by about 1.5 KiB an
//! Event for six minutes (issue 19's soak: 31 → 46 MiB). Here an entry is
//! the Event's key and name, at most `capacity` of them (client-go's
//! correlator also keeps 4,096), the least recently seen going first.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams, PostParams};
pub use kube::runtime::events::{Event, EventType, Reporter};

/// How long a published Event can be continued as a series (kube's and
/// client-go's six minutes).
pub const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// How many Events a [`Recorder`] remembers by default (client-go's LRU).
pub const DEFAULT_CAPACITY: usize = 4096;
/// How often expired entries are dropped (also done when full).
const PRUNE_EVERY: Duration = Duration::from_secs(30);

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

/// Publishes Events as one reporter, continuing repeats as series.
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    reporter: Reporter,
    series: Arc<Mutex<SeriesCache>>,
}

impl Recorder {
    /// A recorder remembering up to [`DEFAULT_CAPACITY`] Events.
    pub fn new(client: kube::Client, reporter: Reporter) -> Self {
        Self::with_capacity(client, reporter, DEFAULT_CAPACITY)
    }

    /// A recorder remembering up to `capacity` Events (at least one).
    pub fn with_capacity(client: kube::Client, reporter: Reporter, capacity: usize) -> Self {
        Recorder {
            client,
            reporter,
            series: Arc::new(Mutex::new(SeriesCache::new(capacity))),
        }
    }

    /// How many Events are remembered now.
    pub fn remembered(&self) -> usize {
        self.cache().entries.len()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, SeriesCache> {
        self.series.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes `ev` about `regarding`: a new Event, or the next count of
    /// the same Event's series when it was published within
    /// [`SERIES_WINDOW`] (and is still there).
    pub async fn publish(
        &self,
        ev: &Event,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), namespace);
        let key = {
            let cache = self.cache();
            Key::new(ev, regarding, &cache.notes)
        };
        let repeat = self.cache().repeat(&key, Instant::now());
        if let Some((name, count)) = repeat {
            let patch = serde_json::json!({
                "series": {"count": count, "lastObservedTime": MicroTime(Timestamp::now())},
            });
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    self.cache().seen(key, name, count, Instant::now());
                    return Ok(());
                }
                // Deleted or expired meanwhile: start a new Event.
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let event = self.generate(ev, regarding);
        let created = api.create(&PostParams::default(), &event).await?;
        let name = created.metadata.name.unwrap_or_default();
        self.cache().seen(key, name, 1, Instant::now());
        Ok(())
    }

    /// A new events.k8s.io Event, as kube's recorder builds it.
    fn generate(&self, ev: &Event, regarding: &ObjectReference) -> K8sEvent {
        let now = Timestamp::now();
        K8sEvent {
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            related: ev.secondary.clone(),
            note: ev.note.clone(),
            metadata: ObjectMeta {
                namespace: regarding.namespace.clone(),
                name: Some(format!(
                    "{}.{:x}",
                    regarding
                        .name
                        .as_deref()
                        .unwrap_or(&self.reporter.controller),
                    now.as_nanosecond()
                )),
                ..ObjectMeta::default()
            },
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            type_: Some(
                match ev.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_owned(),
            ),
            ..K8sEvent::default()
        }
    }
}

/// What makes two Events the same (client-go's key: the object, what
/// happened, and the note, kept as a keyed hash).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    type_: EventType,
    action: String,
    reason: String,
    regarding: RefKey,
    related: Option<RefKey>,
    note: u64,
}

impl Key {
    fn new(ev: &Event, regarding: &ObjectReference, notes: &RandomState) -> Key {
        Key {
            type_: ev.type_,
            action: ev.action.clone(),
            reason: ev.reason.clone(),
            regarding: RefKey::from(regarding),
            related: ev.secondary.as_ref().map(RefKey::from),
            note: notes.hash_one(ev.note.as_deref()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RefKey {
    api_version: Option<String>,
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    uid: Option<String>,
}

impl From<&ObjectReference> for RefKey {
    fn from(r: &ObjectReference) -> RefKey {
        RefKey {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            uid: r.uid.clone(),
        }
    }
}

/// A published Event: its name and its count so far.
#[derive(Debug)]
struct Entry {
    name: String,
    count: i32,
    last: Instant,
}

/// The Events that can still be continued, at most `capacity`.
#[derive(Debug)]
struct SeriesCache {
    entries: HashMap<Key, Entry>,
    capacity: usize,
    last_pruned: Instant,
    notes: RandomState,
}

impl SeriesCache {
    fn new(capacity: usize) -> Self {
        SeriesCache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            last_pruned: Instant::now(),
            notes: RandomState::new(),
        }
    }

    /// The Event to continue for `key` and its next count, if one was
    /// published within the window.
    fn repeat(&mut self, key: &Key, now: Instant) -> Option<(String, i32)> {
        if now.duration_since(self.last_pruned) >= PRUNE_EVERY {
            self.prune(now);
        }
        self.entries
            .get(key)
            .filter(|e| now.duration_since(e.last) < SERIES_WINDOW)
            .map(|e| (e.name.clone(), e.count.saturating_add(1).max(2)))
    }

    /// Records that `key` was published as `name`, `count` times so far.
    fn seen(&mut self, key: Key, name: String, count: i32, now: Instant) {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.prune(now);
            if self.entries.len() >= self.capacity {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.last)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(
            key,
            Entry {
                name,
                count,
                last: now,
            },
        );
    }

    fn prune(&mut self, now: Instant) {
        self.entries
            .retain(|_, e| now.duration_since(e.last) < SERIES_WINDOW);
        self.last_pruned = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(reason: &str, note: &str) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.to_owned(),
            note: Some(note.to_owned()),
            action: "Sync".to_owned(),
            secondary: None,
        }
    }

    fn object(name: &str, uid: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("external-secrets.io/v1".to_owned()),
            kind: Some("ExternalSecret".to_owned()),
            namespace: Some("team".to_owned()),
            name: Some(name.to_owned()),
            uid: Some(uid.to_owned()),
            ..ObjectReference::default()
        }
    }

    #[test]
    fn a_repeat_within_the_window_continues_the_series() {
        let mut cache = SeriesCache::new(8);
        let t0 = Instant::now();
        let key = Key::new(&event("Updated", "ok"), &object("a", "1"), &cache.notes);
        assert_eq!(cache.repeat(&key, t0), None);
        cache.seen(key.clone(), "a.1".into(), 1, t0);
        assert_eq!(cache.repeat(&key, t0), Some(("a.1".into(), 2)));
        cache.seen(key.clone(), "a.1".into(), 2, t0);
        assert_eq!(cache.repeat(&key, t0), Some(("a.1".into(), 3)));
        let later = t0 + SERIES_WINDOW;
        assert_eq!(cache.repeat(&key, later), None, "past the window");
    }

    #[test]
    fn another_note_reason_or_object_is_another_event() {
        let cache = SeriesCache::new(8);
        let base = Key::new(&event("Updated", "ok"), &object("a", "1"), &cache.notes);
        for other in [
            Key::new(&event("Updated", "other"), &object("a", "1"), &cache.notes),
            Key::new(&event("Failed", "ok"), &object("a", "1"), &cache.notes),
            // Same name, a new object (deleted and created again).
            Key::new(&event("Updated", "ok"), &object("a", "2"), &cache.notes),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn memory_is_bounded_by_count_keeping_the_most_recent() {
        let mut cache = SeriesCache::new(3);
        let t0 = Instant::now();
        let keys: Vec<Key> = (0..10)
            .map(|i| {
                Key::new(
                    &event("Updated", "ok"),
                    &object(&format!("o{i}"), &i.to_string()),
                    &cache.notes,
                )
            })
            .collect();
        for (i, key) in keys.iter().enumerate() {
            cache.seen(
                key.clone(),
                format!("o{i}"),
                1,
                t0 + Duration::from_millis(i as u64),
            );
            assert!(cache.entries.len() <= 3);
        }
        let now = t0 + Duration::from_secs(1);
        assert!(cache.repeat(&keys[9], now).is_some());
        assert!(cache.repeat(&keys[7], now).is_some());
        assert!(cache.repeat(&keys[6], now).is_none(), "evicted");
    }

    #[test]
    fn expired_entries_are_dropped_not_kept() {
        let mut cache = SeriesCache::new(100);
        let t0 = Instant::now();
        for i in 0..50 {
            let key = Key::new(
                &event("Updated", "ok"),
                &object(&format!("o{i}"), &i.to_string()),
                &cache.notes,
            );
            cache.seen(key, format!("o{i}"), 1, t0);
        }
        let key = Key::new(&event("Updated", "ok"), &object("x", "x"), &cache.notes);
        assert_eq!(cache.repeat(&key, t0 + SERIES_WINDOW + PRUNE_EVERY), None);
        assert!(cache.entries.is_empty());
    }
}
