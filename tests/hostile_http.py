"""Small real-HTTP servers on loopback for the hardening tests (issue 15).

:class:`HostileHttp` runs a ``ThreadingHTTPServer`` on a free port whose behaviour is
picked per request path prefix:

==============  ===========================================================================
path starts     what the client gets
==============  ===========================================================================
``/echo``       HTTP 400 with a JSON error that echoes every request header, the query
                string, base64 of the headers and the URL-encoded ones, after 3,000
                characters of padding (so clipping would cut the echo in half)
``/echo500``    the same, as a plain-text 502 (retried, then ``SourceUnavailable``)
``/drip``       a 200 answer whose body arrives one byte every ``drip_s`` seconds
``/stall``      headers of a 200 answer, then nothing
``/bomb``       a gzip body that expands to ``bomb_mb`` MB of zeros (``Content-Encoding:
                gzip``), sent whether or not gzip was asked for
``/brotli``     a body labelled ``Content-Encoding: br`` (never asked for)
``/deep``       a JSON answer nested ``depth`` levels deep
``/busy``       HTTP 429 (or 503) with ``Retry-After: 1`` ``busy_times`` times, then a
                valid Prometheus answer
``/api/v1``     a valid, empty Prometheus answer
==============  ===========================================================================

Example::

    with HostileHttp() as srv:
        src = PrometheusSource(srv.url + "/drip", timeout=1)
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EMPTY_PROM = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _route(self) -> str:
        path = urllib.parse.urlsplit(self.path).path
        prefix = self.server.owner.prefix
        if prefix and path.startswith(prefix):
            path = path[len(prefix) :]
        return path

    def do_POST(self) -> None:
        n = int(self.headers.get("content-length") or 0)
        self.rfile.read(n)
        self.do_GET()

    def do_GET(self) -> None:
        owner = self.server.owner
        owner.requests += 1
        owner.seen_headers.append(dict(self.headers))
        mode = owner.mode
        with contextlib.suppress(OSError):  # the client went away
            getattr(self, f"_{mode}")()

    def _send(self, code: int, body: bytes, ctype: str = "application/json", **hdr: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in hdr.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        self.wfile.write(body)

    def _echo_text(self) -> str:
        headers = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        b64 = base64.b64encode(headers.encode()).decode()
        quoted = urllib.parse.quote(headers)
        return (
            "x" * 3000 + f" request {self.command} {self.path}\n{headers}\nb64:{b64}\nurl:{quoted}"
        )

    def _echo(self) -> None:
        body = {"status": "error", "errorType": "bad_data", "error": self._echo_text()}
        self._send(400, json.dumps(body).encode())

    def _echo500(self) -> None:
        self._send(502, self._echo_text().encode(), "text/plain")

    def _echo401(self) -> None:
        self._send(401, self._echo_text().encode(), "text/plain")

    def _drip(self) -> None:
        body = EMPTY_PROM * 50
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        for i in range(len(body)):
            if self.server.owner.stopping.is_set():
                return
            self.wfile.write(body[i : i + 1])
            self.wfile.flush()
            time.sleep(self.server.owner.drip_s)

    def _stall(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.flush()
        self.server.owner.stopping.wait(60)

    def _blackhole(self) -> None:
        self.server.owner.stopping.wait(60)

    def _bomb(self) -> None:
        self._send(200, self.server.owner.bomb_body(), Content_Encoding="gzip")

    def _brotli(self) -> None:
        self._send(200, b"\x0b\x02\x80not-really-brotli", Content_Encoding="br")

    def _deep(self) -> None:
        d = self.server.owner.depth
        body = b'{"status":"success","data":' + b'{"a":' * d + b"1" + b"}" * d + b"}"
        self._send(200, body)

    def _busy(self) -> None:
        owner = self.server.owner
        if owner.busy_left > 0:
            owner.busy_left -= 1
            owner.busy_times_at.append(time.monotonic())
            self._send(owner.busy_status, b'{"status":"error","error":"slow down"}',
                       Retry_After=str(owner.retry_after))  # fmt: skip
            return
        self._send(200, EMPTY_PROM)

    def _ok(self) -> None:
        self._send(200, EMPTY_PROM)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: HostileHttp


class HostileHttp:
    """A loopback HTTP server whose misbehaviour is set with :attr:`mode`."""

    def __init__(self, mode: str = "ok", *, prefix: str = "") -> None:
        self.mode = mode
        self.prefix = prefix
        self.drip_s = 0.2
        self.depth = 2000
        self.bomb_mb = 200
        self.busy_left = 0
        self.busy_status = 429
        self.retry_after = "1"
        self.busy_times_at: list[float] = []
        self.requests = 0
        self.seen_headers: list[dict[str, str]] = []
        self.stopping = threading.Event()
        self._bomb: bytes | None = None
        self._srv = _Server(("127.0.0.1", 0), _Handler)
        self._srv.owner = self
        self.port = self._srv.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)

    def bomb_body(self) -> bytes:
        if self._bomb is None:
            chunk = b"\0" * (1 << 20)
            buf = gzip.compress(b"", 9)
            import io

            out = io.BytesIO()
            with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
                for _ in range(self.bomb_mb):
                    gz.write(chunk)
            buf = out.getvalue()
            self._bomb = buf
        return self._bomb

    def __enter__(self) -> HostileHttp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._srv.shutdown()
        with contextlib.suppress(OSError):
            self._srv.server_close()
