#!/usr/bin/env bash
# Whole-process comparison of `coffer sops` and the real sops on a 1 MiB
# YAML file: encrypting it and decrypting it, in one run. Uses hyperfine
# when installed (apt-get install -y hyperfine), else a simple timed loop.
#
#   crates/coffer-sops/benches/compare-sops.sh [runs]
#
# Builds coffer in release mode (CARGO_TARGET_DIR is honoured) and sops with
# tests/reference-tools/build.sh.
set -euo pipefail

runs=${1:-10}
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
sops="$tools/sops"

# The test identity of the shared vectors (not a secret).
cat >"$work/keys.txt" <<'KEY'
AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM
KEY
recipient=age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29
export SOPS_AGE_KEY_FILE="$work/keys.txt"

# ~1 MiB of Kubernetes-like YAML: nested maps, lists, strings and numbers.
python3 - "$work/plain.yaml" <<'PY'
import sys
out = []
i = 0
size = 0
while size < 1024 * 1024:
    block = (
        f"service{i}:\n"
        f"    name: service-{i}\n"
        f"    replicas: {i % 7}\n"
        f"    ratio: {i / 7:.3f}\n"
        f"    enabled: {'true' if i % 2 else 'false'}\n"
        f"    password: s3cr3t-value-number-{i}-abcdefghijklmnopqrstuvwxyz\n"
        f"    tags:\n"
        f"        - alpha-{i}\n"
        f"        - beta-{i}\n"
    )
    out.append(block)
    size += len(block)
    i += 1
open(sys.argv[1], "w").write("".join(out))
PY
echo "input: $(wc -c <"$work/plain.yaml") bytes" >&2

"$sops" encrypt --age "$recipient" "$work/plain.yaml" >"$work/sops.enc.yaml"
"$coffer" sops encrypt --age "$recipient" "$work/plain.yaml" >"$work/coffer.enc.yaml"

if command -v hyperfine >/dev/null; then
  hyperfine --warmup 2 --runs "$runs" -N \
    -n "sops encrypt" "$sops encrypt --age $recipient $work/plain.yaml" \
    -n "coffer encrypt" "$coffer sops encrypt --age $recipient $work/plain.yaml" \
    -n "sops decrypt" "$sops decrypt $work/sops.enc.yaml" \
    -n "coffer decrypt" "$coffer sops decrypt $work/sops.enc.yaml"
else
  t() { local s e; s=$(date +%s%N); for _ in $(seq "$runs"); do "$@" >/dev/null; done; e=$(date +%s%N); echo $(((e - s) / runs / 1000000)); }
  se=$(t "$sops" encrypt --age "$recipient" "$work/plain.yaml")
  ce=$(t "$coffer" sops encrypt --age "$recipient" "$work/plain.yaml")
  sd=$(t "$sops" decrypt "$work/sops.enc.yaml")
  cd=$(t "$coffer" sops decrypt "$work/sops.enc.yaml")
  echo "encrypt: sops ${se} ms, coffer ${ce} ms"
  echo "decrypt: sops ${sd} ms, coffer ${cd} ms"
fi
