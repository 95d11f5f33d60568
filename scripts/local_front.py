#!/usr/bin/env python3
"""A local stand-in for API Gateway's HTTP API in front of `cargo lambda watch`, for scripts/run-local.sh.

`cargo lambda watch` serves Lambda's Invoke API, not HTTP. This turns each HTTP request into the payload
2.0 event API Gateway would send (method, path, query, headers, the body base64-encoded), invokes the
function through that API, and answers with the statusCode, headers and body the function returned. The
same URL is then where a client sends and what it signs, as with the deployed API.

Usage: local_front.py PORT INVOKE_PORT FUNCTION   (prints "ready" once it listens)
"""
import base64
import http.server
import json
import sys
import time
import urllib.error
import urllib.request


def handler(invoke_url):
    class Front(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            host = self.headers.get("Host", "127.0.0.1")
            event = {
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": path,
                "rawQueryString": query,
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "requestContext": {
                    "accountId": "123456789012", "apiId": "local", "domainName": host,
                    "domainPrefix": "local", "requestId": f"local-{time.time_ns()}", "routeKey": "$default",
                    "stage": "$default", "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                    "timeEpoch": int(time.time() * 1000),
                    "http": {"method": self.command, "path": path, "protocol": "HTTP/1.1",
                             "sourceIp": self.client_address[0],
                             "userAgent": self.headers.get("User-Agent", "")},
                },
                "body": base64.b64encode(body).decode(),
                "isBase64Encoded": True,
            }
            request = urllib.request.Request(invoke_url, data=json.dumps(event).encode(), method="POST")
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    answer = json.load(response)
            except (urllib.error.URLError, ValueError) as err:
                return self._reply(502, json.dumps({"error": f"invoke failed: {err}"}).encode(), {})
            payload = answer.get("body") or ""
            payload = base64.b64decode(payload) if answer.get("isBase64Encoded") else payload.encode()
            self._reply(int(answer.get("statusCode", 502)), payload, answer.get("headers") or {})

        def _reply(self, status, body, headers):
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET = do_PUT = do_DELETE = _any

    return Front


def main():
    port, invoke_port, function = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    invoke_url = f"http://127.0.0.1:{invoke_port}/2015-03-31/functions/{function}/invocations"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler(invoke_url))
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
