"""HTTP plumbing shared by the HTTP sources (Prometheus, Alertmanager, Loki, Tempo, Jaeger).

One place translates transport failures into the error tree, so every HTTP source says
the same thing for the same failure:

=====================================  ==========================================
what happened                          error
=====================================  ==========================================
connection refused, DNS, TLS failure   ``SourceUnavailable`` (TLS: hint about the CA)
timeout (connect or read)              ``SourceUnavailable`` (hint: narrow or raise timeout)
401 / 403                              ``AuthError``
other 4xx                              ``QueryError`` (server's errorType / error text)
429, or 503 with Retry-After           waited out (within the deadline), then ``SourceUnavailable``
5xx                                    ``SourceUnavailable`` with status (retried if GET)
deadline passed (request or load)      ``SourceUnavailable`` (error_type ``deadline``)
decoded body over the cap              ``LimitExceeded`` (``max_response_bytes``)
content-coding not asked for           ``BadData``
body cut short / not JSON              ``SourceUnavailable`` / ``BadData`` naming the source
=====================================  ==========================================

Example::

    >>> http = HttpClient("prom", "http://localhost:9090", auth=Auth(bearer=Secret.env("T")))
    >>> body = http.get_json("/api/v1/query", params={"query": "up"}, query="up")
"""

from __future__ import annotations

import base64
import json
import logging
import random
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from workbench.errors import AuthError, BadData, ConfigError, QueryError, SourceUnavailable
from workbench.limits import max_response_bytes, parse_guard
from workbench.secrets import Secret, literal_credentials, redact_text, redact_url
from workbench.sources.budget import deadline_remaining
from workbench.sources.httpbody import DeadlinePassed as _DeadlinePassed
from workbench.sources.httpbody import read_body

__all__ = ["Auth", "HttpClient", "Timeout"]

log = logging.getLogger(__name__)

#: answers worth another try (GET only): busy (429, with ``Retry-After``) or a gateway's 5xx
RETRY_STATUS = (429, 502, 503, 504)


class _Busy(Exception):
    """A retryable status answer, kept to honour its ``Retry-After``."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True)
class Timeout:
    """Timeouts in seconds.

    * ``read`` -- longest silence while waiting for a response (default 30).
    * ``connect`` -- the TCP/TLS handshake (default: 5, or ``read`` if that is shorter,
      so a blackholed server with ``timeout = 3`` fails in about 3 s).
    * ``total`` -- overall deadline of one request, retries and waits included, that no
      slow or dripping server can stretch (default: 3 x ``read``).
    * ``load`` -- overall deadline of one source's load in ``Incident.load`` (all its
      requests; default: 4 x ``read``).

    >>> Timeout(read=3)
    Timeout(connect=3.0, read=3, total=None, load=None)
    >>> Timeout(read=3).request_s, Timeout(read=3).load_s
    (9.0, 12.0)
    """

    connect: float | None = None
    read: float = 30.0
    total: float | None = None
    load: float | None = None

    def __post_init__(self) -> None:
        if self.connect is None:
            object.__setattr__(self, "connect", min(5.0, float(self.read)))
        for name in ("connect", "read", "total", "load"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ConfigError(f"timeout {name} must be a positive number of seconds")

    @property
    def request_s(self) -> float:
        """Overall deadline of one request (``total``, default 3 x ``read``)."""
        return float(self.total) if self.total is not None else 3.0 * self.read

    @property
    def load_s(self) -> float:
        """Overall deadline of one load (``load``, default 4 x ``read``)."""
        return float(self.load) if self.load is not None else 4.0 * self.read

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(self.read, connect=self.connect)


@dataclass(frozen=True)
class Auth:
    """How to authenticate: a bearer token, basic auth, extra headers (a tenant header,
    say), and TLS settings. Credentials are :class:`Secret` references, resolved when the
    client is built and never shown."""

    bearer: Secret | None = None
    username: str | None = None
    password: Secret | None = None
    headers: Mapping[str, str | Secret] = field(default_factory=dict)
    ca_file: str | None = None
    verify: bool = True
    #: the URL these settings are used with (set by the client; for the warnings)
    origin: str | None = field(default=None, compare=False, repr=False)

    def warnings(self, url: str | None = None) -> list[str]:
        """What is risky about these settings towards ``url``: TLS verification off, or
        credentials sent over plain HTTP to a host that is not this machine."""
        url = url or self.origin
        out = []
        if not self.verify:
            out.append(
                "TLS verification is off (verify = false): anyone on the path can read and "
                "change the answers and see the credentials"
            )
        if url and (self.bearer is not None or self.password is not None or any(
            isinstance(v, Secret) for v in self.headers.values()
        )):  # fmt: skip
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            if parts.scheme == "http" and not _is_local(parts.hostname or ""):
                out.append(
                    f"credentials are sent over plain HTTP to {parts.hostname}: use https://"
                )
        return out

    def secrets(self) -> tuple[Secret, ...]:
        out = [s for s in (self.bearer, self.password) if s is not None]
        out += [v for v in self.headers.values() if isinstance(v, Secret)]
        return tuple(out)

    def wire_values(self) -> list[str]:
        """Every credential as it goes on the wire (raw values, ``base64(user:password)``),
        for redaction; resolves the secrets, so call it only after connecting."""
        out: list[str] = []
        for s in self.secrets():
            try:
                out.append(s.reveal())
            except ConfigError:
                continue
        if self.username is not None and self.password is not None:
            try:
                pair = f"{self.username}:{self.password.reveal()}".encode()
            except ConfigError:
                pair = b""
            if pair:
                out.append(base64.b64encode(pair).decode())
        return [v for v in out if v]

    def describe(self) -> dict[str, Any]:
        kinds = []
        if self.bearer:
            kinds.append("bearer")
        if self.username:
            kinds.append("basic")
        if self.headers:
            kinds.append("headers:" + ",".join(sorted(self.headers)))
        out: dict[str, Any] = {"auth": "+".join(kinds) or "none", "ca_file": self.ca_file}
        if not self.verify:
            out["verify"] = False
        warnings = self.warnings()
        if warnings:
            out["warnings"] = warnings
        return out


class HttpClient:
    """A small JSON-over-HTTP client that raises the workbench's typed errors.

    Retries are bounded (``retries``), spaced with jittered exponential backoff, and all
    fit in the request's deadline: GETs are retried on connection failures and
    502/503/504; every method is retried when the connection was refused, or on 429 and
    503 with ``Retry-After`` (honoured, capped at 60 s, never past the deadline).
    The httpx client is built, and the secrets read, on the first request. Settings that
    expose credentials (``verify = false``, a credential over plain HTTP to a non-local
    host) are logged as warnings and listed in ``auth.describe()["warnings"]``.
    """

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        auth: Auth | None = None,
        timeout: Timeout | None = None,
        retries: int = 2,
        backoff_s: float = 0.2,
        client: httpx.Client | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.source = source
        found = literal_credentials(base_url)
        if found:
            raise ConfigError(
                f"{source}: the URL {redact_url(base_url)} holds a literal credential "
                f"({', '.join(found)})",
                hint="remove it from the URL; name it as a secret reference "
                '(bearer = {env = "NAME"}, password = {env = "NAME"}, or a header)',
            )
        self.base_url = base_url.rstrip("/")
        self.auth = replace(auth or Auth(), origin=redact_url(self.base_url))
        for warning in self.auth.warnings():
            log.warning("source %s: %s", source, warning)
        self.timeout = timeout or Timeout()
        self.retries = retries
        self.backoff_s = backoff_s
        #: decoded-size cap of one response (``LimitExceeded`` beyond it)
        self.max_bytes = max_response_bytes() if max_bytes is None else max_bytes
        self._wire: list[str] | None = None
        self._given = client
        self._built: httpx.Client | None = client

    @property
    def _client(self) -> httpx.Client:
        """The httpx client, built (and the secrets read) on the first request, so a
        source whose secret is missing fails when it connects, not when configured."""
        if self._built is None:
            self._built = self._build_client()
        return self._built

    def _build_client(self) -> httpx.Client:
        a = self.auth
        # only codings read_body decodes itself, within the size cap
        headers: dict[str, str] = {"Accept": "application/json", "Accept-Encoding": "gzip"}
        for k, v in a.headers.items():
            headers[k] = v.reveal() if isinstance(v, Secret) else v
        if a.bearer is not None:
            headers["Authorization"] = f"Bearer {a.bearer.reveal()}"
        basic = None
        if a.username is not None:
            basic = httpx.BasicAuth(a.username, a.password.reveal() if a.password else "")
        verify: bool | ssl.SSLContext = a.verify
        if a.ca_file:
            try:
                verify = ssl.create_default_context(cafile=a.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"{self.source}: cannot use CA file {a.ca_file}: "
                    f"{getattr(exc, 'strerror', None) or exc}",
                    hint="give the path of a readable PEM file with the server's CA",
                ) from None
        return httpx.Client(
            base_url=self.base_url,
            headers=headers,
            auth=basic,
            verify=verify,
            timeout=self.timeout.to_httpx(),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )

    @property
    def url(self) -> str:
        """The base URL without credentials."""
        return redact_url(self.base_url)

    def close(self) -> None:
        if self._built is not None:
            self._built.close()
            if self._given is None:
                self._built = None

    # requests ---------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        data: Mapping[str, Any] | None = None,
        json_body: Any = None,
        query: str | None = None,
        window: object | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request and return the response (body read whole, decoded and within
        the size cap), or raise a typed error.

        The whole request, retries and waits included, ends by the request deadline
        (``Timeout.total``) and by the current load's deadline, whichever comes first.
        """
        # GETs are retried on any transient failure; other methods (the query POSTs) only
        # where the server never ran them: refused connections and 429/503 "come back later"
        idempotent = method.upper() in ("GET", "HEAD")
        attempts = 1 + self.retries
        deadline, budget_s, scope = self._deadline()
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                wait = self._retry_wait(attempt, last)
                if wait >= deadline - time.monotonic():
                    break  # no time left for another try: report what failed
                time.sleep(wait)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                resp = self._send(method, path, params, data, json_body, headers, deadline)
            except httpx.TimeoutException as exc:
                if deadline - time.monotonic() <= 0.05:
                    raise self._deadline_error(budget_s, scope, query, window) from exc
                raise SourceUnavailable(
                    f"{self.source} did not answer within {self._timeout_text()}",
                    source=self.source,
                    query=query,
                    window=window,
                    hint="narrow the window or the query, or raise the source's timeout",
                ) from exc
            except httpx.ConnectError as exc:
                last = exc
                if "CERTIFICATE_VERIFY_FAILED" in str(exc) or isinstance(
                    exc.__context__, ssl.SSLError
                ):
                    raise SourceUnavailable(
                        f"TLS verification of {self.url} failed",
                        source=self.source,
                        query=query,
                        window=window,
                        detail=_tls_reason(exc),
                        hint="give the server's CA with ca_file=..., or check the host name",
                    ) from exc
                if attempt + 1 < attempts:
                    continue
                raise SourceUnavailable(
                    f"cannot connect to {self.url}",
                    source=self.source,
                    query=query,
                    window=window,
                    detail=type(exc).__name__,
                    hint="check the URL and that the server is up and reachable",
                ) from exc
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                last = exc
                if idempotent and attempt + 1 < attempts:
                    continue
                raise SourceUnavailable(
                    f"{self.source} closed the connection before the response was complete",
                    source=self.source,
                    query=query,
                    window=window,
                    detail=type(exc).__name__,
                    hint="the server or a proxy cut the response; retry, or narrow the query",
                ) from exc
            except httpx.UnsupportedProtocol as exc:
                raise ConfigError(
                    f"{self.source}: {self.url} is not an http:// or https:// URL",
                    hint="check the source's URL",
                ) from exc
            except httpx.HTTPError as exc:  # decoding, proxy, protocol errors...
                raise SourceUnavailable(
                    f"{self.source} sent a response that could not be read",
                    source=self.source,
                    query=query,
                    window=window,
                    detail=f"{type(exc).__name__}: {_clip(self.redact(str(exc)), 200)}",
                    hint="retry; if it persists, check proxies between you and the server",
                ) from exc
            except _DeadlinePassed as exc:
                raise self._deadline_error(budget_s, scope, query, window) from exc
            busy = resp.status_code == 429 or (
                resp.status_code == 503 and "retry-after" in resp.headers
            )
            if (busy or (idempotent and resp.status_code in RETRY_STATUS)) and (
                attempt + 1 < attempts
            ):
                last = _Busy(resp)
                continue
            self._raise_for_status(resp, query=query, window=window)
            return resp
        if isinstance(last, _Busy):
            self._raise_for_status(last.response, query=query, window=window)
        if last is None or time.monotonic() >= deadline - 0.05 or isinstance(last, _Busy):
            raise self._deadline_error(budget_s, scope, query, window) from last
        raise SourceUnavailable(
            f"{self.source} failed after {attempts} attempts",
            source=self.source,
            query=query,
            window=window,
            detail=type(last).__name__,
        ) from last

    def _send(
        self,
        method: str,
        path: str,
        params: Any,
        data: Any,
        json_body: Any,
        headers: Mapping[str, str] | None,
        deadline: float,
    ) -> httpx.Response:
        """One try: connect and read within the deadline, decode within the size cap."""
        left = max(0.001, deadline - time.monotonic())
        t = self.timeout
        timeout = httpx.Timeout(
            min(t.read, left), connect=min(float(t.connect or t.read), left), pool=left
        )
        req = self._client.build_request(
            method, path, params=params, data=data, json=json_body, headers=headers,
            timeout=timeout,
        )  # fmt: skip
        resp = self._client.send(req, stream=True)
        try:
            resp._content = read_body(
                resp,
                source=self.source,
                deadline=deadline,
                read_timeout=t.read,
                cap=self.max_bytes,
            )
        finally:
            resp.close()
        return resp

    def _deadline(self) -> tuple[float, float, str]:
        """``(monotonic end, seconds, "request"|"load")`` of the next request."""
        now = time.monotonic()
        own = self.timeout.request_s
        end, budget_s, scope = now + own, own, "request"
        load = deadline_remaining()
        if load is not None and now + load[0] < end:
            end, budget_s, scope = now + load[0], load[1], "load"
        return end, budget_s, scope

    def _retry_wait(self, attempt: int, last: Exception | None) -> float:
        """Backoff with full jitter, or the server's ``Retry-After`` (capped at 60 s)."""
        if isinstance(last, _Busy):
            after = _retry_after(last.response.headers.get("retry-after"))
            if after is not None:
                return min(after, 60.0) + random.uniform(0, self.backoff_s)
        base = self.backoff_s * (2 ** (attempt - 1))
        return random.uniform(base / 2, base * 1.5)

    def _deadline_error(
        self, budget_s: float, scope: str, query: str | None, window: object | None
    ) -> SourceUnavailable:
        option = "timeout.total" if scope == "request" else "timeout.load"
        return SourceUnavailable(
            f"{self.source} did not finish within the {scope} deadline of {budget_s:g}s",
            source=self.source,
            query=query,
            window=window,
            error_type="deadline",
            hint=f"the server is slow, stalled or dripping; narrow the query, or raise "
            f"{option} (read timeout {self.timeout.read:g}s)",
        )

    def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        query: str | None = None,
        window: object | None = None,
    ) -> Any:
        """GET ``path`` and decode its JSON body."""
        resp = self.request("GET", path, params=params, query=query, window=window)
        return self.decode(resp, query=query)

    def post_json(
        self,
        path: str,
        *,
        data: Mapping[str, Any] | None = None,
        json_body: Any = None,
        query: str | None = None,
        window: object | None = None,
    ) -> Any:
        resp = self.request(
            "POST", path, data=data, json_body=json_body, query=query, window=window
        )
        return self.decode(resp, query=query)

    def decode(self, resp: httpx.Response, *, query: str | None = None) -> Any:
        """Decode a JSON body, naming the source if it is cut short or not JSON."""
        try:
            with parse_guard(self.source, what="the JSON answer"):
                body = json.loads(resp.content)
            if (b"\\ud" in resp.content or b"\\uD" in resp.content) and _lone_surrogate(body):
                raise BadData(
                    f"response from {self.source} holds a lone surrogate escape (not text)",
                    source=self.source,
                    path=redact_url(str(resp.request.url)).split("?", 1)[0],
                    hint="the server or a proxy wrote invalid JSON text",
                )
            return body
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            body = resp.content
            declared = resp.headers.get("content-length")
            truncated = declared is not None and int(declared) != len(body)
            looks_cut = isinstance(exc, json.JSONDecodeError) and exc.pos >= len(body.rstrip()) - 1
            what = "was cut short" if (truncated or looks_cut) else "is not valid JSON"
            raise BadData(
                f"response from {self.source} {what} ({len(body)} bytes): {exc}",
                source=self.source,
                path=redact_url(str(resp.request.url)).split("?", 1)[0],
                hint="retry; if it persists, a proxy may be truncating responses"
                if what == "was cut short"
                else "check that the URL points at the right API",
            ) from None

    # helpers -----------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        """``text`` without this client's credentials in any encoding, nor anything that
        looks like one (see :func:`workbench.secrets.redact_text`)."""
        if self._wire is None:
            self._wire = self.auth.wire_values()
        return redact_text(text, self._wire)

    def _timeout_text(self) -> str:
        return f"{self.timeout.read:g}s (connect {self.timeout.connect:g}s)"

    def _raise_for_status(
        self, resp: httpx.Response, *, query: str | None, window: object | None
    ) -> None:
        code = resp.status_code
        if code < 400:
            return
        # a server or proxy that echoes the request must not echo the credential, in any
        # encoding: redact the whole body first, clip afterwards
        error_type, detail = _server_error(resp, self.redact)
        if code in (401, 403):
            raise AuthError(
                f"{self.source} refused the credentials (HTTP {code})",
                source=self.source,
                query=query,
                window=window,
                status=code,
                detail=detail,
                hint="check the token, user or password the source's configuration names",
            )
        if (code in (429, 503) and resp.headers.get("retry-after")) or code == 429:
            raise SourceUnavailable(
                f"{self.source} is busy (HTTP {code}) and asked to wait "
                f"{resp.headers.get('retry-after') or 'a while'}; the deadline did not allow it",
                source=self.source,
                query=query,
                window=window,
                status=code,
                error_type=error_type or "busy",
                detail=detail,
                hint="retry later, raise timeout.total / timeout.load, or ask less at once",
            )
        if code >= 500:
            raise SourceUnavailable(
                f"{self.source} failed with HTTP {code}",
                source=self.source,
                query=query,
                window=window,
                status=code,
                error_type=error_type,
                detail=detail,
                hint="the server had an internal error; retry, or narrow the query",
            )
        raise QueryError(
            f"{self.source} rejected the query (HTTP {code})",
            source=self.source,
            query=query,
            window=window,
            status=code,
            error_type=error_type,
            detail=detail,
            hint="fix the query; the server's own message is in 'detail'",
        )


def _server_error(
    resp: httpx.Response, redactor: Any = lambda t: t
) -> tuple[str | None, str | None]:
    """The server's error type and text from a JSON or plain-text error body, redacted
    by ``redactor`` before anything is clipped.

    Long texts keep their head and tail: servers such as VictoriaMetrics echo the whole
    query first and say what went wrong at the end."""
    text = redactor(resp.text[:65536])
    try:
        body = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None, _clip(text.strip()) or None
    if isinstance(body, dict):
        et = body.get("errorType") or body.get("error_type") or body.get("status")
        msg = body.get("error") or body.get("message") or body.get("msg")
        et_text = redactor(str(et)) if et else None
        return et_text, _clip(redactor(str(msg)) if msg else text.strip())
    return None, _clip(text.strip())


def _is_local(host: str) -> bool:
    """Whether ``host`` is this machine (loopback name or address)."""
    host = host.strip("[]").lower()
    return (
        host in ("localhost", "::1", "") or host.startswith("127.") or host.endswith(".localhost")
    )


def _lone_surrogate(body: Any) -> bool:
    """Whether decoded JSON holds a lone UTF-16 surrogate, which polars cannot store."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _clip(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else f"{text[: limit // 2]} … {text[-limit // 2 :]}"


def _tls_reason(exc: Exception) -> str:
    s = str(exc)
    return s[s.find("certificate") :][:200] if "certificate" in s else type(exc).__name__
