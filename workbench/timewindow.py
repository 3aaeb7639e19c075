"""Time windows: the ``Window`` value object, always UTC-aware.

Example::

    >>> from workbench import Window
    >>> w = Window.parse("2026-11-27T03:00:00Z..2026-11-27T03:45:00Z")
    >>> w.duration
    datetime.timedelta(seconds=2700)
    >>> w.baseline()          # same length, just before
    Window(2026-11-27T02:15:00Z..2026-11-27T03:00:00Z)
    >>> Window.last("45m")    # ends now
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from workbench.errors import ConfigError

__all__ = ["Window", "duration_literal", "parse_duration", "parse_time"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RELATIVE = re.compile(r"^now\s*(?:([+-])\s*(\S+))?$")


def parse_duration(text: str | timedelta) -> timedelta:
    """Parse ``"45m"``, ``"1h30m"``, ``"2d"``, ``"500ms"`` (Prometheus style) into a timedelta.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    if isinstance(text, timedelta):
        return text
    s = str(text).strip().lower()
    if not s:
        raise ConfigError("empty duration", hint="write a duration like '45m', '2h' or '1h30m'")
    pos = 0
    total = 0.0
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise ConfigError(
            f"cannot read duration {text!r}",
            hint="write a duration like '45m', '2h', '1h30m' or '7d' (units ms, s, m, h, d, w)",
        )
    return timedelta(seconds=total)


def duration_literal(d: timedelta) -> str:
    """The duration as :func:`parse_duration` reads it back, in whole seconds: ``"8h"``,
    ``"4h16m"``, ``"1d2h"``, ``"90s"`` -> ``"1m30s"`` (what a person types in a parameter).

    >>> duration_literal(timedelta(hours=4, minutes=16))
    '4h16m'
    """
    total = round(d.total_seconds())
    if total <= 0:
        raise ConfigError(f"a duration must be positive, not {d}")
    parts = []
    for unit, secs in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, total = divmod(total, secs)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)


def parse_time(value: str | datetime | int | float, *, now: datetime | None = None) -> datetime:
    """Parse an absolute or relative time into an aware UTC datetime.

    Accepts an aware ``datetime``, ISO 8601 with an offset or ``Z``, a Unix timestamp in
    seconds, or ``now``, ``now-45m``. Naive datetimes are refused: a time without a zone
    is a bug waiting to happen at 3 a.m.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ConfigError(
                f"naive datetime {value.isoformat()} has no time zone",
                hint="pass an aware datetime, e.g. datetime(..., tzinfo=timezone.utc)",
            )
        return value.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_unix(float(value), value)
    text = str(value).strip()
    rel = _RELATIVE.match(text.lower())
    if rel:
        base = now or datetime.now(UTC)
        if rel.group(1):
            delta = parse_duration(rel.group(2))
            try:
                return base - delta if rel.group(1) == "-" else base + delta
            except OverflowError:
                raise ConfigError(
                    f"{value!r} is outside the years 1 to 9999", hint="use a shorter offset"
                ) from None
        return base
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(
                f"cannot read time {value!r}",
                hint="use ISO 8601 with a zone ('2026-11-27T03:00:00Z'), a Unix time, or 'now-45m'",
            ) from None
        return _from_unix(number, value)
    if parsed.tzinfo is None:
        raise ConfigError(
            f"time {value!r} has no time zone",
            hint="add 'Z' or an offset such as '+00:00'",
        )
    return parsed.astimezone(UTC)


def _from_unix(seconds: float, original: object) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise ConfigError(
            f"{original!r} is not a Unix time in seconds between years 1 and 9999",
            hint="give seconds since 1970 (not ms or ns), or an ISO 8601 time",
        ) from None


def _fmt(t: datetime) -> str:
    return (
        t.strftime("%Y-%m-%dT%H:%M:%S")
        + (f".{t.microsecond:06d}".rstrip("0") if t.microsecond else "")
        + "Z"
    )


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range ``[start, end)`` in UTC.

    Build one with ``Window(start, end)`` from aware datetimes, ``Window.parse("A..B")``,
    ``Window.last("45m")`` or ``Window.around(alert_start, before="30m", after="15m")``.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start = parse_time(self.start)
        end = parse_time(self.end)
        if end <= start:
            raise ConfigError(
                f"window end {_fmt(end)} is not after its start {_fmt(start)}",
                hint="swap the two times, or give a positive duration",
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    # constructors -------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, *, now: datetime | None = None) -> Window:
        """Parse ``"START..END"`` (absolute or ``now-…``) or a bare duration ``"45m"``."""
        s = text.strip()
        if ".." in s:
            a, b = s.split("..", 1)
            return cls(parse_time(a, now=now), parse_time(b or "now", now=now))
        return cls.last(s, now=now)

    @classmethod
    def last(cls, duration: str | timedelta, *, now: datetime | None = None) -> Window:
        """The window of the given length that ends now (or at ``now``)."""
        end = parse_time(now) if now is not None else datetime.now(UTC)
        return cls(end - parse_duration(duration), end)

    @classmethod
    def around(
        cls,
        moment: str | datetime,
        *,
        before: str | timedelta = "30m",
        after: str | timedelta = "30m",
    ) -> Window:
        """A window around a moment, e.g. an alert's ``startsAt``."""
        t = parse_time(moment)
        return cls(t - parse_duration(before), t + parse_duration(after))

    # derived values -----------------------------------------------------------------
    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def baseline(self, length: str | timedelta | None = None) -> Window:
        """The window just before this one, by default of the same length."""
        d = parse_duration(length) if length is not None else self.duration
        return Window(self.start - d, self.start)

    def contains(self, t: datetime) -> bool:
        return self.start <= parse_time(t) < self.end

    def union(self, other: Window) -> Window:
        return Window(min(self.start, other.start), max(self.end, other.end))

    def split(self, chunk: str | timedelta) -> Iterator[Window]:
        """Consecutive sub-windows of at most ``chunk`` length covering this window."""
        step = parse_duration(chunk)
        if step <= timedelta(0):
            raise ConfigError("chunk length must be positive")
        t = self.start
        while t < self.end:
            nxt = min(t + step, self.end)
            yield Window(t, nxt)
            t = nxt

    def __str__(self) -> str:
        return f"{_fmt(self.start)}..{_fmt(self.end)}"

    def __repr__(self) -> str:
        return f"Window({self})"
