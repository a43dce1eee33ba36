#!/usr/bin/env bash
# Rebuilds the codec module from source into a temporary directory and compares it with the
# committed wasm/gen/. Prints exactly `wasm check: OK` on success; exits non-zero on any
# difference (the committed module must always be what the Rust sources build to).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
if ! bash "$ROOT/scripts/build-wasm.sh" "$TMP" >"$TMP/build.log" 2>&1; then
  cat "$TMP/build.log" >&2
  echo "wasm check: FAILED (build error)" >&2
  exit 1
fi
status=0
for f in wse_codec.js wse_codec.d.ts; do
  if ! cmp -s "$ROOT/wasm/gen/$f" "$TMP/$f"; then
    echo "wasm check: wasm/gen/$f differs from a fresh build of wasm/src (run npm run build:wasm)" >&2
    status=1
  fi
done
[ "$status" = 0 ] || exit 1
echo "wasm check: OK"
