#!/usr/bin/env bash
# Builds static coffer-controller and coffer binaries for
# x86_64-unknown-linux-musl (what deploy/image/Dockerfile ships, there in
# release; here in the dev profile, whose dependencies are optimized too, to
# keep CI cheap) and prints the directory that holds them.
#
# Cached by the hash of every source file that goes into them (and the Rust
# version): an unchanged tree builds nothing, and a changed one rebuilds only
# the workspace crates, in a musl target directory kept under the cache.
#
#   COFFER_CACHE_DIR  cache root (default: ${XDG_CACHE_HOME:-~/.cache}/coffer)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root=${COFFER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coffer}
target=x86_64-unknown-linux-musl
log() { echo "static-build: $*" >&2; }

key=$(
  cd "$root"
  { git ls-files -z -- Cargo.toml Cargo.lock rustfmt.toml crates cli crds \
      | xargs -0 sha256sum; rustc --version; } | sha256sum | cut -c1-16
)
out="$cache_root/static/$key"
if [ -x "$out/coffer-controller" ] && [ -x "$out/coffer" ]; then
  echo "$out"
  exit 0
fi

# The musl standard library comes from rustup; aws-lc-sys compiles its C
# with musl-gcc (Debian's musl-tools, which tests/setup.sh installs).
if ! rustup target list --installed | grep -qx "$target"; then
  log "adding the Rust target $target"
  rustup target add "$target" >&2
fi
command -v musl-gcc >/dev/null || { log "musl-gcc missing: apt-get install musl-tools"; exit 1; }

log "building static coffer-controller and coffer ($target)"
build_dir="$cache_root/target-static"
(cd "$root" && CARGO_TARGET_DIR="$build_dir" CC_x86_64_unknown_linux_musl=musl-gcc \
  cargo build --locked --quiet --target "$target" -p coffer-controller -p coffer-cli --bins) >&2
mkdir -p "$out.tmp.$$"
cp "$build_dir/$target/debug/coffer-controller" "$build_dir/$target/debug/coffer" "$out.tmp.$$/"
mv -T "$out.tmp.$$" "$out" 2>/dev/null || rm -rf "$out.tmp.$$"
# Keep only the newest few builds.
ls -1dt "$cache_root/static"/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
echo "$out"
