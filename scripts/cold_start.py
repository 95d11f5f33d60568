#!/usr/bin/env python3
"""Cold start of the release `callback-receiver`, measured under a local Lambda Runtime API.

A minimal Runtime API (the four routes the runtime uses) serves two sample events per run, in two
scenarios (see SCENARIOS: a room event first, a media event first); the bootstrap is started fresh for
every run, against moto on loopback (AWS_ENDPOINT_URL), with a table and a queue of its own, so that both
callbacks are new to it and answered "stored", never as duplicates. The environment is the one
template.yaml gives the function (its literal values) plus local settings. For each run this records the
time from starting the process to its first answered invocation (init + warm-up calls + one callback),
the split of init that the receiver logs, the duration of a second, warm invocation, and the process's
peak resident memory (VmHWM).

    python3 scripts/cold_start.py BOOTSTRAP [RUNS]

scripts/bench.sh runs it (it builds the release binary and starts moto), with .venv's Python.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import runtime_api  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Two sequences of two new callbacks: a room event first (one write, like 15 of the 17 event types), and a
# media event first (the write and the send to the queue, at the same time: the heaviest callback).
SCENARIOS = {
    "room event first": ["room-created", "participant-connected"],
    "media event first": ["recording-completed", "room-created"],
}
SAMPLES = {name: json.loads((ROOT / "events" / f"{name}.json").read_text())
           for names in SCENARIOS.values() for name in names}
TOKEN = json.loads((ROOT / "events" / "env.json").read_text())["CallbackReceiver"]["TWILIO_AUTH_TOKEN"]


class Runtime(runtime_api.Handler):
    """GET next -> the next sample event; POST response/error -> record it."""
    state = None

    def do_GET(self):
        state = Runtime.state
        with state["lock"]:
            index = state["served"]
            state["served"] += 1
        events = state["events"]
        if index >= len(events):
            time.sleep(30)  # the run ends before this returns: the process is killed
            return
        state["served_at"][index] = time.perf_counter()
        body = json.dumps(SAMPLES[events[index]]).encode()
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
            state["done"].set() if len(state["answers"]) == len(state["events"]) else None
        self._reply(202)


Server = runtime_api.Server


# The harness itself stays small: boto3 and cfn-lint are used in child processes (see `helper`), because
# the memory of the process that starts the bootstrap makes starting it slower.
HELPER = """
import json, sys
sys.path.insert(0, {scripts!r})
import local_aws
command, args = sys.argv[1], sys.argv[2:]
if command == "template-env":
    from cfnlint.decode import cfn_yaml
    template = cfn_yaml.load({template!r})
    variables = template["Resources"][args[0]]["Properties"]["Environment"]["Variables"]
    # The variables set to literal values (the others name resources, given here instead).
    print(json.dumps({{k: str(v) for k, v in variables.items() if isinstance(v, str)}}))
elif command == "create":
    print(json.dumps([local_aws.create(name, name) for name in args]))
elif command == "check":
    # args: NAME EVENT,EVENT ...: the run's callbacks are all stored, and each media one's message is on
    # the queue, once, with the item's idempotency key.
    dynamodb, sqs = local_aws.clients()
    for name, expected in zip(args[::2], args[1::2]):
        items = dynamodb.scan(TableName=name)["Items"]
        events = sorted(item["event"]["S"] for item in items)
        assert events == sorted(expected.split(",")), (name, events)
        media = [i for i in items if i["event"]["S"] in ("recording-completed", "composition-available")]
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        keys = sorted(json.loads(message["Body"])["idempotency_key"] for message in messages)
        assert keys == sorted(item["idempotency_key"]["S"] for item in media), (name, messages)
    print(json.dumps(len(args) // 2))
"""


def helper(*args):
    code = HELPER.format(scripts=str(ROOT / "scripts"), template=str(ROOT / "template.yaml"))
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def peak_rss(pid):
    return runtime_api.peak_rss_kib(pid)


def one_run(bootstrap, env, events):
    # A fresh Runtime API per run, so nothing of the previous (killed) process can reach this one.
    server = Server(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    Runtime.state = {"events": events, "lock": threading.Lock(), "served": 0, "served_at": {}, "answers": [], "errors": [],
                     "done": threading.Event()}
    started = time.perf_counter()
    process = subprocess.Popen([bootstrap], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    finished = Runtime.state["done"].wait(timeout=30)
    peak_rss_kib = peak_rss(process.pid)
    process.kill()
    os.waitpid(process.pid, 0)
    server.shutdown()
    server.server_close()
    process.returncode = 0
    state = Runtime.state
    log = process.stdout.read().decode(errors="replace")
    if not finished or state["errors"]:
        raise SystemExit(f"run failed: finished={finished} served={state['served']} answers={state['answers']} "
                         f"errors={state['errors']} log={log[-2000:]}")
    warm_up = re.search(r'"warm_up_ms":([0-9.]+)', log)
    setup = re.search(r'"setup_ms":([0-9.]+)', log)
    (first_at, first), (second_at, second) = state["answers"]
    assert first["statusCode"] == 200 and second["statusCode"] == 200, (first, second)
    outcomes = [json.loads(answer["body"])["outcome"] for answer in (first, second)]
    assert outcomes == ["stored", "stored"], (outcomes, first, second)
    # One Embedded Metric Format line per callback, with the event and outcome as dimensions.
    metrics = [json.loads(line) for line in log.splitlines() if line.startswith('{"') and '"_aws"' in line]
    assert sorted((m["Event"], m["Outcome"], m["Callbacks"]) for m in metrics) == sorted(
        (event, "stored", 1.0) for event in events), (metrics, log[-2000:])
    return {
        "cold_ms": (first_at - started) * 1000,
        "first_invoke_ms": (first_at - state["served_at"][0]) * 1000,
        "warm_invoke_ms": (second_at - state["served_at"][1]) * 1000,
        "init_ms": (state["served_at"][0] - started) * 1000,
        "peak_rss_mib": peak_rss_kib / 1024,
        "warm_up_ms": float(warm_up.group(1)) if warm_up else float("nan"),
        "setup_ms": float(setup.group(1)) if setup else float("nan"),
    }


def main():
    bootstrap = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    env = {
        **helper("template-env", "CallbackReceiver"),
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_FUNCTION_NAME": "callback-receiver",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
        "TWILIO_AUTH_TOKEN": TOKEN,
    }
    # A table and a queue per run, created before any process starts (outside the measured time); at the
    # end, each run's callbacks must be stored, and a media one's message be on the queue once.
    plan = [(f"cold-start-{os.getpid()}-{run}-{index}", scenario)
            for index, scenario in enumerate(SCENARIOS) for run in range(runs)]
    queue_urls = helper("create", *(name for name, _ in plan))
    results = {scenario: [] for scenario in SCENARIOS}
    for (name, scenario), url in zip(plan, queue_urls):
        run_env = dict(env, EVENTS_TABLE=name, MEDIA_QUEUE_URL=url)
        results[scenario].append(one_run(bootstrap, run_env, SCENARIOS[scenario]))
    helper("check", *(arg for name, scenario in plan for arg in (name, ",".join(SCENARIOS[scenario]))))

    def summary(rows, key):
        values = sorted(r[key] for r in rows)
        return (f"median {statistics.median(values):.1f}, p90 {values[int(len(values) * 0.9) - 1]:.1f}, "
                f"min {values[0]:.1f}, max {values[-1]:.1f}")

    print(f"cold start, {runs} runs per scenario, of {bootstrap} ({os.path.getsize(bootstrap)} bytes)")
    for scenario, rows in results.items():
        first, second = SCENARIOS[scenario]
        print(f"{scenario}: {first}, then {second}")
        print(f"  start -> first answered invocation (ms):   {summary(rows, 'cold_ms')}")
        print(f"  init, to the first request for work (ms):  {summary(rows, 'init_ms')}")
        print(f"    of which configuration and clients (ms): {summary(rows, 'setup_ms')}")
        print(f"    of which opening connections (ms):       {summary(rows, 'warm_up_ms')}")
        print(f"  first invocation alone (ms):               {summary(rows, 'first_invoke_ms')}")
        print(f"  second, warm invocation (ms):              {summary(rows, 'warm_invoke_ms')}")
        print(f"  peak RSS (MiB):                            {summary(rows, 'peak_rss_mib')}")

if __name__ == "__main__":
    main()
