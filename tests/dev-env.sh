#!/usr/bin/env bash
# The README's "run it" command: brings up Coffer's local environment (a real
# Kubernetes control plane with Coffer's CRDs, OpenBao and moto), runs
# coffer-controller against it (SealedSecrets and ExternalSecrets), prints how
# to reach each and how to try it, and keeps it up until Ctrl-C. Installs what
# it needs on first use.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cache_root=${COFFER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coffer}

while IFS= read -r line; do export "${line?}"; done < <(tests/setup.sh python control-plane)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache_root/target}
cargo build --locked -q -p coffer-testenv --bin coffer-dev-env -p coffer-controller -p coffer-cli
bin=$CARGO_TARGET_DIR/debug
exec "$bin/coffer-dev-env" --controller "$bin/coffer-controller" --cli "$bin/coffer"
