#!/usr/bin/env bash
# Runs every check and test: formatting, lints, the sample events, the SAM template, unit and integration
# tests (against moto's DynamoDB, SQS and S3 on loopback). Installs what it needs into .venv (checkov into
# ~/.cache/twilio-video-callbacks, see lib.sh); stops what it starts. Prints each step's time at the end.
#
# Where the time goes on a fresh clone of 2 cores is compiling (the AWS SDK crates above all), so: the
# Python tools install while cargo compiles (they only wait on the network); dependencies carry no debug
# info and the crate line tables only (Cargo.toml, [profile.dev]); one test build serves every test step.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# A fresh clone builds once: incremental compilation only costs time here.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

STEP_NAMES=()
STEP_SECONDS=()
STEP_NAME=""
STEP_START=0
TEST_START=$SECONDS
# step NAME: ends the step running (recording its time) and starts NAME.
step() {
  end_step
  STEP_NAME="$1"
  STEP_START=$SECONDS
  say "$1"
}
end_step() {
  if [ -n "$STEP_NAME" ]; then
    STEP_NAMES+=("$STEP_NAME")
    STEP_SECONDS+=("$((SECONDS - STEP_START))")
  fi
  STEP_NAME=""
}
report_steps() {
  end_step
  local i
  printf '\n%6s  %s\n' "seconds" "step" >&2
  for i in "${!STEP_NAMES[@]}"; do
    printf '%6d  %s\n' "${STEP_SECONDS[$i]}" "${STEP_NAMES[$i]}" >&2
  done
  printf '%6d  %s\n' "$((SECONDS - TEST_START))" "in all" >&2
}

# The Python tools install in the background while cargo compiles; each writes its own log.
step "installing the Python tools in the background (logs: .local/install-*.log)"
(ensure_venv scripts/requirements.txt) >"$LOCAL/install-venv.log" 2>&1 &
VENV_PID=$!
(ensure_checkov) >"$LOCAL/install-checkov.log" 2>&1 &
CHECKOV_PID=$!
# wait_install PID LOG: waits for one background install; on failure shows its log and stops.
wait_install() {
  if ! wait "$1"; then
    cat "$2" >&2
    say "installing the Python tools failed (log above: $2)"
    exit 1
  fi
}

step "cargo fmt --check"
cargo fmt --all -- --check
# clippy's lints run during the one build of every target, with clippy-driver as the workspace's
# compiler wrapper: that is how `cargo clippy` runs them (it sets the same two variables over a `cargo
# check`), but a check would compile every dependency a second time, in check mode; this way each is
# compiled once. The lints, the targets and `-D warnings` are those of
# `cargo clippy --all-targets --all-features -- -D warnings`; a warning that got through anyway fails here.
CLIPPY_DRIVER="$(command -v clippy-driver || true)"
if [ -z "$CLIPPY_DRIVER" ]; then
  say "clippy-driver not found: rustup component add clippy"
  exit 1
fi
# lint_build CARGO_ARGS...: cargo with clippy's lints; its stderr also goes to .local/build.log.
lint_build() {
  { RUSTC_WORKSPACE_WRAPPER="$CLIPPY_DRIVER" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" \
    cargo "$@" 2>&1 1>&3 | tee -a "$LOCAL/build.log" >&2; } 3>&1
}
: >"$LOCAL/build.log"
step "cargo build of every target with clippy's lints, -D warnings (tests, the benchmark in test mode, examples)"
# The test executables, by target name (the lib's unit tests, `it`, `per_callback`): run directly below, so
# two of them can run at once (cargo would hold its build lock for the whole run).
lint_build test --locked --all-features --lib --tests --benches --no-run \
  --message-format=json-render-diagnostics \
  | python3 -c '
import json, sys
for line in sys.stdin:
    if not line.startswith("{"):
        continue
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["name"], m["executable"])
' >"$LOCAL/test-executables"
lint_build build --locked --all-features --bins --examples
if grep -q '^warning' "$LOCAL/build.log"; then
  say "the build printed warnings (see .local/build.log): clippy's -D warnings did not apply"
  exit 1
fi
# test_executable NAME: the path of the test executable of target NAME.
test_executable() {
  awk -v name="$1" '$1 == name { print $2 }' "$LOCAL/test-executables"
}
UNIT="$(test_executable twilio_video_callbacks)"
IT="$(test_executable it)"
BENCH="$(test_executable per_callback)"
for exe in "$UNIT" "$IT" "$BENCH"; do
  [ -x "$exe" ] || { say "a test executable is missing (see $LOCAL/test-executables)"; exit 1; }
done

step "waiting for the Python tools"
wait_install "$VENV_PID" "$LOCAL/install-venv.log"
wait_install "$CHECKOV_PID" "$LOCAL/install-checkov.log"
ensure_venv scripts/requirements.txt
ensure_checkov
step "sample events match scripts/make_events.py"
python3 scripts/make_events.py --check
step "template.yaml: cfn-lint (with the serverless rules), sam validate --lint, template tests"
cfn-lint template.yaml -a cfn_lint_serverless.rules
SAM_CLI_TELEMETRY=0 sam validate --lint
python -m unittest tests/template_test.py
step "checkov on template.yaml (every skipped check is justified in the template)"
"$CHECKOV" -f template.yaml --framework cloudformation --compact --quiet --skip-download

step "unit tests"
"$UNIT"
step "the benchmarks, once each as tests (criterion's test mode)"
"$BENCH"

# The integration tests, against moto, and the tests that measure this process's memory (tests/it/alone),
# one at a time, in a second process against a second moto: much of the integration run waits on moto
# or on a fault's stall, and a process's peak memory is its own.
step "integration tests (tests/it), beside the memory tests (tests/it/alone), each with its own moto"
start_moto alone
ALONE_ENDPOINT="$AWS_ENDPOINT_URL"
(AWS_ENDPOINT_URL="$ALONE_ENDPOINT" exec "$IT" alone:: --test-threads=1 --nocapture) >"$LOCAL/alone.log" 2>&1 &
ALONE_PID=$!
STARTED_PIDS+=("$ALONE_PID")
start_moto
say "integration tests against moto at $AWS_ENDPOINT_URL; memory tests against $ALONE_ENDPOINT (log: .local/alone.log)"
"$IT" --skip alone::
say "the memory tests (tests/it/alone)"
ALONE_STATUS=0
wait "$ALONE_PID" || ALONE_STATUS=$?
cat "$LOCAL/alone.log" >&2
if [ "$ALONE_STATUS" -ne 0 ]; then
  say "the memory tests failed"
  exit 1
fi
report_steps
say "all checks passed"
