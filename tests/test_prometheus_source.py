"""PrometheusSource against a real Prometheus 2.42 and a real VictoriaMetrics.

The servers hold the synthetic data of tests/promdata.py (known answers) and, when the
lab plugin is present, the lab demo scenario.
"""

from __future__ import annotations

import math
from datetime import timedelta

import polars as pl
import pytest

from tests import promdata
from tests.promservers import Server
from workbench import frames
from workbench.sources.prometheus import signals as sig
from workbench.sources.prometheus.source import PrometheusSource
from workbench.timewindow import Window

pytestmark = pytest.mark.service

RED = Window(promdata.T0, promdata.RED_END)
LONG = Window(promdata.LONG_START, promdata.LONG_START + timedelta(days=1))


@pytest.fixture(scope="module")
def src(prom_backend: tuple[str, Server]) -> PrometheusSource:
    flavor, server = prom_backend
    s = PrometheusSource(server.url, name=flavor, flavor=flavor)  # type: ignore[arg-type]
    yield s
    s.close()


def _at(df: pl.DataFrame, metric: str, minute: int) -> dict[str, float]:
    t = promdata.T0 + timedelta(minutes=minute)
    rows = df.filter((pl.col("metric") == metric) & (pl.col("ts") == t))
    return dict(zip(rows["service"], rows["value"], strict=True))


def test_default_metrics_are_red_and_saturation_per_service(src: PrometheusSource) -> None:
    res = src.metrics(None, RED)
    assert not res.partial and res.warnings == ()
    frames.validate(res.frame, "metrics")
    assert set(res.frame["metric"].unique()) == set(sig.SIGNALS)
    mine = set(promdata.SERVICES)
    for metric in sig.SIGNALS:
        got = _at(res.frame, metric, 60)
        assert mine <= set(got), (metric, got)
    rate = _at(res.frame, sig.REQUEST_RATE, 60)
    assert rate["cart"] == pytest.approx(2 * 40 / 3)  # two pods
    assert rate["search"] == pytest.approx(40 / 3)
    for metric, want in [
        (sig.ERROR_RATIO, 0.1),
        (sig.latency_name(0.5), 0.1),
        (sig.latency_name(0.95), promdata.P95),
        (sig.latency_name(0.99), 0.5),
        (sig.CPU_RATIO, 0.25),
        (sig.MEMORY_RATIO, 0.25),
        (sig.DB_POOL_RATIO, 0.3),
    ]:
        got = _at(res.frame, metric, 60)
        for svc in promdata.SERVICES:
            assert got[svc] == pytest.approx(want), (metric, svc)


def test_services_narrow_the_default_load(src: PrometheusSource) -> None:
    res = src.metrics(None, RED, services=["search", promdata.HOSTILE], step="5m")
    assert set(res.frame["service"].unique()) == {"search", promdata.HOSTILE}
    assert res.extra["step_s"] == 300
    # 2 h at 5 min: 24 points per signal and service (minus the first rate window)
    n = res.frame.filter(pl.col("metric") == sig.MEMORY_RATIO).group_by("service").len()
    assert set(n["len"]) == {24}


def test_range_query_frame_has_labels_and_service(src: PrometheusSource) -> None:
    res = src.query_range('up{service="cart"}', RED, step="15s")
    df = res.frame
    assert df.height == 2 * promdata.RED_POINTS
    assert df["metric"].unique().to_list() == ["up"]
    assert df["service"].unique().to_list() == ["cart"]
    pods = df.select(frames.attr("labels", "pod")).to_series().unique().sort().to_list()
    assert pods == ["cart-0", "cart-1"]
    assert df["ts"].min() == promdata.T0
    assert not df.select(frames.attr("labels", "__name__")).to_series().is_not_null().any()


def test_alias_names_series_without_metric_name(src: PrometheusSource) -> None:
    res = src.query_range("sum(up)", RED, step="10m", alias="total_up")
    assert res.frame["metric"].unique().to_list() == ["total_up"]
    assert res.frame["service"].null_count() == res.frame.height
    assert set(res.frame["value"]) == {4.0}


def test_instant_query(src: PrometheusSource) -> None:
    at = promdata.T0 + timedelta(minutes=30)
    res = src.query('count by (service) (up{service=~"cart|search"})', at)
    assert dict(zip(res.frame["service"], res.frame["value"], strict=True)) == {
        "cart": 2.0,
        "search": 1.0,
    }
    assert res.frame["ts"].to_list() == [at, at]
    scalar = src.query("scalar(vector(42))", at, alias="answer")
    assert scalar.frame.select("metric", "value").row(0) == ("answer", 42.0)


def test_series_and_label_discovery(src: PrometheusSource) -> None:
    series = src.series("up", RED)
    assert sorted(series["service"].to_list()) == sorted(
        ["cart", "cart", "search", promdata.HOSTILE]
    )
    assert set(promdata.SERVICES) <= set(src.label_values("service", window=RED))
    codes = src.label_values("code", window=RED, match="http_server_requests_total")
    assert codes == ["200", "500"]
    assert {"service", "pod", "le"} <= set(src.label_names(RED))


def test_nan_and_infinities_parse(src: PrometheusSource, prom_backend) -> None:
    res = src.query_range(
        "wb_special", Window(promdata.T0, promdata.T0 + timedelta(minutes=1)), step=15
    )
    vals = res.frame.sort("ts")["value"].to_list()
    if prom_backend[0] == "prometheus":
        assert math.isnan(vals[0]) and vals[1:] == [math.inf, -math.inf, 1.5]
    else:  # VictoriaMetrics treats NaN as a staleness marker and skips it
        assert vals[:3] == [math.inf, -math.inf, 1.5]


def test_long_range_chunked_equals_single_query(src: PrometheusSource) -> None:
    # a day at 60 s is 1,440 points: one query can hold it; forcing 97-point chunks
    # must give exactly the same samples, no duplicate or missing boundary sample.
    whole = src.query_range("wb_long", LONG, step="60s")
    assert whole.extra["chunks"] == 1
    chunked_src = PrometheusSource(
        src.http.base_url, flavor=src.flavor, max_points_per_series=97, max_concurrency=3
    )
    chunked = chunked_src.query_range("wb_long", LONG, step="60s")
    assert chunked.extra["chunks"] == 15
    key = ["metric", "service", "ts"]
    a = whole.frame.with_columns(s=frames.attr("labels", "series")).sort("s", "ts")
    b = chunked.frame.with_columns(s=frames.attr("labels", "series")).sort("s", "ts")
    assert b.select([*key, "s"]).is_duplicated().sum() == 0
    assert a.height == b.height == promdata.LONG_SERIES * promdata.LONG_POINTS
    assert a.select([*key, "s", "value"]).equals(b.select([*key, "s", "value"]))


def test_range_beyond_11000_points_is_chunked(src: PrometheusSource) -> None:
    res = src.query_range("wb_long", LONG, step="5s")  # 17,280 points per series
    assert res.extra["chunks"] == 2
    per_series = res.frame.group_by(frames.attr("labels", "series")).agg(
        n=pl.len(), unique=pl.col("ts").n_unique()
    )
    assert set(per_series["n"]) == {17_280}
    assert set(per_series["unique"]) == {17_280}


def test_hostile_service_name_matches_only_itself(src: PrometheusSource) -> None:
    res = src.metrics(None, RED, services=[promdata.HOSTILE], step="10m")
    assert res.frame["service"].unique().to_list() == [promdata.HOSTILE]
    assert set(res.frame["metric"]) == set(sig.SIGNALS)
    # the regex metacharacters in the name (".*|") must not match the other services
    res2 = src.metrics(None, RED, services=[promdata.HOSTILE, "nope"], step="10m")
    assert res2.frame["service"].unique().to_list() == [promdata.HOSTILE]


def test_alert_events_from_alerts_series(src: PrometheusSource) -> None:
    res = src.alert_events(RED)
    frames.validate(res.frame, "events")
    ev = res.frame.sort("ts")
    starts = [promdata.T0 + timedelta(seconds=a) for a, _ in promdata.ALERT_RUNS]
    ends = [promdata.T0 + timedelta(seconds=b - promdata.SCRAPE) for _, b in promdata.ALERT_RUNS]
    assert ev["ts"].to_list() == starts
    assert ev["end"].to_list() == ends
    assert set(ev["kind"]) == {"alert"} and set(ev["service"]) == {"cart"}
    assert ev["title"][0] == "HighErrorRate"
    attrs = ev.select(
        frames.attr("attributes", "labels.severity"), frames.attr("attributes", "status")
    )
    assert attrs.row(0) == ("page", "firing")
    # a window that cuts the first run: it is still firing at the window's end
    cut = src.alert_events(Window(promdata.T0, promdata.T0 + timedelta(minutes=40)))
    assert cut.frame.height == 1 and cut.frame["end"][0] is None
    assert src.alert_events(RED, services=["search"]).frame.height == 0


def test_alert_events_as_events_signal_only_when_enabled(prom_backend) -> None:
    flavor, server = prom_backend
    plain = PrometheusSource(server.url, flavor=flavor)
    assert "events" not in plain.capabilities
    with_alerts = PrometheusSource(server.url, flavor=flavor, alerts=True)
    assert with_alerts.load("events", RED).frame.height == 2


def test_lab_demo_red_signals_name_the_scenario_services(
    src: PrometheusSource, lab_demo_dir
) -> None:
    import json

    meta = json.loads((lab_demo_dir / "scenario.json").read_text())
    window = Window.parse(f"{meta['window']['start']}..{meta['window']['end']}")
    res = src.metrics(None, window, step="1m")
    assert not res.partial
    got = set(res.frame.filter(pl.col("metric") == sig.REQUEST_RATE)["service"])
    raw = pl.read_parquet(lab_demo_dir / "metrics" / "metrics.parquet")
    http = raw.filter(pl.col("metric") == "http_server_requests_total")["service"]
    assert got == set(http) and got <= set(meta["services"]) and len(got) >= 3
    truth = json.loads((lab_demo_dir / "truth.json").read_text())
    incident = Window.parse(f"{meta['incident_window']['start']}..{meta['incident_window']['end']}")
    err = (
        res.frame.filter(
            (pl.col("metric") == sig.ERROR_RATIO)
            & pl.col("ts").is_between(incident.start, incident.end)
        )
        .group_by("service")
        .agg(pl.col("value").max())
    )
    # the root-cause service shows errors during the incident
    root = err.filter(pl.col("service") == truth["root_cause_service"])["value"]
    assert root.len() == 1 and root[0] > 0


def test_incident_loads_metrics_from_prometheus(prometheus_server) -> None:
    from workbench import Incident

    src = PrometheusSource(prometheus_server.url, name="prom", alerts=True)
    inc = Incident("INC-T", Window(promdata.T0 + timedelta(hours=1), promdata.RED_END),
                   sources=[src], services=["cart", "search"])  # fmt: skip
    metrics = inc.metrics
    assert set(metrics["service"]) == {"cart", "search"}
    assert set(metrics["metric"]) == set(sig.SIGNALS)
    status = inc.status()
    rows = {r["signal"]: r["status"] for r in status.iter_rows(named=True)}
    assert rows.get("metrics") == "ok"


def test_long_queries_are_posted(src: PrometheusSource, prom_backend) -> None:
    many = ["cart", *(f"no-such-service-{i}" for i in range(120))]
    res = src.metrics(None, RED, services=many, step="10m")
    assert len(res.extra["queries"][sig.ERROR_RATIO]) > 3000  # sent as a form body
    assert set(res.frame["service"]) == {"cart"}
    if prom_backend[0] == "victoriametrics":  # -search.maxQueryLen=16384 by default
        from workbench.errors import LimitExceeded

        with pytest.raises(LimitExceeded) as info:
            src.metrics(
                None, RED, services=[*many, *(f"long-service-name-{i}" for i in range(400))]
            )
        assert info.value.limit == "query length"
        assert "fewer services" in (info.value.hint or "")


def test_latency_quantiles_per_batch_of_services_equal_one_request(prom_backend) -> None:
    from polars.testing import assert_frame_equal

    flavor, server = prom_backend
    one = PrometheusSource(server.url, name=flavor, flavor=flavor, quantile_batch=None)
    per2 = PrometheusSource(server.url, name=flavor, flavor=flavor, quantile_batch=2)
    try:
        a, b = one.metrics(None, RED), per2.metrics(None, RED)
        listed = per2._bucket_services(RED)
        # narrowed to given services: batches of those only
        few = per2.metrics(None, RED, services=["cart", "search", "checkout"], step="5m")
    finally:
        one.close()
        per2.close()
    lat = sig.latency_name(0.95)
    assert isinstance(a.extra["queries"][lat], str)
    assert listed is not None and set(promdata.SERVICES) <= set(listed)
    # a request per 2 services, and one for series without a service label
    assert len(b.extra["queries"][lat]) == math.ceil(len(listed) / 2) + 1
    assert isinstance(b.extra["queries"][sig.ERROR_RATIO], str)  # only quantiles split
    key = ["metric", "service", "ts"]
    assert a.frame.height > 0 and (a.frame["metric"] == lat).sum() > 0
    assert_frame_equal(a.frame.sort(key), b.frame.sort(key))
    assert len(few.extra["queries"][lat]) == 2
    assert set(few.frame["service"]) <= {"cart", "search", "checkout"}


def test_signals_declare_their_rate_window_and_the_incident_carries_it(
    prometheus_server,
) -> None:
    """Signals are ``rate(...[w])`` evaluated every step: the source says ``w`` so the
    change detector can count runs in independent windows; a plain range query (whose
    window the source does not know) declares none."""
    from workbench import Incident

    src = PrometheusSource(prometheus_server.url, name="prom")
    res = src.metrics(None, RED, step="5m")
    # at a 5 min step and a 15 s scrape: step + scrape (more than 4 scrapes)
    assert res.extra["rate_window"] == timedelta(seconds=315)
    assert res.extra["step_s"] == 300
    fine = src.metrics(None, RED, step="30s")
    assert fine.extra["rate_window"] == timedelta(seconds=60)  # 4 scrapes
    assert "rate_window" not in src.query_range("up", RED, step="5m").extra
    inc = Incident("INC-W", Window(promdata.T0 + timedelta(hours=1), promdata.RED_END),
                   sources=[src], services=["cart", "search"])  # fmt: skip
    declared = inc.metric_rate_window  # loads the metrics
    out = inc.outcomes[("prom", "metrics")].result
    assert out is not None
    step = timedelta(seconds=out.extra["step_s"])
    assert declared == max(step + timedelta(seconds=15), timedelta(seconds=60))
    src.close()
