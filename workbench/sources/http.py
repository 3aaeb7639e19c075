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
5xx                                    ``SourceUnavailable`` with status (retried if GET)
body cut short / not JSON              ``SourceUnavailable`` / ``BadData`` naming the source
=====================================  ==========================================

Example::

    >>> http = HttpClient("prom", "http://localhost:9090", auth=Auth(bearer=Secret.env("T")))
    >>> body = http.get_json("/api/v1/query", params={"query": "up"}, query="up")
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from workbench.errors import AuthError, BadData, ConfigError, QueryError, SourceUnavailable
from workbench.secrets import Secret, redact, redact_url

__all__ = ["Auth", "HttpClient", "Timeout"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timeout:
    """Timeouts in seconds: ``connect`` for the TCP/TLS handshake, ``read`` per response."""

    connect: float = 5.0
    read: float = 30.0

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

    def secrets(self) -> tuple[Secret, ...]:
        out = [s for s in (self.bearer, self.password) if s is not None]
        out += [v for v in self.headers.values() if isinstance(v, Secret)]
        return tuple(out)

    def describe(self) -> dict[str, Any]:
        kinds = []
        if self.bearer:
            kinds.append("bearer")
        if self.username:
            kinds.append("basic")
        if self.headers:
            kinds.append("headers:" + ",".join(sorted(self.headers)))
        return {"auth": "+".join(kinds) or "none", "ca_file": self.ca_file}


class HttpClient:
    """A small JSON-over-HTTP client that raises the workbench's typed errors.

    GETs are retried (bounded, with backoff) on connection failures and 502/503/504;
    POSTs are not retried.
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
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.auth = auth or Auth()
        self.timeout = timeout or Timeout()
        self.retries = retries
        self.backoff_s = backoff_s
        self._client = client or self._build_client()

    def _build_client(self) -> httpx.Client:
        a = self.auth
        headers: dict[str, str] = {"Accept": "application/json"}
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
        self._client.close()

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
        """Send a request and return the response, or raise a typed error."""
        attempts = 1 + (self.retries if method.upper() == "GET" else 0)
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            try:
                resp = self._client.request(
                    method, path, params=params, data=data, json=json_body, headers=headers
                )
                resp.read()
            except httpx.TimeoutException as exc:
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
                if attempt + 1 < attempts:
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
                    detail=f"{type(exc).__name__}: {str(exc)[:200]}",
                    hint="retry; if it persists, check proxies between you and the server",
                ) from exc
            if resp.status_code in (502, 503, 504) and attempt + 1 < attempts:
                last = None
                continue
            self._raise_for_status(resp, query=query, window=window)
            return resp
        raise SourceUnavailable(  # pragma: no cover - loop always returns or raises
            f"{self.source} failed after {attempts} attempts",
            source=self.source,
            query=query,
            window=window,
        ) from last

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
    def _timeout_text(self) -> str:
        return f"{self.timeout.read:g}s (connect {self.timeout.connect:g}s)"

    def _raise_for_status(
        self, resp: httpx.Response, *, query: str | None, window: object | None
    ) -> None:
        code = resp.status_code
        if code < 400:
            return
        error_type, detail = _server_error(resp)
        secrets = self.auth.secrets()
        if secrets:  # a server or proxy that echoes the request must not echo the credential
            error_type = redact(error_type, secrets) if error_type else error_type
            detail = redact(detail, secrets) if detail else detail
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


def _server_error(resp: httpx.Response) -> tuple[str | None, str | None]:
    """The server's error type and text from a JSON or plain-text error body.

    Long texts keep their head and tail: servers such as VictoriaMetrics echo the whole
    query first and say what went wrong at the end."""
    text = resp.text[:65536]
    try:
        body = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None, _clip(text.strip()) or None
    if isinstance(body, dict):
        et = body.get("errorType") or body.get("error_type") or body.get("status")
        msg = body.get("error") or body.get("message") or body.get("msg")
        return (str(et) if et else None), _clip(str(msg) if msg else text.strip())
    return None, _clip(text.strip())


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
