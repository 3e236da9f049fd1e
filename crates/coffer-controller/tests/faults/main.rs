//! The fault matrix (issue 19): a workload of SealedSecrets and
//! ExternalSecrets (OpenBao and moto) under way while the ground moves,
//! one file per fault family:
//! - `controller`: the controller process SIGKILLed mid-batch, and the
//!   leader SIGKILLed while a standby runs;
//! - `control_plane`: kube-apiserver and etcd restarted mid-reconcile;
//! - `provider_faults`: a proxy in front of each provider throttles (HTTP
//!   429, `ThrottlingException`), resets, delays and drops;
//! - `provider_restarts`: moto stopped and restarted, OpenBao sealed and
//!   unsealed, stopped and restarted.
//!
//! After each fault: every Secret converges to the right content; no
//! Secret was deleted or emptied meanwhile (a watch records every event);
//! every SealedSecret is `Synced=True` and every ExternalSecret
//! `Ready=True`; the key Secrets are the ones from before. Each prints
//! `fault <name>: recovered in X.XX s (N objects)`, the time from the end of
//! the fault to all of that.
//!
//! The environment is this binary's own ([`coffer_testenv::TestEnv::start`]:
//! the tests restart its servers) and the tests take turns on it. The
//! workload is `COFFER_FAULTS_N` SealedSecrets plus as many ExternalSecrets
//! (default 60).

mod control_plane;
mod controller;
mod fixture;
mod process;
mod provider_faults;
mod provider_restarts;
mod watch;
mod workload;
