"""The Nezha layout's per-call latency tables (``source_50.csv``, ``destination_50.csv``):
each call ``<caller>_<callee>`` is a series of the callee, labelled with its caller and
the side that measured it; a network delay on a service that nothing else shows yet is
seen there (hand-made files)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from workbench.analysis.suspects import rank_suspects
from workbench.evaluation import nezha_edges as ne
from workbench.evaluation.nezha import _nezha_metrics
from workbench.timewindow import Window

T0 = datetime(2022, 8, 22, 5, 0, tzinfo=UTC)
POD_COLS = "Time,TimeStamp,PodName,CpuUsageRate(%),PodServerLatencyP90(s)"


def _go_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.000000000 +0000 UTC m=+0.1")


def _day(tmp: Path, minutes: int = 25, delayed_from: int = 21) -> Path:
    """A day folder: three pods (frontend calls checkout, checkout calls payment) and the two per-call tables; from
    minute ``delayed_from`` on, the caller's side of checkout -> payment waits 0.75 s."""
    metric = tmp / "metric"
    metric.mkdir(parents=True)
    times = [T0 + timedelta(minutes=i) for i in range(minutes)]
    pods = (
        "frontend-579b9bff58-t2dbm",
        "checkoutservice-578fcf4766-9csqn",
        "paymentservice-9cdb6588f-554sm",
    )
    for pod in pods:
        lines = [POD_COLS] + [
            f"{_go_time(t)},{int(t.timestamp())},{pod},{1.0 + 0.1 * (i % 3)},0.005"
            for i, t in enumerate(times)
        ]
        (metric / f"{pod}_metric.csv").write_text("\n".join(lines) + "\n")
    for reporter in ("source", "destination"):
        head = "time,timestamp,checkoutservice_paymentservice,frontend_checkoutservice,odd_column"
        rows = []
        for i, t in enumerate(times):
            slow = reporter == "source" and i >= delayed_from
            call = 0.75 if slow else 0.003 + 0.001 * (i % 3)
            front = "nan" if i == 3 else f"{0.2 + 0.01 * (i % 3)}"
            rows.append(f"{_go_time(t)},{int(t.timestamp())},{call},{front},1")
        (metric / f"{reporter}_50.csv").write_text("\n".join([head, *rows]) + "\n")
    return tmp


def test_each_call_is_a_series_of_its_callee_labelled_with_caller_and_reporter(tmp_path):
    day = _day(tmp_path)
    notes: list[str] = []
    lo, hi = int(T0.timestamp()), int((T0 + timedelta(minutes=30)).timestamp())
    m = _nezha_metrics(day, lo, hi, notes)
    calls = m.filter(pl.col("metric") == "CallLatencyP50(s)").with_columns(
        lab=pl.col("labels").list.eval(
            pl.element().struct.field("key") + "=" + pl.element().struct.field("value")
        )
    )
    got = {(s, tuple(lab)) for s, lab in calls.select("service", "lab").unique().iter_rows()}
    assert got == {
        ("paymentservice", ("caller=checkoutservice", "reporter=source")),
        ("paymentservice", ("caller=checkoutservice", "reporter=destination")),
        ("checkoutservice", ("caller=frontend", "reporter=source")),
        ("checkoutservice", ("caller=frontend", "reporter=destination")),
    }
    text = "\n".join(notes)
    # a column that is not two known services is named, not read, not silently lost
    assert "odd_column" in text and "not read" in text
    # an empty minute of a call is counted with the other NaN values
    assert "NaN value(s) in 2 file(s)" in text
    # the tables are no longer reported as unreadable
    assert "source_50.csv: no PodName" not in text


def test_a_delay_only_the_callers_side_of_a_call_sees_ranks_the_callee(tmp_path):
    day = _day(tmp_path)
    notes: list[str] = []
    lo, hi = int(T0.timestamp()), int((T0 + timedelta(minutes=30)).timestamp())
    m = _nezha_metrics(day, lo, hi, notes)
    baseline = Window(T0, T0 + timedelta(minutes=20))
    window = Window(T0 + timedelta(minutes=20), T0 + timedelta(minutes=25))
    sus = rank_suspects(None, window=window, baseline=baseline, metrics=m)
    assert sus.ranking == ["paymentservice"]
    row = sus.table.row(0, named=True)
    assert "CallLatencyP50(s)" in row["why"]
    # without the per-call tables the pods' own metrics hold nothing: nobody is ranked
    own = m.filter(pl.col("metric") != "CallLatencyP50(s)")
    assert rank_suspects(None, window=window, baseline=baseline, metrics=own).ranking == []


def test_call_names_split_only_into_known_services():
    known = {"front_end", "cart", "front", "end_cart"}
    assert ne.split_call("front_end_cart", {"front_end", "cart"}) == ("front_end", "cart")
    assert ne.split_call("front_end_cart", known) is None  # two readings: ambiguous
    assert ne.split_call("checkoutservice", known) is None
    assert ne.edge_file("destination_90.csv") == ("destination", "90")
    assert ne.edge_file("dependency.csv") is None
