"""Rows and flagged rows per key in any time window, without a pass over the rows.

The verdict asks the same question of up to 19 placebo windows: how many calls, and how
many failing ones, each (caller, callee) pair made in the window. A filter and a
group-by per window read every call again. :class:`WindowCounts` sorts the rows once by
(key, time) with a running count of the flagged ones; each window is then two binary
searches per key.

It gives exactly what ``frame.filter(start <= t < end).group_by(keys).agg(pl.len(),
flag.sum())`` gives (the keys with at least one row in the window; rows in another
order: a group-by's order is arbitrary anyway), for times in microseconds or
nanoseconds with a time zone and no nulls; :meth:`WindowCounts.build` returns None for
anything else, and the caller filters as before.

Example::

    >>> idx = WindowCounts.build(calls, "start", ("caller", "callee"), "_err")
    >>> idx.count(window, "_nw", "_ew")   # caller, callee, _nw, _ew
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from workbench.timewindow import Window

__all__ = ["WindowCounts"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PER_US = {"us": 1, "ns": 1000}


@dataclass(frozen=True)
class WindowCounts:
    """Rows sorted by (key, time): ``keys`` (one row per key, ``_k`` its number),
    ``sorted_key`` (``_k * span + time - t_min`` per row, ascending) and ``flagged``
    (flagged rows before each position)."""

    keys: pl.DataFrame
    sorted_key: np.ndarray
    flagged: np.ndarray
    t_min: int
    t_max: int
    span: int
    unit: str

    @classmethod
    def build(
        cls, frame: pl.DataFrame, time: str, keys: tuple[str, ...], flag: str
    ) -> WindowCounts | None:
        """The index over ``frame``, or None when it cannot give exactly what a filter
        would (no rows, nulls in ``time``, a time without a time zone or in another
        unit, keys too many for one 64-bit sort key)."""
        dtype = frame.schema.get(time)
        if (
            frame.height == 0
            or not isinstance(dtype, pl.Datetime)
            or dtype.time_unit not in _PER_US
            or dtype.time_zone is None
            or frame.get_column(time).null_count()
        ):
            return None
        names = frame.select(keys).unique(maintain_order=True).with_row_index("_k")
        coded = frame.select(*keys, time, flag).join(
            names, on=list(keys), how="left", nulls_equal=True, maintain_order="left"
        )
        k = coded.get_column("_k").to_numpy().astype(np.int64)
        t = coded.get_column(time).to_physical().to_numpy().astype(np.int64)
        t_min, t_max = int(np.min(t)), int(np.max(t))
        span = t_max - t_min + 2
        if names.height * span >= 2**62:
            return None
        key = k * span + (t - t_min)
        order = np.argsort(key, kind="stable")
        hit = coded.get_column(flag).fill_null(False).to_numpy().astype(np.int64)[order]
        flagged = np.concatenate([np.zeros(1, np.int64), np.cumsum(hit)])
        return cls(names, key[order], flagged, t_min, t_max, span, dtype.time_unit)

    def _at(self, when: datetime) -> int:
        """``when`` in the column's unit, clipped to ``[t_min, t_max + 1]`` (the same
        rows lie before it)."""
        us = (when - _EPOCH) // timedelta(microseconds=1)
        return min(max(us * _PER_US[self.unit], self.t_min), self.t_max + 1)

    def count(self, window: Window, n: str, e: str) -> pl.DataFrame:
        """Per key with rows in ``[window.start, window.end)``: ``n`` rows, ``e`` of them
        flagged (both ``UInt32``, as ``pl.len()`` and a boolean sum give)."""
        a, b = self._at(window.start), self._at(window.end)
        base = np.arange(self.keys.height, dtype=np.int64) * self.span
        lo = np.searchsorted(self.sorted_key, base + (a - self.t_min), side="left")
        hi = np.searchsorted(self.sorted_key, base + (max(a, b) - self.t_min), side="left")
        rows = hi - lo
        keep = rows > 0
        return (
            self.keys.filter(pl.Series(keep))
            .drop("_k")
            .with_columns(
                pl.Series(n, rows[keep], dtype=pl.UInt32),
                pl.Series(e, (self.flagged[hi] - self.flagged[lo])[keep], dtype=pl.UInt32),
            )
        )
