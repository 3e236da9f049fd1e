#!/usr/bin/env bash
# The README's test command, and exactly what CI runs (.ci/run): installs what
# the tests need on first use, then checks formatting and lints, runs every
# test in the workspace against the real local control plane, OpenBao, moto
# and the reference tools (and the static musl binaries the image ships),
# runs the README's main command once (the demo), searches everything Coffer
# logged or wrote for the values the tests used (the leak scan), and builds
# every fuzz target.
#
# Build outputs are cached outside the source tree (COFFER_CACHE_DIR, default
# ${XDG_CACHE_HOME:-~/.cache}/coffer), so a second run, even from a fresh
# clone, only rebuilds what changed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cache_root=${COFFER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coffer}
step() { printf '\n==> %s (%s)\n' "$*" "$(date +%T)"; }

step "setup: Debian packages, Python tools, control plane, reference tools"
while IFS= read -r line; do export "${line?}"; done < <(tests/setup.sh)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache_root/target}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The leak scan's evidence: every test binary (and the demo) leaves there
# what Coffer said (logs, Events, statuses, the CLI's stderr) and the
# Secrets the tests wrote (coffer-testenv's leak module).
# Kept when the scan fails, so its hits can be read.
leak_dir=$(mktemp -d "${TMPDIR:-/tmp}/coffer-leak-scan.XXXXXX")
export COFFER_LEAK_DIR=$leak_dir

step "static binaries (musl, as the image ships them) against the local control plane"
COFFER_STATIC_BIN_DIR=$(tests/static-build.sh) cargo test --locked -p coffer-controller \
  --test deploy -- --ignored static_binaries

step "cargo test"
cargo test --workspace --locked

step "the README's main command, once: the whole mission on the local environment"
tests/dev-env.sh --once

step "leak scan: no value any test wrote into a Secret in any log, Event, status or CLI stderr"
if ! cargo run --locked --quiet -p coffer-testenv --bin leak-scan -- "$leak_dir"; then
  echo "the evidence is kept in $leak_dir" >&2
  exit 1
fi
rm -rf "$leak_dir"

step "fuzz targets build"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo +nightly install cargo-fuzz --locked --quiet
fi
for dir in crates/*/fuzz; do
  [ -f "$dir/Cargo.toml" ] || continue
  echo "building fuzz targets in $dir"
  (cd "$dir" && CARGO_TARGET_DIR="$cache_root/fuzz-target" cargo +nightly fuzz build)
done

step "all tests passed"
