"""WindowCounts: rows and flagged rows per key in a window, from one sorted index, equal
to a filter and a group-by over the rows (hand-made frames, edges included)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import polars as pl
import pytest

from workbench.analysis.windowcounts import WindowCounts
from workbench.timewindow import Window

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
KEYS = ("caller", "callee")


def _calls(unit: Literal["us", "ns"] = "us", n: int = 2_000, seed: int = 3) -> pl.DataFrame:
    """Calls at random times over two hours (some at the same instant, some exactly on
    whole minutes), between a few pairs (a null caller among them), a flag per call
    (a few null)."""
    rng = np.random.default_rng(seed)
    us = rng.integers(0, 7_200_000_000, n)
    us[:50] = 60_000_000 * rng.integers(0, 120, 50)  # on window edges
    us[50:80] = us[80]  # one instant, many calls
    drawn = rng.choice(np.array(["cart", "auth", "web", ""], dtype=object), n)
    callers = [None if c == "" else c for c in drawn]
    flag = rng.random(n) < 0.1
    return pl.DataFrame(
        {
            "start": [T0 + timedelta(microseconds=int(u)) for u in us],
            "caller": callers,
            "callee": rng.choice(["redis", "db"], n),
            "_err": [None if i % 97 == 0 else bool(f) for i, f in enumerate(flag)],
        },
        schema={
            "start": pl.Datetime(unit, "UTC"),
            "caller": pl.String,
            "callee": pl.String,
            "_err": pl.Boolean,
        },
    )


def _filtered(calls: pl.DataFrame, w: Window) -> pl.DataFrame:
    inside = (pl.col("start") >= w.start) & (pl.col("start") < w.end)
    return (
        calls.filter(inside)
        .group_by(*KEYS)
        .agg(pl.len().alias("n"), pl.col("_err").sum().alias("e"))
    )


def _same(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    order = [pl.col(k).fill_null("<null>") for k in KEYS]
    return a.sort(order).equals(b.sort(order), null_equal=True)


WINDOWS = [
    Window(T0 + timedelta(minutes=30), T0 + timedelta(minutes=45)),  # whole minutes: edges
    Window(T0 + timedelta(minutes=7, microseconds=3), T0 + timedelta(minutes=61, seconds=1)),
    Window(T0 - timedelta(hours=1), T0 + timedelta(minutes=1)),  # starts before the data
    Window(T0 + timedelta(minutes=119), T0 + timedelta(hours=5)),  # ends after it
    Window(T0 - timedelta(hours=3), T0 - timedelta(hours=2)),  # no call in it
    Window(T0 + timedelta(hours=3), T0 + timedelta(hours=4)),
    Window(T0 - timedelta(hours=1), T0 + timedelta(hours=3)),  # every call
]


@pytest.mark.parametrize("unit", ["us", "ns"])
def test_counts_equal_filter_and_group_by(unit: Literal["us", "ns"]) -> None:
    calls = _calls(unit)
    index = WindowCounts.build(calls, "start", KEYS, "_err")
    assert index is not None
    for w in WINDOWS:
        got, want = index.count(w, "n", "e"), _filtered(calls, w)
        assert got.schema == want.schema
        assert _same(got, want), w
    # the windows above hold what they were built for
    assert index.count(WINDOWS[4], "n", "e").height == 0
    everything = index.count(WINDOWS[-1], "n", "e")
    assert everything["n"].sum() == calls.height
    assert everything.filter(pl.col("caller").is_null()).height == 2  # null caller: a key
    assert everything["e"].sum() == calls["_err"].sum()


def test_an_instant_on_the_edge_counts_in_the_window_it_starts() -> None:
    calls = _calls()
    edge = calls["start"][80]
    index = WindowCounts.build(calls, "start", KEYS, "_err")
    assert index is not None
    before = Window(edge - timedelta(minutes=1), edge)
    after = Window(edge, edge + timedelta(microseconds=1))
    assert _same(index.count(after, "n", "e"), _filtered(calls, after))
    assert index.count(after, "n", "e")["n"].sum() >= 31  # the 31 calls at that instant
    assert _same(index.count(before, "n", "e"), _filtered(calls, before))


@pytest.mark.parametrize(
    "change",
    [
        lambda df: df.head(0),  # no rows
        lambda df: df.with_columns(pl.col("start").dt.replace_time_zone(None)),  # naive
        lambda df: df.with_columns(pl.col("start").dt.cast_time_unit("ms")),  # milliseconds
        lambda df: df.with_columns(  # a null time
            start=pl.when(pl.int_range(pl.len()) == 5).then(None).otherwise(pl.col("start"))
        ),
    ],
    ids=["empty", "naive", "ms", "null-time"],
)
def test_declines_what_it_cannot_count_exactly(
    change: Callable[[pl.DataFrame], pl.DataFrame],
) -> None:
    assert WindowCounts.build(change(_calls()), "start", KEYS, "_err") is None
