//! The providers go away and come back: moto stopped and restarted,
//! OpenBao sealed and unsealed, stopped and restarted. moto and the OpenBao
//! dev server keep their data in memory, so a restarted one comes back
//! empty: while the test writes the values back, its proxy resets the
//! controller's connections (a provider that lost its data is another
//! fault than one that restarted).

use std::time::{Duration, Instant};

use coffer_testenv::{Fault, Stop};

use crate::fixture::{Fixture, report};
use crate::process::Controller;
use crate::watch::SecretWatch;

/// How long each provider stays away.
const AWAY: Duration = Duration::from_secs(3);

#[tokio::test]
async fn moto_stopped_and_restarted_secrets_stay_and_follow_after() {
    let fx = Fixture::new("moto-restart").await;
    let watch = SecretWatch::start(fx.client.clone(), fx.ns.name());
    let _controller = Controller::spawn(&fx, "only", None);
    let key = fx.sealing_key().await;
    fx.create_workload(&key).await;
    fx.wait_converged(1, 1).await;

    fx.env.stop("moto", Stop::Kill).unwrap();
    tokio::time::sleep(AWAY).await;
    fx.assert_external_kept(1, false).await;
    fx.aws_proxy.set(Fault::Reset);
    fx.env.start_again("moto").await.unwrap();
    fx.seed(2).await;
    fx.aws_proxy.set(Fault::None);
    let back = Instant::now();
    fx.wait_converged(1, 2).await;
    report("moto-restart", back.elapsed(), fx.n);
    watch.assert_clean();
}

#[tokio::test]
async fn openbao_sealed_then_restarted_secrets_stay_and_follow_after() {
    let fx = Fixture::new("bao-restart").await;
    let watch = SecretWatch::start(fx.client.clone(), fx.ns.name());
    let _controller = Controller::spawn(&fx, "only", None);
    let key = fx.sealing_key().await;
    fx.create_workload(&key).await;
    fx.wait_converged(1, 1).await;

    fx.env.vault.seal().await.unwrap();
    tokio::time::sleep(AWAY).await;
    fx.assert_external_kept(1, false).await;
    fx.env.vault.unseal().await.unwrap();
    fx.seed(2).await;
    let unsealed = Instant::now();
    fx.wait_converged(1, 2).await;
    report("openbao-seal", unsealed.elapsed(), fx.n);

    fx.env.stop("openbao", Stop::Kill).unwrap();
    tokio::time::sleep(AWAY).await;
    fx.assert_external_kept(2, false).await;
    fx.vault_proxy.set(Fault::Reset);
    fx.env.start_again("openbao").await.unwrap();
    fx.seed(3).await;
    fx.vault_proxy.set(Fault::None);
    let back = Instant::now();
    fx.wait_converged(1, 3).await;
    report("openbao-restart", back.elapsed(), fx.n);
    watch.assert_clean();
}
