"""The contract every source keeps, run over every backend (tests/plugins/contract_sources.py).

1. frames obey the frame contract (exact schema, UTC timestamps), results name their
   source, signal and window;
2. windows are half-open and exact: nothing outside ``[start, end)`` (spans: traces that
   touch the window, when the backend returns whole traces); a window narrowed to two of
   the data's own timestamps returns exactly the wide result's rows in it, the first
   timestamp included and the second not;
3. partial results carry reasons (and a result with reasons is partial);
4. a dead server (or a vanished directory) is a typed error naming the source;
5. secrets never appear in ``repr``, ``describe()`` or the errors;
6. budgets are honoured: over budget is a LimitExceeded, or a partial result within it.

A new backend passes by adding one builder to ``CASES`` there.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from tests.plugins.contract_sources import Case
from workbench import frames
from workbench.errors import LimitExceeded, WorkbenchError
from workbench.timewindow import Window

pytestmark = pytest.mark.service

CANARY = "canary-contract-5f1e2d"


def _scalar_columns(df: pl.DataFrame) -> list[str]:
    return [c for c, t in df.schema.items() if not isinstance(t, pl.List | pl.Struct)]


def _rows(df: pl.DataFrame) -> list[tuple]:
    cols = _scalar_columns(df)
    return sorted(df.select(cols).rows(), key=repr)


def test_frames_obey_the_contract(contract_case: Case) -> None:
    c = contract_case
    res = c.load(c.source, c.window)
    assert res.rows > 0, f"{c.name}: the case's window holds no data"
    assert dict(res.frame.schema) == dict(frames.SCHEMAS[c.signal])  # type: ignore[index]
    assert res.frame.equals(frames.validate(res.frame, c.signal))  # type: ignore[arg-type]
    for col, dtype in res.frame.schema.items():
        if isinstance(dtype, pl.Datetime):
            assert dtype.time_zone == "UTC", (c.name, col)
    assert (res.source, res.signal) == (c.source.name, c.signal)
    assert res.window is None or res.window == c.window
    assert not res.partial, res.reasons
    assert c.signal in c.source.capabilities


def _check_inside(c: Case, df: pl.DataFrame, w: Window) -> None:
    if c.signal == "events":  # events overlap the window
        assert df.filter(pl.col("ts") >= w.end).height == 0, c.name
        ends = pl.coalesce(pl.col("end"), pl.col("ts"))
        assert df.filter(ends < w.start).height == 0, c.name
    elif c.whole_traces:  # every trace returned touches the window
        per = df.group_by("trace_id").agg(lo=pl.col("start").min(), hi=pl.col("end").max())
        assert per.filter((pl.col("lo") >= w.end) | (pl.col("hi") < w.start)).height == 0
    else:
        col = pl.col(c.time_column)
        assert df.filter((col < w.start) | (col >= w.end)).height == 0, c.name


def test_windows_are_half_open_and_exact(contract_case: Case) -> None:
    c = contract_case
    wide = c.load(c.source, c.window).frame
    _check_inside(c, wide, c.window)
    if not c.exact:
        return  # the server ignores the window (recorded) or selects overlapping items
    stamps = wide[c.time_column].unique().sort()
    assert stamps.len() >= 3, f"{c.name}: need three distinct timestamps"
    t1, t2 = stamps[stamps.len() // 3], stamps[2 * stamps.len() // 3]
    narrow = Window(t1, t2)
    got = c.load(c.source, narrow).frame
    col = pl.col(c.time_column)
    _check_inside(c, got, narrow)
    assert got.filter(col == t1).height > 0, f"{c.name}: start {t1} must be included"
    assert got.filter(col == t2).height == 0, f"{c.name}: end {t2} must be excluded"
    want = wide.filter((col >= t1) & (col < t2))
    assert _rows(got) == _rows(want)
    # a window a microsecond short of t1 does not reach it
    before = c.load(c.source, Window(t1 - timedelta(minutes=1), t1)).frame
    assert before.filter(col == t1).height == 0


def test_dead_server_is_a_typed_error_naming_the_source(contract_case: Case) -> None:
    c = contract_case
    assert c.dead is not None, f"{c.name}: every backend must say what 'dead' is"
    src = c.dead()
    with pytest.raises(WorkbenchError) as err:
        c.load(src, c.window)
    assert isinstance(err.value, c.dead_error), (type(err.value), err.value)
    assert src.name in str(err.value) or getattr(err.value, "source", None) == src.name


def test_partial_results_carry_reasons_and_budgets_hold(contract_case: Case) -> None:
    c = contract_case
    whole = c.load(c.source, c.window)
    assert whole.partial == bool(whole.reasons)
    if c.budgeted is None:
        assert c.name in ("alertmanager", "jaeger"), f"{c.name}: give the backend a budget"
        return
    src, budget = c.budgeted()
    assert c.count(whole) > budget, f"{c.name}: the window must hold more than the budget"
    try:
        res = c.load(src, c.window)
    except LimitExceeded as exc:
        assert str(budget) in str(exc) or exc.hint, exc
        return
    assert res.partial and res.reasons, f"{c.name}: over budget but not marked partial"
    assert c.count(res) <= budget


def test_secrets_never_in_reprs_or_errors(contract_case: Case) -> None:
    c = contract_case
    if c.with_secret is None:
        assert c.name == "files", f"{c.name}: every networked backend takes a credential"
        return
    src = c.with_secret(CANARY)
    shown = [repr(src), str(src.describe()), str(src)]
    try:  # servers that check it refuse the canary: the error must not echo it either
        shown.append(repr(c.load(src, c.window).summary()))
    except WorkbenchError as exc:
        shown += [str(exc), repr(exc)]
    for text in shown:
        assert CANARY not in text, (c.name, text)
