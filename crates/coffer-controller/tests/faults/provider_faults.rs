//! The network between the controller and its providers goes bad: the
//! proxies throttle (429, `ThrottlingException`), reset, delay and drop
//! while the upstream values change. Secrets keep their last content during
//! the fault and take the new one after it.

use std::time::{Duration, Instant};

use coffer_testenv::{Fault, Throttling};

use crate::fixture::{Fixture, report};
use crate::process::Controller;
use crate::watch::SecretWatch;

/// How long each fault lasts: more than a refresh interval, so that every
/// ExternalSecret meets it.
const HOLD: Duration = Duration::from_secs(4);

#[tokio::test]
async fn provider_faults_leave_secrets_in_place_and_recover_after() {
    let fx = Fixture::new("provider-faults").await;
    let watch = SecretWatch::start(fx.client.clone(), fx.ns.name());
    let controller = Controller::spawn(&fx, "only", None);
    let key = fx.sealing_key().await;
    fx.create_workload(&key).await;
    fx.wait_converged(1, 1).await;

    let delay = Fault::Delay(Duration::from_secs(2));
    let faults = [
        (
            "throttle",
            Fault::Throttle(Throttling::Vault),
            Fault::Throttle(Throttling::Aws),
        ),
        ("reset", Fault::Reset, Fault::Reset),
        ("delay", delay, delay),
        ("drop", Fault::Drop, Fault::Drop),
    ];
    for (i, (name, vault, aws)) in faults.into_iter().enumerate() {
        let generation = i + 1;
        let met = (fx.vault_proxy.faulted(), fx.aws_proxy.faulted());
        fx.vault_proxy.set(vault);
        fx.aws_proxy.set(aws);
        fx.seed(generation + 1).await;
        tokio::time::sleep(HOLD).await;
        // A delay lets reads through, late: the new value may arrive.
        fx.assert_external_kept(generation, name == "delay").await;
        assert!(
            fx.vault_proxy.faulted() > met.0 && fx.aws_proxy.faulted() > met.1,
            "{name}: the controller met no fault (OpenBao {} -> {}, moto {} -> {}); log:\n{}",
            met.0,
            fx.vault_proxy.faulted(),
            met.1,
            fx.aws_proxy.faulted(),
            controller.tail()
        );
        fx.vault_proxy.set(Fault::None);
        fx.aws_proxy.set(Fault::None);
        let cleared = Instant::now();
        fx.wait_converged(1, generation + 1).await;
        report(&format!("provider-{name}"), cleared.elapsed(), fx.n);
    }
    watch.assert_clean();
}
