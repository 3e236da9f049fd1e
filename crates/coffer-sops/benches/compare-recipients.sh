#!/usr/bin/env bash
# Wrapping and unwrapping a sops data key per age recipient type, coffer
# against the real sops (and Debian's age CLI for the types it has), in one
# run. Each tool encrypts a tiny file to 1 and to 16 recipients of a type and
# decrypts it with the identity of the last recipient (so 1 and 16 unwrap
# attempts); the per-operation cost is (t16 - t1) / 15, which takes process
# start-up out of the figure.
#
#   crates/coffer-sops/benches/compare-recipients.sh [runs]
#
# Builds coffer in release mode (CARGO_TARGET_DIR is honoured) and sops and
# age-keygen (post-quantum keys) with tests/reference-tools/build.sh; needs
# ssh-keygen and, optionally, age (Debian's 1.1, no post-quantum keys).
set -euo pipefail

runs=${1:-10}
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
sops="$tools/sops"
keygen="$tools/age-keygen"
cd "$work"
printf 'k: v\n' >plain.yaml
printf 'sixteen-byte-key' >plain.bin

# 16 identities per type: key files and recipients, one per line.
for i in $(seq 16); do
  "$keygen" -o "x25519-$i.key" 2>/dev/null
  "$keygen" -pq -o "pq-$i.key" 2>/dev/null
  ssh-keygen -q -t ed25519 -N "" -C "" -f "ed25519-$i.key"
  ssh-keygen -q -t rsa -b 3072 -N "" -C "" -f "rsa-$i.key"
  for t in x25519 pq; do sed -n 's/^# public key: //p' "$t-$i.key" >>"$t.recipients"; done
  for t in ed25519 rsa; do cat "$t-$i.key.pub" >>"$t.recipients"; done
done

# Mean milliseconds of a command over $runs runs (with stdout discarded).
ms() {
  local s e
  s=$(date +%s%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null; done
  e=$(date +%s%N)
  echo $(((e - s) / runs / 1000))
}

env_for() { # type index -> the variable sops reads that identity from
  case $1 in
    x25519 | pq) echo "SOPS_AGE_KEY_FILE=$work/$1-$2.key" ;;
    *) echo "SOPS_AGE_SSH_PRIVATE_KEY_FILE=$work/$1-$2.key" ;;
  esac
}

printf '%-8s %-7s %-8s %12s %12s %12s\n' type tool op "1 key µs" "16 keys µs" "per op µs"
for t in x25519 pq ed25519 rsa; do
  one=$(head -1 "$t.recipients")
  all=$(paste -sd, "$t.recipients")
  for tool in sops coffer; do
    if [ $tool = sops ]; then run=("$sops"); else run=("$coffer" sops); fi
    env -i HOME="$work" "${run[@]}" encrypt --age "$one" plain.yaml >"$tool-$t-1.yaml"
    env -i HOME="$work" "${run[@]}" encrypt --age "$all" plain.yaml >"$tool-$t-16.yaml"
    e1=$(ms env -i HOME="$work" "${run[@]}" encrypt --age "$one" plain.yaml)
    e16=$(ms env -i HOME="$work" "${run[@]}" encrypt --age "$all" plain.yaml)
    d1=$(ms env -i HOME="$work" "$(env_for $t 1)" "${run[@]}" decrypt "$tool-$t-1.yaml")
    d16=$(ms env -i HOME="$work" "$(env_for $t 16)" "${run[@]}" decrypt "$tool-$t-16.yaml")
    printf '%-8s %-7s %-8s %12d %12d %12d\n' $t $tool wrap "$e1" "$e16" $(((e16 - e1) / 15))
    printf '%-8s %-7s %-8s %12d %12d %12d\n' $t $tool unwrap "$d1" "$d16" $(((d16 - d1) / 15))
  done
  # Debian's age CLI (no post-quantum keys): the same with a 16-byte file.
  if command -v age >/dev/null && [ $t != pq ]; then
    r1=(-r "$one"); r16=(); while IFS= read -r r; do r16+=(-r "$r"); done <"$t.recipients"
    age "${r1[@]}" -o "age-$t-1.age" plain.bin
    age "${r16[@]}" -o "age-$t-16.age" plain.bin
    e1=$(ms age "${r1[@]}" plain.bin)
    e16=$(ms age "${r16[@]}" plain.bin)
    d1=$(ms age -d -i "$t-1.key" "age-$t-1.age")
    d16=$(ms age -d -i "$t-16.key" "age-$t-16.age")
    printf '%-8s %-7s %-8s %12d %12d %12d\n' $t age wrap "$e1" "$e16" $(((e16 - e1) / 15))
    printf '%-8s %-7s %-8s %12d %12d %12d\n' $t age unwrap "$d1" "$d16" $(((d16 - d1) / 15))
  fi
done
