// Pins External Secrets Operator v0.16.2 (the release that serves
// external-secrets.io/v1), for the ExternalSecret benchmark
// (crates/coffer-controller/benches/external_scale.rs), which runs it
// beside Coffer. The module's root package is ESO's `main` (it calls
// cmd/controller's Execute), so ../build.sh builds the module path itself;
// no Go file of ours. The replace is the one ESO's own go.mod carries
// (its fork of sprig).
//
// Built only when asked (`../build.sh eso`; tests/setup.sh does not): on
// the 2-core development machine, from an empty Go module and build cache,
// 11 min wall time (while a cargo build shared the cores), a 148 MiB
// binary (-s -w), 2.3 GiB of module cache (~/go/pkg/mod) and 2.2 GiB of
// build cache (~/.cache/go-build); ESO's CRDs, copied beside the binary
// as `eso-crds`, are 1.5 MiB.
module coffer.dev/tests/reference-tools/eso

go 1.26.0

require github.com/external-secrets/external-secrets v0.16.2

replace github.com/Masterminds/sprig/v3 => github.com/external-secrets/sprig/v3 v3.3.0
