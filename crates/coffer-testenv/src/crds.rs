//! Applies every CRD in `crds/` and waits until the API server has
//! established each one.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};

use crate::Error;

const FIELD_MANAGER: &str = "coffer-testenv";

/// Applies each `*.yaml` file in `dir` (one CRD per document) with
/// server-side apply, then waits until every one is established.
pub async fn install(client: &kube::Client, dir: &Path) -> Result<Vec<String>, Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = Vec::new();
    for path in yaml_files(dir)? {
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            what: path.clone(),
            source,
        })?;
        let docs: Vec<CustomResourceDefinition> =
            serde_saphyr::from_multiple(&text).map_err(|e| Error::Crd {
                path: path.clone(),
                message: e.to_string(),
            })?;
        for crd in docs {
            let name = crd.metadata.name.clone().unwrap_or_default();
            api.patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&crd),
            )
            .await
            .map_err(|source| Error::Kube {
                what: format!("applying CRD {name}"),
                source,
            })?;
            names.push(name);
        }
    }
    for name in &names {
        let established = await_condition(api.clone(), name, conditions::is_crd_established());
        tokio::time::timeout(Duration::from_secs(60), established)
            .await
            .map_err(|_| Error::Crd {
                path: dir.into(),
                message: format!("{name} not established"),
            })?
            .map_err(|e| Error::Crd {
                path: dir.into(),
                message: e.to_string(),
            })?;
    }
    Ok(names)
}

fn yaml_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        what: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    Ok(files)
}
