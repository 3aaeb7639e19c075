"""An HTTP client built on first use, so secrets are read only when a source connects.

Sources that take ``url``, ``auth``, ``timeout`` and ``retries`` mix this in: configuring
a source (``load_config``) reads no secret and opens no connection; the first request
does, once, even when several threads (``Incident.load``) ask at the same time.

Example::

    class MySource(LazyHttp, Source):
        def logs(self, query, window, *, services=None):
            body = self.http.get_json("/api/logs", params={"q": query}, query=query)
"""

from __future__ import annotations

import threading
from dataclasses import replace

from workbench.sources.http import Auth, HttpClient, Timeout

__all__ = ["LazyHttp"]


class LazyHttp:
    """``http`` property + ``close()`` for sources with ``name, url, auth, timeout, retries``."""

    name: str
    url: str
    auth: Auth
    timeout: Timeout
    retries: int
    tenant: str | None = None
    _http: HttpClient | None = None
    _http_lock = threading.Lock()

    @property
    def http(self) -> HttpClient:
        """The HTTP client, built (and secrets resolved) on first use."""
        client = self._http
        if client is None:
            with self._http_lock:
                client = self._http
                if client is None:
                    client = HttpClient(self.name, self.url, auth=self.auth,
                                        timeout=self.timeout, retries=self.retries)  # fmt: skip
                    self._http = client
        return client

    def _connect_settings(
        self,
        url: str,
        *,
        auth: Auth | None,
        timeout: Timeout | None,
        retries: int,
        tenant: str | None = None,
    ) -> None:
        """Store what the first request needs; a ``tenant`` becomes ``X-Scope-OrgID``."""
        auth = auth or Auth()
        if tenant is not None:
            auth = replace(auth, headers={**auth.headers, "X-Scope-OrgID": tenant})
        self.url = url.rstrip("/")
        from workbench.secrets import redact_url

        auth = replace(auth, origin=redact_url(self.url))
        self.auth = auth
        self.timeout = timeout or Timeout()
        self.tenant = tenant
        self.retries = retries

    def close(self) -> None:
        """Close the connections (a later request opens new ones)."""
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None
