"""A second Twilio account for run-local.sh: its signing keys and sample callbacks.

`python3 scripts/second_account.py keys` prints the TWILIO_SIGNING_KEYS document of both local accounts
(the samples' account with the samples' token, and a second one with its own token and a shared key);
`python3 scripts/second_account.py events DIR` writes into DIR the second account's sample callbacks, each
file named for what the receiver must answer: signed with its own token or its shared key (200), and one
signed with the first account's token (403: a token of one account never verifies another's callback).
Every secret here is a clearly fake local value, like the samples' token.
"""

import base64
import hashlib
import hmac
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_events as samples  # noqa: E402

FIRST = "AC00000000000000000000000000000001"
SECOND = "AC00000000000000000000000000000002"
SECOND_TOKEN = "local-fake-second-account-token-not-a-secret"
SECOND_KEY, SECOND_SECRET = "KSlocal0000000000000000000000002", "local-fake-shared-key-not-a-secret"
ROOM = "RM00000000000000000000000000000002"


def keys():
    return {
        FIRST: {"auth_tokens": [samples.FAKE_TOKEN]},
        SECOND: {"auth_tokens": [SECOND_TOKEN], "shared_keys": {SECOND_KEY: SECOND_SECRET}},
    }


def second(params):
    """A sample callback moved into the second account's own room."""
    return {name: {FIRST: SECOND, samples.ROOM: ROOM}.get(value, value) if name in ("AccountSid", "RoomSid")
            else value for name, value in params.items()}


def event(params, signature, settings=None):
    built = samples.http_api_event(params, signature=signature)
    if settings:
        built["headers"]["x-twilio-webhooks-signature-settings"] = settings
    return built


def sha256(url, params):
    data = url + "".join(name + value for name, value in sorted(params.items()))
    return base64.b64encode(hmac.new(SECOND_SECRET.encode(), data.encode(), hashlib.sha256).digest()).decode()


def events():
    url = f"https://{samples.DOMAIN}{samples.PATH}"
    created = second(samples.room("room-created", "2026-11-27T10:00:00.000Z"))
    connected = second(samples.participant("participant-connected", "2026-11-27T10:00:05.000Z", samples.A, 1))
    ended = second(samples.room("room-ended", "2026-11-27T10:30:00.000Z", status="completed", seq=2,
                                RoomDuration="1800"))
    wrong = dict(created, RoomName="written-with-the-first-accounts-token")
    return {
        "second-room-created-200.json": event(created, samples.sign(url, list(created.items()), SECOND_TOKEN)),
        "second-participant-connected-shared-key-200.json": event(
            connected, sha256(url, connected), f"key={SECOND_KEY},algorithm=HMAC_SHA256"),
        "second-room-ended-200.json": event(ended, samples.sign(url, list(ended.items()), SECOND_TOKEN)),
        "second-signed-by-first-account-403.json": event(wrong, samples.sign(url, list(wrong.items()))),
    }


def main():
    if sys.argv[1:2] == ["keys"]:
        print(json.dumps(keys()))
        return 0
    if sys.argv[1:2] == ["events"] and len(sys.argv) == 3:
        out = pathlib.Path(sys.argv[2])
        out.mkdir(parents=True, exist_ok=True)
        for name, built in events().items():
            (out / name).write_text(json.dumps(built, indent=2) + "\n")
            print(out / name)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
