#!/usr/bin/env bash
# Rebuilds the committed codec module wasm/gen/wse_codec.js (+ .d.ts) from the Rust crate wasm/.
#
# Steps: install the toolchain when missing (../shared/TOOLCHAIN.md: Debian's Rust with the
# wasm32 std sources, lld, clang for zstd's C code; wasm-bindgen-cli at the exact Cargo.lock
# version, cached in .tools/), build wasm32-unknown-unknown with -Zbuild-std, run wasm-bindgen
# and wasm-opt (npm binaryen), then inline the wasm as base64 into one ES module.
# Absolute paths are remapped so every checkout path produces the same bytes.
#
# Usage: scripts/build-wasm.sh [OUT_DIR]     (default: wasm/gen)
#        scripts/build-wasm.sh --toolchain-only   (only the apt part: Rust, lld, clang)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
TOOLCHAIN_ONLY=0
[ "${1:-}" = "--toolchain-only" ] && TOOLCHAIN_ONLY=1 && shift
OUT="${1:-$ROOT/wasm/gen}"
export PATH="$ROOT/node_modules/.bin:$PATH"
log() { echo "build-wasm: $*" >&2; }

# --- toolchain -------------------------------------------------------------------------------
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need_apt=()
[ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] || need_apt+=(rustc-web cargo-web)
[ -d /usr/lib/rustlib/src/rust/library ] || need_apt+=(rust-web-src)
command -v wasm-ld-22 >/dev/null 2>&1 || need_apt+=(lld-22)
command -v clang >/dev/null 2>&1 && command -v llvm-ar >/dev/null 2>&1 || need_apt+=(clang)
if [ "${#need_apt[@]}" -gt 0 ]; then
  log "installing ${need_apt[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >/dev/null
  as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
[ "$TOOLCHAIN_ONLY" = 1 ] && exit 0

WB_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[ -n "$WB_VERSION" ] || { log "no wasm-bindgen in Cargo.lock"; exit 1; }
WB_ROOT="$ROOT/.tools/wasm-bindgen"
WB="$WB_ROOT/bin/wasm-bindgen"
if ! [ -x "$WB" ] || [ "$("$WB" --version 2>/dev/null)" != "wasm-bindgen $WB_VERSION" ]; then
  log "installing wasm-bindgen-cli $WB_VERSION into $WB_ROOT (a few minutes)"
  HOST_CARGO="$(command -v cargo || echo /usr/bin/cargo)"
  # --locked first; the CLI's lockfile pins webpki-roots 1.0.11, which crates.io no longer
  # serves, so fall back to a fresh resolution (the CLI's output does not depend on it).
  "$HOST_CARGO" install wasm-bindgen-cli --version "=$WB_VERSION" --locked --root "$WB_ROOT" \
    || "$HOST_CARGO" install wasm-bindgen-cli --version "=$WB_VERSION" --root "$WB_ROOT"
fi

# --- build -----------------------------------------------------------------------------------
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
CARGO_HOME_DIR="${CARGO_HOME:-$HOME/.cargo}"
REMAP="--remap-path-prefix=$ROOT=/wse --remap-path-prefix=$CARGO_HOME_DIR=/cargo"
REMAP="$REMAP --remap-path-prefix=/usr/lib/rustlib/src/rust=/rustc"
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$ROOT/target/wasm-build"
export RUSTFLAGS="$REMAP -Zlocation-detail=none -Cdebuginfo=0"
unset CARGO_ENCODED_RUSTFLAGS
export CC_wasm32_unknown_unknown=clang AR_wasm32_unknown_unknown=llvm-ar
export CFLAGS_wasm32_unknown_unknown="-ffile-prefix-map=$ROOT=/wse -ffile-prefix-map=$CARGO_HOME_DIR=/cargo -DNDEBUG"
export SOURCE_DATE_EPOCH=0
log "cargo build (wasm32-unknown-unknown, -Zbuild-std)"
/usr/bin/cargo build --quiet --release --locked -p wse-codec \
  --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
log "wasm-bindgen $WB_VERSION"
"$WB" --target web --weak-refs --no-typescript --omit-default-module-path \
  --out-dir "$WORK" --out-name wse_codec \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/wse_codec.wasm"
"$WB" --target web --weak-refs --omit-default-module-path \
  --out-dir "$WORK/types" --out-name wse_codec \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/wse_codec.wasm"
log "wasm-opt -O3"
node "$ROOT/node_modules/binaryen/bin/wasm-opt" -O3 --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$WORK/wse_codec_bg.wasm" -o "$WORK/wse_codec_opt.wasm"
log "inlining into $OUT/wse_codec.js"
bun "$ROOT/wasm/tools/inline-wasm.ts" "$WORK/wse_codec.js" "$WORK/types/wse_codec.d.ts" \
  "$WORK/wse_codec_opt.wasm" "$OUT"
log "done ($(wc -c < "$WORK/wse_codec_opt.wasm") bytes of wasm)"
