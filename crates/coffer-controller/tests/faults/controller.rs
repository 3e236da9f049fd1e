//! The controller process killed: alone in the middle of a batch, and as
//! the leader while a standby runs.

use std::time::{Duration, Instant};

use crate::fixture::{Fixture, eventually, note, report};
use crate::process::Controller;
use crate::watch::SecretWatch;

#[tokio::test]
async fn controller_sigkilled_mid_batch_restarts_converges_and_keeps_its_one_key() {
    let fx = Fixture::new("kill").await;
    let watch = SecretWatch::start(fx.client.clone(), fx.ns.name());
    let mut first = Controller::spawn(&fx, "first", None);
    let key = fx.sealing_key().await;
    let keys = fx.key_secrets().await;
    assert_eq!(keys.len(), 1, "one key Secret");
    first.kill().await;

    // The whole batch waits for the next controller; provider reads take
    // a second each, so that the kill finds them in flight.
    fx.create_workload(&key).await;
    fx.slow_providers(true);
    let mut second = Controller::spawn(&fx, "second", None);
    fx.first_written().await;
    second.kill().await;
    fx.slow_providers(false);
    let (done, _) = fx.progress(1, 1).await;
    assert!(
        done < 2 * fx.n,
        "the batch was over before the kill ({done} done): nothing was interrupted"
    );
    note(&format!(
        "controller SIGKILLed with {done} of {} Secrets written",
        2 * fx.n
    ));

    let restarted = Instant::now();
    let third = Controller::spawn(&fx, "third", None);
    eventually("convergence after the restart", || fx.converged(1, 1)).await;
    report("controller-sigkill", restarted.elapsed(), 2 * fx.n);
    assert_eq!(
        fx.key_secrets().await,
        keys,
        "the key Secrets changed; log:\n{}",
        third.tail()
    );
    watch.assert_clean();
}

#[tokio::test]
async fn leader_sigkilled_while_a_standby_runs_hands_over_within_the_lease() {
    const LEASE_SECS: u64 = 4;
    let fx = Fixture::new("leader").await;
    let watch = SecretWatch::start(fx.client.clone(), fx.ns.name());
    let mut replicas = [
        Controller::spawn(&fx, "a", Some(LEASE_SECS)),
        Controller::spawn(&fx, "b", Some(LEASE_SECS)),
    ];
    let leader = eventually("exactly one leader", || async {
        match (replicas[0].leader().await, replicas[1].leader().await) {
            (Some(true), Some(false)) => Ok(0),
            (Some(false), Some(true)) => Ok(1),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let standby = 1 - leader;
    let key = fx.sealing_key().await;
    let keys = fx.key_secrets().await;

    fx.slow_providers(true);
    fx.create_workload(&key).await;
    fx.first_written().await;
    replicas[leader].kill().await;
    let killed = Instant::now();
    fx.slow_providers(false);
    eventually("the standby to lead", || async {
        match replicas[standby].leader().await {
            Some(true) => Ok(()),
            other => Err(format!("standby leader: {other:?}")),
        }
    })
    .await;
    let takeover = killed.elapsed();
    note(&format!(
        "leader SIGKILLed: the standby led after {:.2} s (lease {LEASE_SECS} s)",
        takeover.as_secs_f64()
    ));
    // NB: the standby waits out the lease since the last renewal, then up
    // to 1 s of jitter; the rest is polling slack.
    assert!(
        takeover < Duration::from_secs(LEASE_SECS + 4),
        "takeover took {takeover:?}; standby log:\n{}",
        replicas[standby].tail()
    );
    eventually("convergence under the new leader", || fx.converged(1, 1)).await;
    report("leader-sigkill", killed.elapsed(), 2 * fx.n);
    assert_eq!(fx.key_secrets().await, keys, "the key Secrets changed");
    watch.assert_clean();
}
