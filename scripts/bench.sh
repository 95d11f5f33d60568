#!/usr/bin/env bash
# Every performance figure in the README, measured here: the per-callback work (criterion), the release
# binary's cold start and peak memory under a local Lambda Runtime API against moto, and the warm-up's
# cost at init. Installs what it needs into .venv; stops what it starts.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv scripts/requirements.txt

say "cargo bench: per-callback work without I/O (17 samples)"
cargo bench --locked --bench per_callback -- --warm-up-time 2 --measurement-time 5 2>&1 \
  | grep -E "^(per_callback|stages)|time:" | grep -v '%\]'

say "release build of callback-receiver and media-archiver (host architecture)"
cargo build --locked --release --bin callback-receiver --bin media-archiver
start_moto
say "cold start"
python3 scripts/cold_start.py target/release/callback-receiver "${RUNS:-20}"

say "media archiver: 200 MiB through moto from a local Twilio stand-in, beside a boto3 transfer-manager archiver"
python3 scripts/bench_archiver.py target/release/media-archiver --runs "${ARCHIVE_RUNS:-3}" | grep -E "^(machine|archive|fake)"

say "faults and load against moto (the figures tests/it/faults.rs and tests/it/alone/load.rs print)"
cargo test --locked --all-features --test it faults:: alone::load:: -- --test-threads=1 --nocapture 2>&1 | grep -oE "(faults \(|load: ).*"

say "backfill throughput: the operator CLI against a fake Twilio REST API and moto (tests/it/operator.rs)"
cargo test --locked --all-features --test it operator::backfill_throughput -- --ignored --nocapture 2>&1 | grep -oE "backfill: .*"
