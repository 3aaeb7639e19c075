"""A small fault-injecting TCP proxy for failure tests against real servers (issue 8).

:class:`FaultProxy` listens on a free port on 127.0.0.1 and relays every connection to a
real server (Prometheus, VictoriaMetrics, Alertmanager, PostgreSQL). Its behaviour is
switched at runtime with :meth:`FaultProxy.set`:

==============  ==============================================================================
mode            what the client sees
==============  ==============================================================================
``pass``        the real server, byte for byte
``delay``       every client message waits ``delay_s`` before it is forwarded (a slow server)
``cut``         the response is closed (FIN) after ``after_bytes`` bytes from the server
``truncate``    HTTP: headers and ``after_bytes`` body bytes, then the connection closes
``reset``       the connection is reset (RST) instead of forwarding the message
``blackhole``   the message is swallowed; nothing ever comes back (until the proxy stops)
``status``      HTTP: the proxy itself answers ``status`` (a load balancer's 503, say)
``kill``        every connection is cut and the listener closes: the server "died"
==============  ==============================================================================

``pass_first=k`` lets the first ``k`` client messages (HTTP: requests) after :meth:`set`
through untouched before the fault applies -- "the server died in the middle of a chunked
query". The proxy counts connections and HTTP requests it saw (``requests``), so tests can
check that retries are bounded. With ``tls=(cert, key)`` it terminates TLS towards the
client (to test an unknown CA in front of a real server). Everything is bounded: sockets
time out, threads are daemons, and the proxy stops itself after ``lifetime_s``.

Example::

    with FaultProxy(("127.0.0.1", prom.port)) as proxy:
        src = PrometheusSource(proxy.url, retries=1)
        proxy.set("reset")
        with pytest.raises(SourceUnavailable):
            src.query("up")
        assert proxy.requests == 2   # one try + one retry, no more
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import time
from pathlib import Path
from typing import Literal

__all__ = ["FaultProxy", "Mode"]

Mode = Literal["pass", "delay", "cut", "truncate", "reset", "blackhole", "status", "kill"]
MODES = ("pass", "delay", "cut", "truncate", "reset", "blackhole", "status", "kill")
_METHODS = (b"GET ", b"POST ", b"PUT ", b"DELETE ", b"HEAD ", b"OPTIONS ", b"PATCH ")


def _rst(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP reset."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class _Conn:
    """One client connection and its upstream connection."""

    def __init__(self, proxy: FaultProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.budget: int | None = None  # response bytes still allowed (cut/truncate)
        self.body_only = False  # truncate: count only bytes after the header end
        self.header_seen = b""
        self.lock = threading.Lock()
        self.closed = False

    def close(self, *, reset: bool = False) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        (_rst if reset else _close)(self.client)
        if self.upstream is not None:
            _close(self.upstream)

    # client -> upstream -----------------------------------------------------------------
    def run(self) -> None:
        p = self.proxy
        try:
            self.client.settimeout(p.idle_timeout_s)
            if p.tls is not None:
                self.client = p.tls.wrap_socket(self.client, server_side=True)
            self.upstream = socket.create_connection(p.target, timeout=p.idle_timeout_s)
            threading.Thread(target=self._pump_back, daemon=True).start()
            while not self.closed and not p.stopped.is_set():
                data = self.client.recv(65536)
                if not data:
                    break
                if not self._forward(data):
                    return
        except (OSError, ssl.SSLError):
            pass
        finally:
            if not self.proxy._holding(self):
                self.close()

    def _forward(self, data: bytes) -> bool:
        p = self.proxy
        fault = p._next_fault(data)
        mode = fault["mode"]
        if mode == "reset":
            self.close(reset=True)
            return False
        if mode == "blackhole":
            p._hold(self)
            return False
        if mode == "kill":
            p._kill()
            return False
        if mode == "status":
            code = int(fault["status"])
            body = b'{"status":"error","errorType":"unavailable","error":"fault proxy"}'
            head = (
                f"HTTP/1.1 {code} Fault Proxy\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            self.client.sendall(head + body)
            self.close()
            return False
        if mode == "delay":
            if p.stopped.wait(float(fault["delay_s"])):
                return False
        elif mode in ("cut", "truncate") and self.budget is None:
            self.budget = int(fault["after_bytes"])
            self.body_only = mode == "truncate"
        assert self.upstream is not None
        self.upstream.sendall(data)
        return True

    # upstream -> client -----------------------------------------------------------------
    def _pump_back(self) -> None:
        try:
            assert self.upstream is not None
            while not self.closed and not self.proxy.stopped.is_set():
                data = self.upstream.recv(65536)
                if not data:
                    break
                data, done = self._limit(data)
                if data:
                    self.client.sendall(data)
                    self.proxy.bytes_back += len(data)
                if done:
                    break
        except (OSError, ssl.SSLError):
            pass
        finally:
            self.close()

    def _limit(self, data: bytes) -> tuple[bytes, bool]:
        if self.budget is None:
            return data, False
        prefix = b""
        if self.body_only and self.header_seen is not None:
            buf = self.header_seen + data
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.header_seen = buf
                return data, False
            cut_at = end + 4 - len(self.header_seen)
            prefix, data = data[:cut_at], data[cut_at:]
            self.header_seen = None  # type: ignore[assignment]
        keep = data[: self.budget]
        self.budget -= len(keep)
        return prefix + keep, self.budget <= 0


class FaultProxy:
    """A TCP proxy in front of ``target`` (host, port) whose faults switch at runtime."""

    def __init__(
        self,
        target: tuple[str, int],
        *,
        tls: tuple[Path, Path] | None = None,
        idle_timeout_s: float = 30.0,
        lifetime_s: float = 600.0,
    ) -> None:
        self.target = target
        self.idle_timeout_s = idle_timeout_s
        self.lifetime_s = lifetime_s
        self.tls: ssl.SSLContext | None = None
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certfile=str(tls[0]), keyfile=str(tls[1]))
            self.tls = ctx
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[_Conn] = []
        self._held: list[_Conn] = []
        self._fault: dict[str, object] = {"mode": "pass"}
        self._passed = 0
        self.connections = 0
        self.requests = 0
        self.messages = 0
        self.bytes_back = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="faultproxy")

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    # control ----------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def set(
        self,
        mode: Mode = "pass",
        *,
        delay_s: float = 0.0,
        after_bytes: int = 0,
        status: int = 503,
        pass_first: int = 0,
        drop: bool = True,
    ) -> None:
        """Switch the fault; counters restart. ``drop`` closes open (pooled) connections
        so every client sees the new behaviour on its next request."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            self._fault = {"mode": mode, "delay_s": delay_s, "after_bytes": after_bytes,
                           "status": status}  # fmt: skip
            self._passed = pass_first
            self.requests = self.messages = self.connections = self.bytes_back = 0
            conns = list(self._conns) if drop else []
            held, self._held = self._held, []
            if drop:
                self._conns = []
        for c in conns + held:
            c.close()

    def stop(self) -> None:
        self.stopped.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        with self._lock:
            conns, self._conns, self._held = self._conns + self._held, [], []
        for c in conns:
            c.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # internals --------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self.stopped.is_set():
            if time.monotonic() - self._started > self.lifetime_s:
                break
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            with self._lock:
                self.connections += 1
                conn = _Conn(self, client)
                self._conns.append(conn)
            threading.Thread(target=conn.run, daemon=True).start()
        self.stopped.set()
        with contextlib.suppress(OSError):
            self._sock.close()

    def _next_fault(self, data: bytes) -> dict[str, object]:
        with self._lock:
            self.messages += 1
            if data.startswith(_METHODS):
                self.requests += 1
            if self._passed > 0:
                self._passed -= 1
                return {"mode": "pass"}
            return dict(self._fault)

    def _hold(self, conn: _Conn) -> None:
        with self._lock:
            self._held.append(conn)

    def _holding(self, conn: _Conn) -> bool:
        with self._lock:
            return conn in self._held

    def _kill(self) -> None:
        """The server died: close the listener and every connection; later connects fail."""
        threading.Thread(target=self.stop, daemon=True).start()
