//! Brings up the local development environment (a real Kubernetes control
//! plane with Coffer's CRDs, OpenBao and moto), prints how to reach each,
//! and keeps it running until Ctrl-C. Everything is removed on exit.

#![allow(clippy::print_stdout)] // printing the environment is this binary's job

use coffer_testenv::TestEnv;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    eprintln!("starting etcd, kube-apiserver, kube-controller-manager, OpenBao and moto...");
    let env = match TestEnv::start().await {
        Ok(env) => env,
        Err(e) => {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("error: {message}");
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
         AWS Secrets Manager (moto):\n\
         \x20 export AWS_ENDPOINT_URL_SECRETS_MANAGER={aws} AWS_ENDPOINT_URL_STS={aws} \
         AWS_REGION={region} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing\n\
         \n\
         State and logs: {dir}\n\
         Press Ctrl-C to stop; everything is removed on exit.",
        crds = env.crds.join(", "),
        vault = env.vault.addr,
        token = env.vault.token,
        aws = env.aws.endpoint,
        region = env.aws.region,
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
