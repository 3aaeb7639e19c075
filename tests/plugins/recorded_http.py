"""A real HTTP server for contract tests of HTTP sources against recorded response bodies.

Loki, Tempo and Jaeger cannot run on the test machines, so their sources are tested
against the real response bodies in ``shared/data`` served by this small threaded
``http.server`` on a free port. Routes map a path (regex, full match) and optional query
parameters (regex, full match per value) to a recorded file or bytes, a status code, a
delay, a truncated body or a dynamic handler; requests are recorded for assertions.

Fixtures:

``recorded_http``  a started :class:`RecordedServer` (function scope)
``recorded_https`` the same over TLS, its certificate signed by ``tls_certs["ca"]``
``tls_certs``      a private CA and server certificate made with openssl (session scope)
``dead_url``       ``http://127.0.0.1:<port>`` where nothing listens
``shared_data``    the ``shared/data`` folder (``WORKBENCH_SHARED_DATA`` or beside the repo)

Example::

    def test_loki(recorded_http, shared_data):
        recorded_http.route("/loki/api/v1/query_range",
                            file=shared_data / "api-samples/loki/.../streams_simple.json")
        recorded_http.route("/api/boom", status=503, body=b"overloaded")
        recorded_http.route("/slow", file=..., delay_s=2.0)
        recorded_http.route("/cut", file=..., truncate_at=100)
        recorded_http.route("/private", file=..., require_headers={"Authorization": "Bearer ok"})
        src = LokiSource(recorded_http.url)
        ...
        assert recorded_http.requests[-1].query["limit"] == "5000"
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.servers import free_port

__all__ = ["RecordedRequest", "RecordedServer", "Reply", "Route"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received: method, path, decoded query, headers, body."""

    method: str
    path: str
    query: dict[str, str]
    query_list: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    """What a dynamic handler returns."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Route:
    """A path + query pattern and what to answer.

    ``truncate_at``: send only that many bytes of the body, then close the connection;
    with ``declare_full_length`` (default) the Content-Length still announces the whole
    body (the client sees the connection cut mid-body), without it the cut body is all
    the client gets (it sees a complete but broken document).
    ``reset``: abort the connection with a TCP reset instead of answering.
    ``times``: answer this many times, then stop matching (the next route matches).
    """

    path: str
    query: Mapping[str, str] | None = None
    method: str = "GET"
    body: bytes = b""
    status: int = 200
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    truncate_at: int | None = None
    declare_full_length: bool = True
    require_headers: Mapping[str, str] = field(default_factory=dict)
    handler: Callable[[RecordedRequest], Reply] | None = None
    reset: bool = False
    times: int | None = None
    hits: int = 0

    def matches(self, req: RecordedRequest) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if req.method != self.method or not re.fullmatch(self.path, req.path):
            return False
        for k, pattern in (self.query or {}).items():
            if k not in req.query or not re.fullmatch(pattern, req.query[k], re.S):
                return False
        return True


class RecordedServer:
    """A threaded HTTP server answering from :class:`Route` s; see the module docstring."""

    def __init__(self, *, tls: tuple[Path, Path] | None = None) -> None:
        self.routes: list[Route] = []
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.scheme = "https" if tls else "http"
        self._httpd = _QuietServer(("127.0.0.1", self.port), _make_handler(self))
        if tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(certfile=str(tls[0]), keyfile=str(tls[1]))
            # the handshake runs in the handler thread, so a client that rejects the
            # certificate cannot stall the accept loop
            self._httpd.socket = ctx.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def route(
        self,
        path: str,
        *,
        file: str | Path | None = None,
        body: bytes | str | None = None,
        **kw: object,
    ) -> Route:
        """Add a route (first added, first matched) and return it."""
        if file is not None:
            data = Path(file).read_bytes()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body or b""
        r = Route(path=path, body=data, **kw)  # type: ignore[arg-type]
        with self._lock:
            self.routes.append(r)
        return r

    def clear(self) -> None:
        with self._lock:
            self.routes.clear()
            self.requests.clear()

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def _find(self, req: RecordedRequest) -> Route | None:
        with self._lock:
            self.requests.append(req)
            for r in self.routes:
                if r.matches(req):
                    r.hits += 1
                    return r
        return None

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class _QuietServer(ThreadingHTTPServer):
    """Does not print tracebacks of connections the client aborted (TLS refusals...)."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


def _make_handler(server: RecordedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            qlist = parse_qsl(parts.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            req = RecordedRequest(
                method=self.command,
                path=parts.path,
                query=dict(qlist),
                query_list=qlist,
                headers={k: v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            route = server._find(req)
            if route is None:
                self._send(404, b"no recorded route for " + self.path.encode(), "text/plain")
                return
            if route.delay_s:
                time.sleep(route.delay_s)
            for k, want in route.require_headers.items():
                if req.headers.get(k) != want:
                    self._send(401, b"unauthorized\n", "text/plain")
                    return
            if route.reset:  # abort with a TCP RST, no response at all
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()
                return
            if route.handler is not None:
                rep = route.handler(req)
                self._send(rep.status, rep.body, rep.content_type, rep.headers)
                return
            self._send(
                route.status,
                route.body,
                route.content_type,
                route.headers,
                truncate_at=route.truncate_at,
                declare_full=route.declare_full_length,
            )

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str,
            headers: Mapping[str, str] | None = None,
            *,
            truncate_at: int | None = None,
            declare_full: bool = True,
        ) -> None:
            sent = body if truncate_at is None else body[:truncate_at]
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if truncate_at is None or declare_full:
                self.send_header("Content-Length", str(len(body)))
            if truncate_at is not None:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            try:
                self.wfile.write(sent)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = _serve
        do_POST = _serve

    return Handler


@pytest.fixture
def recorded_http() -> Iterator[RecordedServer]:
    """A started :class:`RecordedServer` on a free port, closed after the test."""
    srv = RecordedServer()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def recorded_http_module() -> Iterator[RecordedServer]:
    """A :class:`RecordedServer` shared by a module's tests (for hypothesis tests, which
    cannot use function-scoped fixtures): call ``clear()`` before adding routes."""
    srv = RecordedServer()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A private CA and a server certificate for 127.0.0.1 signed by it (via openssl):
    ``{"ca": ca.pem, "cert": server.pem, "key": server.key}``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the openssl command is needed to make test certificates")
    d = tmp_path_factory.mktemp("tls")
    ext = d / "server.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "authorityKeyIdentifier=keyid,issuer\nsubjectKeyIdentifier=hash\n"
    )

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=d, check=True, capture_output=True)

    # a CA as real ones are made: Python 3.13 verifies strictly (VERIFY_X509_STRICT) and
    # refuses a CA certificate without keyUsage ("CA cert does not include key usage")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=workbench test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")  # fmt: skip
    return {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server.key"}


@pytest.fixture
def recorded_https(tls_certs: dict[str, Path]) -> Iterator[RecordedServer]:
    """A :class:`RecordedServer` over TLS with a certificate from ``tls_certs["ca"]``."""
    srv = RecordedServer(tls=(tls_certs["cert"], tls_certs["key"]))
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def dead_url() -> str:
    """A URL on a free port where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


def shared_data_dir() -> Path:
    """``shared/data``: ``$WORKBENCH_SHARED_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("WORKBENCH_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real data sets folder (fails, never skips, if it is missing)."""
    d = shared_data_dir()
    if not d.is_dir():
        pytest.fail(f"shared data folder {d} is missing; set WORKBENCH_SHARED_DATA")
    return d
