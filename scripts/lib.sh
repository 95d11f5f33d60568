# Shared by scripts/test.sh and scripts/run-local.sh. Source it; do not run it.
# Every tool goes into .venv under the repo; every process started here is stopped on exit.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
LOCAL="$ROOT/.local"
mkdir -p "$LOCAL"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# ensure_venv REQUIREMENTS_FILE...: create .venv and install the pinned requirements once.
ensure_venv() {
  local stamp="$VENV/.installed-$(cat "$@" | sha256sum | cut -c1-16)"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    python3 -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ]; then
    say "installing $(cat "$@" | grep -v '^#' | xargs)"
    local args=()
    for file in "$@"; do args+=(-r "$file"); done
    "$VENV/bin/pip" install --quiet "${args[@]}"
    touch "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

# ensure_checkov: checkov in a virtualenv of its own (its dependencies conflict with aws-sam-cli's), kept
# outside the repository, in the user's cache: its ~300 third-party packages (and whatever their sources
# mention) stay out of the project's tree.
ensure_checkov() {
  local venv="${XDG_CACHE_HOME:-$HOME/.cache}/twilio-video-callbacks/venv-checkov"
  mkdir -p "$(dirname "$venv")"
  local stamp="$venv/.installed-$(sha256sum < "$ROOT/scripts/requirements-checkov.txt" | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    say "installing checkov into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r "$ROOT/scripts/requirements-checkov.txt"
    touch "$stamp"
  fi
  CHECKOV="$venv/bin/checkov"
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_moto [NAME]: moto's server on a free loopback port; exports AWS_ENDPOINT_URL and dummy credentials.
# Its log is .local/moto.log, or .local/moto-NAME.log when a second one runs beside it.
start_moto() {
  MOTO_PORT="$(free_port)"
  local log="$LOCAL/moto${1:+-$1}.log"
  say "starting moto on 127.0.0.1:$MOTO_PORT (log: ${log#"$ROOT/"})"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$log" 2>&1 &
  MOTO_PID=$!
  STARTED_PIDS+=("$MOTO_PID")
  export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  unset AWS_PROFILE AWS_SESSION_TOKEN
  for _ in $(seq 1 100); do
    if "$VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$AWS_ENDPOINT_URL/moto-api/', timeout=1)" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
      cat "$log" >&2
      say "moto did not start"
      return 1
    fi
    sleep 0.2
  done
  say "moto did not answer within 20 s"
  return 1
}

STARTED_PIDS=()
stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}
trap stop_started EXIT INT TERM
