#!/usr/bin/env bash
# The README's main command: brings up Coffer's local environment (a real
# Kubernetes control plane with Coffer's CRDs, OpenBao and moto), runs
# coffer-controller against it (SealedSecrets and ExternalSecrets), then runs
# the whole mission on it (tests/demo.sh: seal, sops and render, ExternalSecrets
# from OpenBao and moto following upstream changes, key rotation and reseal)
# and prints a summary table. Keeps everything up until Ctrl-C; with --once,
# stops after the summary and exits with the demo's result (tests/test-all.sh
# runs it that way, so the demo cannot rot). Installs what it needs on first
# use.
#
#   tests/dev-env.sh [--once]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cache_root=${COFFER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coffer}
once=false
case "${1:-}" in
  --once) once=true ;;
  "") ;;
  *) echo "usage: tests/dev-env.sh [--once]" >&2; exit 2 ;;
esac

while IFS= read -r line; do export "${line?}"; done < <(tests/setup.sh)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache_root/target}
# --bins: every binary of the three (a `--bin` would select one of them only).
cargo build --locked -q -p coffer-testenv -p coffer-controller -p coffer-cli --bins
bin=$CARGO_TARGET_DIR/debug

state=$(mktemp -d)
env_file=$state/env
"$bin/coffer-dev-env" --controller "$bin/coffer-controller" --cli "$bin/coffer" \
  --env-file "$env_file" &
dev_env=$!
# Ctrl-C reaches coffer-dev-env too (same process group); it cleans up.
trap 'kill -INT $dev_env 2>/dev/null; wait $dev_env 2>/dev/null; rm -rf "$state"' EXIT
until [ -f "$env_file" ]; do
  kill -0 $dev_env 2>/dev/null || { echo "coffer-dev-env stopped before it was up" >&2; exit 1; }
  sleep 0.5
done

status=0
COFFER=$bin/coffer KUBECTL=$COFFER_REFERENCE_TOOLS_DIR/kubectl tests/demo.sh "$env_file" || status=$?
if $once; then
  exit $status
fi
echo
echo "The environment stays up until Ctrl-C (its variables: $env_file)."
wait $dev_env || true
