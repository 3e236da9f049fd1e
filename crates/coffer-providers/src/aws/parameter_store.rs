//! `service: ParameterStore`: SSM parameters, read as ESO's
//! `providers/v1/aws/parameterstore` reads them. A key is a parameter name
//! (the store's `prefix` prepended), decrypted (`WithDecryption`); a
//! `version` is appended as `name:version` (a version number or a label);
//! `property` is a JSON path into the value, as for Secrets Manager;
//! `metadataPolicy: Fetch` reads the parameter's tags.
//!
//! `dataFrom.find`: by `name.regexp`, `GetParametersByPath` under `path`
//! (default `/`, recursive), the regexp applied to each name; by `tags`,
//! `DescribeParameters` with one `tag:<key>` filter per tag (and `path`),
//! then the values in `GetParameters` calls of 10 names (ESO reads them
//! one by one). At most [`MAX_FOUND`] parameters: a find that matches more
//! is refused, not truncated.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_ssm::types::{ParameterStringFilter, ResourceTypeForTagging};
use regex::Regex;

use super::errors::classify;
use super::{AwsClient, ReadKey, json_path};
use crate::{Error, Fetched, Find, ReadOptions, Result, SecretValue};

/// ESO's provider label for Parameter Store calls.
pub(super) const PROVIDER: &str = "AWS/ParameterStore";
/// Most parameters one find may return.
pub(super) const MAX_FOUND: usize = 10_000;
/// `GetParameters` takes at most 10 names.
const GET_BATCH: usize = 10;

impl AwsClient {
    fn ssm(&self) -> Result<&aws_sdk_ssm::Client> {
        self.ssm.as_ref().ok_or_else(|| Error::Config {
            store: self.store.clone(),
            reason: "not a ParameterStore store".into(),
        })
    }

    /// `GetParameter` for one read.
    pub(super) async fn get_parameter(&self, key: &ReadKey, name: &str) -> Result<SecretValue> {
        let id = if key.version.is_empty() {
            key.id.clone()
        } else {
            format!("{}:{}", key.id, key.version)
        };
        let sent = self
            .ssm()?
            .get_parameter()
            .name(id)
            .with_decryption(true)
            .send()
            .await;
        let out = self
            .observe("GetParameter", sent)
            .map_err(|e| self.error(classify(&e), Some(name)))?;
        out.parameter
            .and_then(|p| p.value)
            .map(|v| SecretValue::new(v.into_bytes()))
            .ok_or_else(|| Error::Config {
                store: self.store.clone(),
                reason: format!("parameter {name:?} has no value"),
            })
    }

    /// `metadataPolicy: Fetch`: the parameter's tags as a JSON object.
    pub(super) async fn parameter_tags(&self, key: &ReadKey, name: &str) -> Result<SecretValue> {
        let sent = self
            .ssm()?
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(&key.id)
            .send()
            .await;
        let out = self
            .observe("ListTagsForResource", sent)
            .map_err(|e| self.error(classify(&e), Some(name)))?;
        let tags = out.tag_list();
        Ok(SecretValue::new(json_path::tags_json(
            tags.iter().map(|t| (t.key(), t.value())),
        )))
    }

    /// See [`crate::Client::find`], for Parameter Store.
    pub(super) async fn find_parameters(
        &self,
        find: &Find,
        opts: ReadOptions,
    ) -> Result<Fetched<BTreeMap<String, SecretValue>>> {
        let matcher = self.name_matcher(find)?;
        let found = self
            .found
            .get_or_fetch(find, opts.max_age, || async {
                self.check_backoff()?;
                let found = if find.tags.is_empty() {
                    self.by_path(find, matcher.as_ref()).await?
                } else {
                    self.by_tags(find, matcher.as_ref()).await?
                };
                Ok(Arc::new(found))
            })
            .await?;
        Ok(Fetched {
            value: (*found.value).clone(),
            fetched_at: found.fetched_at,
        })
    }

    fn too_many(&self) -> Error {
        Error::Config {
            store: self.store.clone(),
            reason: format!(
                "dataFrom.find matches more than {MAX_FOUND} parameters; narrow it with path, \
                 name.regexp or tags"
            ),
        }
    }

    /// Every parameter under `find.path` whose name matches.
    async fn by_path(
        &self,
        find: &Find,
        matcher: Option<&Regex>,
    ) -> Result<BTreeMap<String, SecretValue>> {
        let path = find.path.clone().unwrap_or_else(|| "/".to_owned());
        let mut found = BTreeMap::new();
        let mut next_token = None;
        loop {
            let sent = self
                .ssm()?
                .get_parameters_by_path()
                .path(&path)
                .recursive(true)
                .with_decryption(true)
                .set_next_token(next_token.take())
                .send()
                .await;
            let page = self
                .observe("GetParametersByPath", sent)
                .map_err(|e| self.error(classify(&e), None))?;
            for p in page.parameters.unwrap_or_default() {
                if let (Some(name), Some(value)) = (p.name, p.value)
                    && matcher.is_none_or(|m| m.is_match(&name))
                {
                    found.insert(name, SecretValue::new(value.into_bytes()));
                    if found.len() > MAX_FOUND {
                        return Err(self.too_many());
                    }
                }
            }
            next_token = page.next_token.filter(|t| !t.is_empty());
            if next_token.is_none() {
                return Ok(found);
            }
        }
    }

    /// Every parameter carrying all of `find.tags` (under `find.path`),
    /// whose name matches.
    async fn by_tags(
        &self,
        find: &Find,
        matcher: Option<&Regex>,
    ) -> Result<BTreeMap<String, SecretValue>> {
        let mut filters = Vec::new();
        for (key, value) in &find.tags {
            filters.push(string_filter(&format!("tag:{key}"), "Equals", value)?);
        }
        if let Some(path) = &find.path {
            filters.push(string_filter("Path", "Recursive", path)?);
        }
        let mut names = Vec::new();
        let mut next_token = None;
        loop {
            let sent = self
                .ssm()?
                .describe_parameters()
                .set_parameter_filters(Some(filters.clone()))
                .set_next_token(next_token.take())
                .send()
                .await;
            let page = self
                .observe("DescribeParameters", sent)
                .map_err(|e| self.error(classify(&e), None))?;
            for p in page.parameters.unwrap_or_default() {
                if let Some(name) = p.name
                    && matcher.is_none_or(|m| m.is_match(&name))
                {
                    names.push(name);
                    if names.len() > MAX_FOUND {
                        return Err(self.too_many());
                    }
                }
            }
            next_token = page.next_token.filter(|t| !t.is_empty());
            if next_token.is_none() {
                break;
            }
        }
        let mut found = BTreeMap::new();
        for chunk in names.chunks(GET_BATCH) {
            let sent = self
                .ssm()?
                .get_parameters()
                .set_names(Some(chunk.to_vec()))
                .with_decryption(true)
                .send()
                .await;
            let out = self
                .observe("GetParameters", sent)
                .map_err(|e| self.error(classify(&e), None))?;
            // A parameter deleted between the listing and the read is
            // simply not found, as with Secrets Manager.
            for p in out.parameters.unwrap_or_default() {
                if let (Some(name), Some(value)) = (p.name, p.value) {
                    found.insert(name, SecretValue::new(value.into_bytes()));
                }
            }
        }
        Ok(found)
    }
}

fn string_filter(key: &str, option: &str, value: &str) -> Result<ParameterStringFilter> {
    ParameterStringFilter::builder()
        .key(key)
        .option(option)
        .values(value)
        .build()
        .map_err(|e| Error::Config {
            store: String::new(),
            reason: format!("dataFrom.find filter {key:?}: {e}"),
        })
}
