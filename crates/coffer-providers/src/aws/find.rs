//! `dataFrom.find`: list the secrets that match, then read them (batched).
//!
//! Matches ESO: `name.regexp` (unanchored, RE2 syntax) is applied to each
//! listed name on the client, `tags` become `tag-key`/`tag-value` filters,
//! `path` a `name` filter (a prefix), and at least a name or tags is
//! required. Unlike ESO we also check that each tag *pair* matches, since
//! the service's filters match keys and values independently (and as
//! prefixes); and we read listed names as they are (ESO prepends the store's
//! prefix to names that already carry it).

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SecretListEntry};
use regex::Regex;

use super::errors::classify;
use super::{AwsClient, CURRENT, ReadKey};
use crate::{Error, Fetched, Find, MetadataPolicy, ReadOptions, Result, SecretValue};

/// Page size of `ListSecrets` (the service's maximum).
const PAGE: i32 = 100;

impl AwsClient {
    /// See [`crate::Client::find`]: secret name → value.
    pub async fn find(
        &self,
        find: &Find,
        opts: ReadOptions,
    ) -> Result<Fetched<BTreeMap<String, SecretValue>>> {
        if find.name_regexp.is_none() && find.tags.is_empty() {
            return Err(Error::Config {
                store: self.store.clone(),
                reason: "dataFrom.find needs name.regexp or tags".into(),
            });
        }
        if self.service == super::AwsService::ParameterStore {
            return self.find_parameters(find, opts).await;
        }
        let matcher = self.name_matcher(find)?;
        let listed = self
            .listings
            .get_or_fetch(find, opts.max_age, || self.list(find, matcher.as_ref()))
            .await?;

        let reads: Vec<(ReadKey, String)> = listed
            .value
            .iter()
            .map(|name| {
                let key = ReadKey {
                    id: name.clone(),
                    version: CURRENT.to_owned(),
                    metadata: MetadataPolicy::None,
                };
                (key, name.clone())
            })
            .collect();
        let mut results = self.read_many(&reads, opts.max_age).await;
        let mut fetched_at = listed.fetched_at;
        let mut values = BTreeMap::new();
        for (key, name) in reads {
            match results.remove(&key) {
                Some(Ok(fetched)) => {
                    fetched_at = fetched_at.min(fetched.fetched_at);
                    values.insert(name, fetched.value);
                }
                // Deleted between the listing and the read.
                Some(Err(e)) if e.is_not_found() => {}
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
        Ok(Fetched {
            value: values,
            fetched_at,
        })
    }

    /// `find.name.regexp`, compiled (RE2 syntax, unanchored, as ESO).
    pub(super) fn name_matcher(&self, find: &Find) -> Result<Option<Regex>> {
        find.name_regexp
            .as_deref()
            .map(|pattern| {
                Regex::new(pattern).map_err(|e| Error::Config {
                    store: self.store.clone(),
                    reason: format!("dataFrom.find name.regexp {pattern:?}: {e}"),
                })
            })
            .transpose()
    }

    /// The names of the secrets `find` matches, over all pages.
    async fn list(&self, find: &Find, matcher: Option<&Regex>) -> Result<Arc<Vec<String>>> {
        self.check_backoff()?;
        let mut filters = Vec::new();
        for (key, value) in &find.tags {
            filters.push(filter(FilterNameStringType::TagKey, key));
            filters.push(filter(FilterNameStringType::TagValue, value));
        }
        if let Some(path) = &find.path {
            filters.push(filter(FilterNameStringType::Name, path));
        }
        let mut names = Vec::new();
        let mut next_token = None;
        loop {
            let sent = self
                .sm
                .list_secrets()
                .set_filters(Some(filters.clone()))
                .max_results(PAGE)
                .set_next_token(next_token.take())
                .send()
                .await;
            let page = self
                .observe("ListSecrets", sent)
                .map_err(|e| self.error(classify(&e), None))?;
            for entry in page.secret_list() {
                if let Some(name) = entry.name()
                    && matcher.is_none_or(|m| m.is_match(name))
                    && has_tags(entry, find)
                {
                    names.push(name.to_owned());
                }
            }
            next_token = page.next_token.filter(|t| !t.is_empty());
            if next_token.is_none() {
                break;
            }
        }
        Ok(Arc::new(names))
    }
}

fn filter(key: FilterNameStringType, value: &str) -> Filter {
    Filter::builder().key(key).values(value).build()
}

/// Whether the entry carries every tag of `find` with exactly its value.
fn has_tags(entry: &SecretListEntry, find: &Find) -> bool {
    find.tags.iter().all(|(key, value)| {
        entry
            .tags()
            .iter()
            .any(|t| t.key() == Some(key.as_str()) && t.value() == Some(value.as_str()))
    })
}
