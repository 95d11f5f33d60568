#!/usr/bin/env bash
# The README's picture of a room: writes the sample room's timeline page (examples/timeline_sample.rs,
# through the same library functions as `timeline --html`) and renders it with headless Chromium
# (Debian's `chromium` package: `sudo apt-get install -y chromium`) to docs/timeline.png. The page makes
# no network request, and Chromium is told not to make its own. CI does not run this: a test checks the
# page's structure without a browser (src/operator/timeline.rs, tests/it/views.rs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

OUT="${1:-docs/timeline.png}"
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
