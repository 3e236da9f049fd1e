#!/usr/bin/env bash
# Runs the criterion seal/unseal benchmark and `openssl speed` for RSA 2048
# and 4096 in the same run, both pinned to one core, and prints them side by
# side. Unseal is one RSA-OAEP private-key operation plus AES-GCM on a small
# value, so its time is compared with OpenSSL's private-key (sign) time.
# Goal: unseal within 1.25x of OpenSSL.
#
#   crates/coffer-crypto/benches/compare-openssl.sh
#
# Honours CARGO_TARGET_DIR. Needs openssl on PATH; uses taskset if present.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
pin=()
if command -v taskset >/dev/null 2>&1; then pin=(taskset -c 0); fi

cd "$root"
echo "== criterion: cargo bench -p coffer-crypto --bench seal_unseal (${pin[*]:-unpinned})" >&2
"${pin[@]}" cargo bench -p coffer-crypto --bench seal_unseal >&2

echo "== openssl speed -seconds 3 rsa2048 rsa4096 (${pin[*]:-unpinned})" >&2
openssl_out=$("${pin[@]}" openssl speed -seconds 3 rsa2048 rsa4096 2>/dev/null)
echo "$openssl_out" | tail -3 >&2

# Mean time in microseconds of a criterion benchmark, from its estimates file.
criterion_us() {
  local file="$target/criterion/$1/new/estimates.json"
  python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["mean"]["point_estimate"] / 1000))' "$file"
}

# OpenSSL's private-key (sign) time in microseconds for a key size.
openssl_sign_us() {
  echo "$openssl_out" | awk -v bits="$1" '$1 == "rsa" && $2 == bits && $3 == "bits" { sub("s", "", $4); printf "%.1f\n", $4 * 1e6 }'
}

printf '\n%-8s %10s %12s %18s %16s %18s %8s %s\n' "key" "seal (us)" "unseal (us)" \
  "aws-lc oaep (us)" "aws-lc sign (us)" "openssl sign (us)" "ratio" "unseal/openssl <= 1.25"
for bits in 2048 4096; do
  seal=$(criterion_us "seal_rsa$bits")
  unseal=$(criterion_us "unseal_rsa$bits")
  oaep=$(criterion_us "baseline-oaep-decrypt_rsa$bits")
  lcsign=$(criterion_us "baseline-sign_rsa$bits")
  sign=$(openssl_sign_us "$bits")
  ratio=$(python3 -c "print('%.2f' % ($unseal / $sign))")
  met=$(python3 -c "print('met' if $unseal / $sign <= 1.25 else 'NOT met')")
  printf '%-8s %10s %12s %18s %16s %18s %8s %s\n' "rsa$bits" "$seal" "$unseal" "$oaep" "$lcsign" \
    "$sign" "$ratio" "$met"
done
