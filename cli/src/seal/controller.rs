//! The sealed-secrets controller's HTTP API, reached through the API
//! server's service proxy as kubeseal reaches it: `GET /v1/cert.pem`
//! (`--fetch-cert`, sealing without `--cert`), `POST /v1/verify`
//! (`--validate`) and `POST /v1/rotate` (`--re-encrypt`, `coffer reseal`).
//!
//! Every request goes to
//! `/api/v1/namespaces/<ns>/services/http:<name>:<port>/proxy/<path>`,
//! where `<port>` is the name of the Service's first port (matches
//! kubeseal's `openCertCluster`, `ValidateSealedSecret` and
//! `ReEncryptSealedSecret`). The controller answers `409 Conflict` when it
//! cannot decrypt a SealedSecret; kubeseal reads exactly that status as
//! "invalid", and so does coffer.
//!
//! Controllers limit `/v1/verify` and `/v1/rotate` (Bitnami v0.39+ and
//! coffer-controller: 2 a second, burst 2) and answer `429` beyond that;
//! coffer waits (`Retry-After`, else a growing pause) and retries, so a
//! `reseal` of many files slows down instead of failing. kubeseal fails.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use coffer_api::SealedSecret;
use http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Service;
use kube::{Api, Client};

use super::cluster::ClusterFlags;

/// Where the controller is and which cluster to ask (kubeseal's flags).
#[derive(Args, Debug, Clone)]
pub struct ControllerArgs {
    /// Name of the sealed-secrets controller's Service
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAME",
        default_value = "sealed-secrets-controller"
    )]
    pub controller_name: String,
    /// Namespace of the sealed-secrets controller
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAMESPACE",
        default_value = "kube-system"
    )]
    pub controller_namespace: String,
    /// Path to a kubeconfig
    #[arg(long, env = "SEALED_SECRETS_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use
    #[arg(long, env = "SEALED_SECRETS_CONTEXT")]
    pub context: Option<String>,
    /// kubectl's connection flags (boxed: a dozen strings would make
    /// every command's arguments large).
    #[command(flatten)]
    pub connection: Box<super::connection::ConnectionArgs>,
}

impl ControllerArgs {
    /// "the controller NS/NAME", for messages.
    pub fn describe(&self) -> String {
        format!(
            "the controller {}/{}",
            self.controller_namespace, self.controller_name
        )
    }
}

/// The longest part of a controller's or API server's answer quoted in an
/// error (the body holds messages, not values, but may be a whole page).
const MAX_QUOTED: usize = 400;

/// How long one request keeps retrying while the controller answers 429.
const MAX_THROTTLED: Duration = Duration::from_secs(120);

/// A connection to the controller through the API server. Requests run on
/// a single-threaded runtime owned here, so callers stay synchronous.
pub struct Controller {
    runtime: tokio::runtime::Runtime,
    client: Client,
    /// `/api/v1/namespaces/<ns>/services/http:<name>:<port>/proxy`.
    proxy: String,
    /// "the controller NS/NAME".
    who: String,
    /// Whether the user was told about a 429 (once per command).
    throttled: AtomicBool,
}

impl Controller {
    /// Reads the kubeconfig and looks up the controller's Service (for the
    /// name of its port). `what` says what the controller is asked for, for
    /// the error when it cannot be reached.
    pub fn connect(args: &ControllerArgs, what: &str) -> Result<Controller> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the Kubernetes client")?;
        let flags = ClusterFlags {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            namespace: None,
            connection: (*args.connection).clone(),
        };
        let (ns, name) = (&args.controller_namespace, &args.controller_name);
        let who = args.describe();
        let (client, port) = runtime
            .block_on(async {
                let client = flags.client().await?;
                let services: Api<Service> = Api::namespaced(client.clone(), ns);
                let service = services
                    .get(name)
                    .await
                    .map_err(api_message)
                    .with_context(|| {
                        format!(
                            "cannot get the sealed-secrets Service {ns}/{name}; set \
                         --controller-name and --controller-namespace"
                        )
                    })?;
                let port = service
                    .spec
                    .and_then(|s| s.ports)
                    .and_then(|p| p.into_iter().next())
                    .and_then(|p| p.name)
                    .unwrap_or_default();
                anyhow::Ok((client, port))
            })
            .with_context(|| format!("cannot reach {who} to {what}"))?;
        Ok(Controller {
            runtime,
            client,
            // Matches client-go's JoinSchemeNamePort("http", name, port).
            proxy: format!("/api/v1/namespaces/{ns}/services/http:{name}:{port}/proxy"),
            who,
            throttled: AtomicBool::new(false),
        })
    }

    /// "the controller NS/NAME".
    pub fn describe(&self) -> &str {
        &self.who
    }

    /// `GET /v1/cert.pem`: the controller's newest sealing certificate.
    pub fn cert_pem(&self) -> Result<String> {
        let (status, _, body) = self.call(Method::GET, "/v1/cert.pem", None)?;
        if !status.is_success() {
            bail!(
                "cannot fetch the certificate from {}: {}",
                self.who,
                failure(status, &body)
            );
        }
        String::from_utf8(body)
            .map_err(|_| anyhow!("{} sent a certificate that is not text", self.who))
    }

    /// `POST /v1/verify`: `Ok(None)` when the controller can decrypt every
    /// value, `Ok(Some(reason))` when it cannot (409), an error when it
    /// could not be asked.
    pub fn verify(&self, sealed: &SealedSecret) -> Result<Option<String>> {
        let (status, body) = self.post("/v1/verify", sealed)?;
        if status.is_success() {
            Ok(None)
        } else if status == StatusCode::CONFLICT {
            Ok(Some(quote(&body)))
        } else {
            bail!(
                "{} could not validate it: {}",
                self.who,
                failure(status, &body)
            )
        }
    }

    /// `POST /v1/rotate`: the SealedSecret re-encrypted by the controller to
    /// its newest key, without what the API server owns (matches kubeseal
    /// `--re-encrypt`, which clears timestamps and generation).
    pub fn rotate(&self, sealed: &SealedSecret) -> Result<SealedSecret> {
        let (status, body) = self.post("/v1/rotate", sealed)?;
        if status == StatusCode::CONFLICT {
            bail!("{} cannot decrypt it: {}", self.who, quote(&body));
        }
        if !status.is_success() {
            bail!(
                "{} could not re-encrypt it: {}",
                self.who,
                failure(status, &body)
            );
        }
        let mut rotated: SealedSecret = serde_json::from_slice(&body).map_err(|e| {
            anyhow!(
                "{} answered /v1/rotate with something other than a SealedSecret: {e}",
                self.who
            )
        })?;
        coffer_sealed::strip_server_fields(&mut rotated.metadata);
        rotated.status = None;
        Ok(rotated)
    }

    fn post(&self, path: &str, sealed: &SealedSecret) -> Result<(StatusCode, Vec<u8>)> {
        // Only sealed values: nothing here is plaintext.
        let json = serde_json::to_vec(sealed)?;
        let give_up = Instant::now() + MAX_THROTTLED;
        let mut pause = Duration::from_millis(250);
        loop {
            let (status, retry_after, body) = self.call(Method::POST, path, Some(json.clone()))?;
            if status != StatusCode::TOO_MANY_REQUESTS {
                return Ok((status, body));
            }
            let wait = retry_after.unwrap_or(pause).min(Duration::from_secs(10));
            if Instant::now() + wait > give_up {
                return Ok((status, body));
            }
            if !self.throttled.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "{} limits its request rate (429); waiting and retrying",
                    self.who
                );
            }
            std::thread::sleep(wait);
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// One request through the service proxy; the status and the body,
    /// whatever the status.
    fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Option<Duration>, Vec<u8>)> {
        let uri = format!("{}{path}", self.proxy);
        let mut request = http::Request::builder().method(method.clone()).uri(&uri);
        request = if body.is_some() {
            // Matches client-go's REST client: a JSON body, JSON preferred back.
            request
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/json, */*")
        } else {
            request.header(header::ACCEPT, "application/x-pem-file, */*")
        };
        let request = request.body(kube::client::Body::from(body.unwrap_or_default()))?;
        self.runtime
            .block_on(async {
                let response = self.client.send(request).await?;
                let status = response.status();
                // Seconds only (what Go's and our limiters send), not dates.
                let retry_after = response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let bytes = response.into_body().collect().await?.to_bytes();
                anyhow::Ok((status, retry_after, bytes.to_vec()))
            })
            .with_context(|| format!("{method} {path} to {} failed", self.who))
    }
}

/// The API server's message for a refused request ("services \"x\" not
/// found (404)") rather than kube's debug dump of the whole `Status`.
fn api_message(err: kube::Error) -> anyhow::Error {
    match err {
        kube::Error::Api(status) => anyhow!("{} ({})", status.message, status.code),
        other => other.into(),
    }
}

/// Describes a failed answer: the status and, when the API server answered
/// itself (controller unreachable, no endpoints, forbidden), its `Status`
/// message, else the start of the controller's body.
fn failure(status: StatusCode, body: &[u8]) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .filter(|v| v["kind"] == "Status")
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| quote(body));
    if message.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {message}")
    }
}

/// The body as one trimmed line, cut at [`MAX_QUOTED`] characters.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_server_status_messages_are_preferred_over_raw_bodies() {
        let status = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"no endpoints available for service \"x\"","code":503}"#;
        assert_eq!(
            failure(StatusCode::SERVICE_UNAVAILABLE, status),
            "503 Service Unavailable: no endpoints available for service \"x\""
        );
        assert_eq!(
            failure(StatusCode::NOT_FOUND, b"no endpoint /v1/verify\n"),
            "404 Not Found: no endpoint /v1/verify"
        );
        assert_eq!(failure(StatusCode::BAD_GATEWAY, b""), "502 Bad Gateway");
    }

    #[test]
    fn quoted_bodies_are_one_line_and_bounded() {
        assert_eq!(quote(b"  cannot\n decrypt \n"), "cannot decrypt");
        let long = "x".repeat(MAX_QUOTED + 10);
        let quoted = quote(long.as_bytes());
        assert_eq!(quoted.chars().count(), MAX_QUOTED + 1);
        assert!(quoted.ends_with('…'));
    }
}
