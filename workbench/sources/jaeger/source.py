"""Jaeger: the query service's HTTP API (v1, or api v3) into the spans frame.

v1 (default): ``/api/services``, ``/api/traces?service=&start=&end=&limit=`` (times in
microseconds) and ``/api/traces/<id>``, in the UI model. ``api="v3"``:
``/api/v3/services``, ``/api/v3/traces?query.service_name=...`` and
``/api/v3/traces/<id>``, OTLP-shaped. Bodies are read by
:mod:`workbench.sources.files.jaeger`.

Jaeger has no query language: ``spans(query, window)`` takes a service name (or
``services=[...]``; neither means every service ``/api/services`` lists, up to
``max_services``). A service whose search returns ``limit`` traces, errors the server
reports in its ``errors`` list, and services left out make the result partial. A trace
found through several services is kept once.

Example::

    >>> from workbench.sources.jaeger.source import JaegerSource
    >>> jaeger = JaegerSource("http://jaeger:16686")
    >>> jaeger.services()
    >>> jaeger.spans("checkout", window, operation="POST /cart").frame
    >>> jaeger.trace("0af7651916cd43dd8448eb211c80319c").frame
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from typing import Any, ClassVar

import polars as pl

from workbench import frames
from workbench.errors import BadData, ConfigError, QueryError
from workbench.sources.base import Result, Source, Timer
from workbench.sources.budget import in_context
from workbench.sources.http import Auth, Timeout
from workbench.sources.lazyhttp import LazyHttp
from workbench.timewindow import Window

__all__ = ["JaegerSource"]

_HEX_ID = re.compile(r"[0-9a-fA-F]{1,32}")


def _us(w: Window) -> tuple[int, int]:
    return int(w.start.timestamp() * 1_000_000), int(w.end.timestamp() * 1_000_000)


def _rfc3339(t: Any) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JaegerSource(LazyHttp, Source):
    """Spans from Jaeger's query service.

    ``limit`` is the traces one search returns per service; ``concurrency`` bounds the
    searches run at once; ``api`` is ``"v1"`` (UI model) or ``"v3"`` (OTLP).
    """

    kind: ClassVar[str] = "jaeger"
    capabilities = frozenset({"spans"})

    def __init__(
        self,
        url: str,
        *,
        name: str = "jaeger",
        auth: Auth | None = None,
        timeout: Timeout | None = None,
        limit: int = 100,
        max_services: int = 50,
        concurrency: int = 4,
        api: str = "v1",
        retries: int = 2,
    ) -> None:
        super().__init__(name=name)
        if api not in ("v1", "v3"):
            raise ConfigError(f"api must be 'v1' or 'v3', not {api!r}")
        if limit < 1 or max_services < 1 or concurrency < 1:
            raise ConfigError("limit, max_services and concurrency must be at least 1")
        self._connect_settings(url, auth=auth, timeout=timeout, retries=retries)
        self.limit = limit
        self.max_services = max_services
        self.concurrency = concurrency
        self.api = api

    def describe(self) -> dict[str, Any]:
        from workbench.secrets import redact_url

        return {**super().describe(), "url": redact_url(self.url), "api": self.api,
                "limit": self.limit, **self.auth.describe()}  # fmt: skip

    # --------------------------------------------------------------------------------------
    def services(self) -> list[str]:
        """The service names Jaeger knows."""
        path = "/api/v3/services" if self.api == "v3" else "/api/services"
        body = self.http.get_json(path, query="services")
        names = None
        if isinstance(body, Mapping):
            names = body.get("services") if self.api == "v3" else body.get("data")
        if not isinstance(body, Mapping) or not isinstance(names, list | None):
            raise BadData(f"{self.name}: {path} did not return a list of services",
                          source=self.name, path=path)  # fmt: skip
        return sorted(str(n) for n in names or [])

    def _parse(self, body: Any, path: str) -> pl.DataFrame:
        from workbench.sources.files import jaeger as jaeger_files

        return jaeger_files.parse(body, source=self.name, path=path)

    def trace(self, trace_id: str) -> Result:
        """One trace as the spans frame; an unknown id raises :class:`QueryError` (404)."""
        if not isinstance(trace_id, str) or not _HEX_ID.fullmatch(trace_id):
            raise ConfigError(f"{trace_id!r} is not a trace id", hint="give 1-32 hex digits")
        path = f"/api/v3/traces/{trace_id}" if self.api == "v3" else f"/api/traces/{trace_id}"
        q = f"trace {trace_id}"
        with Timer() as t:
            try:
                body = self.http.get_json(path, query=q)
            except QueryError as exc:
                if exc.status == 404:
                    raise QueryError(
                        f"{self.name} has no trace {trace_id}", source=self.name, query=q,
                        status=404, detail=exc.detail,
                        hint="the trace may have expired from storage, or the id is wrong",
                    ) from exc  # fmt: skip
                raise
            reasons = _server_errors(body)
            df = self._parse(body, path)
        return self.result("spans", df, query=q, reasons=reasons, elapsed_s=t.elapsed)

    def _search(
        self, service: str, window: Window, *, limit: int, operation: str | None,
        tags: Mapping[str, str] | None, min_duration: str | None,
    ) -> tuple[list[Any], str, bool, list[str]]:  # fmt: skip
        """One service's search: (trace objects or v3 body, path, hit limit, reasons)."""
        if self.api == "v3":
            path = "/api/v3/traces"
            params: dict[str, Any] = {
                "query.service_name": service,
                "query.start_time_min": _rfc3339(window.start),
                "query.start_time_max": _rfc3339(window.end),
                "query.num_traces": limit,
            }
            if operation:
                params["query.operation_name"] = operation
            for k, v in (tags or {}).items():
                params[f"query.attributes[{k}]"] = v
        else:
            path = "/api/traces"
            start, end = _us(window)
            params = {"service": service, "start": start, "end": end, "limit": limit}
            if operation:
                params["operation"] = operation
            if tags:
                params["tags"] = json.dumps(dict(tags))
        if min_duration:
            params["query.duration_min" if self.api == "v3" else "minDuration"] = min_duration
        q = f"service={service}" + (f" operation={operation}" if operation else "")
        body = self.http.get_json(path, params=params, query=q, window=window)
        reasons = _server_errors(body)
        if self.api == "v3":
            result = body.get("result") if isinstance(body, Mapping) else None
            ids = _v3_trace_ids(result)
            return [body], path, len(ids) >= limit, reasons
        data = body.get("data") if isinstance(body, Mapping) else None
        if data is None:
            data = []
        if not isinstance(data, list):
            raise BadData(f"{self.name}: {path} 'data' is not a list", source=self.name,
                          path=path, field="data")  # fmt: skip
        return data, path, len(data) >= limit, reasons

    def spans(
        self,
        query: str | None,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        operation: str | None = None,
        tags: Mapping[str, str] | None = None,
        min_duration: str | None = None,
        limit: int | None = None,
    ) -> Result:
        """Spans of the traces Jaeger finds for a service (``query``) or ``services`` in
        ``window``; ``operation``, ``tags`` and ``min_duration`` (``"250ms"``) narrow it."""
        limit = limit or self.limit
        reasons: list[str] = []
        names = [query] if query else list(dict.fromkeys(services or []))
        with Timer() as t:
            if not names:
                known = self.services()
                names = known[: self.max_services]
                if len(known) > len(names):
                    reasons.append(
                        f"{len(known)} services known, only the first {len(names)} searched: "
                        "name the services, or raise max_services="
                    )

            def one(svc: str) -> tuple[str, Any]:
                return svc, self._search(svc, window, limit=limit, operation=operation,
                                         tags=tags, min_duration=min_duration)  # fmt: skip

            parts: list[pl.DataFrame] = []
            seen: set[str] = set()
            workers = max(1, min(self.concurrency, len(names)))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(in_context(one), names))
            for svc, (items, path, hit, errs) in results:
                reasons += [f"{svc}: {e}" for e in errs]
                if hit:
                    reasons.append(
                        f"the search for {svc} returned limit={limit} traces; more may match: "
                        "narrow the window or the query, or raise limit="
                    )
                if self.api == "v3":
                    df = self._parse(items[0], path)
                    df = df.filter(~pl.col("trace_id").is_in(list(seen)))
                    seen |= set(df["trace_id"].unique().to_list())
                    parts.append(df)
                    continue
                fresh = [tr for tr in items if not (isinstance(tr, Mapping) and
                                                    str(tr.get("traceID")) in seen)]  # fmt: skip
                seen |= {str(tr.get("traceID")) for tr in fresh if isinstance(tr, Mapping)}
                if fresh:
                    parts.append(self._parse({"data": fresh}, path))
            frame = frames.concat(parts, "spans") if parts else frames.empty("spans")
        desc = ",".join(names) + (f" operation={operation}" if operation else "")
        return self.result("spans", frame, query=f"service={desc}", window=window,
                           reasons=reasons, elapsed_s=t.elapsed, services=names)  # fmt: skip


def _server_errors(body: Any) -> list[str]:
    """Jaeger v1's ``errors`` list: [{code, msg, traceID}]."""
    errs = body.get("errors") if isinstance(body, Mapping) else None
    if errs and not isinstance(errs, list):
        errs = [errs]
    out = []
    for e in errs or []:
        if isinstance(e, Mapping):
            tid = f" (trace {e['traceID']})" if e.get("traceID") else ""
            out.append(f"server error {e.get('code', '?')}: {e.get('msg', '')}{tid}")
        else:
            out.append(f"server error: {e}")
    return out


def _v3_trace_ids(result: Any) -> set[str]:
    ids: set[str] = set()
    if not isinstance(result, Mapping):
        return ids
    for rs in result.get("resourceSpans") or []:
        for ss in (rs.get("scopeSpans") or []) if isinstance(rs, Mapping) else []:
            for sp in (ss.get("spans") or []) if isinstance(ss, Mapping) else []:
                if isinstance(sp, Mapping) and sp.get("traceId"):
                    ids.add(str(sp["traceId"]))
    return ids
