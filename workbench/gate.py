"""A gate that keeps background work to one thread until the foreground is done.

:func:`workbench.analysis.threads.run_all` runs independent steps side by side, one
thread per core. Work started in the background (the explorer's metrics load, while its
first view is being drawn) should not take the cores the foreground waits for: inside
:func:`gated`, ``run_all`` runs its steps through the :class:`Gate`, one at a time while
it is closed, side by side once it is opened. Threads started from inside (with the
context copied, as ``run_all`` and ``Incident.load`` do) see the same gate.

Example::

    >>> gate = Gate()
    >>> with gated(gate):
    ...     inc.load(["metrics"])     # in a thread; meanwhile, elsewhere: gate.open()
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Gate", "current_gate", "gated"]


class Gate:
    """While closed, the :func:`~workbench.analysis.threads.run_all` calls made under
    :func:`gated` run one task at a
    time (the others wait, using no CPU); once :meth:`open`, side by side. For work in
    the background that should leave the cores to the foreground until it is done (the
    explorer's metrics load until its first view is drawn).

    >>> gate = Gate(); gate.open(); gate.is_open
    True
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running = 0
        self.is_open = False

    def open(self) -> None:
        """Let every waiting task run."""
        with self._cond:
            self.is_open = True
            self._cond.notify_all()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Held while one task runs (waits while the gate is closed and one runs)."""
        with self._cond:
            self._cond.wait_for(lambda: self.is_open or self._running == 0)
            self._running += 1
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()


_GATE: contextvars.ContextVar[Gate | None] = contextvars.ContextVar("workbench_gate", default=None)


def current_gate() -> Gate | None:
    """The gate set by the innermost :func:`gated` around the caller, if any."""
    return _GATE.get()


@contextmanager
def gated(gate: Gate | None) -> Iterator[Gate | None]:
    """Inside the block (and in the threads started from it with the context copied),
    :func:`~workbench.analysis.threads.run_all` runs its tasks through ``gate`` (None: no
    gate).

    >>> gate = Gate()
    >>> with gated(gate):
    ...     run_all({"a": lambda: 1, "b": lambda: 2})   # one at a time until gate.open()
    {'a': 1, 'b': 2}
    """
    token = _GATE.set(gate)
    try:
        yield gate
    finally:
        _GATE.reset(token)
