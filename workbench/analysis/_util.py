"""Small helpers shared by the analysis modules (time steps, windows, span roles)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import polars as pl

from workbench import frames
from workbench.errors import BadData, ConfigError
from workbench.timewindow import Window, parse_duration

__all__ = [
    "PEER_KEYS",
    "check_columns",
    "entry_spans",
    "filter_window",
    "is_entry",
    "memo_active",
    "memo_scope",
    "memoised",
    "peer_name",
    "span_seconds",
    "step_of",
    "truncate_every",
    "with_parent_service",
]

#: Span attributes naming the callee of a client span, best first.
PEER_KEYS = ("peer.service", "server.address", "net.peer.name", "db.system")


def step_of(step: str | timedelta) -> timedelta:
    """A positive step as a timedelta (``"1m"``, ``"30s"``, ``timedelta(...)``)."""
    d = parse_duration(step)
    if d <= timedelta(0):
        raise ConfigError(f"step must be positive, got {step!r}", hint="e.g. step='1m'")
    return d


def truncate_every(step: timedelta) -> str:
    """A polars duration string for ``dt.truncate`` (microsecond resolution)."""
    us = int(step / timedelta(microseconds=1))
    return f"{us}us"


def check_columns(df: pl.DataFrame, needed: tuple[str, ...], what: str) -> None:
    """Raise :class:`BadData` naming the first missing column."""
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise BadData(
            f"{what} frame lacks column(s) {', '.join(missing)}",
            field=missing[0],
            hint=f"pass a frame with columns {', '.join(needed)} (see workbench.frames)",
        )


def filter_window(df: pl.DataFrame, column: str, window: Window | None) -> pl.DataFrame:
    """Rows whose ``column`` lies in ``[window.start, window.end)`` (all rows if None)."""
    if window is None:
        return df
    return df.filter((pl.col(column) >= window.start) & (pl.col(column) < window.end))


def span_seconds(
    df: pl.DataFrame, window: Window | None, start: str = "start", end: str = "end"
) -> float:
    """Seconds covered: the window's length, else the data's extent (at least 1 s)."""
    if window is not None:
        return window.duration.total_seconds()
    if df.height == 0:
        return 1.0
    lo = df[start].min()
    hi = df[end].max()
    if isinstance(lo, datetime) and isinstance(hi, datetime):
        return max((hi - lo).total_seconds(), 1.0)
    return 1.0


def peer_name() -> pl.Expr:
    """The callee a client span names in its attributes (null if none).

    ``peer.service`` wins, then ``server.address`` (a Kubernetes DNS name
    ``orders-db.shop.svc.cluster.local`` is shortened to ``orders-db``; a port is dropped),
    then ``net.peer.name``, then ``db.system``.
    """
    addr = pl.coalesce(
        frames.attr("attributes", "server.address"), frames.attr("attributes", "net.peer.name")
    )
    addr = addr.str.replace(r":\d+$", "")
    addr = (
        pl.when(addr.str.contains(r"\.svc(\.|$)"))
        .then(addr.str.extract(r"^([^.]+)", 1))
        .otherwise(addr)
    )
    return pl.coalesce(
        frames.attr("attributes", "peer.service"),
        addr,
        frames.attr("attributes", "db.system"),
    ).alias("peer")


def with_parent_service(spans: pl.DataFrame, alias: str = "_parent_service") -> pl.DataFrame:
    """``spans`` plus the service of each span's parent (null: no parent, or the parent
    is not in the data), by one left join on ``(trace_id, parent_span_id)``.

    The join runs on 64-bit hashes of the id pairs and is then checked against the ids
    themselves; if a hash collides, or span ids repeat within a trace (a join would
    multiply rows), it is redone exactly on the strings with the first span of each id
    as the parent.
    """
    keyed = spans.with_columns(
        pl.struct("trace_id", "span_id").hash(7).alias("_k"),
        pl.struct("trace_id", pl.col("parent_span_id").alias("span_id")).hash(7).alias("_pk"),
    )
    parents = keyed.select(
        pl.col("_k").alias("_pk"),
        pl.col("service").alias(alias),
        pl.col("trace_id").alias("_ptid"),
        pl.col("span_id").alias("_psid"),
    )
    joined = keyed.join(parents, on="_pk", how="left")
    if joined.height == spans.height:
        wrong = joined.filter(
            pl.col("_ptid").is_not_null()
            & (
                pl.col("_ptid").ne_missing(pl.col("trace_id"))
                | pl.col("_psid").ne_missing(pl.col("parent_span_id"))
            )
        ).height
        if wrong == 0:
            return joined.drop("_k", "_pk", "_ptid", "_psid")
    exact = spans.select(
        pl.col("trace_id"),
        pl.col("span_id").alias("parent_span_id"),
        pl.col("service").alias(alias),
    ).unique(subset=["trace_id", "parent_span_id"], keep="first")
    return spans.join(exact, on=["trace_id", "parent_span_id"], how="left")


def is_entry(alias: str = "_parent_service") -> pl.Expr:
    """True for a span where a request enters its service (see :func:`entry_spans`)."""
    return pl.col(alias).is_null() | (pl.col(alias) != pl.col("service"))


def entry_spans(spans: pl.DataFrame) -> pl.DataFrame:
    """Spans where a request enters a service: no parent, a parent in another service,
    or a parent missing from the data. These are the spans RED per service counts.

    Works whatever the ``kind`` values say (Zipkin and Jaeger data often lack them).
    """
    return with_parent_service(spans).filter(is_entry()).drop("_parent_service")


def sort_by_series(df: pl.DataFrame, sid: str = "_sid") -> pl.DataFrame:
    """``df`` sorted by ``sid`` then ``ts``. Samples usually arrive in time order (series
    interleaved): then a stable sort on ``sid`` alone gives that order at half the cost
    of a two-key sort (same rows, same order, as long as no series has two samples at
    one instant; with such duplicates the two-key sort's order among them was arbitrary)."""
    if df["ts"].is_sorted():
        return df.sort(sid, maintain_order=True)
    return df.sort(sid, "ts")


# ---------------------------------------------------------------------------------------
# memoising within one investigation

_F = TypeVar("_F", bound=Callable[..., Any])
_MEMO: ContextVar[dict[Any, Any] | None] = ContextVar("workbench_analysis_memo", default=None)
#: guards the creation of a memo's per-key locks (held for a dictionary look-up only)
_MEMO_GUARD = threading.Lock()
#: where a memo keeps its locks (a key no memoised call can make)
_LOCKS_KEY = ("workbench.analysis._util", "locks")


@contextmanager
def memo_scope(memo: dict[Any, Any]) -> Iterator[dict[Any, Any]]:
    """Inside the block, :func:`memoised` functions called again on the *same* frame
    objects and equal arguments return their first result (``memo`` holds the results
    and the frames, so no id is reused while it lives). Outside any scope they always
    compute: no module-level cache. An :class:`~workbench.Investigation` opens one per
    investigation, so the ranking and the verdict's placebo rankings share the work
    that does not depend on the window (counter rates, mined templates, trace events).

    >>> with memo_scope({}):
    ...     a = mine_templates(logs); b = mine_templates(logs)   # computed once
    """
    token = _MEMO.set(memo)
    try:
        yield memo
    finally:
        _MEMO.reset(token)


def memo_active() -> bool:
    """True inside a :func:`memo_scope` (work worth indexing once is then kept).

    >>> memo_active()
    False
    """
    return _MEMO.get() is not None


def memoised(fn: _F) -> _F:
    """Memoise ``fn`` within a :func:`memo_scope` (frames compared by identity, other
    arguments by value); a no-op outside one."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        memo = _MEMO.get()
        if memo is None:
            return fn(*args, **kwargs)
        held: list[Any] = []

        def part(v: Any) -> Any:
            if isinstance(v, pl.DataFrame):
                held.append(v)
                return ("frame", id(v))
            return v

        try:
            key = (
                fn.__module__,
                fn.__qualname__,
                tuple(part(a) for a in args),
                tuple(sorted((k, part(v)) for k, v in kwargs.items())),
            )
            hit = memo.get(key)
        except TypeError:  # an unhashable argument: just compute
            return fn(*args, **kwargs)
        if hit is not None and all(a is b for a, b in zip(hit[0], held, strict=True)):
            return hit[1]
        with _MEMO_GUARD:  # one lock per key: threads asking together compute it once
            lock = memo.setdefault(_LOCKS_KEY, {}).setdefault(key, threading.RLock())
        with lock:
            hit = memo.get(key)
            if hit is not None and all(a is b for a, b in zip(hit[0], held, strict=True)):
                return hit[1]
            out = fn(*args, **kwargs)
            memo[key] = (held, out)
            return out

    return cast(_F, wrapper)
