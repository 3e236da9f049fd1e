//! Flag parsing: Bitnami's names, defaults and environment variables, and
//! the refusal of values coffer cannot honour.

use std::time::Duration;

use clap::{CommandFactory, Parser};

use super::*;
use crate::KeyOrder;

fn parse(args: &[&str]) -> Args {
    let mut argv = vec!["coffer-controller"];
    argv.extend_from_slice(args);
    Args::try_parse_from(argv).expect("flags parse")
}

fn config(args: &[&str]) -> Result<crate::Config, FlagError> {
    parse(args).config(&Environment {
        pod_namespace: Some("sealed-secrets".into()),
        service_account_namespace: "/nonexistent".into(),
    })
}

/// Every flag of Bitnami's controller (v0.40.0 `cmd/controller/main.go`
/// and `pkg/controller/server.go`).
const BITNAMI_FLAGS: &[&str] = &[
    "key-prefix",
    "key-size",
    "key-ttl",
    "my-cn",
    "key-renew-period",
    "key-order-priority",
    "accept-deprecated-v1-data",
    "key-cutoff-time",
    "all-namespaces",
    "additional-namespaces",
    "label-selector",
    "rate-limit",
    "rate-limit-burst",
    "metrics-omit-secret-labels",
    "privatekey-annotations",
    "privatekey-labels",
    "old-gc-behavior",
    "update-status",
    "watch-for-secrets",
    "skip-recreate",
    "log-info-stdout",
    "log-level",
    "log-format",
    "rotate-period",
    "max-unseal-retries",
    "kubeclient-qps",
    "kubeclient-burst",
    "listen-addr",
    "listen-metrics-addr",
    "read-timeout",
    "write-timeout",
];

#[test]
fn every_bitnami_flag_is_accepted_and_read_from_its_sealed_secrets_variable() {
    let command = Args::command();
    for flag in BITNAMI_FLAGS {
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(flag))
            .unwrap_or_else(|| panic!("--{flag} is not accepted"));
        let want = format!("SEALED_SECRETS_{}", flag.to_uppercase().replace('-', "_"));
        assert_eq!(
            arg.get_env().and_then(|e| e.to_str()),
            Some(want.as_str()),
            "--{flag}"
        );
    }
    assert!(
        Args::try_parse_from(["coffer-controller", "--version"])
            .is_err_and(|e| { e.kind() == clap::error::ErrorKind::DisplayVersion })
    );
}

#[test]
fn defaults_are_bitnamis() {
    let c = config(&[]).unwrap();
    assert_eq!(c.keys.prefix, "sealed-secrets-key");
    assert_eq!(c.keys.validity, Duration::from_secs(87_600 * 3600));
    assert_eq!(c.keys.common_name, "");
    assert_eq!(c.keys.order, KeyOrder::CertNotBefore);
    assert_eq!(c.key_renew_period, Duration::from_secs(720 * 3600));
    assert!(c.update_status && !c.metrics_omit_secret_labels);
    assert_eq!(c.max_unseal_retries, 5);
    assert!(c.watch_namespaces.is_empty(), "all namespaces");
    assert_eq!(c.listen_addr.unwrap().to_string(), "0.0.0.0:8080");
    assert_eq!(c.metrics_addr.unwrap().to_string(), "0.0.0.0:8081");
    assert_eq!(c.http_limits.write_timeout, Duration::from_secs(120));
    let rate = c.rate_limit.unwrap();
    assert_eq!((rate.per_second, rate.burst), (2.0, 2));
    let logging = parse(&[]).logging();
    assert_eq!(logging.level, tracing::Level::INFO);
    assert!(logging.info_to_stdout);
}

#[test]
fn bitnami_values_are_read_with_bitnamis_meaning() {
    let c = config(&[
        "--update-status=false",
        "--key-ttl=1h30m",
        "--my-cn",
        "sealer",
        "--key-renew-period",
        "0",
        "--key-order-priority",
        "SecretCreationTimestamp",
        "--privatekey-annotations",
        "a=1,b=2",
        "--privatekey-labels=team=x",
        "--max-unseal-retries=0",
        "--metrics-omit-secret-labels",
        "--listen-metrics-addr",
        ":9090",
        "--write-timeout=10s",
    ])
    .unwrap();
    assert!(!c.update_status);
    assert_eq!(c.keys.validity, Duration::from_secs(5400));
    assert_eq!(c.keys.common_name, "sealer");
    assert_eq!(c.key_renew_period, Duration::ZERO);
    assert_eq!(c.keys.order, KeyOrder::SecretCreationTimestamp);
    assert_eq!(c.keys.annotations.len(), 2);
    assert_eq!(c.keys.labels["team"], "x");
    assert_eq!(c.max_unseal_retries, 0);
    assert!(c.metrics_omit_secret_labels);
    assert_eq!(c.metrics_addr.unwrap().port(), 9090);
    assert_eq!(c.http_limits.write_timeout, Duration::from_secs(10));
    // The old names still work.
    let c = config(&["--metrics-addr=127.0.0.1:1", "--rotate-period=1h"]).unwrap();
    assert_eq!(c.metrics_addr.unwrap().port(), 1);
    assert_eq!(c.key_renew_period, Duration::from_secs(3600));
    assert!(Args::try_parse_from(["coffer-controller", "--key-order-priority=Newest"]).is_err());
}

#[test]
fn bare_boolean_flags_do_not_swallow_the_next_flag() {
    // As Bitnami's chart writes them.
    let args = parse(&["--update-status", "--key-prefix", "k", "--log-info-stdout"]);
    assert!(args.update_status && args.log_info_stdout);
    assert_eq!(args.key_prefix, "k");
}

#[test]
fn scope_follows_all_namespaces_and_additional_namespaces() {
    let own = config(&["--all-namespaces=false"]).unwrap();
    assert_eq!(own.watch_namespaces, ["sealed-secrets"]);
    let more = config(&["--additional-namespaces", "a, b,sealed-secrets,a"]).unwrap();
    assert_eq!(more.watch_namespaces, ["sealed-secrets", "a", "b"]);
    let listed = config(&["--namespaces", "x,y"]).unwrap();
    assert_eq!(listed.watch_namespaces, ["x", "y"]);
    let err = config(&["--namespaces=x", "--all-namespaces=false"]).unwrap_err();
    assert!(err.to_string().starts_with("--namespaces:"), "{err}");
}

#[test]
fn values_coffer_cannot_honour_are_refused_naming_the_flag() {
    for (flags, named) in [
        (&["--old-gc-behavior"][..], "--old-gc-behavior=true"),
        (&["--skip-recreate"][..], "--skip-recreate=true"),
        (
            &["--watch-for-secrets=false"][..],
            "--watch-for-secrets=false",
        ),
        (
            &["--accept-deprecated-v1-data=false"][..],
            "--accept-deprecated-v1-data=false",
        ),
        (&["--kubeclient-qps", "5"][..], "--kubeclient-qps"),
        (&["--kubeclient-burst=10"][..], "--kubeclient-burst"),
        (&["--privatekey-labels=oops"][..], "--privatekey-labels"),
    ] {
        let err = config(flags).unwrap_err().to_string();
        assert!(err.starts_with(named), "{flags:?}: {err}");
    }
    // Their supported values are fine.
    config(&[
        "--old-gc-behavior=false",
        "--skip-recreate=false",
        "--watch-for-secrets",
        "--accept-deprecated-v1-data=true",
    ])
    .unwrap();
}

#[test]
fn namespace_comes_from_the_flag_then_pod_namespace_then_the_service_account() {
    let dir = std::env::temp_dir().join(format!("coffer-flags-ns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("namespace");
    std::fs::write(&file, "from-file\n").unwrap();
    let env = |pod: Option<&str>, file: &std::path::Path| Environment {
        pod_namespace: pod.map(str::to_owned),
        service_account_namespace: file.to_owned(),
    };
    let flag = parse(&["--namespace", "given"]);
    let none = parse(&[]);
    assert_eq!(
        flag.config(&env(Some("pod"), &file))
            .unwrap()
            .controller_namespace,
        "given"
    );
    let from_pod = none.config(&env(Some("pod"), &file)).unwrap();
    assert_eq!(from_pod.controller_namespace, "pod");
    assert_eq!(
        from_pod.leader_election.unwrap().namespace,
        "pod",
        "the Lease lives there too"
    );
    assert_eq!(
        none.config(&env(None, &file)).unwrap().controller_namespace,
        "from-file"
    );
    assert_eq!(
        none.config(&env(Some(""), &dir.join("missing")))
            .unwrap()
            .controller_namespace,
        "kube-system"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn timeouts_and_limits_keep_their_defaults_and_refuse_zero() {
    let args = parse(&[]);
    assert_eq!(args.template_timeout, Duration::from_secs(2));
    assert_eq!(args.read_timeout, Duration::from_secs(30));
    assert_eq!((args.max_connections, args.max_request_values), (512, 128));
    for flag in [
        "--read-timeout=0",
        "--write-timeout=0",
        "--key-ttl=0",
        "--template-timeout=0",
        "--max-connections=0",
        "--max-request-values=0",
    ] {
        assert!(
            Args::try_parse_from(["coffer-controller", flag]).is_err(),
            "{flag}"
        );
    }
    assert_eq!(
        parse(&["--read-timeout", "2m"]).read_timeout,
        Duration::from_secs(120)
    );
    assert!(parse(&[]).leader_elect);
    assert!(!parse(&["--leader-elect=false"]).leader_elect);
}

#[test]
fn eso_s_operation_flags_are_honoured_or_refused_by_name() {
    let external = |args: &[&str]| config(args).unwrap().external_secrets.unwrap();
    let defaults = external(&[]);
    assert_eq!(defaults.controller_class, "default", "ESO's default class");
    assert_eq!(defaults.concurrency, 32, "bounded, unlike ESO's 1");
    assert!(!defaults.flood_gate);
    assert_eq!(defaults.refresh_time_slack, Duration::ZERO, "as ESO");
    let set = external(&[
        "--controller-class=blue",
        "--concurrent=5",
        "--enable-flood-gate",
        "--refresh-time-slack=10m",
    ]);
    assert_eq!(
        (
            set.controller_class.as_str(),
            set.concurrency,
            set.flood_gate,
            set.refresh_time_slack,
        ),
        ("blue", 5, true, Duration::from_secs(600))
    );
    for flag in ["--client-qps=500", "--client-burst=1000"] {
        let error = config(&[flag]).unwrap_err().to_string();
        assert!(
            error.starts_with(flag.split('=').next().unwrap()),
            "{error}"
        );
    }
}

#[test]
fn aws_endpoints_come_from_eso_s_variables_or_flags_and_must_be_urls() {
    let command = Args::command();
    for (flag, variable) in [
        ("aws-secretsmanager-endpoint", "AWS_SECRETSMANAGER_ENDPOINT"),
        ("aws-sts-endpoint", "AWS_STS_ENDPOINT"),
        ("aws-ssm-endpoint", "AWS_SSM_ENDPOINT"),
    ] {
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(flag))
            .unwrap_or_else(|| panic!("--{flag} exists"));
        assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(variable));
    }
    let config = config(&[
        "--aws-secretsmanager-endpoint",
        "http://127.0.0.1:5000",
        "--aws-sts-endpoint=https://sts.internal:8443/",
    ])
    .unwrap();
    let endpoints = config.external_secrets.unwrap().aws_endpoints;
    assert_eq!(
        endpoints.secrets_manager.as_deref(),
        Some("http://127.0.0.1:5000")
    );
    assert_eq!(endpoints.sts.as_deref(), Some("https://sts.internal:8443/"));
    let argv = ["coffer-controller", "--aws-sts-endpoint", "sts.internal"];
    let error = Args::try_parse_from(argv).unwrap_err().to_string();
    assert!(error.contains("not an http:// or https:// URL"), "{error}");
}

#[test]
fn shards_are_honoured_with_leader_election_and_refused_without_it() {
    assert_eq!(config(&[]).unwrap().shards, 1, "the leader does it all");
    let sharded = config(&["--shards=3", "--lease-name=ctl"]).unwrap();
    assert_eq!(sharded.shards, 3);
    assert_eq!(sharded.leader_election.unwrap().name, "ctl");
    for (args, reason) in [
        (&["--shards=0"][..], "between 1 and 64"),
        (&["--shards=65"][..], "between 1 and 64"),
        (
            &["--shards=2", "--leader-elect=false"][..],
            "needs leader election",
        ),
    ] {
        let refused = config(args).unwrap_err().to_string();
        assert!(
            refused.starts_with("--shards: ") && refused.contains(reason),
            "{args:?}: {refused}"
        );
    }
    let long = format!("--lease-name={}", "l".repeat(230));
    let refused = config(&["--shards=2", &long]).unwrap_err().to_string();
    assert!(
        refused.starts_with("--lease-name: at most 229"),
        "{refused}"
    );
    assert!(config(&["--shards=1", &long]).is_ok(), "no member Leases");
    assert_eq!(
        config(&["--shards=1", "--leader-elect=false"])
            .unwrap()
            .shards,
        1
    );
}
