#!/usr/bin/env python3
"""Cold start of the release `callback-receiver`, measured under a local Lambda Runtime API.

A minimal Runtime API (the four routes the runtime uses) serves the sample events; the bootstrap is
started fresh for every run, against moto on loopback (AWS_ENDPOINT_URL). For each run this records the
time from starting the process to its first answered invocation (init + warm-up calls + one callback),
the duration of a second, warm invocation, and the process's peak resident memory (ru_maxrss).

    python3 scripts/cold_start.py BOOTSTRAP TABLE QUEUE_URL [RUNS]

scripts/bench.sh runs it (it builds the release binary and starts moto).
"""
import http.server
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS = [json.loads((ROOT / "events" / f"{name}.json").read_text())
          for name in ("recording-completed", "room-created")]
TOKEN = json.loads((ROOT / "events" / "env.json").read_text())["CallbackReceiver"]["TWILIO_AUTH_TOKEN"]


class Runtime(http.server.BaseHTTPRequestHandler):
    """GET next -> the next sample event; POST response/error -> record it."""
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out as separate writes: without this, Nagle's algorithm and the client's
        # delayed ACK add 40 ms to every exchange, which is the emulator's doing, not the function's.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _reply(self, status, body=b"", headers=None):
        try:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the run is over and the process was killed

    def do_GET(self):
        state = Runtime.state
        with state["lock"]:
            index = state["served"]
            state["served"] += 1
        if index >= len(EVENTS):
            time.sleep(30)  # the run ends before this returns: the process is killed
            return
        state["served_at"][index] = time.perf_counter()
        body = json.dumps(EVENTS[index]).encode()
        self._reply(200, body, {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": f"req-{index}",
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 10_000),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:callback-receiver",
            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
        })

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        state = Runtime.state
        now = time.perf_counter()
        if "/error" in self.path:
            state["errors"].append(body.decode(errors="replace"))
        else:
            state["answers"].append((now, json.loads(body)))
            state["done"].set() if len(state["answers"]) == len(EVENTS) else None
        self._reply(202)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # connections reset by a killed process, at the end of each run


def one_run(bootstrap, env):
    # A fresh Runtime API per run, so nothing of the previous (killed) process can reach this one.
    server = Server(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    Runtime.state = {"lock": threading.Lock(), "served": 0, "served_at": {}, "answers": [], "errors": [],
                     "done": threading.Event()}
    started = time.perf_counter()
    process = subprocess.Popen([bootstrap], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    finished = Runtime.state["done"].wait(timeout=30)
    process.kill()
    _, _, usage = os.wait4(process.pid, 0)
    server.shutdown()
    server.server_close()
    process.returncode = 0
    state = Runtime.state
    log = process.stdout.read().decode(errors="replace")
    if not finished or state["errors"]:
        raise SystemExit(f"run failed: finished={finished} served={state['served']} answers={state['answers']} "
                         f"errors={state['errors']} log={log[-2000:]}")
    warm_up = re.search(r'"warm_up_ms":([0-9.]+)', log)
    (first_at, first), (second_at, second) = state["answers"]
    assert first["statusCode"] == 200 and second["statusCode"] == 200, (first, second)
    return {
        "cold_ms": (first_at - started) * 1000,
        "first_invoke_ms": (first_at - state["served_at"][0]) * 1000,
        "warm_invoke_ms": (second_at - state["served_at"][1]) * 1000,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "warm_up_ms": float(warm_up.group(1)) if warm_up else float("nan"),
    }


def main():
    bootstrap, table, queue_url = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_FUNCTION_NAME": "callback-receiver",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
        "TWILIO_AUTH_TOKEN": TOKEN, "EVENTS_TABLE": table, "MEDIA_QUEUE_URL": queue_url,
    }
    results = [one_run(bootstrap, env) for _ in range(runs)]

    def summary(key):
        values = sorted(r[key] for r in results)
        return (f"median {statistics.median(values):.1f}, p90 {values[int(len(values) * 0.9) - 1]:.1f}, "
                f"min {values[0]:.1f}, max {values[-1]:.1f}")

    print(f"cold start over {runs} runs of {bootstrap} ({os.path.getsize(bootstrap)} bytes):")
    print(f"  start -> first answered invocation (ms): {summary('cold_ms')}")
    print(f"  first invocation alone (ms):             {summary('first_invoke_ms')}")
    print(f"  of which opening connections at init (ms): {summary('warm_up_ms')}")
    print(f"  warm invocation (ms):                    {summary('warm_invoke_ms')}")
    print(f"  peak RSS (MiB):                          {summary('peak_rss_mib')}")


if __name__ == "__main__":
    main()
