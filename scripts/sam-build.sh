#!/usr/bin/env bash
# `sam build` with only pip-installed tools: aws-sam-cli and cargo-lambda (which brings zig, the arm64
# cross-linker) into .venv, the Rust arm64 target through rustup. Produces
# .aws-sam/build/{CallbackReceiver,MediaArchiver}/bootstrap and prints their sizes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv scripts/requirements.txt scripts/requirements-local.txt
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
export SAM_CLI_TELEMETRY=0
sam build "$@"
for bootstrap in .aws-sam/build/*/bootstrap; do
  say "$bootstrap: $(stat -c %s "$bootstrap") bytes ($(du -h "$bootstrap" | cut -f1))"
done
