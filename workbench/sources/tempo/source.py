"""Tempo: traces by id and TraceQL search into the spans frame.

``trace(id)`` reads ``/api/traces/<id>`` (both the ``batches`` and the OTLP
``resourceSpans`` JSON forms; ``api="v2"`` reads ``/api/v2/traces/<id>`` and its
``status: PARTIAL``); ``search(q, window)`` returns trace summaries; ``spans(q, window)``
searches, then fetches every trace found, a few at a time. A search that returns
``limit`` traces is marked partial (more may match); a trace that cannot be fetched is
named in the reasons.

Example::

    >>> from workbench.sources.tempo.source import TempoSource
    >>> tempo = TempoSource("http://tempo:3200", tenant="team-a")
    >>> tempo.search('{ status = error }', window).frame          # summaries
    >>> res = tempo.spans(None, window, services=["checkout"])      # escaped TraceQL
    >>> res.frame, res.partial, res.reasons
    >>> tempo.trace("2f3e0cee77ae5dc9c17ade3689eb2e54").frame
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, cast

import polars as pl

from workbench import frames
from workbench.errors import AuthError, BadData, ConfigError, QueryError, SourceError
from workbench.sources.base import Result, Source, Timer
from workbench.sources.budget import in_context
from workbench.sources.http import Auth, Timeout
from workbench.sources.lazyhttp import LazyHttp
from workbench.sources.tempo import traceql
from workbench.timewindow import Window

__all__ = ["SEARCH_SCHEMA", "TempoSource", "parse_search"]

SEARCH_PATH = "/api/search"
_HEX_ID = re.compile(r"[0-9a-fA-F]{1,32}")
_MAX_NS = 7_258_118_400 * 10**9  # 2200-01-01

SEARCH_SCHEMA: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "root_service": pl.String(),
    "root_name": pl.String(),
    "start": frames.TS,
    "duration_ms": pl.Float64(),
    "matched_spans": pl.Int64(),
}


def parse_search(body: Any, *, source: str = "tempo", path: str = SEARCH_PATH) -> pl.DataFrame:
    """A decoded ``/api/search`` body as trace summaries (``SEARCH_SCHEMA``)."""

    def bad(msg: str, where: str) -> BadData:
        return BadData(f"Tempo search response {msg}", source=source, path=path, field=where,
                       hint="check that the URL points at Tempo's query frontend")  # fmt: skip

    if not isinstance(body, Mapping):
        raise bad(f"is a {type(body).__name__}, not an object", "$")
    traces = body.get("traces")
    traces = [] if traces is None else traces
    if not isinstance(traces, list):
        raise bad("has 'traces' that is not a list", "traces")
    rows: dict[str, list[Any]] = {k: [] for k in SEARCH_SCHEMA}
    for i, t in enumerate(traces):
        if not isinstance(t, Mapping) or not isinstance(t.get("traceID"), str):
            raise bad(f"trace {i} has no traceID", f"traces[{i}].traceID")
        tid = t["traceID"].lower().rjust(32, "0")
        if not _HEX_ID.fullmatch(tid) or not t["traceID"] or not tid.strip("0"):
            raise bad(f"trace {i} has a non-hex traceID", f"traces[{i}].traceID")
        try:
            start = int(t.get("startTimeUnixNano") or 0)
            dur = t.get("durationMs")
            dur_f = float(dur) if dur is not None else None
            if not 0 <= start <= _MAX_NS or isinstance(dur, bool):
                raise ValueError(start)
        except (TypeError, ValueError, OverflowError):
            raise bad(f"trace {i} has a bad start or duration", f"traces[{i}]") from None
        for key in ("rootServiceName", "rootTraceName"):
            if not isinstance(t.get(key), str | None):
                raise bad(f"trace {i} has a non-string {key}", f"traces[{i}].{key}")
        sets = t.get("spanSets") or (
            [t["spanSet"]] if isinstance(t.get("spanSet"), Mapping) else []
        )
        try:
            matched = sum(int(s.get("matched") or 0) for s in sets if isinstance(s, Mapping))
            if not 0 <= matched < 2**62:
                raise ValueError(matched)
        except (TypeError, ValueError, OverflowError):
            raise bad(f"trace {i} has a bad 'matched' count", f"traces[{i}].spanSets") from None
        rows["trace_id"].append(tid)
        rows["root_service"].append(t.get("rootServiceName"))
        rows["root_name"].append(t.get("rootTraceName"))
        rows["start"].append(start // 1000)
        rows["duration_ms"].append(dur_f if dur_f is None or math.isfinite(dur_f) else None)
        rows["matched_spans"].append(matched)
    df = pl.DataFrame(
        {k: rows[k] for k in SEARCH_SCHEMA},
        schema={**SEARCH_SCHEMA, "start": pl.Int64()},
    )
    return df.with_columns(pl.col("start").cast(frames.TS))


class TempoSource(LazyHttp, Source):
    """Spans from Grafana Tempo's HTTP API (JSON, ``Accept: application/json``).

    ``tenant`` sets ``X-Scope-OrgID``; ``limit`` is the traces one search returns (the
    server's own cap may be lower); ``concurrency`` bounds parallel trace fetches;
    ``spss`` is spans per span set in search results.
    """

    kind: ClassVar[str] = "tempo"
    capabilities = frozenset({"spans"})

    def __init__(
        self,
        url: str,
        *,
        name: str = "tempo",
        auth: Auth | None = None,
        timeout: Timeout | None = None,
        tenant: str | None = None,
        limit: int = 100,
        concurrency: int = 4,
        spss: int = 3,
        api: str = "v1",
        retries: int = 2,
    ) -> None:
        super().__init__(name=name)
        if limit < 1 or concurrency < 1:
            raise ConfigError("limit and concurrency must be at least 1")
        if api not in ("v1", "v2"):
            raise ConfigError(f"api must be 'v1' or 'v2', not {api!r}")
        self._connect_settings(url, auth=auth, timeout=timeout, retries=retries, tenant=tenant)
        self.limit = limit
        self.concurrency = concurrency
        self.spss = spss
        self.api = api

    def describe(self) -> dict[str, Any]:
        from workbench.secrets import redact_url

        return {**super().describe(), "url": redact_url(self.url), "tenant": self.tenant,
                "limit": self.limit, "api": self.api, **self.auth.describe()}  # fmt: skip

    # trace by id ---------------------------------------------------------------------------
    def trace(self, trace_id: str, window: Window | None = None) -> Result:
        """One trace as the spans frame. ``window`` (optional) narrows the blocks Tempo
        reads. A trace Tempo does not have raises :class:`QueryError` (status 404)."""
        with Timer() as t:
            df, reasons = self._fetch(trace_id, window)
        return self.result("spans", df, query=f"trace {trace_id}", window=window,
                           reasons=reasons, elapsed_s=t.elapsed)  # fmt: skip

    def _fetch(self, trace_id: str, window: Window | None) -> tuple[pl.DataFrame, list[str]]:
        from workbench.sources.files import otlp

        if not isinstance(trace_id, str) or not _HEX_ID.fullmatch(trace_id):
            raise ConfigError(f"{trace_id!r} is not a trace id", hint="give 1-32 hex digits")
        path = f"/api/v2/traces/{trace_id}" if self.api == "v2" else f"/api/traces/{trace_id}"
        params = None
        if window is not None:
            params = {"start": math.floor(window.start.timestamp()),
                      "end": math.ceil(window.end.timestamp())}  # fmt: skip
        q = f"trace {trace_id}"
        try:
            body = self.http.get_json(path, params=params, query=q, window=window)
        except QueryError as exc:
            if exc.status == 404:
                raise QueryError(
                    f"{self.name} has no trace {trace_id}", source=self.name, query=q,
                    window=window, status=404, detail=exc.detail,
                    hint="the trace may have expired from retention, or the id is wrong",
                ) from exc  # fmt: skip
            raise
        reasons: list[str] = []
        if isinstance(body, Mapping) and "trace" in body and "resourceSpans" not in body:
            if body.get("status") == "PARTIAL":
                reasons.append(f"trace {trace_id} is partial: {body.get('message') or 'no reason'}")
            body = body.get("trace") or {}
        df = otlp.parse_traces(body, source=self.name, path=path)
        return df, reasons

    # discovery -----------------------------------------------------------------------------
    def services(self, window: Window | None = None) -> list[str]:
        """The ``service.name`` values Tempo has seen (in ``window`` if given)."""
        path = "/api/search/tag/service.name/values"
        params = None
        if window is not None:
            params = {"start": math.floor(window.start.timestamp()),
                      "end": math.ceil(window.end.timestamp())}  # fmt: skip
        body = self.http.get_json(path, params=params, query="tag service.name", window=window)
        values = body.get("tagValues") if isinstance(body, Mapping) else None
        if not isinstance(values, list | None):
            raise BadData(f"{self.name}: {path} did not return tagValues", source=self.name,
                          path=path, field="tagValues")  # fmt: skip
        # v1 gives strings; newer servers may give {"type": "string", "value": ...}
        out = [v.get("value") if isinstance(v, Mapping) else v for v in values or []]
        return sorted(str(v) for v in out if v is not None)

    # search --------------------------------------------------------------------------------
    def search(
        self,
        query: str | None,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Result:
        """TraceQL search: one row per trace (``SEARCH_SCHEMA``), partial if ``limit``
        traces came back (more may match). ``query=None`` builds a filter for ``services``.
        """
        query = query if query is not None else traceql.spanset(services)
        limit = limit or self.limit
        params = {"q": query, "start": math.floor(window.start.timestamp()),
                  "end": math.ceil(window.end.timestamp()), "limit": limit,
                  "spss": self.spss}  # fmt: skip
        with Timer() as t:
            body = self.http.get_json(SEARCH_PATH, params=params, query=query, window=window)
            df = parse_search(body, source=self.name)
        reasons = []
        if df.height > limit:  # a server that ignored the limit: the budget still holds
            df = df.head(limit)
        if df.height >= limit:
            reasons.append(
                f"the search returned limit={limit} traces; more may match: narrow the query "
                f"or the window, or raise limit="
            )
        metrics = body.get("metrics") if isinstance(body.get("metrics"), Mapping) else {}
        try:
            done, total = int(metrics.get("completedJobs", 0)), int(metrics.get("totalJobs", 0))
        except (TypeError, ValueError):
            done = total = 0
        if total and done < total and not reasons:
            reasons.append(
                f"Tempo searched {done} of {total} jobs (blocks) before answering; traces in "
                "the rest were not looked at: narrow the window or the query"
            )
        return Result(source=self.name, signal="trace_search", frame=df, query=query,
                      window=window, partial=bool(reasons), reasons=tuple(reasons),
                      elapsed_s=t.elapsed, extra={"metrics": dict(metrics or {})})  # fmt: skip

    # spans ---------------------------------------------------------------------------------
    def spans(
        self,
        query: str | None,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Result:
        """Every span of the traces a TraceQL search finds (search, then fetch each trace,
        ``concurrency`` at a time). Whole traces are returned, even spans outside
        ``window``. Partial when the search hit its limit or some traces failed."""
        with Timer() as t:
            found = self.search(query, window, services=services, limit=limit)
            ids = found.frame["trace_id"].to_list()
            reasons = list(found.reasons)
            parts: list[pl.DataFrame] = []
            failed: list[tuple[str, SourceError | BadData]] = []

            def one(tid: str) -> tuple[str, pl.DataFrame | None, list[str], Any]:
                try:
                    df, rs = self._fetch(tid, None)
                    return tid, df, rs, None
                except AuthError:
                    raise
                except (SourceError, BadData) as exc:
                    return tid, None, [], exc

            if ids:
                with ThreadPoolExecutor(max_workers=min(self.concurrency, len(ids))) as pool:
                    for tid, df, rs, exc in pool.map(in_context(one), ids):
                        if exc is not None:
                            failed.append((tid, exc))
                        else:
                            parts.append(cast(pl.DataFrame, df))  # one() gave a frame
                            reasons += rs
            if failed and not parts:
                raise failed[0][1]
            if failed:
                names = ", ".join(tid for tid, _ in failed[:3])
                more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
                reasons.append(
                    f"{len(failed)} of {len(ids)} traces could not be fetched ({names}{more}): "
                    f"{failed[0][1].message}"
                )
            frame = frames.concat(parts, "spans") if parts else frames.empty("spans")
        return self.result("spans", frame, query=found.query, window=window, reasons=reasons,
                           elapsed_s=t.elapsed, traces_found=len(ids),
                           traces_loaded=len(parts))  # fmt: skip
