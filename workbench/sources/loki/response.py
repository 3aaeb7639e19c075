"""Loki ``query_range`` response bodies into the logs and metrics frames (pure, no I/O).

``parse_page`` checks one decoded body and returns its rows; ``LogRows`` accumulates
pages (deduplicating the entries a paginated query sees twice at the page boundary) and
builds the logs frame; ``matrix_frame`` turns a metric query's matrix (or vector) into
the metrics frame.

Mapping of a log entry:

- ``ts``: the entry's nanosecond timestamp (kept exactly in ``ts_ns`` while paginating)
- ``attributes``: stream labels, then structured metadata and parsed labels
  (``encodingFlags: categorize-labels`` responses, or a flat third element)
- ``service``: the first of ``service_name``, ``service``, ``app``, ``job``
- ``level``: the first of ``level``, ``detected_level``, ``severity``, ``lvl`` among the
  labels, else parsed from a JSON or logfmt line, normalised to the contract's levels
- ``trace_id`` / ``span_id``: ``trace_id``/``traceID``/``traceId`` (and span likewise)

Example::

    >>> page = parse_page(body, source="loki", path="/loki/api/v1/query_range")
    >>> rows = LogRows(); rows.add(page); rows.frame().height
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import polars as pl

from workbench import frames
from workbench.errors import BadData

__all__ = ["LogRows", "Page", "matrix_frame", "normalize_level", "parse_page"]

SERVICE_KEYS = ("service_name", "service", "app", "job")
# Plausible timestamps, 1990-01-01 .. 2200-01-01 in ns: outside is a wrong unit or garbage.
MIN_NS = 631_152_000 * 10**9
MAX_NS = 7_258_118_400 * 10**9
LEVEL_KEYS = ("level", "detected_level", "severity", "lvl")
TRACE_KEYS = ("trace_id", "traceID", "traceId", "trace-id")
SPAN_KEYS = ("span_id", "spanID", "spanId", "span-id")

_LEVEL_MAP = {
    "trace": "trace", "trc": "trace",
    "debug": "debug", "dbg": "debug",
    "info": "info", "inf": "info", "information": "info", "informational": "info",
    "notice": "info",
    "warn": "warn", "warning": "warn", "wrn": "warn",
    "error": "error", "err": "error", "eror": "error",
    "fatal": "fatal", "critical": "fatal", "crit": "fatal", "panic": "fatal",
    "emerg": "fatal", "emergency": "fatal", "alert": "fatal",
}  # fmt: skip
# "level": "x" (JSON) or level=x (logfmt) anywhere in the line, first match wins.
_LINE_LEVEL = r'(?i)(?:^|[\s{,])"?(?:level|lvl|severity)"?\s*[:=]\s*"?([A-Za-z]+)'


def normalize_level(value: str | None) -> str:
    """Map a level spelling (``WARNING``, ``err``, ``crit``...) to the contract's levels."""
    if not value:
        return "unknown"
    return _LEVEL_MAP.get(value.strip().lower(), "unknown")


@dataclass
class Page:
    """One decoded ``query_range`` body."""

    result_type: str
    result: list[Any]
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    entries: int = 0


def _bad(msg: str, *, source: str, path: str | None, where: str) -> BadData:
    return BadData(
        f"Loki response {msg}",
        source=source,
        path=path,
        field=where,
        hint="check that the URL points at Loki's HTTP API and that no proxy rewrites it",
    )


def parse_page(body: Any, *, source: str, path: str | None = None) -> Page:
    """Check a decoded ``query_range``/``query`` body and return it as a :class:`Page`.

    Raises :class:`BadData` naming the JSON field that is wrong.
    """
    if not isinstance(body, Mapping):
        raise _bad(f"is a {type(body).__name__}, not an object", source=source, path=path,
                   where="$")  # fmt: skip
    status = body.get("status")
    if status not in ("success", None):
        raise _bad(f"has status {status!r}: {body.get('error')!r}", source=source, path=path,
                   where="status")  # fmt: skip
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise _bad("has no 'data' object", source=source, path=path, where="data")
    rt = data.get("resultType")
    result = data.get("result")
    if rt not in ("streams", "matrix", "vector"):
        raise _bad(f"has unknown resultType {rt!r}", source=source, path=path,
                   where="data.resultType")  # fmt: skip
    if result is None:
        result = []
    if not isinstance(result, list):
        raise _bad("data.result is not a list", source=source, path=path, where="data.result")
    warnings = [str(w) for w in (body.get("warnings") or []) + (data.get("warnings") or [])]
    stats = data.get("stats") if isinstance(data.get("stats"), Mapping) else {}
    entries = 0
    for i, item in enumerate(result):
        key = "stream" if rt == "streams" else "metric"
        if not isinstance(item, Mapping) or not isinstance(item.get(key, {}), Mapping):
            raise _bad(f"data.result[{i}] has no '{key}' object", source=source, path=path,
                       where=f"data.result[{i}].{key}")  # fmt: skip
        if rt == "vector":
            continue
        values = item.get("values")
        if not isinstance(values, list):
            raise _bad(f"data.result[{i}].values is not a list", source=source, path=path,
                       where=f"data.result[{i}].values")  # fmt: skip
        entries += len(values)
    return Page(rt, result, warnings, dict(stats or {}), entries)


def _ns(v: Any, *, source: str, path: str | None, where: str) -> int:
    try:
        if isinstance(v, str):
            return int(v)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    except ValueError:
        pass
    raise _bad(f"has a bad timestamp {v!r}", source=source, path=path, where=where)


def _first(keys: Sequence[str], *maps: Mapping[str, str]) -> str | None:
    for k in keys:
        for m in maps:
            v = m.get(k)
            if v:
                return v
    return None


def _meta(v: Any) -> dict[str, str]:
    """Structured metadata / parsed labels of an entry's third element."""
    if not isinstance(v, Mapping) or not v:
        return {}
    if "structuredMetadata" in v or "parsed" in v:
        out: dict[str, str] = {}
        for part in ("structuredMetadata", "parsed"):
            sub = v.get(part)
            if isinstance(sub, Mapping):
                out.update({str(k): str(x) for k, x in sub.items()})
        return out
    return {str(k): str(x) for k, x in v.items()}


Key = tuple[tuple[tuple[str, str], ...], int, str, tuple[tuple[str, str], ...]]


class LogRows:
    """Log entries accumulated over pages, each kept once, stored column-wise.

    ``add(page, skip=..., skip_ts=...)`` drops, at the boundary timestamp only, as many
    copies of each entry as ``skip`` counts (the entries the previous page returned).
    Stream labels are kept once per stream; the frame is built with joins, not per row.
    """

    def __init__(self, *, source: str = "loki", path: str | None = None) -> None:
        self.source = source
        self.path = path
        self.ts: list[int] = []
        self.line: list[str] = []
        self.sidx: list[int] = []
        self.meta: dict[int, dict[str, str]] = {}  # row -> structured metadata / parsed
        self.streams: list[dict[str, str]] = []
        self._lkeys: list[tuple[tuple[str, str], ...]] = []
        self._stream_index: dict[tuple[tuple[str, str], ...], int] = {}
        self.dropped = 0

    def __len__(self) -> int:
        return len(self.ts)

    def key(self, row: int) -> Key:
        """The identity of a row: (stream labels, timestamp, line, metadata)."""
        meta = self.meta.get(row)
        mkey = tuple(sorted(meta.items())) if meta else ()
        return (self._lkeys[self.sidx[row]], self.ts[row], self.line[row], mkey)

    def edge_keys(self, from_row: int, ts: int) -> Counter[Key]:
        """Keys of the rows from ``from_row`` on whose timestamp is ``ts``."""
        return Counter(self.key(r) for r in range(from_row, len(self.ts)) if self.ts[r] == ts)

    def add(self, page: Page, *, skip: Counter[Key] | None = None,
            skip_ts: int | None = None) -> tuple[int, int | None, int | None]:  # fmt: skip
        """Add a streams page; return (first new row, oldest ts, newest ts) of the page."""
        first_row = len(self.ts)
        seen: Counter[Key] = Counter()
        lo: int | None = None
        hi: int | None = None
        ts_append, line_append = self.ts.append, self.line.append
        dropped_before = self.dropped
        for i, item in enumerate(page.result):
            labels = {str(k): str(v) for k, v in (item.get("stream") or {}).items()}
            lkey = tuple(sorted(labels.items()))
            si = self._stream_index.get(lkey)
            if si is None:
                si = self._stream_index[lkey] = len(self.streams)
                self.streams.append(labels)
                self._lkeys.append(lkey)
            values = item["values"]
            base = len(self.ts)
            for j, entry in enumerate(values):
                # fast path for the common shape; anything odd gets the precise error
                if type(entry) is not list or len(entry) < 2 or type(entry[1]) is not str:
                    raise _bad("entry is not [timestamp, line, ...]", source=self.source,
                               path=self.path, where=f"data.result[{i}].values[{j}]")  # fmt: skip
                raw = entry[0]
                try:
                    ts = int(raw) if type(raw) is str else _ns(raw, source="", path=None, where="")
                except (ValueError, BadData):
                    ts = _ns(raw, source=self.source, path=self.path,
                             where=f"data.result[{i}].values[{j}][0]")  # fmt: skip
                if not MIN_NS <= ts <= MAX_NS:
                    raise _bad(f"has timestamp {raw!r} outside 1990..2200 (not nanoseconds?)",
                               source=self.source, path=self.path,
                               where=f"data.result[{i}].values[{j}][0]")  # fmt: skip
                meta = _meta(entry[2]) if len(entry) > 2 and entry[2] else None
                if skip and ts == skip_ts:
                    key: Key = (lkey, ts, entry[1], tuple(sorted(meta.items())) if meta else ())
                    if key in skip:
                        seen[key] += 1
                        if seen[key] <= skip[key]:
                            self.dropped += 1
                            continue
                if meta:
                    self.meta[len(self.ts)] = meta
                ts_append(ts)
                line_append(entry[1])
            n = len(self.ts) - base
            self.sidx.extend([si] * n)
            if n:
                new = self.ts[base:]
                lo = min(lo, min(new)) if lo is not None else min(new)
                hi = max(hi, max(new)) if hi is not None else max(new)
        if self.dropped != dropped_before:  # lines skipped at the boundary count too
            at = cast(int, skip_ts)  # only lines at skip_ts are dropped
            lo = at if lo is None or at < lo else lo
            hi = at if hi is None or at > hi else hi
        return first_row, lo, hi

    def frame(self, *, service_label: str | None = None) -> pl.DataFrame:
        """The logs frame of all rows, oldest first (ties keep the server's order)."""
        skeys = (service_label, *SERVICE_KEYS) if service_label else SERVICE_KEYS
        st = pl.DataFrame(
            {
                "sidx": pl.Series(range(len(self.streams)), dtype=pl.Int64),
                "s_attrs": pl.Series([frames.kv(lab) for lab in self.streams], dtype=frames.KV),
                "s_service": [_first(skeys, lab) for lab in self.streams],
                "s_level": [_first(LEVEL_KEYS, lab) for lab in self.streams],
                "s_trace": [_first(TRACE_KEYS, lab) for lab in self.streams],
                "s_span": [_first(SPAN_KEYS, lab) for lab in self.streams],
            },
            schema_overrides={c: pl.String for c in ("s_service", "s_level", "s_trace", "s_span")},
        )
        df = pl.DataFrame(
            {
                "ts_ns": pl.Series(self.ts, dtype=pl.Int64),
                "sidx": pl.Series(self.sidx, dtype=pl.Int64),
                "message": pl.Series(self.line, dtype=pl.String),
            }
        ).with_row_index("row")
        df = df.join(st, on="sidx", how="left", maintain_order="left")
        m = self._meta_frame(skeys)
        if m is not None:
            df = df.join(m, on="row", how="left", maintain_order="left")
            df = df.with_columns(
                attributes=pl.coalesce("m_attrs", "s_attrs"),
                service=pl.coalesce("s_service", "m_service"),
                level_raw=pl.coalesce("m_level", "s_level"),
                trace_id=pl.coalesce("m_trace", "s_trace"),
                span_id=pl.coalesce("m_span", "s_span"),
            )
        else:
            df = df.rename({"s_attrs": "attributes", "s_service": "service", "s_level": "level_raw",
                            "s_trace": "trace_id", "s_span": "span_id"})  # fmt: skip
        level_expr = (
            pl.coalesce(pl.col("level_raw"), pl.col("message").str.extract(_LINE_LEVEL, 1))
            .str.to_lowercase()
            .replace_strict(_LEVEL_MAP, default="unknown", return_dtype=pl.String)
        )
        return (
            df.with_columns(
                ts=pl.from_epoch(pl.col("ts_ns"), time_unit="ns").dt.replace_time_zone("UTC"),
                level=level_expr,
            )
            .sort("ts_ns", maintain_order=True)
            .select(["ts", "service", "level", "message", "trace_id", "span_id", "attributes"])
        )

    def _meta_frame(self, skeys: Sequence[str]) -> pl.DataFrame | None:
        """Per row with metadata: its attributes and the fields read from it."""
        if not self.meta:
            return None
        f_rows: list[int] = []
        f_keys: list[str] = []
        f_vals: list[str] = []
        for r, meta in self.meta.items():
            f_rows += [r] * len(meta)
            f_keys += meta.keys()
            f_vals += meta.values()
        long = pl.DataFrame(
            {"row": pl.Series(f_rows, dtype=pl.UInt32), "key": f_keys, "value": f_vals},
            schema_overrides={"key": pl.String, "value": pl.String},
        )
        # the row's attributes: its metadata, plus the stream labels it does not shadow
        meta_rows = pl.DataFrame(
            {"row": pl.Series(list(self.meta), dtype=pl.UInt32),
             "sidx": pl.Series([self.sidx[r] for r in self.meta], dtype=pl.Int64)}
        )  # fmt: skip
        labels = pl.DataFrame(
            {
                "sidx": pl.Series([i for i, lab in enumerate(self.streams) for _ in lab],
                                  dtype=pl.Int64),
                "key": pl.Series([k for lab in self.streams for k in lab], dtype=pl.String),
                "value": pl.Series([v for lab in self.streams for v in lab.values()],
                                   dtype=pl.String),
            }
        )  # fmt: skip
        inherited = (
            meta_rows.join(labels, on="sidx", how="inner")
            .drop("sidx")
            .join(long, on=["row", "key"], how="anti")
        )
        out = (
            pl.concat([long, inherited.select(long.columns)])
            .sort("row", "key")
            .group_by("row", maintain_order=True)
            .agg(m_attrs=pl.struct("key", "value"))
        )
        for name, ks in (("m_service", skeys), ("m_level", LEVEL_KEYS), ("m_trace", TRACE_KEYS),
                         ("m_span", SPAN_KEYS)):  # fmt: skip
            rank = {k: i for i, k in enumerate(ks)}
            picked = (
                long.filter(pl.col("key").is_in(list(rank)) & (pl.col("value") != ""))
                .with_columns(rank=pl.col("key").replace_strict(rank, return_dtype=pl.Int32))
                .sort("row", "rank")
                .group_by("row", maintain_order=True)
                .agg(pl.col("value").first().alias(name))
            )
            out = out.join(picked, on="row", how="left")
        return out


def _float(v: Any) -> float:
    if isinstance(v, str):
        s = v.strip()
        low = s.lower()
        if low in ("nan", "+nan", "-nan"):
            return math.nan
        if low in ("inf", "+inf"):
            return math.inf
        if low == "-inf":
            return -math.inf
        return float(s)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    raise ValueError(v)


def matrix_frame(
    page: Page,
    *,
    metric: str,
    source: str = "loki",
    path: str | None = None,
    service_label: str | None = None,
) -> pl.DataFrame:
    """A matrix or vector page as the metrics frame; ``metric`` names series without
    ``__name__``. Values keep NaN and ±Inf (Loki writes them as strings)."""
    skeys = (service_label, *SERVICE_KEYS) if service_label else SERVICE_KEYS
    ts: list[int] = []
    val: list[float] = []
    names: list[str] = []
    svc: list[str | None] = []
    labels_col: list[list[dict[str, str]]] = []
    for i, item in enumerate(page.result):
        labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        name = labels.pop("__name__", None) or metric
        service = _first(skeys, labels)
        kvs = frames.kv(labels)
        points = [item.get("value")] if page.result_type == "vector" else item["values"]
        for j, p in enumerate(points):
            where = f"data.result[{i}].{'value' if page.result_type == 'vector' else 'values'}"
            try:
                t, v = p
                us = round(float(t) * 1_000_000)
                if not MIN_NS // 1000 <= us <= MAX_NS // 1000:
                    raise ValueError(t)
                ts.append(us)
                val.append(_float(v))
            except (TypeError, ValueError, OverflowError):
                raise _bad(f"has a bad sample {p!r}", source=source, path=path,
                           where=f"{where}[{j}]") from None  # fmt: skip
            names.append(name)
            svc.append(service)
            labels_col.append(kvs)
    return pl.DataFrame(
        {
            "ts": pl.Series(ts, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "metric": pl.Series(names, dtype=pl.String),
            "service": pl.Series(svc, dtype=pl.String),
            "value": pl.Series(val, dtype=pl.Float64),
            "labels": pl.Series(labels_col, dtype=frames.KV),
        }
    )
