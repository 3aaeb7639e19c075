"""ClickHouse as a source of logs and spans, in the OpenTelemetry Collector ClickHouse
exporter's schema (``otel_logs``, ``otel_traces``), over ClickHouse's HTTP interface.

Queries go as ``GET /?query=...`` (read-only on the server) with every value a query
parameter, and come back as Arrow IPC (``default_format=ArrowStream``), read by polars
without a per-row Python step. ``max_rows`` bounds a load: past it the result is cut at
the budget and marked partial, with the reason.

Example::

    >>> from workbench.sources.clickhouse import ClickHouseSource
    >>> ch = ClickHouseSource("http://clickhouse:8123", database="otel")
    >>> ch.logs("timeout", window, services=["checkout"]).frame
    >>> ch.spans(None, window).frame
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, ClassVar

import polars as pl

from workbench import frames
from workbench.errors import BadData, ConfigError
from workbench.sources.base import Result, Signal, Source, Timer
from workbench.sources.clickhouse import queries
from workbench.sources.http import Auth, Timeout
from workbench.sources.lazyhttp import LazyHttp
from workbench.timewindow import Window

__all__ = ["ClickHouseSource"]

_LEVELS = {"warning": "warn", "err": "error", "critical": "fatal", "crit": "fatal",
           "information": "info", "notice": "info", "fatal": "fatal"}  # fmt: skip


class ClickHouseSource(LazyHttp, Source):
    """Logs and spans from ClickHouse tables written by the OpenTelemetry Collector.

    ``logs(query, window)``: ``query`` is a plain substring of the log body (or None);
    ``spans(query, window)``: ``query`` is a trace id (or None for every span whose start
    is in the window). ``database``, ``logs_table``, ``traces_table``: where the exporter
    writes (its defaults). Authentication: ``auth`` (basic auth or headers such as
    ``X-ClickHouse-User``/``X-ClickHouse-Key``), never in the URL.
    """

    kind: ClassVar[str] = "clickhouse"
    capabilities: ClassVar[frozenset[Signal]] = frozenset({"logs", "spans"})

    def __init__(
        self,
        url: str,
        *,
        name: str = "clickhouse",
        database: str = "otel",
        logs_table: str = "otel_logs",
        traces_table: str = "otel_traces",
        auth: Auth | None = None,
        timeout: Timeout | None = None,
        max_rows: int = 1_000_000,
        retries: int = 2,
    ) -> None:
        super().__init__(name=name)
        if max_rows < 1:
            raise ConfigError(f"source {name!r}: max_rows must be at least 1")
        for what, value in (("database", database), ("logs_table", logs_table),
                            ("traces_table", traces_table)):  # fmt: skip
            queries.identifier(value, what=what)
        self._connect_settings(url, auth=auth, timeout=timeout, retries=retries)
        self.database, self.logs_table, self.traces_table = database, logs_table, traces_table
        self.max_rows = max_rows

    def describe(self) -> dict[str, Any]:
        from workbench.secrets import redact_url

        return {**super().describe(), "url": redact_url(self.url), "database": self.database,
                "logs_table": self.logs_table, "traces_table": self.traces_table,
                "max_rows": self.max_rows, **self.auth.describe()}  # fmt: skip

    # ------------------------------------------------------------------------------------
    def _select(self, sql: str, params: dict[str, str], *, window: Window) -> pl.DataFrame:
        resp = self.http.request(
            "GET", "/", params={"query": sql, "default_format": "ArrowStream", **params},
            query=sql, window=window,
        )  # fmt: skip
        try:
            return pl.read_ipc_stream(io.BytesIO(resp.content))
        except Exception as exc:  # polars raises ComputeError/OSError on a cut stream
            raise BadData(
                f"{self.name}: the Arrow stream ClickHouse sent cannot be read "
                f"({len(resp.content)} bytes): {str(exc)[:200]}",
                source=self.name, hint="retry; a proxy may be cutting the response",
            ) from None  # fmt: skip

    def _budget(self, df: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
        if df.height <= self.max_rows:
            return df, []
        return df.head(self.max_rows), [
            f"more than max_rows={self.max_rows:,} rows match: the first {self.max_rows:,} "
            "by time are loaded; narrow the window or the services, or raise max_rows="
        ]

    def logs(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        """Log records with ``Timestamp`` in ``window`` (``query``: a body substring)."""
        sql, params = queries.logs_sql(self.database, self.logs_table, window,
                                       services=services, contains=query,
                                       limit=self.max_rows)  # fmt: skip
        with Timer() as t:
            df, reasons = self._budget(self._select(sql, params, window=window))
            level = pl.col("level").str.to_lowercase()
            df = df.with_columns(
                pl.when(level.is_in(frames.LEVELS)).then(level)
                .otherwise(level.replace_strict(_LEVELS, default="unknown"))
                .alias("level"),
                *(pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
                  for c in ("trace_id", "span_id")),
            ).select(list(frames.SCHEMAS["logs"]))  # fmt: skip
        return self.result("logs", df, query=sql, window=window, reasons=reasons,
                           elapsed_s=t.elapsed)  # fmt: skip

    def spans(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        """Spans whose start is in ``window`` (``query``: one trace id)."""
        sql, params = queries.spans_sql(self.database, self.traces_table, window,
                                        services=services, trace_id=query,
                                        limit=self.max_rows)  # fmt: skip
        with Timer() as t:
            df, reasons = self._budget(self._select(sql, params, window=window))
            kind = pl.col("kind").str.to_lowercase().str.replace("^span_kind_", "")
            status = pl.col("status").str.to_lowercase().str.replace("^status_code_", "")
            df = df.with_columns(
                pl.when(pl.col("parent_span_id") == "").then(None)
                .otherwise(pl.col("parent_span_id")).alias("parent_span_id"),
                pl.when(kind.is_in(frames.SPAN_KINDS)).then(kind).otherwise(pl.lit("unspecified"))
                .alias("kind"),
                pl.when(status.is_in(frames.SPAN_STATUSES)).then(status).otherwise(pl.lit("unset"))
                .alias("status"),
                (pl.col("start") + pl.duration(microseconds=pl.col("duration_ns") // 1000))
                .alias("end"),
                (pl.col("duration_ns") / 1e6).alias("duration_ms"),
            ).select(list(frames.SCHEMAS["spans"]))  # fmt: skip
        return self.result("spans", df, query=sql, window=window, reasons=reasons,
                           elapsed_s=t.elapsed)  # fmt: skip
