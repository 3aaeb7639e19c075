"""RED and saturation per service from metric files (the first pass at scale): the same
names and close values as a real Prometheus asked for the same signals over the same
samples; ``metric_grain="auto"`` switches to them above a row count; the investigation
ranks on them, says so (``metric_grain``) and fetches raw series on drill-down."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from workbench import Incident, Investigation, Window
from workbench.sources.files import directory as files_directory
from workbench.sources.files.signals import service_signals
from workbench.sources.prometheus.signals import SIGNALS as PROM_SIGNALS


def _windows(path: Path) -> tuple[Window, Window]:
    meta = json.loads((path / "scenario.json").read_text())
    iw, bw = meta["incident_window"], meta["baseline_window"]
    return Window(iw["start"], iw["end"]), Window(bw["start"], bw["end"])


def _medians(df: pl.DataFrame, window: Window) -> pl.DataFrame:
    return (
        df.filter((pl.col("ts") >= window.start) & (pl.col("ts") < window.end))
        .group_by("metric", "service")
        .agg(pl.col("value").median())
    )


@pytest.mark.service
def test_files_signals_match_prometheus(lab_demo_dir: Path, prometheus_server) -> None:  # type: ignore[no-untyped-def]
    from workbench.sources.prometheus import PrometheusSource

    window, baseline = _windows(lab_demo_dir)
    full = baseline.union(window)
    paths = sorted((lab_demo_dir / "metrics").glob("*.parquet"))
    files = service_signals(paths, full, step=timedelta(seconds=60))
    assert set(files["metric"].unique()) <= set(PROM_SIGNALS)
    assert files["labels"].list.len().max() == 0
    prom = PrometheusSource(prometheus_server.url, scrape_interval="30s", target_points=120)
    live = prom.metrics(None, full).frame
    assert set(files["metric"].unique()) == set(live["metric"].unique())
    both = _medians(files, window).join(
        _medians(live, window), on=["metric", "service"], suffix="_prom"
    )
    assert both.height >= 0.9 * _medians(live, window).height
    # per-step increases vs PromQL rate() over a longer range: medians over an hour agree
    close = both.filter(
        pl.col("metric").is_in(
            ["red:request_rate", "saturation:cpu_ratio", "saturation:memory_ratio"]
        )
    ).with_columns(rel=(pl.col("value") - pl.col("value_prom")).abs() / pl.col("value_prom").abs())
    assert close.height > 20
    assert close["rel"].max() < 0.1, close.sort("rel", descending=True).head()
    p95 = both.filter(pl.col("metric") == "red:latency_p95_seconds")
    assert ((p95["value"] - p95["value_prom"]).abs() / p95["value_prom"]).median() < 0.1


def test_auto_grain_ranks_on_signals_and_drills_down_raw(
    lab_demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    truth = json.loads((lab_demo_dir / "truth.json").read_text())["root_cause_service"]
    # the demo holds 250,000 raw samples: below the default threshold, raw
    raw = Investigation(Incident.from_directory(lab_demo_dir))
    raw.incident.load(["metrics"])
    assert raw.metric_grain() == "series"
    monkeypatch.setattr(files_directory, "AUTO_RAW_ROWS", 100_000)
    inc = Incident.from_directory(lab_demo_dir)
    inv = Investigation(inc)
    inc.load()
    res = inc.outcomes[(inc.sources[0].name, "metrics")].result
    assert res is not None and res.extra["grain"] == "signals"
    assert "RED and saturation per service" in res.warnings[0]
    assert inv.metric_grain() == "signals"
    assert inc.metrics.height < raw.incident.metrics.height / 10
    assert set(inc.metrics["metric"].unique()) <= set(PROM_SIGNALS)
    assert inv.suspects.value.ranking[0] == truth
    # drill-down: the raw series of one service, fetched from the files on demand
    drilled = inv.raw_metrics([truth])
    assert set(drilled["service"].unique()) == {truth}
    assert drilled.height == raw.incident.metrics.filter(pl.col("service") == truth).height
    keys = drilled["labels"].list.eval(pl.element().struct.field("key")).explode()
    assert "pod" in set(keys.to_list())
    assert inv.raw_metrics([truth]) is drilled  # memoised
    focus = inv.narrow(services=[truth]).frames()["metrics"]
    assert set(focus["metric"].unique()) == set(
        drilled.filter(pl.col("ts") >= inc.window.start)["metric"].unique()
    )
