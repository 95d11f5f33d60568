"""What scripts/cold_start.py and scripts/bench_archiver.py share: the plumbing of a local Lambda Runtime API
(each script adds its own GET next / POST response routes), and reading a process's peak memory."""
import http.server
import re
import socket
from pathlib import Path


class Handler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1, quiet, and without Nagle's delay: headers and body go out as separate writes, and Nagle's
    algorithm with the client's delayed ACK would add 40 ms to every exchange, which is the emulator's
    doing, not the function's."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _reply(self, status, body=b"", headers=None):
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the run is over and the process was killed


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # connections reset by a killed process, at the end of each run


def peak_rss_kib(pid):
    """The process's peak resident memory (VmHWM, KiB), read while it runs. Not the rusage of the child:
    Linux counts in it the parent's memory at the moment of the fork (the harness's own)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1))
