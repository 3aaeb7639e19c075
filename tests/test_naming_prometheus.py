"""Each metric-naming convention, loaded into a real Prometheus, gives the same RED panels
and the same top suspect as the lab's own names.

The lab demo's metric series are written once per naming (:mod:`workbench.lab.naming`),
promtool builds TSDB blocks from each, and a Prometheus serves them. A
``PrometheusSource`` with no preset detects the naming from the server's metric names,
says so in its status, and loads the RED + saturation signals; the frames are compared
with those loaded through the lab naming.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from tests import promservers
from tests.servers import require_binary
from workbench.analysis.suspects import rank_suspects
from workbench.incident import Incident
from workbench.lab.naming import rename
from workbench.lab.runner import lab_series
from workbench.lab.write_metrics import write_openmetrics
from workbench.sources.prometheus import PrometheusSource
from workbench.sources.prometheus import signals as sig
from workbench.timewindow import Window

pytestmark = [pytest.mark.service, pytest.mark.slow]

NAMINGS = ("otel", "otel-legacy", "spanmetrics", "spanmetrics-legacy", "istio", "beyla")
RED = (sig.REQUEST_RATE, sig.ERROR_RATE, sig.ERROR_RATIO, sig.latency_name(0.95))


@pytest.fixture(scope="module")
def demo_series():
    ss, run = lab_series("demo", 1)
    return ss, run


@pytest.fixture(scope="module")
def windows(lab_demo_dir: Path) -> tuple[Window, Window, str]:
    meta = json.loads((lab_demo_dir / "scenario.json").read_text())
    truth = json.loads((lab_demo_dir / "truth.json").read_text())
    iw, bw = meta["incident_window"], meta["baseline_window"]
    return (
        Window(iw["start"], iw["end"]),
        Window(bw["start"], bw["end"]),
        truth["root_cause_service"],
    )


def _serve(ss, naming: str, work: Path) -> promservers.Server:
    require_binary(promservers.PROMTOOL)
    require_binary(promservers.PROMETHEUS)
    om = write_openmetrics(rename(ss, naming), work / f"{naming}.om") and work / f"{naming}.om"
    return promservers.start_prometheus(work / "prom", [om])


def _load(url: str, windows: tuple[Window, Window, str]) -> tuple[Incident, PrometheusSource]:
    inc_w, base_w, _ = windows
    src = PrometheusSource(url, name="prom")  # no preset: detected from the server
    inc = Incident("naming", inc_w, baseline=base_w, sources=[src]).load(["metrics"])
    return inc, src


@pytest.fixture(scope="module")
def lab_loaded(
    demo_series, windows, tmp_path_factory
) -> Iterator[tuple[Incident, PrometheusSource]]:
    server = _serve(demo_series[0], "lab", tmp_path_factory.mktemp("naming-lab"))
    try:
        inc, src = _load(server.url, windows)
        yield inc, src
        src.close()
    finally:
        server.stop()


def _red(inc: Incident) -> pl.DataFrame:
    return (
        inc.metrics.filter(pl.col("metric").is_in(RED))
        .select("ts", "metric", "service", "value")
        .sort("metric", "service", "ts")
    )


@pytest.mark.parametrize("naming", NAMINGS)
def test_each_naming_gives_the_lab_red_panels_and_top_suspect(
    naming: str, demo_series, windows, lab_loaded, tmp_path_factory
) -> None:
    lab_inc, lab_src = lab_loaded
    assert lab_src.preset_choice is not None and lab_src.preset_choice.preset == "lab"
    server = _serve(demo_series[0], naming, tmp_path_factory.mktemp(f"naming-{naming}"))
    try:
        inc, src = _load(server.url, windows)
        # the naming was detected, and the status says which and why
        assert src.preset_choice is not None and src.preset_choice.preset == naming
        detail = inc.status().filter(pl.col("signal") == "metrics")["detail"][0]
        assert f"preset {naming} (detected: the server has" in detail
        assert not inc.partial
        # the same RED panels: every series, every step, the same values
        a, b = _red(lab_inc), _red(inc)
        assert a.height > 1000 and a.select("metric", "service").unique().height >= 30
        joined = a.join(b, on=["ts", "metric", "service"], how="full", coalesce=True)
        assert joined.height == a.height == b.height, naming
        close = (pl.col("value") - pl.col("value_right")).abs() <= 1e-6 * (
            1 + pl.col("value").abs()
        )
        bad = joined.filter(~close & ~(pl.col("value").is_nan() & pl.col("value_right").is_nan()))
        assert bad.height == 0, bad.head()
        # the same suspects from the metrics, with the ground truth on top
        inc_w, base_w, truth = windows
        top_lab = rank_suspects(metrics=lab_inc.metrics, window=inc_w, baseline=base_w)
        top = rank_suspects(metrics=inc.metrics, window=inc_w, baseline=base_w)
        assert top.table["service"][0] == top_lab.table["service"][0]
        assert top.table["service"][0] == truth, top.table.head()
        src.close()
    finally:
        server.stop()


SATURATION = (sig.CPU_RATIO, sig.MEMORY_RATIO, sig.DB_POOL_RATIO)


@pytest.mark.parametrize("naming", ["lab+kubernetes", "otel+kubernetes"])
def test_kubernetes_saturation_matches_the_lab_saturation(
    naming: str, demo_series, windows, lab_loaded, tmp_path_factory
) -> None:
    lab_inc, _ = lab_loaded
    server = _serve(demo_series[0], naming, tmp_path_factory.mktemp(f"naming-{naming}"))
    try:
        inc, src = _load(server.url, windows)
        assert src.preset_choice is not None and src.preset_choice.preset == naming
        assert "cAdvisor/kube-state-metrics" in src.preset_choice.reason
        assert src.metric_names.cpu_seconds == "container_cpu_usage_seconds_total"

        def sat(i: Incident) -> pl.DataFrame:
            return (
                i.metrics.filter(pl.col("metric").is_in(SATURATION))
                .select("ts", "metric", "service", "value")
                .sort("metric", "service", "ts")
            )

        a, b = sat(lab_inc), sat(inc)
        assert set(a["metric"]) == set(SATURATION) and a.height > 1000
        joined = a.join(b, on=["ts", "metric", "service"], how="full", coalesce=True)
        assert joined.height == a.height == b.height, naming
        diff = (pl.col("value") - pl.col("value_right")).abs()
        assert joined.filter(diff > 1e-6 * (1 + pl.col("value").abs())).height == 0
        assert set(inc.metrics["metric"]) >= set(RED)  # RED still comes through
        src.close()
    finally:
        server.stop()


def test_grafana_links_of_suspects_replay_their_evidence(lab_loaded, windows) -> None:
    from workbench.grafana_links import Grafana, decode_explore_url, suspect_links

    inc, src = lab_loaded
    inc_w, base_w, truth = windows
    sus = rank_suspects(metrics=inc.metrics, window=inc_w, baseline=base_w)
    grafana = Grafana("https://grafana.example.com/", prometheus_uid="prom-uid", org_id=3)
    links = suspect_links(sus, inc, src, grafana, top=3)
    assert truth in links
    url = links[truth]
    assert url.startswith("https://grafana.example.com/explore?schemaVersion=1&panes=")
    assert url.endswith("&orgId=3")
    d = decode_explore_url(url)
    assert d["datasource"] == "prom-uid" and d["type"] == "prometheus"
    assert d["window"] == Window(base_w.start, inc_w.end)
    # the query is the evidence's strongest series for that service, and replaying it on
    # the server over the link's window gives the values the ranking saw
    top = sus.evidence(truth).series.sort("score", descending=True)["metric"][0]
    assert f'service="{truth}"' in d["query"]
    step = src._step(d["window"], None)
    replay = src.query_range(d["query"], d["window"], step=step, alias=top).frame
    seen = inc.metrics.filter((pl.col("metric") == top) & (pl.col("service") == truth))
    joined = seen.join(replay.select("ts", "value"), on="ts", how="inner")
    assert joined.height >= 0.9 * seen.height > 50
    diff = (pl.col("value") - pl.col("value_right")).abs()
    assert joined.filter(diff > 1e-6 * (1 + pl.col("value").abs())).height == 0
    # the link the notebook, explorer and postmortem show (ExploreLinks, from the
    # incident's Grafana and its Prometheus source) is this same query over this window
    from workbench.grafana_links import explore_links

    inc.grafana = grafana
    try:
        shown = explore_links(inc, window=inc_w, baseline=base_w)
        assert shown is not None
        got = decode_explore_url(shown.evidence(sus.evidence(truth))["metric"])
        assert got == d
    finally:
        inc.grafana = None
