//! kube-apiserver and etcd restarted (SIGTERM, same arguments, ports and
//! data) while the controller works through an update of every object.

use std::time::Instant;

use coffer_testenv::Stop;

use crate::fixture::{Fixture, note, report};
use crate::process::Controller;
use crate::watch::SecretWatch;

/// Converges the workload, starts generation 2 of every object, restarts
/// `child` at once, and measures from its relaunch to convergence.
async fn restart_mid_reconcile(test: &str, child: &str) {
    let fx = Fixture::new(test).await;
    let watch = SecretWatch::start(fx.client.clone(), fx.ns.name());
    let controller = Controller::spawn(&fx, "only", None);
    let key = fx.sealing_key().await;
    let keys = fx.key_secrets().await;
    fx.create_workload(&key).await;
    fx.wait_converged(1, 1).await;

    fx.seed(2).await;
    fx.seal_all(&key, 2).await;
    let (done, _) = fx.progress(2, 2).await;
    note(&format!(
        "{child} restarted with {done} of {} Secrets at generation 2",
        2 * fx.n
    ));
    let stopped = Instant::now();
    fx.env
        .stop(child, Stop::Term)
        .unwrap_or_else(|e| panic!("stop {child}: {e}"));
    let relaunched = Instant::now();
    fx.env
        .start_again(child)
        .await
        .unwrap_or_else(|e| panic!("start {child} again: {e}"));
    note(&format!(
        "{child} stopped and ready again after {:.2} s",
        stopped.elapsed().as_secs_f64()
    ));
    fx.wait_converged(2, 2).await;
    report(&format!("{child}-restart"), relaunched.elapsed(), 2 * fx.n);
    assert_eq!(
        fx.key_secrets().await,
        keys,
        "the key Secrets changed; log:\n{}",
        controller.tail()
    );
    watch.assert_clean();
}

#[tokio::test]
async fn kube_apiserver_restarted_mid_reconcile_everything_converges() {
    restart_mid_reconcile("apiserver", "kube-apiserver").await;
}

#[tokio::test]
async fn etcd_restarted_mid_reconcile_everything_converges() {
    restart_mid_reconcile("etcd", "etcd").await;
}
