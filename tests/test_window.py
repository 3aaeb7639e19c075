import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from workbench import ConfigError, Window
from workbench.timewindow import parse_duration, parse_time

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def test_parse_absolute_range_and_baseline() -> None:
    w = Window.parse("2026-11-27T03:00:00Z..2026-11-27T03:45:00Z")
    assert w.start == T0 and w.duration == timedelta(minutes=45)
    b = w.baseline()
    assert b.end == w.start and b.duration == w.duration
    assert str(w) == "2026-11-27T03:00:00Z..2026-11-27T03:45:00Z"


def test_relative_forms() -> None:
    w = Window.parse("now-45m..now", now=T0)
    assert w == Window(T0 - timedelta(minutes=45), T0)
    assert Window.parse("1h30m", now=T0).duration == timedelta(minutes=90)
    assert Window.around(T0, before="10m", after="5m") == Window(
        T0 - timedelta(minutes=10), T0 + timedelta(minutes=5)
    )


def test_other_zones_become_utc() -> None:
    cet = timezone(timedelta(hours=1))
    w = Window(datetime(2026, 11, 27, 4, 0, tzinfo=cet), datetime(2026, 11, 27, 5, tzinfo=cet))
    assert w.start == T0 and w.start.tzinfo == UTC


@pytest.mark.parametrize(
    "bad",
    ["2026-11-27T03:45:00Z..2026-11-27T03:00:00Z", "2026-11-27T03:00:00Z..2026-11-27T03:00:00Z"],
)
def test_end_not_after_start_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="not after its start"):
        Window.parse(bad)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ConfigError, match="time zone"):
        Window(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ConfigError, match="no time zone"):
        parse_time("2026-11-27T03:00:00")


@pytest.mark.parametrize("bad", ["", "45", "4 5m", "m", "1y", "-5m"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(bad)


def test_split_covers_without_gaps_or_overlap() -> None:
    w = Window(T0, T0 + timedelta(minutes=100))
    parts = list(w.split("30m"))
    assert [p.duration for p in parts] == [timedelta(minutes=30)] * 3 + [timedelta(minutes=10)]
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))
    assert parts[0].start == w.start and parts[-1].end == w.end
