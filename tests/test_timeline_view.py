"""The timeline table (:mod:`workbench.timeline_view`): what a short table keeps when the
timeline holds more rows than it shows, and that it says what it left out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from workbench.analysis.timeline import TIMELINE_SCHEMA
from workbench.timeline_view import TIMELINE_ROWS, pick, timeline_table
from workbench.timewindow import Window

T0 = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)


@dataclass
class _Inc:
    window: Window
    metrics: pl.DataFrame


def _row(minute: float, kind: str, service: str | None, title: str, end: float | None = None):
    return {
        "ts": T0 + timedelta(minutes=minute),
        "end": None if end is None else T0 + timedelta(minutes=end),
        "kind": kind,
        "service": service,
        "title": title,
        "source": "red" if kind in ("error_spike", "recovery") else "logs",
        "evidence": "",
    }


def _crowded() -> pl.DataFrame:
    """An incident with 60 log-pattern surges all through the hour, one onset at 11:05,
    a rollback at 11:42 and the recovery at 11:43 (near the end, after most surges)."""
    rows = [
        _row(-60, "baseline", None, "baseline window", 0),
        _row(0, "incident", None, "incident window", 60),
        _row(5, "error_spike", "checkout", "errors rise on checkout", 43),
        _row(42, "rollback", "checkout", "rollback checkout", 42.75),
        _row(43, "recovery", "checkout", "errors back to normal on checkout"),
        _row(4, "deploy", "checkout", "deploy checkout v2", 9),
        _row(7, "alert", "checkout", "HighErrorRate checkout", 47),
    ]
    rows += [_row(0.9 * i + 0.3, "log_surge", "svc", f"log surge {i}") for i in range(60)]
    return pl.DataFrame(rows, schema=TIMELINE_SCHEMA).sort("ts")


def _incident() -> _Inc:
    metrics = pl.DataFrame(
        schema={
            "ts": pl.Datetime("us", "UTC"),
            "metric": pl.String,
            "service": pl.String,
            "value": pl.Float64,
        }
    )
    return _Inc(Window(T0, T0 + timedelta(hours=1)), metrics)


def test_a_crowded_timeline_keeps_onsets_changes_and_the_recovery_and_says_what_it_cut() -> None:
    tl = _crowded()
    t = timeline_table(tl, _incident())
    shown = t.shown
    assert shown.height == TIMELINE_ROWS
    kinds = shown["kind"].to_list()
    for kind in ("error_spike", "recovery", "rollback", "deploy", "alert"):
        assert kind in kinds, kind
    assert shown["ts"].is_sorted()  # earliest first, as a timeline reads
    # the surges kept are the ones nearest the onset (11:05), not the first in time
    kept = shown.filter(pl.col("kind") == "log_surge")["ts"]
    left = tl.filter((pl.col("kind") == "log_surge") & ~pl.col("ts").is_in(kept.implode()))["ts"]
    onset = T0 + timedelta(minutes=5)
    assert max(abs(t - onset) for t in kept) <= min(abs(t - onset) for t in left)
    # said: how many of how many, and what kind of rows were left out, where they are
    assert t.note.startswith(f"{TIMELINE_ROWS} of 65 timeline rows shown")
    assert "35 more past the table's 30 rows left out (35 log-pattern surges" in t.note
    assert "inv.timeline.frame" in t.note
    assert "errors back to normal on checkout" in t._repr_html_()


def test_a_short_timeline_is_shown_whole_and_pick_leaves_out_the_window_rows() -> None:
    tl = _crowded().head(7)
    shown, left = pick(tl, max_rows=TIMELINE_ROWS)
    assert left == {}
    assert shown.height == tl.height - 2  # the incident and baseline window rows
    t = timeline_table(tl, _incident())
    assert t.note == f"{shown.height} of {shown.height} timeline rows shown."


def test_log_surge_rows_write_counts_as_the_surges_table_does() -> None:
    """The timeline's evidence said "1387 lines in the window" where the surges table
    says "1,387" (look10)."""
    from workbench.analysis.focus import surges_as_timeline
    from workbench.display import format_value

    surges = pl.DataFrame(
        {
            "service": ["checkout", "web"],
            "template": ["boom <*>", "slow <*>"],
            "n_baseline": [0, 1_200],
            "n_incident": [1_387, 25_000],
            "new": [True, False],
            "surge": [True, True],
            "z": [138.64, 80.0],
            "rose_at": [T0 + timedelta(minutes=5), T0 + timedelta(minutes=6)],
        }
    )
    ev = surges_as_timeline(surges)["evidence"].to_list()
    assert (
        ev[0]
        == f"{format_value(1_387, 'n_incident')} lines in the window, 0 in the baseline (z 138.6)"
    )
    assert ev[1].startswith("25,000 lines in the window, 1,200 in the baseline")
