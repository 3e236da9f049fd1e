#!/usr/bin/env bash
# Compares `coffer seal` with the real kubeseal, each as a whole process
# sealing with --cert (offline): one Secret, and 1,000 Secrets in one
# multi-document input. Prints hyperfine's table and the coffer/kubeseal
# time ratios (goal: <= 0.3): wall-clock mean and median (the median shrugs
# off the outliers of a loaded machine) and CPU (user+sys; steadier still).
#
#   cli/benches/compare-kubeseal.sh            # builds coffer --release
#   COFFER=path/to/coffer KUBESEAL=path/to/kubeseal cli/benches/compare-kubeseal.sh
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

run() { # label export-file command...
  local label=$1 json=$2; shift 2
  # -N: no shell in between (a shell's start-up is noise next to a few
  # milliseconds); hyperfine discards the output itself.
  hyperfine -N --style basic --warmup 3 --min-runs "${RUNS:-20}" --export-json "$json" \
    -n "coffer $label" "$COFFER seal --cert cert.pem -f $*" \
    -n "kubeseal $label" "$KUBESEAL --cert cert.pem -f $*"
}
run "one Secret" one.json one.yaml
RUNS=${RUNS_MANY:-5} run "1000 Secrets" many.json many.yaml

ratio() { # json
  python3 - "$1" <<'EOF'
import json, sys
res = {x["command"].split()[0]: x for x in json.load(open(sys.argv[1]))["results"]}
c, k = res["coffer"], res["kubeseal"]
cpu = lambda x: x["user"] + x["system"]
print(f"wall mean: coffer {c['mean']*1000:.1f} ms, kubeseal {k['mean']*1000:.1f} ms, ratio {c['mean']/k['mean']:.2f}; "
      f"wall median: coffer {c['median']*1000:.1f} ms, kubeseal {k['median']*1000:.1f} ms, ratio {c['median']/k['median']:.2f}; "
      f"cpu (user+sys): coffer {cpu(c)*1000:.1f} ms, kubeseal {cpu(k)*1000:.1f} ms, ratio {cpu(c)/cpu(k):.2f}")
EOF
}
echo
echo "one Secret (3 values, 4096-bit key):  $(ratio one.json)"
echo "1000 Secrets (3,000 values):           $(ratio many.json)"
