#!/usr/bin/env python3
"""Writes the sample API Gateway events in events/, each signed as Twilio would sign it.

The samples tell the story of one room (RM...0001): it is created, two participants join, publish,
record, leave; the room ends; a Composition Hook composes it. Every body is built from the parameters of
Twilio's Status Callbacks specification and signed with a clearly fake local token, FAKE_TOKEN below,
which events/env.json also carries. Nothing here is a secret.

    python3 scripts/make_events.py          # rewrite events/
    python3 scripts/make_events.py --check  # exit 1 if events/ differs from what this writes

This script is independent of the Rust code on purpose: its HMAC comes from Python's standard library,
so the receiver accepting these samples cross-checks two implementations of Twilio's algorithm.
"""
import base64
import hashlib
import hmac
import json
import sys
import urllib.parse
from pathlib import Path

FAKE_TOKEN = "local-fake-auth-token-not-a-secret"
DOMAIN = "abc123defg.execute-api.us-east-1.amazonaws.com"
PATH = "/twilio/video"
EVENTS = Path(__file__).resolve().parent.parent / "events"

ACCOUNT = "AC" + "0" * 31 + "1"
ROOM = "RM" + "0" * 31 + "1"
ALICE = "PA" + "0" * 31 + "1"
BOB = "PA" + "0" * 31 + "2"
ALICE_MIC = "MT" + "0" * 31 + "1"
ALICE_CAM = "MT" + "0" * 31 + "2"
BOB_MIC = "MT" + "0" * 31 + "3"
REC_MIC = "RT" + "0" * 31 + "1"
REC_CAM = "RT" + "0" * 31 + "2"
REC_BOB = "RT" + "0" * 31 + "3"
HOOK = "HK" + "0" * 31 + "1"
COMP = "CJ" + "0" * 31 + "1"
COMP_FAILED = "CJ" + "0" * 31 + "2"


def room(event, ts, status="in-progress", seq=0, **extra):
    params = {
        "AccountSid": ACCOUNT,
        "RoomName": "daily-standup",
        "RoomSid": ROOM,
        "RoomStatus": status,
        "RoomType": "group",
        "StatusCallbackEvent": event,
        "Timestamp": ts,
        "SequenceNumber": str(seq),
    }
    params.update(extra)
    return params


def participant(event, ts, who, seq, status="connected", **extra):
    sid, identity = who
    return room(event, ts, seq=seq, ParticipantSid=sid, ParticipantStatus=status,
                ParticipantIdentity=identity, **extra)


def track(event, ts, who, track_sid, kind, seq, **extra):
    return participant(event, ts, who, seq, TrackSid=track_sid, TrackKind=kind, **extra)


def recording(event, ts, who, rec, source, kind, **extra):
    sid, identity = who
    audio = kind == "audio"
    params = {
        "AccountSid": ACCOUNT,
        "RecordingSid": rec,
        "Timestamp": ts,
        "StatusCallbackEvent": event,
        "RoomSid": ROOM,
        "RoomName": "daily-standup",
        "RoomType": "group",
        "ParticipantSid": sid,
        "ParticipantIdentity": identity,
        "SourceSid": source,
        "RecordingUri": f"/v1/Recordings/{rec}",
        "Container": "mka" if audio else "mkv",
        "Codec": "OPUS" if audio else "VP8",
        "TrackName": "microphone" if audio else "camera",
        "OffsetFromTwilioVideoEpoch": "1795770000000",
        "Type": kind,
    }
    params.update(extra)
    return params


def composition(event, ts, comp=COMP, **extra):
    params = {"AccountSid": ACCOUNT, "RoomSid": ROOM, "StatusCallbackEvent": event, "Timestamp": ts}
    if comp:
        params.update(CompositionSid=comp, CompositionUri=f"/v1/Compositions/{comp}")
    params.update(extra)
    return params


A = (ALICE, "alice")
B = (BOB, "bob")
HOOK_PARAMS = {"HookSid": HOOK, "HookUri": f"/v1/CompositionHooks/{HOOK}",
               "HookFriendlyName": "standup-grid"}

SAMPLES = {
    "room-created": room("room-created", "2026-11-27T09:00:00.000Z"),
    "participant-connected": participant("participant-connected", "2026-11-27T09:00:04.120Z", A, 1),
    "track-added": track("track-added", "2026-11-27T09:00:04.870Z", A, ALICE_MIC, "audio", 2),
    "recording-started": recording("recording-started", "2026-11-27T09:00:05.010Z", A, REC_MIC,
                                   ALICE_MIC, "audio"),
    "track-disabled": track("track-disabled", "2026-11-27T09:03:10.500Z", A, ALICE_MIC, "audio", 5),
    "track-enabled": track("track-enabled", "2026-11-27T09:03:42.250Z", A, ALICE_MIC, "audio", 6),
    "recording-failed": recording("recording-failed", "2026-11-27T09:04:00.000Z", B, REC_BOB, BOB_MIC,
                                  "audio", FailedOperation="RecordingUpload"),
    "track-removed": track("track-removed", "2026-11-27T09:14:58.400Z", A, ALICE_CAM, "video", 9),
    "participant-disconnected": participant("participant-disconnected", "2026-11-27T09:15:00.000Z", A,
                                            10, status="disconnected", ParticipantDuration="896"),
    "recording-completed": recording("recording-completed", "2026-11-27T09:15:02.300Z", A, REC_CAM,
                                     ALICE_CAM, "video", MediaUri=f"/v1/Recordings/{REC_CAM}/Media",
                                     Duration="893", Size="48213399"),
    "room-ended": room("room-ended", "2026-11-27T09:20:00.000Z", status="completed", seq=12,
                       RoomDuration="1200"),
    "composition-enqueued": composition("composition-enqueued", "2026-11-27T09:20:01.000Z",
                                        **HOOK_PARAMS),
    "composition-started": composition("composition-started", "2026-11-27T09:20:03.000Z"),
    "composition-progress": composition("composition-progress", "2026-11-27T09:21:03.000Z",
                                        PercentageDone="40", SecondsRemaining="90"),
    "composition-available": composition("composition-available", "2026-11-27T09:23:30.000Z",
                                         MediaUri=f"/v1/Compositions/{COMP}/Media", Duration="1195",
                                         Size="187654321"),
    "composition-failed": composition("composition-failed", "2026-11-27T09:24:00.000Z", comp=COMP_FAILED,
                                      FailedOperation="CompositionMediaProcessing",
                                      ErrorMessage="No media available for the requested time range"),
    "composition-hook-failed": composition("composition-hook-failed", "2026-11-27T09:24:30.000Z",
                                           comp=None, FailedOperation="CompositionCreate",
                                           ErrorMessage="Room has no recordings", **HOOK_PARAMS),
}


def sign(url, params, token=FAKE_TOKEN):
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def http_api_event(params, *, content_type="application/x-www-form-urlencoded",
                   signature=None, body=None, method="POST", request_id="sample"):
    pairs = list(params.items())
    url = f"https://{DOMAIN}{PATH}"
    form = urllib.parse.urlencode(pairs)
    headers = {
        "content-length": str(len(form)),
        "content-type": content_type,
        "host": DOMAIN,
        "i-twilio-idempotency-token": hashlib.sha256(form.encode()).hexdigest()[:36],
        "user-agent": "TwilioProxy/1.1",
        "x-amzn-trace-id": "Root=1-6926d4a0-000000000000000000000000",
        "x-forwarded-for": "54.172.60.1",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "x-twilio-signature": signature if signature is not None else sign(url, pairs),
    }
    return {
        "version": "2.0",
        "routeKey": "POST " + PATH,
        "rawPath": PATH,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": DOMAIN.split(".")[0],
            "domainName": DOMAIN,
            "domainPrefix": DOMAIN.split(".")[0],
            "http": {"method": method, "path": PATH, "protocol": "HTTP/1.1", "sourceIp": "54.172.60.1",
                     "userAgent": "TwilioProxy/1.1"},
            "requestId": request_id,
            "routeKey": "POST " + PATH,
            "stage": "$default",
            "time": "27/Nov/2026:09:00:00 +0000",
            "timeEpoch": 1795770000000,
        },
        "body": body if body is not None else base64.b64encode(form.encode()).decode(),
        "isBase64Encoded": True,
    }


def rest_api_event(params, stage="prod"):
    pairs = list(params.items())
    url = f"https://{DOMAIN}/{stage}{PATH}"
    form = urllib.parse.urlencode(pairs)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Host": DOMAIN,
               "User-Agent": "TwilioProxy/1.1", "X-Twilio-Signature": sign(url, pairs)}
    return {
        "resource": PATH,
        "path": PATH,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012", "resourceId": "a1b2c3", "stage": stage,
            "domainName": DOMAIN, "domainPrefix": DOMAIN.split(".")[0], "requestId": "rest-sample",
            "identity": {"sourceIp": "54.172.60.1", "userAgent": "TwilioProxy/1.1"},
            "resourcePath": PATH, "path": f"/{stage}{PATH}", "httpMethod": "POST",
            "requestTime": "27/Nov/2026:09:00:00 +0000", "requestTimeEpoch": 1795770000000,
            "protocol": "HTTP/1.1", "apiId": DOMAIN.split(".")[0],
        },
        "body": form,
        "isBase64Encoded": False,
    }


def all_events():
    """File name -> event. A name ending in -NNN promises that status; the others promise 200."""
    events = {f"{name}.json": http_api_event(params, request_id=name) for name, params in SAMPLES.items()}
    created = SAMPLES["room-created"]
    events["rest-api-room-created.json"] = rest_api_event(created)
    unknown = room("room-recording-paused", "2026-11-27T09:05:00.000Z", seq=7)
    events["unknown-event.json"] = http_api_event(unknown, request_id="unknown-event")
    events["bad-signature-403.json"] = http_api_event(
        created, signature=sign("https://" + DOMAIN + PATH, list(created.items()), "not-the-token"))
    events["missing-signature-403.json"] = http_api_event(created, signature="")
    events["wrong-content-type-415.json"] = http_api_event(created, content_type="application/json")
    events["get-method-405.json"] = http_api_event(created, method="GET")
    events["bad-base64-400.json"] = http_api_event(created, body="this is %%% not base64")
    # Signed but breaking the specification's tables: kept with a parse_error (200, outcome malformed).
    no_room = {k: v for k, v in created.items() if k != "RoomSid"}
    events["missing-room-sid.json"] = http_api_event(no_room)
    env = {"CallbackReceiver": {
        "TWILIO_AUTH_TOKEN": FAKE_TOKEN,
        "EVENTS_TABLE": "twilio-video-events",
        "MEDIA_QUEUE_URL": "http://host.docker.internal:5000/123456789012/twilio-video-media",
        "AWS_ENDPOINT_URL": "http://host.docker.internal:5000",
        "RUST_LOG": "info",
    }}
    events["env.json"] = env
    return {name: json.dumps(event, indent=2) + "\n" for name, event in events.items()}


def main():
    check = "--check" in sys.argv[1:]
    wanted = all_events()
    present = {p.name for p in EVENTS.glob("*.json")}
    stale = sorted(present - set(wanted))
    differ = sorted(n for n, text in wanted.items()
                    if not (EVENTS / n).exists() or (EVENTS / n).read_text() != text)
    if check:
        if stale or differ:
            print(f"events/ is out of date (differs: {differ}, not generated: {stale}); "
                  "run python3 scripts/make_events.py", file=sys.stderr)
            return 1
        print(f"events/ matches scripts/make_events.py ({len(wanted)} files)")
        return 0
    EVENTS.mkdir(exist_ok=True)
    for name in stale:
        (EVENTS / name).unlink()
    for name, text in wanted.items():
        (EVENTS / name).write_text(text)
    print(f"wrote {len(wanted)} files to {EVENTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
