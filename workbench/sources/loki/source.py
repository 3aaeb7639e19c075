"""Loki: LogQL log queries into the logs frame, LogQL metric queries into the metrics frame.

Log queries page through ``/loki/api/v1/query_range`` when a window holds more than
``limit`` lines: each next page continues from the last timestamp seen (the lines at that
timestamp are asked again and deduplicated), up to ``max_pages`` pages. If lines are still
left after that, the result is marked ``partial`` with the reason; it is never quietly
short. Error rates and line counts are computed by Loki (``count_over_time``), so only
the aggregated series travel.

Example::

    >>> from workbench.sources.loki.source import LokiSource
    >>> loki = LokiSource("http://loki:3100", tenant="team-a")
    >>> res = loki.logs('{service_name="checkout"} |= "timeout"', window)
    >>> res.frame, res.partial, res.reasons
    >>> loki.logs(None, window, services=["checkout", "cart"])      # built, escaped
    >>> loki.error_ratio(window, services=["checkout"]).frame         # aggregated by Loki
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import polars as pl

from workbench import frames
from workbench.errors import BadData, ConfigError, LimitExceeded, QueryError
from workbench.sources.base import Result, Source, Timer
from workbench.sources.http import Auth, Timeout
from workbench.sources.lazyhttp import LazyHttp
from workbench.sources.loki import logql
from workbench.sources.loki.response import Key, LogRows, Page, matrix_frame, parse_page
from workbench.timewindow import Window

__all__ = ["LokiSource"]

log = logging.getLogger(__name__)

RANGE_PATH = "/loki/api/v1/query_range"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_POINTS = 11_000
# Loki 3 then returns structured metadata and parsed labels apart from the stream labels
# (older servers ignore it and fold them into the stream labels; both forms are read).
_FLAGS = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}
# Server messages that mean "a limit was hit", not "your query is wrong".
_LIMIT_PATTERNS = (
    (re.compile(r"max entries limit", re.I), "max_entries_limit_per_query",
     "lower limit= to the server's max_entries_limit_per_query"),
    (re.compile(r"time range exceeds the limit|query length", re.I), "max_query_length",
     "narrow the window"),
    (re.compile(r"maximum (of )?series|max(imum)? number of series", re.I), "max_query_series",
     "aggregate further (sum by fewer labels) or select fewer streams"),
    (re.compile(r"11,?000 points|maximum resolution", re.I), "max points per series",
     "use a larger step"),
)  # fmt: skip


def _ns(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1) * 1000


def _step_for(window: Window, step: float | None) -> float:
    span = window.duration.total_seconds()
    if step is None:
        step = max(1.0, float(int(span / 500) or 1))
    if span / step > _MAX_POINTS:
        raise ConfigError(
            f"step {step:g}s over {span:g}s gives more than {_MAX_POINTS} points per series",
            hint=f"use step >= {span / _MAX_POINTS:.0f}s",
        )
    return float(step)


class LokiSource(LazyHttp, Source):
    """Logs (and LogQL metrics) from Grafana Loki's HTTP API.

    ``tenant`` sets the ``X-Scope-OrgID`` header of multi-tenant Loki; ``auth`` carries a
    bearer token, basic auth, headers and a CA (secrets are references, resolved on the
    first request). ``limit`` is the lines per request, ``max_pages`` how many requests
    one log query may make. ``service_label`` is the label the built queries select on.
    ``direction`` decides which end of the window comes first (and is kept if the
    result is partial); frames are always sorted oldest first.
    """

    kind: ClassVar[str] = "loki"
    capabilities = frozenset({"logs", "metrics"})

    def __init__(
        self,
        url: str,
        *,
        name: str = "loki",
        auth: Auth | None = None,
        timeout: Timeout | None = None,
        tenant: str | None = None,
        limit: int = 5000,
        max_pages: int = 20,
        direction: str = "backward",
        service_label: str = "service_name",
        retries: int = 2,
    ) -> None:
        super().__init__(name=name)
        if limit < 1 or max_pages < 1:
            raise ConfigError("limit and max_pages must be at least 1")
        if direction not in ("backward", "forward"):
            raise ConfigError(f"direction must be 'backward' or 'forward', not {direction!r}")
        self._connect_settings(url, auth=auth, timeout=timeout, retries=retries, tenant=tenant)
        self.limit = limit
        self.max_pages = max_pages
        self.direction = direction
        self.service_label = service_label

    def describe(self) -> dict[str, Any]:
        from workbench.secrets import redact_url

        return {
            **super().describe(),
            "url": redact_url(self.url),
            "tenant": self.tenant,
            "limit": self.limit,
            "max_pages": self.max_pages,
            **self.auth.describe(),
        }

    # discovery ----------------------------------------------------------------------------
    def services(self, window: Window | None = None) -> list[str]:
        """The values of ``service_label`` Loki has (in ``window`` if given)."""
        path = f"/loki/api/v1/label/{self.service_label}/values"
        params = {"start": _ns(window.start), "end": _ns(window.end)} if window else None
        body = self.http.get_json(path, params=params, query=f"label {self.service_label}",
                                  window=window)  # fmt: skip
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list | None):
            raise BadData(f"{self.name}: {path} did not return a list", source=self.name,
                          path=path, field="data")  # fmt: skip
        return sorted(str(v) for v in data or [])

    # logs ---------------------------------------------------------------------------------
    def logs(
        self,
        query: str | None,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        limit: int | None = None,
        direction: str | None = None,
        max_pages: int | None = None,
    ) -> Result:
        """Log lines of a LogQL log query over ``window`` as the logs frame.

        ``query=None`` selects the streams of ``services`` on ``service_label``.
        """
        if query is None:
            query = logql.selector(services, label=self.service_label)
        limit = limit or self.limit
        direction = direction or self.direction
        max_pages = max_pages or self.max_pages
        if direction not in ("backward", "forward"):
            raise ConfigError(f"direction must be 'backward' or 'forward', not {direction!r}")
        with Timer() as t:
            rows, pages, warnings, reasons, stats = self._paginate(
                query, window, limit=limit, direction=direction, max_pages=max_pages
            )
            df = rows.frame(service_label=self.service_label)
        return self.result(
            "logs", df, query=query, window=window, reasons=reasons, warnings=warnings,
            elapsed_s=t.elapsed, pages=pages, duplicates_dropped=rows.dropped, stats=stats,
        )  # fmt: skip

    def _get(self, params: dict[str, Any], *, query: str, window: Window) -> Page:
        try:
            resp = self.http.request(
                "GET", RANGE_PATH, params=params, query=query, window=window, headers=_FLAGS
            )
            body = self.http.decode(resp, query=query)
        except QueryError as exc:
            limit_exc = _as_limit(exc)
            if limit_exc is exc:
                raise
            raise limit_exc from exc
        return parse_page(body, source=self.name, path=RANGE_PATH)

    def _paginate(
        self, query: str, window: Window, *, limit: int, direction: str, max_pages: int
    ) -> tuple[LogRows, int, list[str], list[str], dict[str, Any]]:
        start, end = _ns(window.start), _ns(window.end)
        rows = LogRows(source=self.name, path=RANGE_PATH)
        warnings: list[str] = []
        reasons: list[str] = []
        skip: Counter[Key] = Counter()
        edge: int | None = None
        stats: dict[str, Any] = {}
        pages = 0
        while True:
            params = {"query": query, "start": start, "end": end, "limit": limit,
                      "direction": direction}  # fmt: skip
            page = self._get(params, query=query, window=window)
            pages += 1
            if page.result_type != "streams":
                raise QueryError(
                    f"{self.name}: {query!r} is a metric query; logs() needs a log query",
                    source=self.name, query=query, window=window,
                    hint="use metrics() for LogQL metric queries",
                )  # fmt: skip
            stats = page.stats or stats
            warnings += [w for w in page.warnings if w not in warnings]
            before = len(rows)
            first_row, oldest, newest = rows.add(page, skip=skip, skip_ts=edge)
            if page.entries < limit or oldest is None or newest is None:
                break
            new_edge = oldest if direction == "backward" else newest
            at_edge = rows.edge_keys(first_row, new_edge)  # new rows at the page's edge
            stuck = False
            if new_edge == edge:
                at_edge = skip + at_edge  # earlier pages' lines at this instant, plus new ones
                stuck = len(rows) == before
            skip, edge = at_edge, new_edge
            side = "older" if direction == "backward" else "newer"
            if pages >= max_pages:
                reasons.append(
                    f"stopped after {pages} pages of {limit} lines ({len(rows)} lines "
                    f"loaded); lines {side} than {_fmt_ns(edge)} were not loaded: narrow "
                    f"the window or the query, or raise limit=/max_pages="
                )
                break
            if stuck:
                # A whole page at one instant: Loki cannot page inside a nanosecond.
                # Step past it, and say that lines at that instant may be missing.
                reasons.append(
                    f"at least {limit} lines share the timestamp {_fmt_ns(edge)}; only "
                    f"{sum(skip.values())} of them were loaded: raise limit= to get them all"
                )
                skip, edge = Counter(), None
                if direction == "backward":
                    end = new_edge
                else:
                    start = new_edge + 1
                if start >= end:
                    break
                continue
            if direction == "backward":
                end = new_edge + 1
            else:
                start = new_edge
        if reasons:
            # INFO: the reasons make the result partial, which is what is reported
            log.info("%s: partial logs for %s: %s", self.name, query, reasons[0])
        return rows, pages, warnings, reasons, stats

    # metrics ------------------------------------------------------------------------------
    def metrics(
        self,
        query: str | None,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        step: float | None = None,
        name: str | None = None,
    ) -> Result:
        """A LogQL metric query over ``window`` (Loki aggregates) as the metrics frame.

        ``name`` is the ``metric`` column (default ``"logql"``). ``query=None`` returns
        per-service line counts ``log_lines`` and error-line counts ``log_error_lines``
        per ``step`` bucket.
        """
        if query is None:
            a = self.count_over_time(window, services=services, step=step)
            b = self.count_over_time(
                window, services=services, step=step, pipeline=logql.DEFAULT_ERROR_FILTER,
                name="log_error_lines",
            )  # fmt: skip
            return self.result(
                "metrics", pl.concat([a.frame, b.frame]), query=f"{a.query}\n{b.query}",
                window=window, warnings=a.warnings + b.warnings,
                elapsed_s=a.elapsed_s + b.elapsed_s,
            )  # fmt: skip
        st = _step_for(window, step)
        with Timer() as t:
            params = {"query": query, "start": _ns(window.start), "end": _ns(window.end),
                      "step": f"{st:g}", "limit": self.limit}  # fmt: skip
            page = self._get(params, query=query, window=window)
            if page.result_type == "streams":
                raise QueryError(
                    f"{self.name}: {query!r} is a log query; metrics() needs a metric query",
                    source=self.name, query=query, window=window,
                    hint="wrap it, e.g. sum(count_over_time(<query> [1m])), or use logs()",
                )  # fmt: skip
            df = matrix_frame(page, metric=name or "logql", source=self.name, path=RANGE_PATH,
                              service_label=self.service_label)  # fmt: skip
        return self.result(
            "metrics", df, query=query, window=window, warnings=page.warnings,
            elapsed_s=t.elapsed, step_s=st, stats=page.stats,
        )  # fmt: skip

    def count_over_time(
        self,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        step: float | None = None,
        pipeline: str = "",
        name: str = "log_lines",
    ) -> Result:
        """Lines per ``step`` bucket and service, counted by Loki (``count_over_time``).

        ``pipeline`` is a LogQL pipeline applied before counting (``|= "timeout"``).
        """
        st = _step_for(window, step)
        sel = logql.selector(services, label=self.service_label)
        q = logql.count_over_time(sel, st, by=[self.service_label], pipeline=pipeline)
        return self.metrics(q, window, step=st, name=name)

    def rate(
        self,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        step: float | None = None,
        pipeline: str = "",
        name: str = "log_lines_per_second",
    ) -> Result:
        """Lines per second per service, averaged over each ``step`` bucket by Loki
        (``rate``); ``pipeline`` filters first (``|= "timeout"``)."""
        st = _step_for(window, step)
        sel = logql.selector(services, label=self.service_label)
        q = logql.rate(sel, st, by=[self.service_label], pipeline=pipeline)
        return self.metrics(q, window, step=st, name=name)

    def error_ratio(
        self,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        step: float | None = None,
        errors: str = logql.DEFAULT_ERROR_FILTER,
    ) -> Result:
        """Share of error lines per service and ``step`` bucket (metric ``log_error_ratio``).

        Loki counts all lines and error lines (``errors``: a LogQL pipeline, by default
        a case-insensitive error-word filter); only the counts travel. A bucket with lines
        but no error lines has ratio 0.
        """
        total = self.count_over_time(window, services=services, step=step)
        errs = self.count_over_time(
            window, services=services, step=step, pipeline=errors, name="log_error_lines"
        )
        keys = ["ts", "service"]
        e = errs.frame.select(*keys, err=pl.col("value"))
        df = (
            total.frame.join(e, on=keys, how="left", nulls_equal=True)
            .with_columns(
                value=pl.when(pl.col("value") > 0)
                .then(pl.col("err").fill_null(0.0) / pl.col("value"))
                .otherwise(None),
                metric=pl.lit("log_error_ratio"),
            )
            .drop_nulls("value")
            .select(list(frames.SCHEMAS["metrics"]))
        )
        return self.result(
            "metrics", df, query=f"{errs.query}\n/ {total.query}", window=window,
            warnings=total.warnings + errs.warnings,
            elapsed_s=total.elapsed_s + errs.elapsed_s,
        )  # fmt: skip


def _fmt_ns(ns: int) -> str:
    return (
        datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        + f".{ns % 1_000_000_000:09d}Z"
    )


def _as_limit(exc: QueryError) -> QueryError | LimitExceeded:
    text = f"{exc.detail or ''} {exc.error_type or ''}"
    for pattern, limit, hint in _LIMIT_PATTERNS:
        if pattern.search(text):
            return LimitExceeded(
                f"{exc.source} refused the query: server limit {limit}",
                source=exc.source, limit=limit, query=exc.query, window=exc.window,
                status=exc.status, detail=exc.detail, hint=hint,
            )  # fmt: skip
    return exc
