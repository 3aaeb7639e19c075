"""The ranking's shared pieces (``signals.Context``) are computed once per context even
when signals in threads ask for them at the same time (``functools.cached_property``
does not lock from Python 3.12 on), and two contexts (the ranking's and a placebo
window's) compute theirs side by side (up to 3.11 ``cached_property`` held one lock for
the whole class)."""

from __future__ import annotations

import contextvars
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from workbench import Window, frames
from workbench.analysis import signals
from workbench.analysis.once import once_property

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def _context() -> signals.Context:
    return signals.Context(
        metrics=frames.empty("metrics"),
        logs=frames.empty("logs"),
        spans=frames.empty("spans"),
        events=frames.empty("events"),
        window=Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
        baseline=Window(T0, T0 + timedelta(hours=1)),
    )


def _together(*readers: Any) -> list[Any]:
    """Each reader in a thread of its own (in a copy of the caller's context, as
    ``threads.run_all`` runs them), all released at once; their results."""
    start = threading.Barrier(len(readers))
    out: list[Any] = [None] * len(readers)
    contexts = [contextvars.copy_context() for _ in readers]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait(timeout=5)
        try:
            out[i] = contexts[i].run(readers[i])
        except BaseException as err:  # reported in the caller's thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(readers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    if errors:
        raise errors[0]
    return out


def test_a_shared_piece_is_computed_once_when_two_threads_ask(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def score_changes(*args: Any, **kwargs: Any) -> pl.DataFrame:
        calls.append(threading.current_thread().name)
        time.sleep(0.2)  # the other thread asks while this one computes
        return pl.DataFrame({"n": [len(calls)]})

    monkeypatch.setattr(signals.ch, "score_changes", score_changes)
    ctx = _context()
    a, b = _together(lambda: ctx.changes, lambda: ctx.changes)
    assert len(calls) == 1
    assert a is b
    assert ctx.changes is a  # kept


def test_two_contexts_compute_their_pieces_side_by_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each computation waits until the other context's has started: with one lock for
    the class (``cached_property`` up to 3.11) the second never starts and this fails."""
    inside = threading.Barrier(2)

    def score_changes(*args: Any, **kwargs: Any) -> pl.DataFrame:
        inside.wait(timeout=2)
        return pl.DataFrame({"n": [1]})

    monkeypatch.setattr(signals.ch, "score_changes", score_changes)
    one, other = _context(), _context()
    a, b = _together(lambda: one.changes, lambda: other.changes)
    assert a is not b and a.equals(b)


def test_once_property_is_a_cached_property() -> None:
    class Piece:
        def __init__(self) -> None:
            self.n = 0

        @once_property
        def value(self) -> int:
            """The doc stays."""
            self.n += 1
            return self.n * 10

    p = Piece()
    assert (p.value, p.value, p.n) == (10, 10, 1)
    del p.value  # forgotten, computed again, as with cached_property
    assert (p.value, p.n) == (20, 2)
    assert Piece.value.__doc__ == "The doc stays."
    with pytest.raises(ValueError):

        class Failing:
            @once_property
            def value(self) -> int:
                raise ValueError("no")

        Failing().value  # noqa: B018


def test_a_memoised_step_is_computed_once_when_two_threads_ask() -> None:
    """Within an investigation's memo scope, signals in threads asking for the same
    memoised step (trace events, counter rates, ...) share one computation."""
    from workbench.analysis._util import memo_scope, memoised
    from workbench.analysis.threads import run_all

    calls: list[int] = []

    @memoised
    def step(df: pl.DataFrame, k: int) -> pl.DataFrame:
        calls.append(k)
        time.sleep(0.2)
        return df.with_columns(k=pl.lit(k))

    df = pl.DataFrame({"x": [1, 2]})
    with memo_scope({}):
        a, b = _together(lambda: step(df, 1), lambda: step(df, 1))
        c = run_all({"c": lambda: step(df, 2)})["c"]
    assert calls == [1, 2]
    assert a is b and c["k"].to_list() == [2, 2]
