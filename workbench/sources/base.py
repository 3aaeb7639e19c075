"""The small base every source implements, and the result it returns.

A source serves some of the four signals (``capabilities``) through

``metrics(query, window)``, ``logs(query, window)``, ``spans(query, window)``,
``events(window)`` and ``describe()``.

``query=None`` means "what the incident needs by default" (for a file source: everything
in the window; for Prometheus: the RED and saturation signals of ``services``).

Every call returns a :class:`Result`: the frame (validated against the contract), the
exact query that produced it, and whether it is complete. A load that could not finish
whole returns ``partial=True`` with the reasons; it never returns a quietly short frame.

Example::

    >>> res = source.logs('{app="checkout"} |= "error"', window)
    >>> res.frame.height, res.partial, res.reasons
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import polars as pl

from workbench import frames
from workbench.errors import WorkbenchError
from workbench.timewindow import Window

__all__ = ["Result", "Signal", "Source", "Timer"]

Signal = str  # "metrics" | "logs" | "spans" | "events"


@dataclass(frozen=True)
class Result:
    """A frame from a source, with what was asked and whether it is complete.

    ``partial`` is true when the source could not return everything the query matched
    (a dead chunk, a server limit, a truncated body); ``reasons`` says what is missing.
    ``warnings`` carries the server's own warnings.
    """

    source: str
    signal: Signal
    frame: pl.DataFrame
    query: str | None = None
    window: Window | None = None
    partial: bool = False
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.frame.height

    def summary(self) -> dict[str, Any]:
        """One row for a status table."""
        return {
            "source": self.source,
            "signal": self.signal,
            "rows": self.rows,
            "partial": self.partial,
            "reasons": "; ".join(self.reasons),
            "warnings": "; ".join(self.warnings),
            "elapsed_s": round(self.elapsed_s, 3),
            "query": self.query or "",
        }

    def _repr_html_(self) -> str:
        flag = (
            f" <b style='color:#b35806'>PARTIAL: {html.escape('; '.join(self.reasons))}</b>"
            if self.partial
            else ""
        )
        from workbench.display import html_table

        return (
            f"<div><b>{html.escape(self.source)}</b> {self.signal}: {self.rows:,} rows "
            f"in {self.elapsed_s:.2f}s{flag}</div>"
            + html_table(self.frame, max_rows=10, more_hint=".frame has them all")
        )


class Timer:
    """Context manager measuring elapsed wall time: ``with Timer() as t: ...; t.elapsed``."""

    def __enter__(self) -> Timer:
        self._t0 = time.perf_counter()
        self.elapsed = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self._t0


class Source:
    """Base class of all sources. Subclasses set ``capabilities`` and override the
    methods for the signals they serve; the others raise a clear error.

    ``name`` identifies the source in results and errors (``"prometheus"``, ``"files:/x"``).
    """

    kind: ClassVar[str] = "source"
    capabilities: ClassVar[frozenset[Signal]] = frozenset()

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name or self.kind

    # the four signals -----------------------------------------------------------------
    def metrics(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        raise self._unsupported("metrics")

    def logs(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        raise self._unsupported("logs")

    def spans(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        raise self._unsupported("spans")

    def events(self, window: Window, *, services: Sequence[str] | None = None) -> Result:
        raise self._unsupported("events")

    def load(
        self, signal: Signal, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        """Load the default query for ``signal`` over ``window`` (used by ``Incident``)."""
        if signal == "events":
            return self.events(window, services=services)
        method = getattr(self, signal)
        return method(None, window, services=services)

    def describe(self) -> dict[str, Any]:
        """What this source is, without secrets: kind, name, capabilities, location."""
        return {"kind": self.kind, "name": self.name, "capabilities": sorted(self.capabilities)}

    def close(self) -> None:
        """Release connections. Sources are also context managers."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        d = self.describe()
        where = d.get("url") or d.get("path") or ""
        return f"<{type(self).__name__} {self.name!r} {where}>".replace(" >", ">")

    # helpers for subclasses -------------------------------------------------------------
    def result(
        self,
        signal: Signal,
        frame: pl.DataFrame,
        *,
        query: str | None = None,
        window: Window | None = None,
        partial: bool = False,
        reasons: Sequence[str] = (),
        warnings: Sequence[str] = (),
        elapsed_s: float = 0.0,
        **extra: Any,
    ) -> Result:
        """Build a :class:`Result`, validating ``frame`` against the contract."""
        return Result(
            source=self.name,
            signal=signal,
            frame=frames.validate(frame, signal, source=self.name),
            query=query,
            window=window,
            partial=partial or bool(reasons),
            reasons=tuple(reasons),
            warnings=tuple(warnings),
            elapsed_s=elapsed_s,
            extra=dict(extra),
        )

    def _unsupported(self, signal: str) -> WorkbenchError:
        from workbench.errors import QueryError

        return QueryError(
            f"source {self.name!r} does not serve {signal}",
            source=self.name,
            hint=f"this source serves {', '.join(sorted(self.capabilities)) or 'nothing'}",
        )
