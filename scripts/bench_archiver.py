#!/usr/bin/env python3
"""The media archiver's throughput and memory, beside a boto3 transfer-manager archiver, in one run.

Both copy the same files from the same local Twilio stand-in (scripts/fake_twilio_media.py: the API key,
the 302 to a short-lived URL, the file) into the same moto S3, one after the other, alternating:

- ours: the release `media-archiver` under a local Lambda Runtime API (this script), fed one SQS event;
  the time is from handing out the event to its answer; memory is the process's peak resident set (VmHWM);
- the baseline: a few lines of boto3 in a process of their own doing the same job: the same GET and
  redirect, the body streamed into `upload_fileobj` (boto3's transfer manager: parts of 8 MiB on up to 10
  threads) with a SHA-256 per part (`ChecksumAlgorithm=SHA256`) and no second hash of the payload for the
  signature, the whole file's SHA-256 computed as it streams and written into the object's metadata by an
  in-place copy (as ours did before it wrote every file once: ours now puts it in the object's `sha256` tag,
  which creates no second version, and names the CRC64NVME of the whole file on completion); messages one
  after the other, as a plain consumer would.

Every copy is checked afterwards: object size and SHA-256 equal what was served.

    python3 scripts/bench_archiver.py BOOTSTRAP [--size-mib 200] [--runs 2] [--batch 4x50]

scripts/bench.sh runs it after building the release binary and starting moto (AWS_ENDPOINT_URL).
"""
import argparse
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fake_twilio_media  # noqa: E402
import runtime_api  # noqa: E402

KEY_SID, KEY_SECRET = "SKbench000000000000000000000000001", "bench-fake-secret-not-real"
ACCOUNT, ROOM = "AC00000000000000000000000000000b01", "RM00000000000000000000000000000b01"
MIB = 1024 * 1024

BASELINE = r'''
import base64, hashlib, http.client, json, resource, sys, time
from urllib.parse import urlsplit
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

base, bucket, key_sid, key_secret, jobs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
# As ours: the part's SHA-256 travels in a header, so the signature does not hash the payload again (over
# plain HTTP botocore would otherwise sign every byte; over HTTPS it does not by default).
s3 = boto3.client("s3", endpoint_url=__import__("os").environ["AWS_ENDPOINT_URL"],
                  config=Config(s3={"payload_signing_enabled": False}))
config = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=10)
auth = "Basic " + base64.b64encode(f"{key_sid}:{key_secret}".encode()).decode()

class Hashing:
    def __init__(self, body):
        self.body, self.sha256, self.count = body, hashlib.sha256(), 0
    def read(self, n=-1):
        data = self.body.read(n)
        self.sha256.update(data)
        self.count += len(data)
        return data

started = time.perf_counter()
cpu_at_start = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
for path, key in jobs:
    url = urlsplit(base)
    api = http.client.HTTPConnection(url.hostname, url.port)
    api.request("GET", path, headers={"Authorization": auth})
    response = api.getresponse()
    location = urlsplit(response.getheader("Location"))
    response.read()
    files = http.client.HTTPConnection(location.hostname, location.port)
    files.request("GET", location.path + "?" + location.query)
    body = files.getresponse()
    stream = Hashing(body)
    extra = {"ContentType": body.getheader("Content-Type"), "ServerSideEncryption": "AES256"}
    s3.upload_fileobj(stream, bucket, key, Config=config, ExtraArgs=dict(extra, ChecksumAlgorithm="SHA256"))
    assert stream.count == int(body.getheader("Content-Length"))
    # The same job as ours: the whole file's SHA-256 into the object's metadata, which S3 only sets by
    # writing the object, so by an in-place copy.
    s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key}, MetadataDirective="REPLACE",
                   Metadata={"sha256": stream.sha256.hexdigest()}, ChecksumAlgorithm="SHA256", **extra)
usage = resource.getrusage(resource.RUSAGE_SELF)
# This process's own high-water mark (ru_maxrss would include the parent's at the fork).
status = open("/proc/self/status").read()
peak_kib = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps({"seconds": time.perf_counter() - started, "peak_rss_mib": peak_kib / 1024,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu_at_start}))
'''


class Runtime(runtime_api.Handler):
    """The Lambda Runtime API's routes: GET next hands out the event once; POST response records it."""
    state = None

    def do_GET(self):
        state = Runtime.state
        with state["lock"]:
            first = not state["served"]
            state["served"] = True
        if not first:
            time.sleep(600)  # the run ends before this returns: the process is killed
            return
        state["served_at"] = time.perf_counter()
        self._reply(200, json.dumps(state["event"]).encode(), {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": "bench-1",
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 900_000),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:media-archiver",
            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
        })

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        state = Runtime.state
        state["answered_at"] = time.perf_counter()
        state["answer"] = (self.path, body.decode(errors="replace"))
        state["done"].set()
        self._reply(202)


Server = runtime_api.Server


def message(sid, size):
    return {
        "schema_version": 1, "event": "recording-completed", "idempotency_key": f"bench-{sid}",
        "account_sid": ACCOUNT, "room_sid": ROOM, "recording_sid": sid, "container": "mkv",
        "media_url": f"https://video.twilio.com/v1/Recordings/{sid}/Media", "size": size,
        "timestamp": "2026-11-28T00:00:00.000Z",
    }


def peak_rss_mib(pid):
    return runtime_api.peak_rss_kib(pid) / 1024


def cpu_seconds(pid):
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_ours(bootstrap, env, jobs):
    """jobs: [(sid, size)] in one SQS event. Returns seconds, peak RSS (MiB) and CPU seconds of the copy."""
    server = Server(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    event = {"Records": [{"messageId": sid, "body": json.dumps(message(sid, size)),
                          "eventSource": "aws:sqs"} for sid, size in jobs]}
    Runtime.state = {"event": event, "lock": threading.Lock(), "served": False, "done": threading.Event()}
    process = subprocess.Popen([bootstrap], env=dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    while "served_at" not in Runtime.state and process.poll() is None:
        time.sleep(0.001)
    cpu_before = cpu_seconds(process.pid) if process.poll() is None else 0.0
    finished = Runtime.state["done"].wait(timeout=900)
    peak = peak_rss_mib(process.pid)
    cpu = cpu_seconds(process.pid) - cpu_before
    process.kill()
    log = process.communicate()[0].decode(errors="replace")
    server.shutdown()
    server.server_close()
    state = Runtime.state
    if not finished or "/response" not in state["answer"][0]:
        raise SystemExit(f"the archiver did not answer: {state.get('answer')}\n{log[-3000:]}")
    failures = json.loads(state["answer"][1]).get("batchItemFailures")
    if failures:
        raise SystemExit(f"the archiver failed {failures}\n{log[-3000:]}")
    return state["answered_at"] - state["served_at"], peak, cpu


def run_baseline(media_base, bucket, jobs, prefix):
    paths = [(f"/v1/Recordings/{sid}/Media", f"{prefix}{sid}.mkv") for sid, _ in jobs]
    out = subprocess.run([sys.executable, "-c", BASELINE, media_base, bucket, KEY_SID, KEY_SECRET, json.dumps(paths)],
                         check=True, capture_output=True, text=True)
    result = json.loads(out.stdout)
    return result["seconds"], result["peak_rss_mib"], result["cpu_seconds"]


def check(s3, bucket, key, sid, size):
    """The object holds exactly what was served; returns the SHA-256 it was stored with: its `sha256` tag
    (ours) or metadata (the baseline's)."""
    digest = hashlib.sha256()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in iter(lambda: body.read(MIB), b""):
        digest.update(chunk)
    expected = fake_twilio_media.sha256_of(sid, size)
    assert digest.hexdigest() == expected, (key, digest.hexdigest(), expected)
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}
    return tags.get("sha256") or s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256")


def template_settings():
    """The archiver's tunables as template.yaml sets them (ARCHIVE_PART_SIZE_MIB, ...)."""
    template = (Path(__file__).resolve().parent.parent / "template.yaml").read_text()
    return dict(re.findall(r'^\s+(ARCHIVE_(?:PART_SIZE_MIB|PARTS_IN_FLIGHT|ATTEMPTS)): "(\d+)"$', template, re.MULTILINE))


def machine():
    model = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    memory = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
    return (f"{os.cpu_count()} cores ({model.group(1) if model else platform.machine()}), "
            f"{int(memory.group(1)) / 1024 / 1024:.0f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, boto3 {boto3.__version__}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bootstrap")
    parser.add_argument("--size-mib", type=int, default=200)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--batches", default="1x200,2x100,4x50", help="batch shapes for ours: COUNTxMIB,...")
    args = parser.parse_args()

    endpoint = os.environ["AWS_ENDPOINT_URL"]
    s3 = boto3.client("s3", endpoint_url=endpoint)
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    suffix = str(os.getpid())
    bucket, table = f"bench-archive-{suffix}", f"bench-events-{suffix}"
    s3.create_bucket(Bucket=bucket)
    dynamodb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}])

    size = args.size_mib * MIB
    shapes = [tuple(int(n) for n in shape.split("x")) for shape in args.batches.split(",")]
    files = {}
    plan = []
    for run in range(args.runs):
        files[f"RT{run:030d}a1"] = size
        files[f"RT{run:030d}b1"] = size
        plan.append(("ours", [(f"RT{run:030d}a1", size)]))
        plan.append(("baseline", [(f"RT{run:030d}b1", size)]))
    for count, mib in shapes:
        for who, tag in (("ours", "c1"), ("baseline", "d1")):
            jobs = [(f"RT{count:02d}{mib:04d}{i:024d}{tag}", mib * MIB) for i in range(count)]
            files.update(dict(jobs))
            plan.append((f"{who} batch {count} x {mib} MiB", jobs))

    media = fake_twilio_media.start(0, KEY_SID, KEY_SECRET, {sid: (n, "video/x-matroska") for sid, n in files.items()})
    media_base = f"http://127.0.0.1:{media.server_address[1]}"
    env = {
        "PATH": os.environ.get("PATH", ""), "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "media-archiver", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN",
        "MIMALLOC_ARENA_EAGER_COMMIT": "0", "ARCHIVE_BUCKET": bucket, "EVENTS_TABLE": table,
        "TWILIO_API_KEY_SID": KEY_SID, "TWILIO_API_KEY_SECRET": KEY_SECRET, "TWILIO_MEDIA_BASE_URL": media_base,
        # The template's settings unless the environment says otherwise (to try others).
        **{name: os.environ.get(name, value) for name, value in template_settings().items()},
    }
    prefix = f"twilio-video/{ACCOUNT}/{ROOM}/"
    results = {}
    for who, jobs in plan:
        baseline = who.startswith("baseline")
        if baseline:
            seconds, peak, cpu = run_baseline(media_base, bucket, jobs, f"baseline/{prefix}")
        else:
            seconds, peak, cpu = run_ours(args.bootstrap, env, jobs)
        total = sum(n for _, n in jobs)
        for sid, n in jobs:
            key = f"{'baseline/' if baseline else ''}{prefix}{sid}.mkv"
            recorded = check(s3, bucket, key, sid, n)
            assert recorded == fake_twilio_media.sha256_of(sid, n), (key, recorded)
        results.setdefault(who, []).append((total / MIB / seconds, peak, cpu / (total / 1024 / MIB)))
        print(f"  {who:<22} {total / MIB:6.0f} MiB in {seconds:5.2f} s: {total / MIB / seconds:6.1f} MiB/s, "
              f"peak RSS {peak:5.1f} MiB, CPU {cpu:4.2f} s", flush=True)

    ours = statistics.median(r[0] for r in results["ours"])
    base = statistics.median(r[0] for r in results["baseline"])
    print(f"machine: {machine()}")
    def cpu(who):
        return statistics.median(r[2] for r in results[who])

    print(f"archive {args.size_mib} MiB through moto, median of {args.runs}: ours {ours:.1f} MiB/s "
          f"(peak RSS {max(r[1] for r in results['ours']):.1f} MiB, {cpu('ours'):.2f} CPU s/GiB), "
          f"boto3 transfer manager {base:.1f} MiB/s (peak RSS {max(r[1] for r in results['baseline']):.1f} MiB, "
          f"{cpu('baseline'):.2f} CPU s/GiB): {ours / base:.2f}x")
    for count, mib in shapes:
        mine, theirs = results[f"ours batch {count} x {mib} MiB"][0], results[f"baseline batch {count} x {mib} MiB"][0]
        print(f"archive batch of {count} x {mib} MiB: ours {mine[0]:.1f} MiB/s (peak RSS {mine[1]:.1f} MiB, "
              f"{mine[2]:.2f} CPU s/GiB), boto3 one after the other {theirs[0]:.1f} MiB/s (peak RSS {theirs[1]:.1f} MiB): "
              f"{mine[0] / theirs[0]:.2f}x")
    print(f"fake Twilio: {fake_twilio_media.Media.counts}")
    assert fake_twilio_media.Media.counts["leaked_credentials"] == 0


if __name__ == "__main__":
    main()
