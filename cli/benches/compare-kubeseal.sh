#!/usr/bin/env bash
# Compares `coffer seal` with the real kubeseal, each as a whole process
# sealing with --cert (offline): one Secret, and 1,000 Secrets in one
# multi-document input. Prints, per workload, both tools' times and the
# coffer/kubeseal ratios (goal: <= 0.3): wall-clock mean and median (the
# median shrugs off the outliers of a loaded machine) and CPU (user+sys).
#
# The runs are made in ROUNDS rounds (default 5), each timing both tools
# one after the other, and pooled: a build that starts or stops on the
# machine halfway through then slows both tools, not only the one being
# timed at that moment.
#
#   cli/benches/compare-kubeseal.sh            # builds coffer --release
#   COFFER=path/to/coffer KUBESEAL=path/to/kubeseal cli/benches/compare-kubeseal.sh
#   RUNS=40 RUNS_MANY=5 ROUNDS=5 cli/benches/compare-kubeseal.sh   # runs per tool
#
# Needs hyperfine (apt-get install -y hyperfine) and python3 (for the ratios).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ -z "${COFFER:-}" ]; then
  cargo build --release -p coffer-cli --manifest-path "$root/Cargo.toml" >&2
  COFFER="${CARGO_TARGET_DIR:-$root/target}/release/coffer"
fi
KUBESEAL=${KUBESEAL:-"$("$root/tests/reference-tools/build.sh")/kubeseal"}
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install -y hyperfine)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

"$COFFER" keygen --bits 4096 -w key.yaml --out-cert cert.pem 2>/dev/null

secret() { # name
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: prod\n  labels: {app: web}\ntype: Opaque\nstringData:\n  username: admin\n  password: correct-horse-battery-staple\n  url: postgres://db.prod.svc:5432/app\n' "$1"
}
secret db > one.yaml
for i in $(seq 1 1000); do printf -- '---\n'; secret "db-$i"; done > many.yaml

run() { # label json-prefix runs input
  local label=$1 prefix=$2 runs=$3 input=$4
  local rounds=$(( ${ROUNDS:-5} < runs ? ${ROUNDS:-5} : runs ))
  local r
  for r in $(seq 1 "$rounds"); do
    # -N: no shell in between (a shell's start-up is noise next to a few
    # milliseconds); hyperfine discards the output itself. Each round gets
    # its share of the runs (the first rounds the remainder).
    hyperfine -N --style none --warmup 3 \
      --runs $(( runs / rounds + (r <= runs % rounds ? 1 : 0) )) \
      --export-json "$prefix-$r.json" \
      -n "coffer $label" "$COFFER seal --cert cert.pem -f $input" \
      -n "kubeseal $label" "$KUBESEAL --cert cert.pem -f $input"
  done
}
run "one Secret" one "${RUNS:-20}" one.yaml
run "1000 Secrets" many "${RUNS_MANY:-5}" many.yaml

summary() { # json-prefix
  python3 - "$1" <<'EOF'
import glob, json, statistics, sys
times, cpu = {}, {}
for path in sorted(glob.glob(sys.argv[1] + "-*.json")):
    for x in json.load(open(path))["results"]:
        tool = x["command"].split()[0]
        times.setdefault(tool, []).extend(x["times"])
        # hyperfine gives user and system as means over the round's runs.
        cpu.setdefault(tool, []).extend([x["user"] + x["system"]] * len(x["times"]))
def stats(tool):
    t = times[tool]
    return statistics.mean(t) * 1000, statistics.median(t) * 1000, statistics.mean(cpu[tool]) * 1000, len(t)
(cm, cmed, ccpu, n), (km, kmed, kcpu, _) = stats("coffer"), stats("kubeseal")
print(f"{n} runs each; wall mean: coffer {cm:.1f} ms, kubeseal {km:.1f} ms, ratio {cm / km:.2f}; "
      f"wall median: coffer {cmed:.1f} ms, kubeseal {kmed:.1f} ms, ratio {cmed / kmed:.2f}; "
      f"cpu (user+sys): coffer {ccpu:.1f} ms, kubeseal {kcpu:.1f} ms, ratio {ccpu / kcpu:.2f}")
EOF
}
echo "one Secret (3 values, 4096-bit key):  $(summary one)"
echo "1000 Secrets (3,000 values):           $(summary many)"
