//! Brings up the local development environment (a real Kubernetes control
//! plane with Coffer's CRDs, OpenBao and moto), prints how to reach each,
//! and keeps it running until Ctrl-C. Everything is removed on exit.
//!
//! With `--controller PATH`, also runs that `coffer-controller` binary
//! against the environment (both controllers, namespace `coffer-system`),
//! and `--cli PATH` names the `coffer` binary in the hints it prints; that
//! is what `tests/dev-env.sh` does. `--env-file PATH` writes, once
//! everything is up, the `NAME=value` lines a script needs to reach it
//! (tests/demo.sh reads them).

#![allow(clippy::print_stdout)] // printing the environment is this binary's job

use std::path::PathBuf;
use std::time::Duration;

use coffer_testenv::{TestEnv, error_chain, free_port};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};

/// The controller's namespace in the development environment.
const CONTROLLER_NAMESPACE: &str = "coffer-system";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!(
                "error: {message}\nusage: coffer-dev-env [--controller PATH] [--cli PATH] [--env-file PATH]"
            );
            return std::process::ExitCode::from(2);
        }
    };
    eprintln!("starting etcd, kube-apiserver, kube-controller-manager, OpenBao and moto...");
    let env = match TestEnv::start().await {
        Ok(env) => env,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            return std::process::ExitCode::FAILURE;
        }
    };
    let kubeconfig = env.kubeconfig().display();
    println!(
        "\nCoffer's local environment is up.\n\
         \n\
         Kubernetes (CRDs: {crds}):\n\
         \x20 export KUBECONFIG={kubeconfig}\n\
         \x20 kubectl --kubeconfig {kubeconfig} get namespaces\n\
         \n\
         OpenBao (Vault API, dev mode, KV v2 at secret/):\n\
         \x20 export VAULT_ADDR={vault} BAO_ADDR={vault} VAULT_TOKEN={token} BAO_TOKEN={token}\n\
         \n\
         AWS Secrets Manager and Parameter Store (moto):\n\
         \x20 export AWS_ENDPOINT_URL_SECRETS_MANAGER={aws} AWS_ENDPOINT_URL_STS={aws} \
         AWS_ENDPOINT_URL_SSM={aws} \
         AWS_REGION={region} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        crds = env.crds.join(", "),
        vault = env.vault.addr,
        token = env.vault.token,
        aws = env.aws.endpoint,
        region = env.aws.region,
    );
    let mut cert_url = String::new();
    if let Some(program) = &args.controller {
        match start_controller(&env, program, &args.cli).await {
            Ok((text, cert)) => {
                println!("{text}");
                cert_url = cert;
            }
            Err(message) => {
                eprintln!("error: {message}");
                env.print_logs(30);
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    if let Some(path) = &args.env_file
        && let Err(e) = write_env_file(&env, path, &cert_url)
    {
        eprintln!("error: writing {}: {e}", path.display());
        return std::process::ExitCode::FAILURE;
    }
    println!(
        "\nState and logs: {dir}\n\
         Press Ctrl-C to stop; everything is removed on exit.",
        dir = env.dir().display(),
    );
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: waiting for Ctrl-C: {e}");
    }
    eprintln!("stopping...");
    // Returning runs the exit handler that stops the children and removes
    // the state directory.
    std::process::ExitCode::SUCCESS
}

struct Args {
    controller: Option<PathBuf>,
    cli: PathBuf,
    env_file: Option<PathBuf>,
}

/// Writes `NAME=value` lines for the environment (and the controller's
/// certificate URL), then renames them into place, so a reader never sees
/// half a file.
fn write_env_file(env: &TestEnv, path: &std::path::Path, cert_url: &str) -> std::io::Result<()> {
    let lines = [
        (
            "KUBECONFIG",
            env.kubeconfig().to_string_lossy().into_owned(),
        ),
        ("VAULT_ADDR", env.vault.addr.clone()),
        ("BAO_ADDR", env.vault.addr.clone()),
        ("VAULT_TOKEN", env.vault.token.clone()),
        ("BAO_TOKEN", env.vault.token.clone()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", env.aws.endpoint.clone()),
        ("AWS_ENDPOINT_URL_STS", env.aws.endpoint.clone()),
        ("AWS_ENDPOINT_URL_SSM", env.aws.endpoint.clone()),
        ("AWS_REGION", env.aws.region.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("COFFER_CERT_URL", cert_url.to_owned()),
        (
            "COFFER_CONTROLLER_NAMESPACE",
            CONTROLLER_NAMESPACE.to_owned(),
        ),
    ];
    let text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path)
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut parsed = Args {
            controller: None,
            cli: PathBuf::from("coffer"),
            env_file: None,
        };
        let mut args = std::env::args_os().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .map(PathBuf::from)
                    .ok_or_else(|| format!("{} needs a path", arg.to_string_lossy()))
            };
            match arg.to_str() {
                Some("--controller") => parsed.controller = Some(value()?),
                Some("--cli") => parsed.cli = value()?,
                Some("--env-file") => parsed.env_file = Some(value()?),
                _ => return Err(format!("unexpected argument {arg:?}")),
            }
        }
        Ok(parsed)
    }
}

/// Starts the controller, waits until it serves its certificate, and
/// returns what to print about it.
async fn start_controller(
    env: &TestEnv,
    program: &std::path::Path,
    cli: &std::path::Path,
) -> Result<(String, String), String> {
    let namespaces: Api<Namespace> = Api::all(env.client().await);
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(CONTROLLER_NAMESPACE.to_owned()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .map_err(|e| format!("creating namespace {CONTROLLER_NAMESPACE}: {e}"))?;
    let port = || free_port().map_err(|e| error_chain(&e));
    let (api, metrics) = (
        format!("127.0.0.1:{}", port()?),
        format!("127.0.0.1:{}", port()?),
    );
    let args = [
        format!("--namespace={CONTROLLER_NAMESPACE}"),
        "--leader-elect=false".to_owned(),
        format!("--listen-addr={api}"),
        format!("--metrics-addr={metrics}"),
    ];
    let kubeconfig = env.kubeconfig().to_string_lossy().into_owned();
    let vars = [
        ("KUBECONFIG", kubeconfig.as_str()),
        (
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            env.aws.endpoint.as_str(),
        ),
        ("AWS_ENDPOINT_URL_STS", env.aws.endpoint.as_str()),
        ("AWS_ENDPOINT_URL_SSM", env.aws.endpoint.as_str()),
        ("AWS_REGION", env.aws.region.as_str()),
    ];
    let log = env
        .spawn("coffer-controller", program, &args, &vars)
        .map_err(|e| error_chain(&e))?;
    let cert = format!("http://{api}/v1/cert.pem");
    let http = reqwest::Client::new();
    // The first start generates a 4096-bit key, which takes a few seconds.
    let mut ready = false;
    for _ in 0..120 {
        if let Ok(response) = http.get(&cert).send().await
            && response.status().is_success()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if !ready {
        return Err(format!(
            "coffer-controller did not serve {cert} within 60 s; its log:\n{}",
            log.tail(30)
        ));
    }
    let text = format!(
        "\n\
         coffer-controller (SealedSecrets and ExternalSecrets; namespace {CONTROLLER_NAMESPACE}):\n\
         \x20 certificate: {cert}\n\
         \x20 page:        http://{api}/ (seal Secrets in the browser)\n\
         \x20 metrics:     http://{metrics}/metrics\n\
         \x20 log:         {log}\n\
         \n\
         Try it: seal a Secret and watch the controller unseal it:\n\
         \x20 kubectl create secret generic demo --from-literal=password=s3cret --dry-run=client -o yaml \\\n\
         \x20   | {cli} seal --cert {cert} -n default -o yaml > demo-sealed.yaml\n\
         \x20 kubectl --kubeconfig {kubeconfig} apply -f demo-sealed.yaml\n\
         \x20 kubectl --kubeconfig {kubeconfig} get secret demo -o yaml",
        log = log.path.display(),
        cli = cli.display(),
    );
    Ok((text, cert))
}
