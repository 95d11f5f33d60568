#!/usr/bin/env bash
# What `usage` costs over a month, measured against moto (a benchmark, not a test). For each size in
# ROOMS_LIST (default "300 1000"): fills a fresh events table with that many rooms over the 30 days
# of November 2026 as the receiver stores them (examples/usage_fill.rs: eleven items a room), then times
# `twilio-video-callbacks usage --since 2026-11-01 --until 2026-12-01 --by day --json` at the default pace
# (50 rooms a second, 8 at a time) and unpaced (--rooms-per-second 100000: only the 8 reads in flight
# bound it), and with SLOW_PACE set also at that many rooms a second. Prints the rooms, the Queries and
# the wall time of each run, and checks the totals against what was written. moto's Query reads every
# item of the table to answer (moto/dynamodb/models/table.py, `Table.query` over `all_items()`), so here
# the time per Query grows with the table; DynamoDB's does not.
# Installs what it needs into .venv; stops what it starts. The figures are in docs/proof.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv scripts/requirements.txt

say "building the operator's program and the fill example (dev profile)"
cargo build --quiet --locked --features operator --bin twilio-video-callbacks --example usage_fill
BIN="${CARGO_TARGET_DIR:-target}/debug/twilio-video-callbacks"
FILL="${CARGO_TARGET_DIR:-target}/debug/examples/usage_fill"
start_moto

run() {
  local table="$1" rooms="$2" label="$3"; shift 3
  local t0 t1
  t0=$(date +%s.%N)
  EVENTS_TABLE="$table" "$BIN" usage --since 2026-11-01 --until 2026-12-01 --by day --json "$@" \
    >"$LOCAL/usage-bench.jsonl" 2>/dev/null
  t1=$(date +%s.%N)
  python3 - "$label" "$(echo "$t1 - $t0" | bc)" "$rooms" "$LOCAL/usage-bench.jsonl" <<'PY'
import json, sys
label, seconds, written = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
lines = [json.loads(l) for l in open(sys.argv[4]) if l.strip()]
total = lines[-1]
rooms = total["rooms"]
# What usage_fill.rs writes: three participants of 1200, 1260 and 1320 s, two recordings of 1390 s and a
# composition of 1500 s a room.
assert rooms == written, (rooms, written)
assert total["participant_seconds"] == rooms * 3780, total
assert total["recording_seconds"] == rooms * 2780 and total["composition_seconds"] == rooms * 1500, total
queries = len(lines) - 1 + rooms
print(f"usage {label}: {rooms} rooms over {len(lines) - 1} days, {queries} Queries (one a day on the index, "
      f"one a room): {seconds:.1f} s, {rooms / seconds:.1f} rooms/s, {seconds / queries * 1000:.0f} ms a Query; "
      f"{total['participant_seconds'] / 60:.0f} participant minutes, USD {total['estimated_cost_usd']:.2f}")
PY
}

for rooms in ${ROOMS_LIST:-300 1000}; do
  table="bench-usage-$rooms-$$"
  python3 scripts/local_aws.py create "$table" "$table" >/dev/null
  say "filling $table with $rooms rooms over 30 days"
  t0=$(date +%s.%N)
  "$FILL" "$table" "$rooms" 30
  echo "filled in $(echo "$(date +%s.%N) - $t0" | bc) s"
  say "usage over the month at the default pace (50 rooms/s, 8 at a time)"
  run "$table" "$rooms" "default pace"
  say "usage over the month unpaced (8 at a time)"
  run "$table" "$rooms" "unpaced" --rooms-per-second 100000
  if [ -n "${SLOW_PACE:-}" ]; then
    # A pace below moto's own rate, so the pace is what binds: ROOMS / SLOW_PACE seconds at least.
    say "usage over the month at --rooms-per-second $SLOW_PACE"
    run "$table" "$rooms" "at $SLOW_PACE rooms/s" --rooms-per-second "$SLOW_PACE"
  fi
done
