#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager from the versions
# pinned in go.mod into a per-version cache outside the repository, and prints
# the directory that holds them. Does nothing when they are already there.
#
#   COFFER_CACHE_DIR  cache root (default: ${XDG_CACHE_HOME:-~/.cache}/coffer)
#
# Works with an empty Go module cache: everything comes through the module
# proxy as go.sum pins it. A cold build takes 7-10 minutes on an idle
# 2-core machine, up to 20 when the machine is busy.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${COFFER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coffer}

kube_version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")
etcd_version=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$here/go.mod")
# The key covers the pins and the compiler, so a change of either rebuilds.
key=$( { cat "$here/go.mod" "$here/go.sum"; go version; } | sha256sum | cut -c1-12)
out="$cache_root/control-plane/kube-$kube_version-etcd-$etcd_version-$key"

bins=(etcd kube-apiserver kube-controller-manager)
have_all=true
for b in "${bins[@]}"; do [ -x "$out/$b" ] || have_all=false; done
if $have_all; then
  echo "$out"
  exit 0
fi

mkdir -p "$out"
cd "$here"
minor=${kube_version#v1.}; minor=${minor%%.*}
ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=$kube_version \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean"

build() { # name package
  echo "building $1 ($2)" >&2
  # Build into a temporary name, then rename, so an interrupted build never
  # leaves a binary that looks complete.
  CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$out/.$1.tmp" "$2" >&2
  mv "$out/.$1.tmp" "$out/$1"
}
build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
echo "$out"
