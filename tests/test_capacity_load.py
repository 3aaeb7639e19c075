"""Capacity loading from files and the acceptance on the lab history (no server).

The history's truth.json says checkout's CPU grows fastest and its noise-free weekday peak
crosses 80 % on a known date; the forecast must find that date within 10 % of the time
remaining and rank checkout first.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from workbench import BadData, ConfigError, Window
from workbench.capacity import effective_step, findings, load_usage
from workbench.sources import capacity_queries as cq

ROOT = Path(__file__).resolve().parents[1]
END = datetime(2026, 11, 20, tzinfo=UTC)


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_acceptance(table: pl.DataFrame, history: Path) -> None:
    """Shared by the file, Prometheus and PostgreSQL tests."""
    truth = json.loads((history / "truth.json").read_text())
    first = truth["first_to_saturate"]
    row = table.row(0, named=True)
    assert (row["service"], row["resource"]) == (first["service"], first["resource"])
    assert row["service"] == truth["fastest_growing"]
    known = _iso(first["saturation_date"])
    remaining = (known - END).total_seconds()
    error = abs((row["saturates_at"] - known).total_seconds())
    assert error <= 0.10 * remaining, (row["saturates_at"], known)
    assert row["earliest"] <= row["saturates_at"] <= row["latest"]
    # the fastest-growing CPU by fitted growth is the known one too
    cpu = table.filter(pl.col("resource") == "cpu").sort("growth_per_day", descending=True)
    assert cpu["service"][0] == truth["fastest_growing"]
    # a service the lab grows slowly does not saturate within the horizon it was given
    slow = table.filter(pl.col("service") == "recommendation", pl.col("resource") == "cpu")
    assert slow["days_left"][0] > 60
    # postgres' disk fills linearly: 80 % in 45 days
    disk = table.filter(pl.col("service") == "postgres", pl.col("resource") == "disk").row(
        0, named=True
    )
    disk_known = END + timedelta(days=45)
    assert abs((disk["saturates_at"] - disk_known).total_seconds()) <= 0.10 * 45 * 86400


def test_files_acceptance_runs_out_first(capacity_history: Path) -> None:
    usage = load_usage(capacity_history, "")
    assert usage.backend == "files" and usage.profile == "recorded"
    assert set(usage.resources) == {"cpu", "memory", "disk"}
    table = usage.table(threshold=0.8, horizon_days=365)
    check_acceptance(table, capacity_history)
    text = findings(table, usage, threshold=0.8, horizon_days=180)
    assert text.startswith("**Runs out first:** `checkout` cpu crosses 80%")


def test_buckets_hold_the_peak_and_the_tightest_limit(capacity_history: Path) -> None:
    raw = pl.read_parquet(capacity_history / "metrics" / "metrics.parquet")
    w = Window.parse("2026-11-01T00:00:00Z..2026-11-08T00:00:00Z")
    usage = load_usage(capacity_history, w, services=["catalog"], resources=["cpu"], step="1h")
    assert usage.step == timedelta(hours=1) and usage.notes == ()
    assert usage.usage["service"].unique().to_list() == ["catalog"]
    assert usage.usage.height == 7 * 24  # one bucket per hour, none lost
    # each bucket's value is the maximum of the raw 5-minute samples in [ts, ts + 1h)
    expect = (
        raw.filter(
            pl.col("metric") == "service:cpu_usage_cores:rate5m",
            pl.col("service") == "catalog",
            pl.col("ts") >= w.start,
            pl.col("ts") < w.end,
        )
        .group_by(ts=pl.col("ts").dt.truncate("1h"))
        .agg(pl.col("value").max())
        .sort("ts")
    )
    got = usage.usage.sort("ts")
    assert got["ts"].to_list() == expect["ts"].to_list()
    assert got["value"].to_list() == pytest.approx(expect["value"].to_list())
    # the limit is a step function: catalog's CPU limit was raised once (day 12 = Nov 4)
    lims = usage.capacity["value"].unique().sort().to_list()
    assert len(lims) == 2


def test_step_is_raised_so_long_ranges_keep_a_bounded_size(capacity_history: Path) -> None:
    w30 = Window.parse("2026-10-01T00:00:00Z..2026-10-31T00:00:00Z")
    w90 = Window.parse("2026-08-01T00:00:00Z..2026-10-30T00:00:00Z")
    assert effective_step(w30, "5m", max_points=4032) == timedelta(minutes=15)
    assert effective_step(w90, "5m", max_points=4032) == timedelta(hours=1)
    assert effective_step(w90, "5m", max_points=None) == timedelta(minutes=5)
    u = load_usage(capacity_history, "", resources=["cpu"], max_points=1000)
    per_series = u.usage.group_by("service").len()["len"].max()
    assert per_series <= 1000 and u.step == timedelta(hours=1)
    assert "step raised from 300s to 3600s" in u.notes[0]


def test_usage_summary_reads_as_text_not_python(capacity_history: Path) -> None:
    """The capacity notebook's first table showed ``['cpu', 'memory', 'disk']``,
    ``False`` and ``108783`` (look9): the cells are written for people."""
    u = load_usage(capacity_history, "", resources=["cpu", "memory"], max_points=1000)
    page = u._repr_html_()
    assert "[" not in page and "False" not in page and "True" not in page
    assert "<td>cpu, memory</td>" in page and "<td>no</td>" in page
    assert f"<td>{u.usage.height:,}</td>" in page and "usage rows" in page
    assert "elapsed s<" not in page and ">elapsed<" in page  # the cell carries the unit
    # look10: the window and the step as every view writes them, not ISO and "600s"
    from workbench.display import format_duration
    from workbench.investigation import span_label

    assert f"<td>{span_label(u.window)}</td>" in page and "T00:00:00Z" not in page
    assert f"<td>{format_duration(u.step)}</td>" in page


def test_capacity_growth_is_in_points_per_day_everywhere(capacity_history: Path) -> None:
    """Growth per day is a change of a utilisation (a ratio): the table wrote it as a
    percentage (``1.3%``) and the findings as ``+1.30% points/day`` (look10); both now
    ``+1.3 pts``, by one function."""
    from workbench.display import format_points

    u = load_usage(capacity_history, "", resources=["cpu", "memory"], max_points=1000)
    ranking = u.ranking(threshold=0.8, horizon_days=180)
    top = ranking.table.sort("growth_per_day", descending=True).row(0, named=True)
    want = format_points(top["growth_per_day"])
    assert want.startswith("+") and want.endswith(" pts")
    assert want in ranking._repr_html_()
    from workbench.capacity import findings

    text = findings(ranking.table, u, threshold=0.8, horizon_days=180)
    assert f"({want}/day)" in text and "points/day" not in text
    assert "T00:00:00Z" not in text  # the window as every view writes it


def test_raw_metrics_profile_on_the_demo_incident(lab_demo_dir: Path) -> None:
    """The demo has per-pod raw metrics: CPU is a counter (rate, summed over pods),
    memory and pool connections gauges summed over pods, against summed limits."""
    u = load_usage(lab_demo_dir, "", step="5m")
    assert u.profile == "raw"
    assert set(u.usage["resource"].unique()) == {"cpu", "memory", "connections"}
    raw = pl.read_parquet(lab_demo_dir / "metrics" / "metrics.parquet")
    # CPU: the counter's increase per pod over a quiet 5 minutes, summed
    t0 = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    svc = "catalog"
    cpu = raw.filter(
        pl.col("metric") == "process_cpu_seconds_total",
        pl.col("service") == svc,
        pl.col("ts") >= t0,
        pl.col("ts") < t0 + timedelta(minutes=5),
    )
    per_pod = cpu.group_by(pl.col("labels").hash()).agg(
        ((pl.col("value").max() - pl.col("value").min()) / 270.0).alias("r")  # 10 samples, 30 s
    )
    got = u.usage.filter(pl.col("service") == svc, pl.col("resource") == "cpu", pl.col("ts") == t0)[
        "value"
    ][0]
    # the loader's 1-minute sub-buckets see 1-minute increases: the same rate within noise
    assert got == pytest.approx(per_pod["r"].sum(), rel=0.25)
    lim = u.capacity.filter(pl.col("service") == svc, pl.col("resource") == "cpu")
    assert lim["value"].min() > 0
    util = u.utilisation()["utilisation"]
    assert util.min() > 0 and util.max() < 1.5  # usage and limits in the same unit
    assert u.pairs_without_capacity() == []


def test_no_data_is_an_error_naming_the_metrics(capacity_history: Path) -> None:
    w = Window.parse("2020-01-01T00:00:00Z..2020-01-08T00:00:00Z")
    with pytest.raises(BadData, match="no usage of cpu"):
        load_usage(capacity_history, w, resources=["cpu"])
    with pytest.raises(ConfigError, match="unknown resource"):
        load_usage(capacity_history, w, resources=["gpu"])
    with pytest.raises(ConfigError, match="cannot load capacity data"):
        load_usage(object(), w)


def test_promql_is_escaped_and_bucketed() -> None:
    q = cq.promql_bucketed(cq.RAW["cpu"].usage, step="1h", services=['we"ird', "a.b"], res="1m")
    assert q == (
        "max by (service) (max_over_time((sum by (service) (rate(process_cpu_seconds_total"
        '{service=~"we\\"ird|a\\\\.b"}[300s])))[3600s:60s] offset 1ms))'
    )
    q = cq.promql_bucketed(cq.RECORDED["cpu"].limit, step="10m", agg="min")
    assert q == "min_over_time(service:cpu_limit_cores:sum[600s] offset 1ms)"
    q = cq.promql_bucketed(cq.RAW["connections"].usage, step="5m", services=["cart"])
    assert 'db_client_connections_usage{state="used",service="cart"}' in q
    sql = cq.sql_bucketed(cq.RAW["connections"].usage, table='"s"."metrics"', with_services=True)
    assert "labels @> %(match)s::jsonb" in sql and "service = ANY(%(services)s)" in sql
    assert cq.sql_params(cq.RAW["connections"].usage) == {
        "metric": "db_client_connections_usage",
        "match": '{"state": "used"}',
    }


def test_repository_notebook_is_the_packaged_template() -> None:
    from workbench import notebook

    def cells(p: Path) -> list[tuple[str, str, list[str]]]:
        nb = json.loads(p.read_text())
        return [
            (c["cell_type"], "".join(c["source"]), c.get("metadata", {}).get("tags", []))
            for c in nb["cells"]
        ]

    repo = ROOT / "notebooks" / "capacity.ipynb"
    assert cells(repo) == cells(notebook.template_path("capacity")), (
        "notebooks/capacity.ipynb and workbench/templates/capacity.ipynb differ: edit one, "
        "clear its outputs, copy it over the other"
    )
    params = notebook.read_parameters(repo)
    assert params == {
        "window": "",
        "services": [],
        "resources": [],
        "threshold": 0.8,
        "horizon_days": 180,
        "step": "5m",
        "sources_config": "",
        "source": "",
    }
    nb = json.loads(repo.read_text())
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


def test_unreachable_chunks_make_a_partial_usage_not_a_short_one() -> None:
    from tests.servers import free_port
    from workbench import PrometheusSource

    prom = PrometheusSource(f"http://127.0.0.1:{free_port()}", on_chunk_error="partial", retries=0)
    w = Window.parse("2026-11-01T00:00:00Z..2026-11-03T00:00:00Z")
    u = load_usage(prom, w, resources=["cpu"], profile="recorded", chunk_points=288)
    assert u.partial and u.usage.is_empty()
    assert len(u.reasons) == u.requests == 2 * 2  # usage + limit, 2 chunks of a day each
    assert all("not loaded" in r for r in u.reasons)
    with pytest.raises(BadData, match="has both usage and a limit"):
        u.table()
    # without partial mode the first failure is raised
    strict = PrometheusSource(f"http://127.0.0.1:{free_port()}", retries=0)
    from workbench import SourceUnavailable

    with pytest.raises(SourceUnavailable):
        load_usage(strict, w, resources=["cpu"], profile="recorded")
