#!/usr/bin/env bash
# The README's pictures: writes the sample room's timeline page (examples/timeline_sample.rs, through the
# same library functions as `timeline --html`) and a made-up fortnight's usage page
# (examples/usage_sample.rs, as `usage --html`), and renders each with headless Chromium
# (Debian's `chromium` package: `sudo apt-get install -y chromium`) to docs/timeline.png and
# docs/usage.png. The pages make no network request, and Chromium is told not to make its own. CI does not
# run this: tests check the pages' structure (src/operator/timeline/tests, src/operator/usage/tests.rs,
# tests/it/views.rs), and tests/it/usage.rs has Chromium parse the usage page when it is installed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

OUT="${1:-docs/timeline.png}"
USAGE_OUT="${2:-docs/usage.png}"
CHROMIUM="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$CHROMIUM" ]; then
  say "headless Chromium is needed: sudo apt-get install -y chromium"
  exit 1
fi

PAGE="$LOCAL/sample-room.html"
say "writing the sample room's page: $PAGE"
HEIGHT="$(cargo run --quiet --locked --features operator --example timeline_sample -- "$PAGE")"
# The header and legend above the drawing, and a margin below it.
WINDOW_HEIGHT=$((HEIGHT + 150))

say "rendering it with $CHROMIUM to $OUT"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$LOCAL/chromium-profile" \
  --window-size="1320,$WINDOW_HEIGHT" --screenshot="$ROOT/$OUT" "file://$PAGE" 2>"$LOCAL/chromium.log"
say "wrote $OUT ($(stat -c %s "$OUT") bytes)"

USAGE_PAGE="$LOCAL/sample-usage.html"
say "writing a made-up fortnight's usage page: $USAGE_PAGE"
HEIGHT="$(cargo run --quiet --locked --features operator --example usage_sample -- "$USAGE_PAGE")"
say "rendering it with $CHROMIUM to $USAGE_OUT"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$LOCAL/chromium-profile" \
  --window-size="1360,$HEIGHT" --screenshot="$ROOT/$USAGE_OUT" "file://$USAGE_PAGE" 2>>"$LOCAL/chromium.log"
say "wrote $USAGE_OUT ($(stat -c %s "$USAGE_OUT") bytes)"
