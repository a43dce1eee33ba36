#!/usr/bin/env bash
# `npm test`: installs what the suites need (idempotent), checks the committed wasm against a
# fresh build, then runs every suite (Rust, Bun, Deno, Node, Chromium, Python interop) and prints
# one summary line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

bash scripts/setup-system.sh || { echo "setup-system failed"; exit 1; }
if [ -f scripts/setup-python.sh ]; then bash scripts/setup-python.sh || { echo "setup-python failed"; exit 1; }; fi
exec bun scripts/run-suites.ts "$@"
