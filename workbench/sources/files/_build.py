"""Column builders for the frames the file parsers produce: times, key/value attribute
lists, the spans frame, and checks on spans (duplicate ids, parent cycles)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from workbench import frames
from workbench.sources.files._problems import Problems
from workbench.sources.files._values import check_ns, scalar_str


def ns_series(values: Sequence[int | None], name: str) -> pl.Series:
    """ns integers -> ``Datetime("us", "UTC")`` series."""
    return (
        pl.Series(name, values, dtype=pl.Int64)
        .cast(pl.Datetime("ns"))
        .dt.replace_time_zone("UTC")
        .dt.cast_time_unit("us")
    )


# ---------------------------------------------------------------------------------------
# key/value columns


class KVBuilder:
    """Builds a ``frames.KV`` column row by row, stored in long form (row, key, value) and
    assembled with one group-by: far faster than a list of per-row dict lists."""

    __slots__ = ("keys", "n", "rows", "values")

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.keys: list[str] = []
        self.values: list[str] = []
        self.n = 0

    def add(self, mapping: Mapping[str, Any] | None) -> None:
        if mapping:
            keys = sorted(mapping)
            vals = [mapping[k] for k in keys]
            if not all(type(v) is str for v in vals):
                pairs = [(str(k), scalar_str(v)) for k, v in zip(keys, vals, strict=True)]
                keys = [k for k, v in pairs if v is not None]
                vals = [v for _, v in pairs if v is not None]
            self.rows.extend([self.n] * len(keys))
            self.keys.extend(keys)
            self.values.extend(vals)
        self.n += 1

    def series(self, name: str = "attributes") -> pl.Series:
        return kv_from_long(self.rows, self.keys, self.values, self.n, name=name)


def kv_from_long(
    rows: Sequence[int] | pl.Series,
    keys: Sequence[str] | pl.Series,
    values: Sequence[str] | pl.Series,
    n: int,
    *,
    name: str = "attributes",
) -> pl.Series:
    """(row, key, value) triples, rows ascending -> a ``KV`` series of length ``n``."""
    if n == 0 or len(rows) == 0:
        return pl.Series(name, [[]] * n, dtype=frames.KV)
    long = pl.DataFrame(
        {
            "r": pl.Series(rows, dtype=pl.UInt32),
            "key": pl.Series(keys, dtype=pl.String),
            "value": pl.Series(values, dtype=pl.String),
        }
    )
    grouped = long.group_by("r", maintain_order=True).agg(pl.struct("key", "value").alias(name))
    full = pl.DataFrame({"r": pl.arange(0, n, eager=True, dtype=pl.UInt32)}).join(
        grouped, on="r", how="left", maintain_order="left"
    )
    return full[name].fill_null(pl.lit([], dtype=frames.KV)).cast(frames.KV)


# ---------------------------------------------------------------------------------------
# the spans frame


class SpanRows:
    """Column builder for the spans frame; ``frame()`` computes ``duration_ms`` from the
    exact ns start/end before times are cut to microseconds."""

    __slots__ = (
        "attrs",
        "end",
        "kind",
        "name",
        "parent",
        "service",
        "span",
        "start",
        "status",
        "trace",
    )

    def __init__(self) -> None:
        self.trace: list[str | None] = []
        self.span: list[str | None] = []
        self.parent: list[str | None] = []
        self.service: list[str | None] = []
        self.name: list[str] = []
        self.kind: list[str] = []
        self.start: list[int] = []
        self.end: list[int] = []
        self.status: list[str] = []
        self.attrs = KVBuilder()

    def add(
        self,
        *,
        trace_id: str | None,
        span_id: str | None,
        parent: str | None,
        service: str | None,
        name: str,
        kind: str,
        start_ns: int,
        end_ns: int,
        status: str,
        attributes: Mapping[str, Any],
    ) -> None:
        self.trace.append(trace_id)
        self.span.append(span_id)
        self.parent.append(parent)
        self.service.append(service)
        self.name.append(name)
        self.kind.append(kind)
        self.start.append(start_ns)
        self.end.append(end_ns)
        self.status.append(status)
        self.attrs.add(attributes)

    def __len__(self) -> int:
        return len(self.trace)

    def frame(self) -> pl.DataFrame:
        start = pl.Series("s", self.start, dtype=pl.Int64)
        end = pl.Series("e", self.end, dtype=pl.Int64)
        return pl.DataFrame(
            {
                "trace_id": pl.Series(self.trace, dtype=pl.String),
                "span_id": pl.Series(self.span, dtype=pl.String),
                "parent_span_id": pl.Series(self.parent, dtype=pl.String),
                "service": pl.Series(self.service, dtype=pl.String),
                "name": pl.Series(self.name, dtype=pl.String),
                "kind": pl.Series(self.kind, dtype=pl.String),
                "start": ns_series(self.start, "start"),
                "end": ns_series(self.end, "end"),
                "duration_ms": ((end - start).cast(pl.Float64) / 1e6),
                "status": pl.Series(self.status, dtype=pl.String),
                "attributes": self.attrs.series(),
            }
        )


def check_span_times(
    start: int,
    end: int,
    problems: Problems,
    *,
    fields: tuple[str, str],
    line: int | None,
    unit: str,
) -> None:
    """Both times in 1990..2200 (reported in the source ``unit``) and end >= start."""
    check_ns(start, problems, field=fields[0], unit=unit, line=line)
    check_ns(end, problems, field=fields[1], unit=unit, line=line)
    if end < start:
        raise problems.bad(
            f"span ends {(start - end) / 1e6:.3f} ms before it starts", line=line, field=fields[1]
        )


def span_warnings(df: pl.DataFrame) -> list[str]:
    """Notes about a spans frame that do not make it partial: duplicate ids (all rows are
    kept) and parent cycles (rows kept; analysis must not follow parents blindly)."""
    out: list[str] = []
    if df.height == 0:
        return out
    dup = df.group_by("trace_id", "span_id").len().filter(pl.col("len") > 1)
    if dup.height:
        out.append(
            f"{dup.height} span id(s) appear more than once in their trace "
            f"({int(dup['len'].sum())} rows, all kept)"
        )
    cyc = cycle_span_count(df)
    if cyc:
        out.append(f"{cyc} span(s) sit on a parent cycle (rows kept)")
    return out


#: pruning rounds before :func:`cycle_span_count` walks the parents in Python instead
_PRUNE_ROUNDS = 64


def cycle_span_count(df: pl.DataFrame) -> int:
    """Number of spans that lie on a parent->child cycle (linear time, no recursion).

    >>> cycle_span_count(inc.spans)
    0
    """
    # Each span has at most one parent, so the spans on a cycle are exactly those left
    # after repeatedly removing the spans that no span names as its parent: a few joins
    # (one per level of the deepest trace) instead of a walk over every span in Python.
    nodes = (
        df.select("trace_id", "span_id", "parent_span_id")
        .filter(pl.col("span_id").is_not_null() & pl.col("parent_span_id").is_not_null())
        .unique(["trace_id", "span_id"], keep="first", maintain_order=True)
    )
    for _ in range(_PRUNE_ROUNDS):
        kept = nodes.join(
            nodes.select("trace_id", span_id="parent_span_id").unique(),
            on=["trace_id", "span_id"],
            how="semi",
            nulls_equal=True,
        )
        if kept.height == nodes.height:
            return kept.height
        nodes = kept
    return _cycle_span_walk(df)  # deeper than the rounds allow: the walk is linear


def _cycle_span_walk(df: pl.DataFrame) -> int:
    """:func:`cycle_span_count` by walking each span's parents (linear time)."""
    parent: dict[tuple[str | None, str | None], str | None] = {}
    for t, s, p in zip(
        df["trace_id"].to_list(),
        df["span_id"].to_list(),
        df["parent_span_id"].to_list(),
        strict=True,
    ):
        if s is not None and p is not None:
            parent.setdefault((t, s), p)
    state: dict[tuple[str | None, str | None], int] = {}  # 1 = in progress, 2 = done
    on_cycle = 0
    for key in parent:
        if key in state:
            continue
        path: list[tuple[str | None, str | None]] = []
        cur: tuple[str | None, str | None] | None = key
        while cur is not None and cur in parent and cur not in state:
            state[cur] = 1
            path.append(cur)
            cur = (cur[0], parent[cur])
        if cur is not None and state.get(cur) == 1:
            on_cycle += len(path) - path.index(cur)
        for k in path:
            state[k] = 2
    return on_cycle
