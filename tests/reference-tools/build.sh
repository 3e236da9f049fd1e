#!/usr/bin/env bash
# Builds the reference tools that interop tests compare Coffer against
# (sops; kubeseal and Bitnami's controller; kustomize; kubectl for `kubectl
# kustomize`; helm for the charts' `helm template` and `helm lint`; and
# gotemplate, our own Go program rendering templates with Go's
# text/template and sprig, and gotemplate-eso, the same with External
# Secrets' template package) from the Go modules pinned beside this script,
# into a cache outside the repository, and prints the directory that holds
# them. Each tool is cached under its own key (its go.mod, go.sum, the Go
# version, and for a tool built from our own source, that source), so
# pinning a new tool or bumping one rebuilds only that tool. The printed
# directory links to every tool's current build, and to Bitnami's Helm
# chart (`sealed-secrets`, from the module kubeseal comes from). Does
# nothing when they are already there.
#
#   tests/reference-tools/build.sh [eso]
#
# Tools named as arguments are built as well, and linked in the printed
# directory with the others: `eso`, External Secrets Operator's controller
# (a large build, only for the ExternalSecret benchmark; see eso/go.mod),
# with its CRDs beside it as `eso-crds`.
#
#   COFFER_CACHE_DIR  cache root (default: ${XDG_CACHE_HOME:-~/.cache}/coffer)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${COFFER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coffer}/reference-tools
go_version=$(go version)
tools=(sops age-keygen kubeseal bitnami-controller kustomize kubectl helm gotemplate gotemplate-eso)
optional_tools=(eso)
for t in "$@"; do
  case " ${optional_tools[*]} " in
    *" $t "*) tools+=("$t") ;;
    *) echo "reference-tools: unknown optional tool '$t' (known: ${optional_tools[*]})" >&2; exit 2 ;;
  esac
done
declare -A package=(
  [sops]=github.com/getsops/sops/v3/cmd/sops
  [age-keygen]=filippo.io/age/cmd/age-keygen
  [kubeseal]=github.com/bitnami/sealed-secrets/cmd/kubeseal
  # Bitnami's controller, for the migration test (and the benchmarks)
  [bitnami-controller]=github.com/bitnami/sealed-secrets/cmd/controller
  [kustomize]=sigs.k8s.io/kustomize/kustomize/v5
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
  [helm]=helm.sh/helm/v4/cmd/helm
  # Coffer's own: Go text/template + sprig, for coffer-template's golden tests
  [gotemplate]=.
  # Coffer's own: the same with External Secrets' template functions
  [gotemplate-eso]=.
  # External Secrets Operator: the module's root package is its controller.
  [eso]=github.com/external-secrets/external-secrets
)

# kubectl reports the version it was built from (as the control plane does).
kubectl_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3; exit }' "$here/kubectl/go.mod")
[ -n "$kubectl_version" ] || { echo "no k8s.io/kubernetes version in kubectl/go.mod" >&2; exit 1; }
kubectl_minor=${kubectl_version#v1.}; kubectl_minor=${kubectl_minor%%.*}
# helm reports the release it was built from (its source says only "v4.3").
helm_version=$(awk '$1 == "require" && $2 == "helm.sh/helm/v4" { print $3; exit }' "$here/helm/go.mod")
[ -n "$helm_version" ] || { echo "no helm.sh/helm/v4 version in helm/go.mod" >&2; exit 1; }
declare -A ldflags=(
  [kubectl]="-X k8s.io/component-base/version.gitVersion=$kubectl_version \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kubectl_minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$kubectl_version \
 -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$kubectl_minor"
  [helm]="-X helm.sh/helm/v4/internal/version.version=$helm_version -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
)

# age-keygen (post-quantum `-pq` keys, which Debian's age 1.1 lacks) is
# built from the filippo.io/age version sops pins, so from sops's module.
# Bitnami's controller comes from the module that pins kubeseal.
declare -A module=([age-keygen]=sops [bitnami-controller]=kubeseal)

tool_key() { # name
  local m=${module[$1]:-$1}
  {
    cat "$here/$m/go.mod" "$here/$m/go.sum"
    if [ "${package[$1]}" = . ]; then cat "$here/$m"/*.go; fi
    echo "$go_version${ldflags[$1]:+ ${ldflags[$1]}}"
  } | sha256sum | cut -c1-12
}

build() { # name -> prints the binary's path
  local dir="$cache_root/tools/$1-$(tool_key "$1")"
  if [ ! -x "$dir/$1" ]; then
    echo "building $1 (${package[$1]})" >&2
    mkdir -p "$dir"
    (cd "$here/${module[$1]:-$1}" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w ${ldflags[$1]:-}" -o "$dir/.$1.tmp" "${package[$1]}") >&2
    mv "$dir/.$1.tmp" "$dir/$1"
  fi
  echo "$dir/$1"
}

# ESO's CRDs (`config/crds/bases` of the module it was built from, the
# CRD files only), copied beside its binary so that a cleared module cache
# does not take them away. $1: the binary's path.
eso_crds() {
  local crds
  crds="$(dirname "$1")/eso-crds"
  if [ ! -d "$crds" ]; then
    local module
    module=$(cd "$here/eso" && go mod download github.com/external-secrets/external-secrets &&
      GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/external-secrets/external-secrets)
    if [ -z "$module" ] || [ ! -d "$module/config/crds/bases" ]; then
      echo "reference-tools: ESO's CRDs not found in the module cache ($module)" >&2
      exit 1
    fi
    mkdir -p "$crds.tmp.$$"
    cp "$module"/config/crds/bases/*.io_*.yaml "$crds.tmp.$$/"
    chmod u+w "$crds.tmp.$$"/*
    mv -T "$crds.tmp.$$" "$crds" 2>/dev/null || rm -rf "$crds.tmp.$$"
  fi
  echo "$crds"
}

bins=()
for t in "${tools[@]}"; do
  bins+=("$(build "$t")")
  if [ "$t" = eso ]; then bins+=("$(eso_crds "${bins[-1]}")"); fi
done
# Bitnami's Helm chart, from the module that pins kubeseal (the module's
# files include it): the chart-arguments test renders it with helm.
# (`go list -m` names no directory for a module missing from the module
# cache, e.g. after `go clean -modcache` with the tools already built: fetch
# it first, and refuse an empty answer rather than link `/helm/...`.)
chart_module=$(cd "$here/kubeseal" && go mod download github.com/bitnami/sealed-secrets &&
  GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/bitnami/sealed-secrets)
if [ -z "$chart_module" ] || [ ! -d "$chart_module/helm/sealed-secrets" ]; then
  echo "reference-tools: Bitnami's chart not found in the module cache ($chart_module)" >&2
  exit 1
fi
bins+=("$chart_module/helm/sealed-secrets")
# The directory tests use: one link per tool, named by the builds it links.
out="$cache_root/$(printf '%s\n' "${bins[@]}" | sha256sum | cut -c1-12)"
if [ ! -d "$out" ]; then
  mkdir -p "$out.tmp.$$"
  for b in "${bins[@]}"; do ln -sf "$b" "$out.tmp.$$/$(basename "$b")"; done
  mv -T "$out.tmp.$$" "$out" 2>/dev/null || rm -rf "$out.tmp.$$"
fi
echo "$out"
