#!/usr/bin/env bash
# Runs every check and test: formatting, lints, the sample events, the SAM template, unit and integration
# tests (against moto's DynamoDB, SQS and S3 on loopback). Installs what it needs into .venv (checkov into
# ~/.cache/twilio-video-callbacks, see lib.sh); stops what it starts.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv scripts/requirements.txt

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --all-targets --all-features --locked -- -D warnings
say "sample events match scripts/make_events.py"
python3 scripts/make_events.py --check
say "template.yaml: cfn-lint (with the serverless rules), sam validate --lint, template tests"
cfn-lint template.yaml -a cfn_lint_serverless.rules
SAM_CLI_TELEMETRY=0 sam validate --lint
python -m unittest tests/template_test.py
ensure_checkov
say "checkov on template.yaml (every skipped check is justified in the template)"
"$CHECKOV" -f template.yaml --framework cloudformation --compact --quiet --skip-download

start_moto
say "cargo test (unit and integration, against moto at $AWS_ENDPOINT_URL)"
cargo test --locked --all-features --lib --bins --tests -- --skip alone::
say "the benchmarks, once each as tests (criterion's test mode)"
cargo test --locked --all-features --benches
say "the tests that measure this process's memory, one at a time (tests/it/alone)"
cargo test --locked --all-features --test it alone:: -- --test-threads=1 --nocapture
say "all checks passed"
