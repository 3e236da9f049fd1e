//! Batched reads: `BatchGetSecretValue` with up to 20 secret ids a call.
//!
//! Each read still goes through the store's [`ReadCache`] slot for its key:
//! a miss waits for the batch that holds its id instead of calling on its
//! own, so a concurrent `get` of the same key waits for (and reuses) the
//! batch's result, and a batch whose keys were all filled by someone else
//! meanwhile is never sent. Results are only ever stored under the id they
//! answer, so the worst case of a race is a duplicate call, never a wrong
//! value.
//!
//! [`ReadCache`]: crate::cache::ReadCache

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_sdk_secretsmanager::operation::batch_get_secret_value::BatchGetSecretValueOutput;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared, join_all};

use super::errors::{Failure, classify, service_failure};
use super::{AwsClient, ReadKey, secret_bytes};
use crate::{Fetched, Result, SecretValue};

/// `BatchGetSecretValue` takes at most 20 ids.
pub(super) const BATCH_SIZE: usize = 20;

/// One batch's answers by secret id; an id without an answer is read on its
/// own.
type Answers = HashMap<String, Result<SecretValue>>;

impl AwsClient {
    /// Raw values for `reads` (key and the user's name for errors), one
    /// result per distinct key.
    pub(super) async fn read_many(
        &self,
        reads: &[(ReadKey, String)],
        max_age: Duration,
    ) -> HashMap<ReadKey, Result<Fetched<SecretValue>>> {
        let mut seen = HashSet::new();
        let unique: Vec<&(ReadKey, String)> =
            reads.iter().filter(|(key, _)| seen.insert(key)).collect();

        let mut batches: HashMap<&ReadKey, Shared<BoxFuture<'_, Arc<Answers>>>> = HashMap::new();
        if !self.batch_disabled.load(Ordering::Relaxed) {
            let misses: Vec<&(ReadKey, String)> = unique
                .iter()
                .copied()
                .filter(|(key, _)| key.batchable() && self.reads.peek(key, max_age).is_none())
                .collect();
            for chunk in misses.chunks(BATCH_SIZE) {
                let ids: Vec<(String, String)> = chunk
                    .iter()
                    .map(|(key, name)| (key.id.clone(), name.clone()))
                    .collect();
                let batch = self.batch(ids).boxed().shared();
                for (key, _) in chunk {
                    batches.insert(key, batch.clone());
                }
            }
        }

        let results = join_all(unique.iter().map(|(key, name)| {
            let batch = batches.get(key).cloned();
            async move {
                let result = self
                    .reads
                    .get_or_fetch(key, max_age, || async {
                        if let Some(batch) = batch
                            && let Some(answer) = batch.await.get(&key.id)
                        {
                            return answer.clone();
                        }
                        self.fetch(key, name).await
                    })
                    .await;
                (key.clone(), result)
            }
        }))
        .await;
        results.into_iter().collect()
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
