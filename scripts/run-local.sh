#!/usr/bin/env bash
# The product's job, locally: moto serves DynamoDB, SQS and S3 on loopback, `cargo lambda watch` runs the
# real callback-receiver and media-archiver under a Lambda runtime emulator, every file in events/ is
# invoked, the stored room timeline and the queued messages are printed, then the queued media messages go
# through the archiver, which copies each file from a local stand-in for Twilio's media endpoint into moto's
# S3; the archived objects and the media-archived records are printed; one recording served encrypted is
# archived with its envelope and decrypted with the operator's `decrypt`; last, the operator's `timeline` of
# the sample room, on the terminal and as an HTML page; the sample day's usage; and `twilio-video-callbacks
# check` against this local stack through a small HTTP front (all ok). The receiver runs with signing keys by
# account (TWILIO_SIGNING_KEYS): the samples' account and a second one, whose callbacks verify with its own
# token or shared key while one signed with the first account's token is refused. Installs what it needs
# into .venv; stops what it starts.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv scripts/requirements.txt scripts/requirements-local.txt
start_moto

TABLE=twilio-video-events
QUEUE=twilio-video-media
BUCKET=twilio-video-archive
QUEUE_URL="$(python3 scripts/local_aws.py create "$TABLE" "$QUEUE")"
# The samples are signed with the clearly fake local token in events/env.json (see the README); a second,
# equally fake account has its own token and shared key (scripts/second_account.py). Both go to the receiver
# as one signing-keys document, in an env file (the JSON holds commas, which --env-var would split).
SIGNING_KEYS="$(python3 scripts/second_account.py keys)"
python3 scripts/second_account.py events "$LOCAL/second-account" >/dev/null
printf "TWILIO_SIGNING_KEYS='%s'\n" "$SIGNING_KEYS" >"$LOCAL/receiver.env"

# The archiver's Twilio API key for the local stand-in: clearly fake, like the token (see the README).
KEY_SID=SKlocal00000000000000000000000000
KEY_SECRET=local-fake-api-key-secret-not-a-secret
MEDIA_PORT="$(free_port)"

say "building callback-receiver and media-archiver"
cargo build --locked --bin callback-receiver --bin media-archiver

INVOKE_PORT="$(free_port)"
say "starting cargo lambda watch on 127.0.0.1:$INVOKE_PORT (log: .local/watch.log)"
cargo lambda watch --quiet --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" \
  --env-file "$LOCAL/receiver.env" \
  --env-var "EVENTS_TABLE=$TABLE,MEDIA_QUEUE_URL=$QUEUE_URL,AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL,RUST_LOG=info,ARCHIVE_BUCKET=$BUCKET,TWILIO_API_KEY_SID=$KEY_SID,TWILIO_API_KEY_SECRET=$KEY_SECRET,TWILIO_MEDIA_BASE_URL=http://127.0.0.1:$MEDIA_PORT" \
  >"$LOCAL/watch.log" 2>&1 &
STARTED_PIDS+=("$!")

# invoke FUNCTION FILE: the function's answer to the event in FILE, on stdout. The emulator compiles and
# starts a function on its first invoke: wait for it, up to a minute.
invoke() {
  local out attempt
  for attempt in $(seq 1 60); do
    if out="$(cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" \
                --data-file "$2" --output-format json 2>&1)"; then
      printf '%s\n' "$out"
      return 0
    fi
    sleep 1
  done
  echo "$out" >&2
  tail -40 "$LOCAL/watch.log" >&2
  return 1
}

say "invoking callback-receiver with every file in events/"
for file in events/*.json; do
  [ "$(basename "$file")" = env.json ] && continue
  out="$(invoke callback-receiver "$file")"
  printf '%-34s %s\n' "$(basename "$file")" "$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["statusCode"], r.get("body",""))' <<<"$out")"
done

say "a second account: its callbacks with its own token and shared key, and one with the first account's token"
for file in "$LOCAL"/second-account/*.json; do
  out="$(invoke callback-receiver "$file")"
  printf '%-50s %s\n' "$(basename "$file")" "$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["statusCode"], r.get("body",""))' <<<"$out")"
done

python3 scripts/local_aws.py show "$TABLE" "$QUEUE"
echo
say "function log (one line per callback): .local/watch.log"
grep -E "callback (handled|refused|not handled|spilled|with an undocumented)|signed callback breaks" "$LOCAL/watch.log" | tail -5 || true

echo
say "archiving the queued media: the real media-archiver, from a local stand-in for Twilio's media endpoint into moto's S3"
SPECS="$(python3 scripts/local_archive.py event "$QUEUE" "$BUCKET" "$LOCAL/media-event.json")"
# shellcheck disable=SC2086 # one argument per file to serve
python3 scripts/fake_twilio_media.py "$MEDIA_PORT" "$KEY_SID" "$KEY_SECRET" $SPECS >"$LOCAL/twilio-media.log" 2>&1 &
STARTED_PIDS+=("$!")
for _ in $(seq 1 100); do grep -q ready "$LOCAL/twilio-media.log" 2>/dev/null && break; sleep 0.1; done
echo "serving, with Twilio's redirect to a short-lived URL: $SPECS"
archived="$(invoke media-archiver "$LOCAL/media-event.json")"
python3 scripts/local_archive.py ack "$QUEUE" "$LOCAL/media-event.json" <<<"$archived"
python3 scripts/local_archive.py show "$BUCKET" "$TABLE"
echo
say "archiver log (one line per media file): .local/watch.log"
grep -E "media archived|media not archived|media gone" "$LOCAL/watch.log" | tail -5 || true
say "metrics: one Embedded Metric Format line per callback and per media file, as CloudWatch reads them"
echo "$(grep -c '"_aws"' "$LOCAL/watch.log" || true) metrics lines in .local/watch.log; the last callback's and the last media file's:"
grep '"Callbacks"' "$LOCAL/watch.log" | tail -1 || true
grep '"MediaArchives"' "$LOCAL/watch.log" | tail -1 || true

# --- Encrypted media: one recording served as Twilio serves it with stored-media encryption on (ciphertext,
# the envelope in x-amz-meta-* headers), archived with its envelope, then decrypted with `decrypt` and the
# private key alone. The RSA key pair is made here, into .local/ (never committed); the private key stays on
# this machine, as it would stay with the operator (never in Lambda).
ENCRYPTED_SID=RT000000000000000000000000000000e1
say "encrypted media: a key pair in .local/, one recording served encrypted for its public key, archived, decrypted"
python3 scripts/local_archive.py keys "$LOCAL/media-private.pem" "$LOCAL/media-public.pem"
served="$(python3 scripts/local_archive.py encrypted "http://127.0.0.1:$MEDIA_PORT" "$LOCAL/media-public.pem" \
  "$ENCRYPTED_SID" $((3 * 1024 * 1024 + 5)) "$LOCAL/encrypted-event.json")"
read -r ENCRYPTED_KEY PLAINTEXT_SHA256 <<<"$served"
archived="$(invoke media-archiver "$LOCAL/encrypted-event.json")"
python3 -c 'import json, sys; a = json.load(sys.stdin); sys.exit(f"not archived: {a}" if a.get("batchItemFailures") else 0)' <<<"$archived"
grep -E "media archived" "$LOCAL/watch.log" | grep "$ENCRYPTED_SID" | tail -1 || true
say "twilio-video-callbacks decrypt --private-key .local/media-private.pem s3://$BUCKET/$ENCRYPTED_KEY --output .local/$ENCRYPTED_SID.mka"
cargo run --quiet --locked --features operator --bin twilio-video-callbacks -- \
  decrypt --private-key "$LOCAL/media-private.pem" "s3://$BUCKET/$ENCRYPTED_KEY" --output "$LOCAL/$ENCRYPTED_SID.mka"
python3 scripts/local_archive.py same "$LOCAL/$ENCRYPTED_SID.mka" "$PLAINTEXT_SHA256"
# --- end of the encrypted media

# The operator's view of the sample room, archive outcomes included: `twilio-video-callbacks timeline` as a
# table on the terminal, and the room drawn as one self-contained HTML page (no network requests) in a file named here.
SAMPLE_ROOM=RM00000000000000000000000000000001
TIMELINE_HTML=".local/timeline.html"
say "building the operator's program (twilio-video-callbacks, --features operator)"
cargo build --locked --features operator --bin twilio-video-callbacks
echo
say "twilio-video-callbacks timeline $SAMPLE_ROOM --html $TIMELINE_HTML"
EVENTS_TABLE="$TABLE" cargo run --quiet --locked --features operator --bin twilio-video-callbacks -- \
  timeline "$SAMPLE_ROOM" --html "$ROOT/$TIMELINE_HTML"
say "the sample room's picture: $TIMELINE_HTML (open it in a browser)"

# The sample day's usage, from the same table: participant minutes, recordings, compositions, archived
# bytes and an estimated cost per room (`usage`, through the rooms-by-day index), and its page.
USAGE_HTML=".local/usage.html"
echo
say "twilio-video-callbacks usage --since 2026-11-27 --until 2026-11-28 --by room --html $USAGE_HTML"
EVENTS_TABLE="$TABLE" cargo run --quiet --locked --features operator --bin twilio-video-callbacks -- \
  usage --since 2026-11-27 --until 2026-11-28 --by room --html "$ROOT/$USAGE_HTML"
say "the sample day's usage page: $USAGE_HTML (open it in a browser)"

# After a deploy, `check` proves the stack works end to end. Locally the receiver has no HTTP API in front
# of it (`cargo lambda watch` serves Lambda's Invoke API), so scripts/local_front.py plays API Gateway:
# HTTP in, the function's event out. A second emulator runs the receiver as a deployment with WebhookUrl
# set to the front's URL (the samples above are signed for the sample domain, so the first one keeps
# verifying against the URL it reconstructs). The check signs for the URL it sends to: the front's.
FRONT_PORT="$(free_port)"
CHECK_INVOKE_PORT="$(free_port)"
CALLBACK_URL="http://127.0.0.1:$FRONT_PORT/twilio/video"
say "starting the receiver behind a local HTTP front on $CALLBACK_URL (logs: .local/watch-check.log, .local/front.log)"
cargo lambda watch --quiet --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$CHECK_INVOKE_PORT" \
  --env-file "$LOCAL/receiver.env" \
  --env-var "EVENTS_TABLE=$TABLE,MEDIA_QUEUE_URL=$QUEUE_URL,AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL,RUST_LOG=info,TWILIO_WEBHOOK_URL=$CALLBACK_URL" \
  >"$LOCAL/watch-check.log" 2>&1 &
STARTED_PIDS+=("$!")
python3 scripts/local_front.py "$FRONT_PORT" "$CHECK_INVOKE_PORT" callback-receiver >"$LOCAL/front.log" 2>&1 &
STARTED_PIDS+=("$!")
# Ready once the receiver itself answers through the front (a GET: its 405), up to a minute.
for _ in $(seq 1 120); do
  status="$(python3 -c 'import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=5)
except urllib.error.HTTPError as err:
    print(err.code)
except Exception:
    print(0)' "$CALLBACK_URL")"
  [ "$status" = 405 ] && break
  sleep 0.5
done
echo
say "twilio-video-callbacks check (round trip through the front, the table and its index, the media queue)"
# It signs with the same signing-keys document the receiver verifies with, as the account of the samples.
EVENTS_TABLE="$TABLE" MEDIA_QUEUE_URL="$QUEUE_URL" CALLBACK_URL="$CALLBACK_URL" TWILIO_SIGNING_KEYS="$SIGNING_KEYS" \
  TWILIO_ACCOUNT_SID=AC00000000000000000000000000000001 \
  cargo run --quiet --locked --features operator --bin twilio-video-callbacks -- check
