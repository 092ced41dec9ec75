"""A counting HTTP proxy for benchmarks and tests: forwards every request to UPSTREAM
unchanged and counts it, by AWS service (from the SigV4 credential scope) and operation
(X-Amz-Target, a query-protocol body's Action, or a REST call's method, path shape and query
keys), or, for a Docker Registry, by method and endpoint kind. A request the upstream answered
with a throttling error is counted again under `throttled:` and its key, so that a check of
what a client chose to send can subtract the retries the rate limits forced. GET /__counts
returns the counts as JSON; DELETE /__counts resets them.

    python bench/count_proxy.py PORT UPSTREAM_URL
"""

import http.client
import json
import re
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

PORT = int(sys.argv[1])
UPSTREAM = urlsplit(sys.argv[2])
COUNTS: Counter = Counter()
LOCK = threading.Lock()
SCOPE = re.compile(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/aws4_request")
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z0-9]+)")
WORD = re.compile(r"^[a-z]*$")
THROTTLED = re.compile(rb"Throttl|TooManyRequests|SlowDown|PriorRequestNotComplete|RequestLimitExceeded")


def key(method: str, path: str, headers, body) -> str:
    m = SCOPE.search(headers.get("Authorization", ""))
    if m:
        target = headers.get("X-Amz-Target", "")
        op = target.rsplit(".", 1)[-1] if target else ""
        # Query-protocol services (ELBv2, EC2, IAM, RDS, ...) name the operation in the body.
        if not op and body and "x-www-form-urlencoded" in headers.get("Content-Type", ""):
            a = ACTION.search(body)
            op = a.group(1).decode() if a else ""
        # REST services (Route 53, S3, CloudFront): the method, the path with every segment
        # that is not a plain word (an id, a name, a date) as `*`, and the query's keys.
        if not op:
            parts = urlsplit(path)
            segments = ["*" if not WORD.match(p) else p for p in parts.path.split("/")]
            keys = sorted({q.split("=", 1)[0] for q in parts.query.split("&") if q})
            op = f"{method} {'/'.join(segments)}" + (f"?{'&'.join(keys)}" if keys else "")
        return f"aws:{m.group(1)}" + (f":{op}" if op else "")
    kind = "other"
    if path.startswith("/v2/"):
        kind = "manifests" if "/manifests/" in path else "blobs" if "/blobs/" in path else "v2"
    return f"registry:{method}:{kind}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _forward(self):
        if self.path == "/__counts":
            with LOCK:
                body = json.dumps(dict(COUNTS)).encode()
                if self.command == "DELETE":
                    COUNTS.clear()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
        counted = key(self.command, self.path, self.headers, body)
        with LOCK:
            COUNTS[counted] += 1
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if body is not None:
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status in (400, 429, 503) and THROTTLED.search(data[:2048]):
            with LOCK:
                COUNTS[f"throttled:{counted}"] += 1
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
