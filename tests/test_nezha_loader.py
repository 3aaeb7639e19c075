"""The Nezha loader: alert-time windows, the same-day baseline, and missing data reported
(absent minute files, a wrong TimeStamp repaired from Time, one name per service)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from workbench.evaluation.cases import nezha_cases
from workbench.evaluation.nezha import one_name_per_service

CASE = "2023-01-30T135220"  # its 13_54 log file has rows with a negative TimeUnixNano
OB_CASE = "2022-08-22T040207"


def _one_case(src: Path, root: Path, case_id: str) -> Path:
    root.mkdir()
    cases = pl.read_csv(src / "cases.csv", infer_schema=False)
    cases.filter(pl.col("case_id") == case_id).write_csv(root / "cases.csv")
    for d in ("rca_data", "construct_data", "MISSING_FROM_SNAPSHOT.txt"):
        if (src / d).exists():
            (root / d).symlink_to(src / d)
    return root


def test_alert_time_window_and_the_reference_minute_as_baseline(samples_dir, tmp_path):
    root = _one_case(samples_dir / "nezha-trainticket", tmp_path / "tt", CASE)
    (case,) = list(nezha_cases(root, detection_delay=timedelta(seconds=90)))
    injected = datetime(2023, 1, 30, 13, 52, 20, tzinfo=UTC)
    assert case.alert == injected + timedelta(seconds=90)
    # the window ends after the alert and starts before it; the fault time is not used
    assert case.window.start < case.alert < case.window.end
    assert case.window.start != injected
    assert case.baseline.end == case.window.start
    # every row keeps a time of the data's day (none from the nanosecond overflow)
    day = datetime(2023, 1, 30, tzinfo=UTC)
    assert case.logs["ts"].min() >= day and case.spans["start"].min() >= day
    construct_lines = sum(
        1
        for _ in (
            samples_dir / "nezha-trainticket/construct_data/2023-01-30/log/11_39_log.csv"
        ).open()
    )
    in_base = case.logs.filter(
        (pl.col("ts") >= case.baseline.start) & (pl.col("ts") < case.baseline.end)
    )
    # the baseline holds the reference minute, moved to end at the window: said so
    assert in_base.height == construct_lines - 1
    assert any("reference minute" in p for p in case.problems)
    # ... and that one reference minute is a shorter baseline than the 5-min window
    assert any("1 min against a 5-min window" in p for p in case.problems)


def test_missing_files_wrong_clock_and_two_spellings_are_reported(samples_dir, tmp_path):
    root = _one_case(samples_dir / "nezha-onlineboutique", tmp_path / "ob", OB_CASE)
    (case,) = list(nezha_cases(root))
    text = "\n".join(case.problems)
    assert case.partial
    # the case's log minute files are absent upstream: listed, with where that is known
    assert "04_02_log.csv" in text and "MISSING_FROM_SNAPSHOT" in text
    # adservice's TimeStamp is 200,000,000 s off: repaired from Time, and its rows are in
    assert "TimeStamp disagrees with Time" in text
    ad = case.metrics.filter(pl.col("service") == "adservice")
    assert ad.height > 0
    assert ad["ts"].min() >= case.baseline.start and ad["ts"].max() <= case.window.end
    # no reference minute on this day: the baseline is the day's data before the window
    assert "no fault-free reference minute" in text
    # front_service.csv's "Frontend" is the pods' "frontend"
    assert "Frontend" not in set(case.metrics["service"])
    assert "'Frontend' is 'frontend'" in text
    # files that are not metric tables are named, not silently skipped
    assert "dependency.csv" in text


def test_one_name_per_service_keeps_the_lower_case_spelling():
    notes: list[str] = []
    m = pl.DataFrame({"service": ["Frontend", "frontend", "frontend", "Cart"]})
    got = one_name_per_service({"metrics": m}, notes)["metrics"]
    assert got["service"].to_list() == ["frontend", "frontend", "frontend", "Cart"]
    assert notes == ["service 'Frontend' is 'frontend' (names differ only in case)"]
