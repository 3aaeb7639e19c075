"""Independent analysis steps run side by side, in threads, with the same results.

Most of an analysis step's time is spent inside polars, which releases the GIL while it
runs a query: two steps in two threads use two cores. A notebook's first answer (the
ranking) waits on a chain of such steps while the machine's second core is idle.

:func:`run_all` runs a few independent steps that way and returns their results in the
order given, exactly what calling them one after the other returns; each thread runs in
a copy of the caller's context, so a :func:`~workbench.analysis._util.memo_scope` open
around the call is the one the steps see. The first step's exception is raised, after
every step ended. :func:`start` runs one step beside the caller's own work.

Example::

    >>> from workbench.analysis.threads import run_all, start
    >>> outs = run_all({"a": lambda: f(x), "b": lambda: g(x)})   # {"a": f(x), "b": g(x)}
    >>> later = start(lambda: h(x)); mine = k(x); theirs = later.result()
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from workbench.gate import Gate, current_gate, gated

__all__ = ["run_all", "start", "workers"]

_T = TypeVar("_T")
_K = TypeVar("_K")


def workers(tasks: int) -> int:
    """How many threads :func:`run_all` uses for ``tasks`` steps: one per core the
    process may use, at most one per step (one: the steps run in the caller's thread).

    >>> workers(1)
    1
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, tasks))


def run_all(tasks: Mapping[_K, Callable[[], _T]]) -> dict[_K, _T]:
    """Each task's result, by key, in the order of ``tasks``; the tasks run in threads
    (:func:`workers`), each in a copy of the caller's context, started in that order.
    Tasks must not depend on each other's results (they may share work computed once,
    such as a ``cached_property``).

    >>> run_all({"x": lambda: 1, "y": lambda: 2})
    {'x': 1, 'y': 2}
    """
    n = workers(len(tasks))
    if n == 1:
        return {k: fn() for k, fn in tasks.items()}
    gate = current_gate()
    if gate is not None and not gate.is_open:
        tasks = {k: _through(gate, fn) for k, fn in tasks.items()}
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="analysis") as pool:
        futures = {k: pool.submit(contextvars.copy_context().run, fn) for k, fn in tasks.items()}
        # every step ends before the first error is raised (no thread left working)
        for f in futures.values():
            f.exception()
        return {k: f.result() for k, f in futures.items()}


def _through(gate: Gate, fn: Callable[[], _T]) -> Callable[[], _T]:
    def run() -> _T:
        # a step's own run_all is not gated again (it would wait for this very step)
        with gate.turn(), gated(None):
            return fn()

    return run


def start(fn: Callable[[], _T]) -> Future[_T]:
    """``fn`` running in a thread of its own (in a copy of the caller's context), its
    result (or exception) in the returned future; run at once, in the caller's thread,
    when the process has a single core.

    >>> start(lambda: 3).result()
    3
    """
    future: Future[_T] = Future()
    ctx = contextvars.copy_context()

    def run() -> None:
        try:
            future.set_result(ctx.run(fn))
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)

    if workers(2) == 1:
        run()
    else:
        import threading

        threading.Thread(target=run, name="analysis-start", daemon=True).start()
    return future
