#!/usr/bin/env bash
# Runs every fuzz target of every crate (crates/*/fuzz) for SECONDS each, one
# after another, and prints the executions and findings of each.
#
#   tests/fuzz.sh SECONDS [CRATE[/TARGET]...]
#   tests/fuzz.sh 300                         # every target, 5 minutes each
#   tests/fuzz.sh 60 coffer-sops/yaml coffer-template
#
# One input that runs longer than COFFER_FUZZ_TIMEOUT seconds (default 10)
# or a run that needs more than COFFER_FUZZ_RSS_LIMIT_MB of memory (default
# 2048) is a finding like a crash: untrusted input must not stall or exhaust
# us. Corpora are kept outside the repository and grow from run to run, in
# $COFFER_CACHE_DIR/fuzz-corpus/<crate>/<target>; findings go to
# fuzz-findings/<crate>/<target>/ and each run's output to fuzz-logs/. Exits
# non-zero when any target found something new.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

usage() { echo "usage: tests/fuzz.sh SECONDS [CRATE[/TARGET]...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
seconds=$1
shift
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage

cache_root=${COFFER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coffer}
timeout=${COFFER_FUZZ_TIMEOUT:-10}
rss_limit=${COFFER_FUZZ_RSS_LIMIT_MB:-2048}
target_dir=${COFFER_FUZZ_TARGET_DIR:-$cache_root/fuzz-target}
corpus_root=$cache_root/fuzz-corpus
findings_root=$cache_root/fuzz-findings
logs=$cache_root/fuzz-logs
mkdir -p "$logs"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo +nightly install cargo-fuzz --locked --quiet
fi

# Whether CRATE/TARGET was asked for (everything when nothing was named).
wanted() {
  [ ${#filters[@]} -eq 0 ] && return 0
  local f
  for f in "${filters[@]}"; do
    [ "$f" = "$1" ] || [ "$f" = "$1/$2" ] && return 0
  done
  return 1
}
filters=("$@")

# Executions of a finished run, from libFuzzer's output.
executions() {
  local n
  n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$1" | tail -n 1)
  [ -n "$n" ] || n=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$1" | tail -n 1)
  [ -n "$n" ] || n=$(sed -n 's/^#\([0-9]*\)[[:space:]].*/\1/p' "$1" | tail -n 1)
  echo "${n:-?}"
}

report=()
found=0
for dir in crates/*/fuzz; do
  [ -f "$dir/Cargo.toml" ] || continue
  crate=$(basename "$(dirname "$dir")")
  targets=()
  for t in $(cd "$dir" && cargo +nightly fuzz list); do
    wanted "$crate" "$t" && targets+=("$t")
  done
  [ ${#targets[@]} -gt 0 ] || continue
  echo "==> building fuzz targets of $crate"
  (cd "$dir" && CARGO_TARGET_DIR="$target_dir" cargo +nightly fuzz build)
  for t in "${targets[@]}"; do
    corpus=$corpus_root/$crate/$t
    artifacts=$findings_root/$crate/$t
    log=$logs/$crate-$t.log
    mkdir -p "$corpus" "$artifacts"
    before=$(ls -A "$artifacts")
    dict=()
    [ -f "$dir/dicts/$t.dict" ] && dict=("-dict=$root/$dir/dicts/$t.dict")
    echo "==> $crate/$t for ${seconds}s (log: $log)"
    set +e
    (cd "$dir" && CARGO_TARGET_DIR="$target_dir" cargo +nightly fuzz run "$t" "$corpus" -- \
      -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss_limit" \
      -malloc_limit_mb="$rss_limit" -artifact_prefix="$artifacts/" -print_final_stats=1 \
      "${dict[@]}") >"$log" 2>&1
    rc=$?
    set -e
    new=$(comm -13 <(echo "$before") <(ls -A "$artifacts"))
    count=0
    [ -n "$new" ] && count=$(echo "$new" | wc -l)
    if [ "$count" -gt 0 ] || [ $rc -ne 0 ]; then
      found=1
    fi
    line=$(printf '%-36s %14s executions %3d findings' "$crate/$t" "$(executions "$log")" "$count")
    [ $rc -ne 0 ] && [ "$count" -eq 0 ] && line="$line (exit $rc: see the log)"
    report+=("$line")
    for f in $new; do report+=("    $artifacts/$f"); done
    echo "$line"
  done
done

echo
echo "==> fuzzing summary (${seconds}s per target, -timeout=$timeout -rss_limit_mb=$rss_limit)"
printf '%s\n' "${report[@]}"
exit $found
