#!/usr/bin/env python3
"""A local stand-in for Twilio's media endpoints, for the local run and the archiver benchmark.

    GET /v1/Recordings/{Sid}/Media, GET /v1/Compositions/{Sid}/Media
        with HTTP Basic auth of the API key: 302 to a short-lived file URL (`Location`, and `redirect_to` in
        the JSON body, as Twilio answers); 401 without the key; 404 for a SID it does not serve.
    GET /files/{Sid}?token=N&Expires=T
        the file (never with credentials: a request carrying `Authorization` is counted as a leak), 403
        once its URL has expired (`TTL` seconds after it was handed out, 600 by default as at Twilio).

Each file is `size` bytes of a pattern derived from its SID (so its SHA-256 can be checked), served as it
is generated, in 1 MiB blocks.

    POST /fake/encrypted/{Sid}   {"size": N, "content_type": "...", "public_key_pem": "..."}   (local only)
        adds a file served as Twilio serves one with stored-media encryption on: the pattern of `size` bytes
        encrypted with a one-time AES-256 key (AES/CBC/PKCS5Padding), that key wrapped with the RSA public
        key (PKCS#1 v1.5), the envelope in the file's headers (`x-amz-meta-x-amz-key`, `x-amz-meta-x-amz-iv`,
        `x-amz-meta-x-amz-matdesc`, `x-amz-meta-x-amz-unencrypted-content-length`, as TWILIO-FACTS.md
        describes). Answers the plaintext's and the ciphertext's SHA-256 and sizes. Needs `cryptography`.

Run it on its own:

    fake_twilio_media.py PORT KEY_SID KEY_SECRET SID=SIZE[:CONTENT_TYPE] ...

and it prints `ready` once listening. Or import it and call `start(...)`.
"""
import base64
import hashlib
import os
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
    encrypted = {}  # SID -> (ciphertext, envelope headers)
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
            if parts[1] in Media.encrypted:
                ciphertext, envelope = Media.encrypted[parts[1]]
                self.send_response(200)
                for name, value in envelope.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(ciphertext)))
                self.end_headers()
                self.wfile.write(ciphertext)
                return None
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

    def do_POST(self):
        parts = urlsplit(self.path).path.strip("/").split("/")
        if len(parts) != 3 or parts[:2] != ["fake", "encrypted"]:
            return self._json(404, {"message": "not found"})
        spec = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        plaintext = pattern_of(parts[2], spec["size"])
        ciphertext, envelope = encrypt(plaintext, spec["public_key_pem"].encode())
        with Media.lock:
            Media.files[parts[2]] = (spec["size"], spec.get("content_type", "application/octet-stream"))
            Media.encrypted[parts[2]] = (ciphertext, envelope)
        return self._json(200, {"sha256": hashlib.sha256(plaintext).hexdigest(), "size": len(plaintext),
                                "ciphertext_sha256": hashlib.sha256(ciphertext).hexdigest(),
                                "ciphertext_size": len(ciphertext)})


def pattern_of(sid, size):
    """The bytes served for `sid` of `size` bytes."""
    pattern = block(sid)
    whole, rest = divmod(size, BLOCK)
    return pattern * whole + pattern[:rest]


def encrypt(plaintext, public_key_pem):
    """Twilio's stored-media encryption: AES-256-CBC with PKCS#7 padding under a one-time key and IV, the
    key wrapped with the RSA public key (PKCS#1 v1.5); returns the ciphertext and the envelope headers."""
    from cryptography.hazmat.primitives import padding, serialization
    from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key, iv = os.urandom(32), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    wrapped = serialization.load_pem_public_key(public_key_pem).encrypt(key, rsa_padding.PKCS1v15())
    return ciphertext, {
        "x-amz-meta-x-amz-key": base64.b64encode(wrapped).decode(),
        "x-amz-meta-x-amz-iv": base64.b64encode(iv).decode(),
        "x-amz-meta-x-amz-matdesc": "{}",
        "x-amz-meta-x-amz-unencrypted-content-length": str(len(plaintext)),
    }


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
