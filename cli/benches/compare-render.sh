#!/usr/bin/env bash
# `coffer render` on one stream of 1,000 SOPS-encrypted Secrets and 1,000
# SealedSecrets (one process), against the real sops decrypting the same
# 1,000 SOPS files one process each (what a KSOPS-style pipeline does), in
# the same run. Prints wall time and peak memory (GNU time) of each and the
# ratio coffer / sops (goal: < 0.1).
#
#   cli/benches/compare-render.sh            # builds coffer --release
#   COFFER=path/to/coffer SOPS=path/to/sops cli/benches/compare-render.sh
#
# Each Secret has 3 values, so the SealedSecrets hold 3,000 RSA-OAEP
# (4096-bit) wrapped session keys: one private-key operation per value, as
# the format requires. The script also times each half alone.
#
# The inputs are made with coffer itself (`coffer sops encrypt`, `coffer
# seal`, both format-compatible with sops and kubeseal; the interop tests
# prove it), so setting up takes seconds. Needs /usr/bin/time (GNU).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
N=${N:-1000}

if [ -z "${COFFER:-}" ]; then
  cargo build --release -p coffer-cli --manifest-path "$root/Cargo.toml" >&2
  COFFER="${CARGO_TARGET_DIR:-$root/target}/release/coffer"
fi
SOPS=${SOPS:-"$("$root/tests/reference-tools/build.sh")/sops"}
[ -x /usr/bin/time ] || { echo "GNU time is not installed (apt-get install -y time)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
key=$root/crates/coffer-sops/tests/data/age-key.txt
recipient=age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29
export SOPS_AGE_KEY_FILE=$key

secret() { # name
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: prod\ntype: Opaque\nstringData:\n  username: admin\n  password: correct-horse-battery-staple\n  url: postgres://db.prod.svc:5432/app\n' "$1"
}
mkdir sops plain
for i in $(seq 1 "$N"); do
  secret "db-$i" > "plain/db-$i.yaml"
  "$COFFER" sops encrypt --age "$recipient" --encrypted-regex '^stringData$' "plain/db-$i.yaml" > "sops/db-$i.yaml"
done
"$COFFER" keygen --bits 4096 -w sealing-key.yaml --out-cert cert.pem 2>/dev/null
for i in $(seq 1 "$N"); do printf -- '---\n'; secret "sealed-$i"; done > plain-sealed.yaml
"$COFFER" seal --cert cert.pem --format yaml -f plain-sealed.yaml > sealed.yaml
for f in sops/*.yaml; do cat "$f"; printf -- '---\n'; done > stream.yaml
cat sealed.yaml >> stream.yaml
rm -rf plain plain-sealed.yaml

measure() { # label command... ; prints "label seconds peak-KiB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o t.txt "$@" > /dev/null
  echo "$label $(cat t.txt)"
}
c=$(measure coffer "$COFFER" render --sealing-key sealing-key.yaml --require-unsealed stream.yaml)
# The two halves on their own: where the time goes.
for f in sops/*.yaml; do cat "$f"; printf -- '---\n'; done > sops-only.yaml
cs=$(measure coffer-sops-only "$COFFER" render sops-only.yaml)
cz=$(measure coffer-sealed-only "$COFFER" render --sealing-key sealing-key.yaml --require-unsealed sealed.yaml)
s=$(measure sops bash -c 'for f in sops/*.yaml; do "$0" decrypt "$f" > /dev/null; done' "$SOPS")
echo "$c"
echo "$cs"
echo "$cz"
echo "$s"
python3 - "$c" "$s" "$N" <<'PY'
import sys
c, s, n = sys.argv[1].split(), sys.argv[2].split(), sys.argv[3]
print(f"coffer render: {n} SOPS + {n} SealedSecrets in one stream: {float(c[1]):.2f} s, peak {int(c[2])/1024:.0f} MiB")
print(f"sops decrypt, {n} processes: {float(s[1]):.2f} s, peak {int(s[2])/1024:.0f} MiB (largest single process)")
print(f"ratio coffer/sops: {float(c[1])/float(s[1]):.3f} (goal < 0.1)")
PY
