#!/usr/bin/env bash
# Builds the reference tools that interop tests compare Coffer against (sops,
# kubeseal) from the Go modules pinned beside this script, into a per-version
# cache outside the repository, and prints the directory that holds them.
# Does nothing when they are already there.
#
#   COFFER_CACHE_DIR  cache root (default: ${XDG_CACHE_HOME:-~/.cache}/coffer)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${COFFER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coffer}
key=$( { cat "$here"/*/go.mod "$here"/*/go.sum; go version; } | sha256sum | cut -c1-12)
out="$cache_root/reference-tools/$key"

build() { # name module-dir package
  [ -x "$out/$1" ] && return 0
  echo "building $1 ($3)" >&2
  mkdir -p "$out"
  (cd "$here/$2" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out/.$1.tmp" "$3") >&2
  mv "$out/.$1.tmp" "$out/$1"
}
build sops sops github.com/getsops/sops/v3/cmd/sops
build kubeseal kubeseal github.com/bitnami/sealed-secrets/cmd/kubeseal
echo "$out"
