#!/usr/bin/env python3
"""A local stand-in for Twilio's media endpoints, for the local run and the archiver benchmark.

    GET /v1/Recordings/{Sid}/Media, GET /v1/Compositions/{Sid}/Media
        with HTTP Basic auth of the API key: 302 to a short-lived file URL (`Location`, and `redirect_to` in
        the JSON body, as Twilio answers); 401 without the key; 404 for a SID it does not serve.
    GET /files/{Sid}?token=N&Expires=T
        the file (never with credentials: a request carrying `Authorization` is counted as a leak), 403
        once its URL has expired (`TTL` seconds after it was handed out, 600 by default as at Twilio).

Each file is `size` bytes of a pattern derived from its SID (so its SHA-256 can be checked), served as it
is generated, in 1 MiB blocks. Run it on its own:

    fake_twilio_media.py PORT KEY_SID KEY_SECRET SID=SIZE[:CONTENT_TYPE] ...

and it prints `ready` once listening. Or import it and call `start(...)`.
"""
import base64
import hashlib
import http.server
import itertools
import json
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

BLOCK = 1024 * 1024
TTL = 600


def block(sid):
    """The 1 MiB block every file of `sid` repeats: SHA-256 in counter mode over the SID."""
    out = bytearray()
    for counter in itertools.count():
        if len(out) >= BLOCK:
            return bytes(out[:BLOCK])
        out += hashlib.sha256(f"{sid}:{counter}".encode()).digest()


def sha256_of(sid, size):
    """The SHA-256 of the file served for `sid` of `size` bytes, as hex."""
    pattern, digest = block(sid), hashlib.sha256()
    whole, rest = divmod(size, BLOCK)
    for _ in range(whole):
        digest.update(pattern)
    digest.update(pattern[:rest])
    return digest.hexdigest()


class Media(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    files = {}  # SID -> (size, content type)
    key = ("", "")
    counts = {"api": 0, "files": 0, "leaked_credentials": 0, "expired": 0}
    tokens = itertools.count()
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def _json(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) == 4 and parts[0] == "v1" and parts[1] in ("Recordings", "Compositions") and parts[3] == "Media":
            with Media.lock:
                Media.counts["api"] += 1
            expected = "Basic " + base64.b64encode(f"{Media.key[0]}:{Media.key[1]}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                return self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
            if parts[2] not in Media.files:
                return self._json(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
            host = self.headers.get("Host", "127.0.0.1")
            expires = int(time.time()) + TTL
            location = f"http://{host}/files/{parts[2]}?token={next(Media.tokens)}&Expires={expires}"
            return self._json(302, {"redirect_to": location}, {"Location": location})
        if len(parts) == 2 and parts[0] == "files" and parts[1] in Media.files:
            with Media.lock:
                Media.counts["files"] += 1
                if self.headers.get("Authorization"):
                    Media.counts["leaked_credentials"] += 1
            expires = int(parse_qs(url.query).get("Expires", ["0"])[0])
            if time.time() > expires:
                with Media.lock:
                    Media.counts["expired"] += 1
                return self._json(403, {"message": "Request has expired"})
            size, content_type = Media.files[parts[1]]
            pattern = block(parts[1])
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            sent = 0
            try:
                while sent < size:
                    n = min(BLOCK, size - sent)
                    self.wfile.write(pattern[:n] if n < BLOCK else pattern)
                    sent += n
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        return self._json(404, {"message": "not found"})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def start(port, key_sid, key_secret, files):
    """Serves `files` ({SID: (size, content type)}) on 127.0.0.1:`port` (0: any) in a thread; returns the
    server (its `server_address[1]` is the port)."""
    Media.files = dict(files)
    Media.key = (key_sid, key_secret)
    server = Server(("127.0.0.1", port), Media)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    port, key_sid, key_secret, *specs = sys.argv[1:]
    files = {}
    for spec in specs:
        sid, rest = spec.split("=", 1)
        size, _, content_type = rest.partition(":")
        files[sid] = (int(size), content_type or "application/octet-stream")
    start(int(port), key_sid, key_secret, files)
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
