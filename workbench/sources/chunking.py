"""Step choice and range splitting for Prometheus-style range queries.

A range query evaluates at ``start, start + step, ..., <= end``. Prometheus refuses more
than 11,000 points per series, so long ranges are split into chunks of at most
``max_points`` evaluation times each. All times are integer milliseconds aligned to the
step, and each chunk starts one step after the previous one ended, so stitched chunks
have neither gaps nor duplicate samples.

Example::

    >>> from workbench import Window
    >>> w = Window.parse("2026-11-20T00:00:00Z..2026-11-27T00:00:00Z")
    >>> step = choose_step(w, target_points=20_000)       # 30 s
    >>> [c.points for c in plan(w, step)]                  # [11000, 9160]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from workbench.errors import ConfigError
from workbench.timewindow import Window, parse_duration

__all__ = ["MAX_POINTS", "NICE_STEPS_S", "Chunk", "choose_step", "plan", "step_ms"]

MAX_POINTS = 11_000
NICE_STEPS_S = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
)


@dataclass(frozen=True)
class Chunk:
    """One range query: ``start``..``end`` inclusive in ms, both multiples of ``step``."""

    start_ms: int
    end_ms: int
    step_ms: int

    @property
    def points(self) -> int:
        return (self.end_ms - self.start_ms) // self.step_ms + 1

    def params(self) -> dict[str, str]:
        """``start``/``end``/``step`` query parameters (seconds, millisecond precision)."""
        return {
            "start": _secs(self.start_ms),
            "end": _secs(self.end_ms),
            "step": _secs(self.step_ms),
        }

    def describe(self) -> str:
        def iso(ms: int) -> str:
            return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        return f"{iso(self.start_ms)}..{iso(self.end_ms)}"


def _secs(ms: int) -> str:
    return str(ms // 1000) if ms % 1000 == 0 else f"{ms / 1000:.3f}"


def step_ms(step: str | timedelta | float | int) -> int:
    """A step as integer milliseconds (``"30s"``, a timedelta, or seconds)."""
    if isinstance(step, int | float) and not isinstance(step, bool):
        ms = round(float(step) * 1000)
    else:
        ms = round(parse_duration(cast("str | timedelta", step)).total_seconds() * 1000)
    if ms <= 0:
        raise ConfigError(f"step must be positive, got {step!r}")
    return ms


def choose_step(
    window: Window,
    *,
    target_points: int = 720,
    min_step: str | timedelta | float = 1,
) -> timedelta:
    """The smallest "nice" step (1 s, 5 s, 15 s, 30 s, 1 m, 5 m, ...) that gives at most
    ``target_points`` points over ``window``, and at least ``min_step``."""
    if target_points < 1:
        raise ConfigError("target_points must be at least 1")
    need = window.duration.total_seconds() / target_points
    floor_s = step_ms(min_step) / 1000
    for s in NICE_STEPS_S:
        if s >= need and s >= floor_s:
            return timedelta(seconds=s)
    days = max(need, floor_s) / 86400
    return timedelta(days=int(days) + (0 if days.is_integer() else 1))


MAX_CHUNKS = 1_000


def plan(
    window: Window,
    step: str | timedelta | float,
    *,
    max_points: int = MAX_POINTS,
    max_chunks: int = MAX_CHUNKS,
) -> list[Chunk]:
    """Split ``window`` (half-open) into step-aligned chunks of at most ``max_points``.

    Evaluation times are the multiples of ``step`` in ``[start, end)``; the first is
    ``start`` rounded up to the step. More than ``max_chunks`` chunks (a step far too
    small for the window) raise :class:`ConfigError` before any request is made.
    """
    if max_points < 1:
        raise ConfigError("max_points must be at least 1")
    st = step_ms(step)
    start = _ms(window.start)
    end = _ms(window.end)
    first = -(-start // st) * st  # ceil to step
    last = ((end - 1) // st) * st  # last multiple strictly before end
    if last < first:
        return []
    points = (last - first) // st + 1
    n_chunks = -(-points // max_points)
    if n_chunks > max_chunks:
        raise ConfigError(
            f"a step of {st / 1000:g}s over {window} is {points:,} points per series "
            f"({n_chunks:,} queries)",
            hint="raise the step (or leave it out to have one chosen)",
        )
    chunks = []
    t = first
    span = (max_points - 1) * st
    while t <= last:
        e = min(t + span, last)
        chunks.append(Chunk(t, e, st))
        t = e + st
    return chunks


def _ms(t: datetime) -> int:
    delta = t - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
