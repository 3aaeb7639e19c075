"""Speculative loads: an incident opened and loaded in a background thread before a cell
asks for it, then adopted by the first ``load()`` that asks for exactly that.

``workbench demo --execute`` starts its kernel by running the notebook's own imports
(about a second); the incident's files can be decoded meanwhile (pyarrow and polars work
outside the GIL), so the first cell finds them loaded. What the notebook shows must not
change, so:

* a cell adopts the background load only if it opens the incident with the same
  arguments (:func:`workbench.notebook.open_incident`) and loads the same sources over
  the same windows and services (compared when it calls ``load()``), and only the
  signals it asks for;
* if the background work said anything (a log record at WARNING or above on the
  ``workbench`` loggers, a Python warning) or raised, it is *not* adopted: the cell
  opens or loads again, the normal way, and says it or raises there, where it belongs;
* a prefetch nobody claims is dropped.

Example::

    >>> pre = Prefetch(lambda: Incident.demo())   # opens and loads in a thread
    >>> inc = pre.claim()                         # the incident once opened, not loaded
    >>> inc.load()                                # waits for the thread and adopts
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.incident import Incident
    from workbench.sources.base import Signal

__all__ = ["Prefetch"]

#: the loggers whose records at WARNING or above make a background load not adopted
_LOGGER = "workbench"


class Prefetch:
    """``open_incident()`` then ``load()`` of every signal, in a daemon thread, started now.

    The thread that creates it is the one whose own log records and warnings are not the
    prefetch's (the kernel's main thread)."""

    def __init__(self, open_incident: Callable[[], Incident]) -> None:
        self._open = open_incident
        self._main = threading.get_ident()
        self._phase = "open"
        #: phases ("open", "load") in which the background work logged or warned
        self._said: set[str] = set()
        self._opened: Future[Incident] = Future()
        self._loaded: Future[Incident] = Future()
        self._thread = threading.Thread(target=self._run, name="workbench-prefetch", daemon=True)
        self._thread.start()

    # the background thread ----------------------------------------------------------------
    def _run(self) -> None:
        from workbench.incident import Incident

        with self._listening():
            try:
                inc = self._open()
            except BaseException as exc:  # raised again by the cell's own open_incident
                self._opened.set_exception(exc)
                self._loaded.set_exception(exc)
                return
            self._phase = "load"
            self._opened.set_result(inc)
            # loaded into a shadow sharing the sources: `inc` stays untouched (no outcome
            # appears in it while a cell may already hold it) until its load() adopts
            shadow = Incident(
                inc.id,
                inc.window,
                sources=inc.sources,
                baseline=inc.baseline,
                services=inc.services,
                title=inc.title,
                max_workers=inc.max_workers,
                load_timeout=inc.load_timeout,
            )
            try:
                shadow.load()
            except BaseException as exc:  # raised again by the cell's own load
                self._loaded.set_exception(exc)
                return
        self._loaded.set_result(shadow)

    def _heard(self) -> None:
        if threading.get_ident() != self._main:
            self._said.add(self._phase)

    @contextmanager
    def _listening(self) -> Iterator[None]:
        """Note log records (WARNING and above, ``workbench`` loggers) and warnings from
        threads other than the main one; everything still goes where it went before."""
        handler = _Listener(self._heard)
        logger = logging.getLogger(_LOGGER)
        shown = warnings.showwarning

        def showwarning(*args: Any, **kwargs: Any) -> None:
            self._heard()
            shown(*args, **kwargs)

        logger.addHandler(handler)
        warnings.showwarning = showwarning
        try:
            yield
        finally:
            logger.removeHandler(handler)
            if warnings.showwarning is showwarning:
                warnings.showwarning = shown

    # the cell's side ----------------------------------------------------------------------
    def wait_opened(self) -> None:
        """Wait until the background ``open_incident`` has finished (however it ended)."""
        self._opened.exception()  # waits; an interrupt while waiting still propagates

    def claim(self) -> Incident | None:
        """The incident as the background work opened it (its ``load()`` adopts the
        background load), or None: it raised or said something, open it again."""
        if self._opened.exception() is not None:  # waits; the cell opens again, raises there
            return None
        inc = self._opened.result()
        if "open" in self._said:
            _forget_shown_warnings()
            return None
        inc._prefetch = self
        return inc

    def adopt(self, inc: Incident, wanted: Sequence[Signal], *, refresh: bool) -> list[Signal]:
        """Wait for the background load; give ``inc`` its frames and outcomes for the
        ``wanted`` signals if it loaded the same thing and said nothing. Returns the
        signals ``inc`` must still load itself."""
        # waits; a failed load is repeated by the cell, which raises there
        failed = self._loaded.exception() is not None
        shadow = None if failed else self._loaded.result()
        if shadow is None or refresh or "load" in self._said or not _same_load(shadow, inc):
            if "load" in self._said:
                _forget_shown_warnings()
            inc._prefetch = None
            return list(wanted)
        got = [s for s in wanted if s in shadow._frames]
        for key, outcome in shadow.outcomes.items():
            if key[1] in got:
                inc.outcomes[key] = outcome
        for sig in got:
            inc._frames[sig] = shadow._frames[sig]
        if all(sig in inc._frames for sig in shadow._frames):
            inc._prefetch = None
        return [s for s in wanted if s not in got]


def _same_load(a: Incident, b: Incident) -> bool:
    """``a`` and ``b`` ask the same sources (the same objects) for the same thing."""
    return (
        a.window == b.window
        and a.baseline == b.baseline
        and a.services == b.services
        and a.load_timeout == b.load_timeout
        and len(a.sources) == len(b.sources)
        and all(x is y for x, y in zip(a.sources, b.sources, strict=True))
    )


def _forget_shown_warnings() -> None:
    """Let a warning the background work showed (nowhere a reader sees it) show again
    when the cell repeats the work: Python otherwise shows it once per place."""
    reset = getattr(warnings, "_filters_mutated", None)
    if reset is not None:
        reset()


class _Listener(logging.Handler):
    """Calls ``heard()`` for each record at WARNING or above, then does what logging
    would have done without it: if no other handler takes the record, the last-resort
    handler (stderr) does."""

    def __init__(self, heard: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self._hear = heard

    def emit(self, record: logging.LogRecord) -> None:
        self._hear()
        last = logging.lastResort
        if last is not None and record.levelno >= last.level and not self._others(record):
            last.handle(record)

    def _others(self, record: logging.LogRecord) -> bool:
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            if any(h is not self for h in logger.handlers):
                return True
            if not logger.propagate:
                return False
            logger = logger.parent
        return False
