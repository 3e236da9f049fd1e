//! Batched reads: `BatchGetSecretValue` with up to 20 secret ids a call,
//! gathered across callers.
//!
//! A current value that misses the store's [`ReadCache`] does not call on
//! its own: it joins the store's open batch, which waits [`GATHER_WINDOW`]
//! for other misses (from the same `data[]` or from any other
//! ExternalSecret) and leaves when it holds 20 ids or the window ends. The
//! batch's spare room is filled with keys that are still read and already
//! stale for their readers ([`ReadCache::claim_due`]; their readers wait
//! for the batch meanwhile): their results go to the cache, so keys first
//! read at different moments come to be refreshed together, and 100 keys
//! read every minute cost 5 calls a minute rather than 100.
//!
//! Each read still goes through its [`ReadCache`] slot, held while it
//! waits, so an id is in at most one batch at a time and a concurrent
//! `get` of the same key waits for (and reuses) the batch's answer.
//! Results are only ever stored under the id they answer; an id the batch
//! did not answer (the batch failed, or its leader was dropped) is read on
//! its own.
//!
//! [`ReadCache`]: crate::cache::ReadCache
//! [`ReadCache::claim_due`]: crate::cache::ReadCache::claim_due

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::operation::batch_get_secret_value::BatchGetSecretValueOutput;
use futures::future::join_all;
use tokio::sync::{Notify, watch};

use super::errors::{Failure, classify, service_failure};
use super::{AwsClient, ReadKey, secret_bytes};
use crate::{Fetched, Result, SecretValue};

/// `BatchGetSecretValue` takes at most 20 ids.
pub(super) const BATCH_SIZE: usize = 20;

/// How long the first id of a batch waits for others to join. Reads that
/// fall due together (a `data[]` list, ExternalSecrets created or
/// refreshed together) arrive within a few milliseconds of each other; a
/// read that waits alone pays this once.
pub(super) const GATHER_WINDOW: Duration = Duration::from_millis(20);

/// One batch's answers by secret id; an id without an answer is read on its
/// own.
type Answers = HashMap<String, Result<SecretValue>>;

/// Where a batch's answers are announced to the ids that joined it.
type Announcement = watch::Receiver<Option<Arc<Answers>>>;

/// A store's open batch, if any: at most one at a time.
#[derive(Default)]
pub(super) struct Gather {
    open: Mutex<Option<Arc<OpenBatch>>>,
}

/// A batch that ids may still join. Only the open slot and the id that
/// opened it (its leader, which sends it) hold it, so when the leader is
/// dropped before sending, the sender goes and the others read alone.
struct OpenBatch {
    /// Secret id and the user's name for it (for errors).
    ids: Mutex<Vec<(String, String)>>,
    answers: watch::Sender<Option<Arc<Answers>>>,
    /// Fired when the batch is full, so it leaves before the window ends.
    full: Notify,
}

/// How an id took part in a batch.
enum Joined {
    /// It opened the batch, and sends it.
    Leader(Arc<OpenBatch>),
    /// It joined an open batch, and waits for its answers.
    Member(Announcement),
}

impl Gather {
    fn join(&self, id: &str, name: &str) -> Joined {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(batch) = open.as_ref() {
            let announcement = batch.answers.subscribe();
            let mut ids = batch.ids.lock().unwrap_or_else(PoisonError::into_inner);
            ids.push((id.to_owned(), name.to_owned()));
            if ids.len() >= BATCH_SIZE {
                batch.full.notify_one();
                drop(ids);
                *open = None;
            }
            return Joined::Member(announcement);
        }
        let batch = Arc::new(OpenBatch {
            ids: Mutex::new(vec![(id.to_owned(), name.to_owned())]),
            answers: watch::channel(None).0,
            full: Notify::new(),
        });
        *open = Some(batch.clone());
        Joined::Leader(batch)
    }

    /// Closes `batch` to newcomers (a full one was closed when it filled).
    fn close(&self, batch: &Arc<OpenBatch>) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.as_ref().is_some_and(|o| Arc::ptr_eq(o, batch)) {
            *open = None;
        }
    }
}

/// Closes a leader's batch however the leader ends, so that no id joins a
/// batch that will never be sent.
struct Leading<'a> {
    gather: &'a Gather,
    batch: Arc<OpenBatch>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.gather.close(&self.batch);
    }
}

impl AwsClient {
    /// Raw values for `reads` (key and the user's name for errors), one
    /// result per distinct key.
    pub(super) async fn read_many(
        &self,
        reads: &[(ReadKey, String)],
        max_age: Duration,
    ) -> HashMap<ReadKey, Result<Fetched<SecretValue>>> {
        let mut seen = HashSet::new();
        let unique = reads.iter().filter(|(key, _)| seen.insert(key));
        join_all(
            unique.map(
                |(key, name)| async move { (key.clone(), self.read(key, name, max_age).await) },
            ),
        )
        .await
        .into_iter()
        .collect()
    }

    /// The raw value for `key` through the cache: a current value that
    /// misses is read in a gathered batch, anything else on its own.
    pub(super) async fn read(
        &self,
        key: &ReadKey,
        name: &str,
        max_age: Duration,
    ) -> Result<Fetched<SecretValue>> {
        self.reads
            .get_or_fetch(key, max_age, || async {
                if key.batchable()
                    && !self.batch_disabled.load(Ordering::Relaxed)
                    && let Some(answer) = self.gathered(key, name).await
                {
                    return answer;
                }
                self.fetch(key, name).await
            })
            .await
    }

    /// `key`'s answer from the batch it joins; `None` when the batch gave
    /// none (then the caller reads it on its own).
    async fn gathered(&self, key: &ReadKey, name: &str) -> Option<Result<SecretValue>> {
        let answers = match self.gather.join(&key.id, name) {
            Joined::Member(mut announcement) => {
                let answers: Option<Arc<Answers>> =
                    announcement.wait_for(Option::is_some).await.ok()?.clone();
                answers?
            }
            Joined::Leader(batch) => {
                let leading = Leading {
                    gather: &self.gather,
                    batch,
                };
                tokio::select! {
                    () = tokio::time::sleep(GATHER_WINDOW) => {}
                    () = leading.batch.full.notified() => {}
                }
                self.gather.close(&leading.batch);
                let ids = std::mem::take(
                    &mut *leading
                        .batch
                        .ids
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                );
                let answers = self.send_topped_up(ids).await;
                // NB: members may all have gone; nobody listening is fine.
                let _ = leading.batch.answers.send(Some(answers.clone()));
                answers
            }
        };
        answers.get(&key.id).cloned()
    }

    /// Sends a batch of `ids`, its spare room filled with keys due for a
    /// refresh, whose results go to the cache.
    async fn send_topped_up(&self, mut ids: Vec<(String, String)>) -> Arc<Answers> {
        let asked: HashSet<String> = ids.iter().map(|(id, _)| id.clone()).collect();
        let ahead = self
            .reads
            .claim_due(BATCH_SIZE.saturating_sub(ids.len()), |key| {
                key.batchable() && !asked.contains(&key.id)
            });
        ids.extend(
            ahead
                .iter()
                .map(|claim| (claim.key().id.clone(), claim.key().id.clone())),
        );
        let sent_at = Instant::now();
        let answers = self.batch(ids).await;
        for claim in ahead {
            if let Some(Ok(value)) = answers.get(&claim.key().id) {
                let value = value.clone();
                claim.fill(value, sent_at);
            }
        }
        answers
    }

    /// One `BatchGetSecretValue` exchange (all its pages) for `ids` (secret
    /// id and the user's name for it).
    async fn batch(&self, ids: Vec<(String, String)>) -> Arc<Answers> {
        let mut answers = Answers::new();
        if let Err(throttled) = self.check_backoff() {
            for (id, _) in ids {
                answers.insert(id, Err(throttled.clone()));
            }
            return Arc::new(answers);
        }
        let mut next_token = None;
        loop {
            let sent = self
                .sm
                .batch_get_secret_value()
                .set_secret_id_list(Some(ids.iter().map(|(id, _)| id.clone()).collect()))
                .set_next_token(next_token.take())
                .send()
                .await;
            match self.observe("BatchGetSecretValue", sent) {
                Ok(page) => {
                    next_token = page.next_token.clone().filter(|t| !t.is_empty());
                    for (id, name, answer) in answers_of(&ids, page) {
                        let answer = answer.map_err(|failure| self.error(failure, Some(name)));
                        answers.insert(id.to_owned(), answer);
                    }
                    if next_token.is_none() {
                        break;
                    }
                }
                Err(err) => {
                    let failure = classify(&err);
                    match on_batch_failure(&failure) {
                        OnFailure::FailAll => {
                            for (id, name) in &ids {
                                if !answers.contains_key(id) {
                                    let error = self.error(failure.clone(), Some(name));
                                    answers.insert(id.clone(), Err(error));
                                }
                            }
                        }
                        OnFailure::DisableAndReadSingly => {
                            tracing::warn!(
                                store = %self.store,
                                reason = %failure,
                                "BatchGetSecretValue is not allowed or not supported; reading secrets one by one from now on"
                            );
                            self.batch_disabled.store(true, Ordering::Relaxed);
                        }
                        OnFailure::ReadSingly => {
                            tracing::debug!(store = %self.store, reason = %failure, "BatchGetSecretValue failed; reading these secrets one by one");
                        }
                    }
                    break;
                }
            }
        }
        Arc::new(answers)
    }
}

/// What a failed `BatchGetSecretValue` call means for its ids.
#[derive(Debug, PartialEq, Eq)]
enum OnFailure {
    /// Every id fails the same way (throttled, unreachable, credentials
    /// refused): reading them singly would fail too, only slower.
    FailAll,
    /// The identity may not batch (IAM `secretsmanager:BatchGetSecretValue`
    /// missing) or the endpoint cannot: read singly, and stop batching.
    DisableAndReadSingly,
    /// The request was refused as written (an id the service rejects):
    /// reading singly gives each id its own answer.
    ReadSingly,
}

fn on_batch_failure(failure: &Failure) -> OnFailure {
    match failure {
        Failure::Denied { code, .. } if code == "AccessDeniedException" => {
            OnFailure::DisableAndReadSingly
        }
        Failure::Unsupported(_) => OnFailure::DisableAndReadSingly,
        Failure::Invalid(_) | Failure::NotFound => OnFailure::ReadSingly,
        Failure::Throttled(_)
        | Failure::Denied { .. }
        | Failure::Unavailable(_)
        | Failure::Resolved(_) => OnFailure::FailAll,
    }
}

/// The answers in one page, matched to the requested ids: a value by the
/// secret's name or ARN (ids may be either), an error by the id as sent.
/// Ids the page does not mention are left out.
fn answers_of(
    ids: &[(String, String)],
    page: BatchGetSecretValueOutput,
) -> Vec<(&str, &str, std::result::Result<SecretValue, Failure>)> {
    let find = |candidates: [Option<&str>; 2]| {
        ids.iter()
            .find(|(id, _)| candidates.contains(&Some(id.as_str())))
            .map(|(id, name)| (id.as_str(), name.as_str()))
    };
    let mut answers = Vec::new();
    for entry in page.secret_values.unwrap_or_default() {
        let Some((id, name)) = find([entry.name.as_deref(), entry.arn.as_deref()]) else {
            continue;
        };
        if let Some(value) = secret_bytes(entry.secret_string, entry.secret_binary) {
            answers.push((id, name, Ok(value)));
        }
    }
    for error in page.errors.unwrap_or_default() {
        let Some((id, name)) = find([error.secret_id.as_deref(), None]) else {
            continue;
        };
        let failure = service_failure(error.error_code.as_deref(), error.message.as_deref(), 400);
        answers.push((id, name, Err(failure)));
    }
    answers
}

#[cfg(test)]
mod tests {
    use aws_sdk_secretsmanager::primitives::Blob;
    use aws_sdk_secretsmanager::types::{ApiErrorType, SecretValueEntry};

    use super::*;

    #[test]
    fn a_batch_takes_twenty_ids_then_the_next_id_opens_another() {
        let gather = Gather::default();
        let Joined::Leader(first) = gather.join("id-0", "0") else {
            panic!("the first id opens the batch");
        };
        for i in 1..BATCH_SIZE {
            assert!(matches!(
                gather.join(&format!("id-{i}"), "n"),
                Joined::Member(_)
            ));
        }
        assert_eq!(first.ids.lock().unwrap().len(), BATCH_SIZE);
        let Joined::Leader(second) = gather.join("id-20", "20") else {
            panic!("a full batch takes no more ids");
        };
        assert!(!Arc::ptr_eq(&first, &second));
    }

    #[tokio::test]
    async fn members_of_a_batch_whose_leader_is_dropped_read_alone() {
        let gather = Gather::default();
        let Joined::Leader(batch) = gather.join("a", "a") else {
            panic!("the first id opens the batch");
        };
        let Joined::Member(mut announcement) = gather.join("b", "b") else {
            panic!("the second id joins");
        };
        drop(Leading {
            gather: &gather,
            batch,
        });
        assert!(announcement.wait_for(Option::is_some).await.is_err());
        assert!(
            matches!(gather.join("c", "c"), Joined::Leader(_)),
            "the dropped batch is closed"
        );
    }

    #[test]
    fn page_answers_are_matched_by_name_arn_or_error_id() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:pre/c-AbCdEf";
        let ids = vec![
            ("pre/a".to_owned(), "a".to_owned()),
            ("pre/b".to_owned(), "b".to_owned()),
            (arn.to_owned(), arn.to_owned()),
            ("pre/d".to_owned(), "d".to_owned()),
            ("pre/silent".to_owned(), "silent".to_owned()),
        ];
        let page = BatchGetSecretValueOutput::builder()
            .secret_values(
                SecretValueEntry::builder()
                    .name("pre/a")
                    .secret_string("A")
                    .build(),
            )
            .secret_values(
                SecretValueEntry::builder()
                    .name("pre/b")
                    .secret_binary(Blob::new(vec![0, 1]))
                    .build(),
            )
            .secret_values(
                SecretValueEntry::builder()
                    .name("pre/c")
                    .arn(arn)
                    .secret_string("C")
                    .build(),
            )
            .secret_values(
                SecretValueEntry::builder()
                    .name("not-requested")
                    .secret_string("X")
                    .build(),
            )
            .errors(
                ApiErrorType::builder()
                    .secret_id("pre/d")
                    .error_code("ResourceNotFoundException")
                    .message("Secrets Manager can't find the specified secret.")
                    .build(),
            )
            .build();
        let answers: HashMap<&str, (&str, std::result::Result<Vec<u8>, Failure>)> =
            answers_of(&ids, page)
                .into_iter()
                .map(|(id, name, a)| (id, (name, a.map(|v| v.expose().to_vec()))))
                .collect();
        assert_eq!(answers["pre/a"], ("a", Ok(b"A".to_vec())));
        assert_eq!(answers["pre/b"], ("b", Ok(vec![0, 1])));
        assert_eq!(answers[arn], (arn, Ok(b"C".to_vec())));
        assert_eq!(answers["pre/d"], ("d", Err(Failure::NotFound)));
        assert!(!answers.contains_key("pre/silent"));
        assert_eq!(answers.len(), 4);
    }

    #[test]
    fn an_access_denied_batch_disables_batching_but_a_throttle_fails_the_chunk() {
        let denied = service_failure(Some("AccessDeniedException"), Some("no"), 400);
        assert_eq!(on_batch_failure(&denied), OnFailure::DisableAndReadSingly);
        let unsupported = service_failure(Some("UnknownOperationException"), None, 400);
        assert_eq!(
            on_batch_failure(&unsupported),
            OnFailure::DisableAndReadSingly
        );
        let throttled = service_failure(Some("ThrottlingException"), None, 400);
        assert_eq!(on_batch_failure(&throttled), OnFailure::FailAll);
        let bad_keys = service_failure(Some("UnrecognizedClientException"), None, 400);
        assert_eq!(on_batch_failure(&bad_keys), OnFailure::FailAll);
        let invalid = service_failure(Some("InvalidParameterException"), None, 400);
        assert_eq!(on_batch_failure(&invalid), OnFailure::ReadSingly);
    }
}
