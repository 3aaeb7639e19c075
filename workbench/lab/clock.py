"""The simulation clock: a fixed grid of scrape times, and RFC 3339 formatting.

Example::

    >>> from workbench.lab.clock import Grid, iso
    >>> g = Grid.from_iso("2026-11-20T10:00:00Z", hours=2, step_s=30)
    >>> g.n, iso(g.t0)
    (240, '2026-11-20T10:00:00Z')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

__all__ = ["Grid", "iso", "iso_ns", "parse_iso"]


def parse_iso(text: str) -> float:
    """Epoch seconds of an RFC 3339 time (``Z`` or an offset; naive means UTC)."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def iso(t: float) -> str:
    """RFC 3339 with a ``Z``, whole seconds (``2026-11-20T10:00:00Z``)."""
    return datetime.fromtimestamp(round(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ns(t_ns: int) -> str:
    """RFC 3339 with nanoseconds (``2026-11-20T10:00:00.123456789Z``)."""
    s, ns = divmod(int(t_ns), 1_000_000_000)
    return datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"


@dataclass(frozen=True)
class Grid:
    """``n`` scrape times ``t0, t0+step, ...`` in epoch seconds."""

    t0: float
    step_s: float
    n: int

    @classmethod
    def from_iso(cls, start: str, *, hours: float, step_s: float = 30.0) -> Grid:
        return cls(parse_iso(start), step_s, round(hours * 3600 / step_s))

    @property
    def times(self) -> np.ndarray:
        return self.t0 + self.step_s * np.arange(self.n)

    @property
    def end(self) -> float:
        return self.t0 + self.step_s * self.n

    def index(self, t: float) -> int:
        """The first grid index at or after ``t`` (clipped to the grid)."""
        return int(np.clip(np.ceil((t - self.t0) / self.step_s), 0, self.n))

    def mask(self, start: float, end: float) -> np.ndarray:
        tt = self.times
        return (tt >= start) & (tt < end)
