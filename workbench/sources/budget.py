"""Budgets of one load: rows (:class:`RowBudget`) and time (:func:`load_deadline`).

**Rows.** Stop early with ``LimitExceeded`` instead of pulling more rows than the
notebook can hold.

A load arrives in parts (chunks of a range query, pages, files). :class:`RowBudget`
counts the rows as parts arrive and raises as soon as the load has passed ``limit``
rows, or when the parts so far project the whole load to more than twice the limit (so a
hopeless load stops after its first parts, not its last).

Example::

    >>> budget = RowBudget(1_000_000, total_weight=8, source="prom", query="up",
    ...                    hint="narrow the window")
    >>> budget.add(rows=90_000, weight=1)      # fine: projects to 720,000

**Time.** ``Incident.load`` runs each source's load inside :func:`load_deadline`; every
HTTP request made in it (in this thread, or in a pool started with :func:`in_context`)
ends by that deadline whatever the server does (see ``sources/http.py``)::

    >>> with load_deadline(90.0):
    ...     source.metrics(None, window)        # every request ends within 90 s in total
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from workbench.errors import LimitExceeded

__all__ = ["RowBudget", "deadline_remaining", "in_context", "load_deadline"]

T = TypeVar("T")

#: monotonic time by which the current load must end (None: no load deadline)
_DEADLINE: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "workbench_load_deadline", default=None
)


@contextlib.contextmanager
def load_deadline(seconds: float | None) -> Iterator[None]:
    """Every request made inside ends within ``seconds`` from now (an enclosing, earlier
    deadline still applies). ``None`` adds no deadline."""
    if seconds is None:
        yield
        return
    end = time.monotonic() + seconds
    outer = _DEADLINE.get()
    if outer is not None and outer[0] < end:
        end, seconds = outer
    token = _DEADLINE.set((end, seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def deadline_remaining() -> tuple[float, float] | None:
    """``(seconds left, seconds the deadline had)`` of the current load, or ``None``."""
    d = _DEADLINE.get()
    if d is None:
        return None
    return d[0] - time.monotonic(), d[1]


def in_context(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` wrapped to run in a copy of the caller's context, so a pool's worker threads
    keep the load deadline: ``pool.submit(in_context(work), arg)``."""
    ctx = contextvars.copy_context()

    def run(*args: Any, **kwargs: Any) -> T:
        return ctx.copy().run(fn, *args, **kwargs)

    return run


PROJECT_FACTOR = 2.0


class RowBudget:
    """Counts rows of one load against ``limit`` (``None``: no limit).

    ``total_weight`` is the size of the whole load in the unit ``add`` gets as
    ``weight`` (chunks, evaluation points...); with it, a projection over twice the limit
    stops the load early.
    """

    def __init__(
        self,
        limit: int | None,
        *,
        source: str,
        total_weight: float | None = None,
        query: str | None = None,
        window: object | None = None,
        option: str = "max_rows",
        hint: str = "narrow the window or the query",
    ) -> None:
        self.limit = limit
        self.source = source
        self.total_weight = total_weight
        self.query = query
        self.window = window
        self.option = option
        self.hint = hint
        self.rows = 0
        self.weight = 0.0
        self._lock = threading.Lock()

    def add(self, rows: int, weight: float = 1.0) -> None:
        """Count ``rows`` more; raise :class:`LimitExceeded` when over the budget."""
        if self.limit is None:
            return
        with self._lock:
            self.rows += rows
            self.weight += weight
            rows_now, done = self.rows, self.weight
        projected, share = None, 0.0
        if self.total_weight and done and done < self.total_weight:
            projected = int(rows_now * self.total_weight / done)
            share = done / self.total_weight
        if rows_now > self.limit:
            what = f"more than {self.limit:,} rows ({rows_now:,} so far)"
        elif projected is not None and projected > PROJECT_FACTOR * self.limit:
            from workbench.display import format_percent

            what = (
                f"about {projected:,} rows, over the budget of {self.limit:,} "
                f"(projected from the first {format_percent(share)} of the load)"
            )
        else:
            return
        raise LimitExceeded(
            f"{self.source}: the result would hold {what}; stopped early",
            source=self.source,
            limit=f"{self.option}={self.limit}",
            query=self.query,
            window=self.window,
            hint=f"{self.hint}, or raise {self.option}",
        )
