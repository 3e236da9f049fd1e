#!/usr/bin/env bash
# Installs what Coffer's tests and local environment need, idempotently, and
# prints `NAME=value` lines that tell the tests where everything is.
#
#   tests/setup.sh [COMPONENT...]    components: debian python control-plane
#                                    reference-tools (default: all of them)
#
# Everything lands outside the source tree, under COFFER_CACHE_DIR (default
# ${XDG_CACHE_HOME:-~/.cache}/coffer); a second run only checks and prints.
# Progress goes to stderr; stdout carries only the NAME=value lines.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${COFFER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coffer}
mkdir -p "$cache_root"
components=("$@")
[ ${#components[@]} -gt 0 ] || components=(debian python control-plane reference-tools)

log() { echo "setup: $*" >&2; }

# Only one setup runs at a time (parallel test binaries may all call it).
exec 9>"$cache_root/.setup.lock"
flock 9

debian() {
  local missing=()
  command -v age >/dev/null || missing+=(age)
  command -v age-keygen >/dev/null || missing+=(age)
  command -v openssl >/dev/null || missing+=(openssl)
  # The sealing page's browser test drives it with Playwright (Python), which
  # cannot download its own browser here: Debian's Chromium instead.
  command -v chromium >/dev/null || missing+=(chromium)
  # tests/static-build.sh: aws-lc-sys's C for the musl target.
  command -v musl-gcc >/dev/null || missing+=(musl-tools)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    local sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
  fi
  echo "COFFER_CHROMIUM=$(command -v chromium)"
}

python_tools() {
  local key venv
  key=$( { cat "$here/requirements.txt"; python3 --version; } | sha256sum | cut -c1-12)
  venv="$cache_root/venv-$key"
  # The marker is written last, so an interrupted install is redone.
  if [ ! -f "$venv/.complete" ]; then
    log "creating Python virtualenv $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2
    touch "$venv/.complete"
  fi
  echo "COFFER_TOOLS_BIN=$venv/bin"
}

for c in "${components[@]}"; do
  case "$c" in
    debian) debian ;;
    python) python_tools ;;
    control-plane) echo "COFFER_CONTROL_PLANE_DIR=$("$here/control-plane/build.sh")" ;;
    reference-tools) echo "COFFER_REFERENCE_TOOLS_DIR=$("$here/reference-tools/build.sh")" ;;
    *) echo "setup: unknown component '$c'" >&2; exit 2 ;;
  esac
done
