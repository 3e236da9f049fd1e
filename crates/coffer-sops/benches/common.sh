# Sourced by the comparison scripts beside it: builds coffer in release mode
# (CARGO_TARGET_DIR is honoured) and the reference tools
# (tests/reference-tools/build.sh), and makes a scratch directory that is
# removed on exit. Sets: root, coffer, tools, work.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cargo build --release -q -p coffer-cli --manifest-path "$root/Cargo.toml" >&2
coffer="${CARGO_TARGET_DIR:-$root/target}/release/coffer"
tools="$(bash "$root/tests/reference-tools/build.sh")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
