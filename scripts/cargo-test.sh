#!/usr/bin/env bash
# Runs the native unit tests of the Rust codec crate (wasm/). Prefers the rustup toolchain in
# ~/.cargo/bin; falls back to Debian's /usr/bin/cargo (installed by scripts/build-wasm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x "$HOME/.cargo/bin/cargo" ]; then
  CARGO="$HOME/.cargo/bin/cargo"
elif [ -x /usr/bin/cargo ]; then
  CARGO=/usr/bin/cargo
  export RUSTC=/usr/bin/rustc
else
  bash scripts/build-wasm.sh --toolchain-only
  CARGO=/usr/bin/cargo
  export RUSTC=/usr/bin/rustc
fi
# --lib: the crate has no doctests (and a rustdoc from another toolchain could not read the rlibs).
exec "$CARGO" test --locked -p wse-codec --lib "$@"
