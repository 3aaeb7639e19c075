"""The Nezha loader's windows: the fault-free construct data alone is the log/trace
baseline, and rows with a corrupt nanosecond clock keep their text timestamp."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from workbench.evaluation.cases import nezha_cases

CASE = "2023-01-30T135220"  # its 13_54 log file has rows with a negative TimeUnixNano


def test_construct_data_is_the_baseline_and_no_row_gets_a_bogus_time(samples_dir, tmp_path):
    src = samples_dir / "nezha-trainticket"
    root = tmp_path / "nezha"
    root.mkdir()
    cases = pl.read_csv(src / "cases.csv", infer_schema=False)
    cases.filter(pl.col("case_id") == CASE).write_csv(root / "cases.csv")
    for d in ("rca_data", "construct_data"):
        (root / d).symlink_to(src / d)
    (case,) = list(nezha_cases(root))

    # every row is kept, with a time of the data's day (none from the nanosecond overflow)
    day = datetime(2023, 1, 30, tzinfo=UTC)
    assert case.logs["ts"].min() >= day and case.spans["start"].min() >= day
    construct_lines = sum(
        1 for _ in (src / "construct_data" / "2023-01-30" / "log" / "11_39_log.csv").open()
    )
    real_lines = sum(
        sum(1 for _ in (src / "rca_data" / "2023-01-30" / "log" / f"{m}_log.csv").open()) - 1
        for m in ("13_52", "13_53", "13_54")
    )
    # (the 13_5x files hold a few rows whose quoted message spans two lines)
    assert case.logs.height <= construct_lines - 1 + real_lines

    in_base = case.logs.filter(
        (pl.col("ts") >= case.baseline.start) & (pl.col("ts") < case.baseline.end)
    )
    # the baseline holds the construct minute (and nothing else): it ends before the
    # first real row, and the real rows before the injection are in neither window
    assert in_base.height == construct_lines - 1
    before = case.logs.filter(
        (pl.col("ts") >= case.baseline.end) & (pl.col("ts") < case.window.start)
    )
    assert before.height > 0
    assert case.baseline.end <= case.window.start
