"""Metric-naming presets: choice, detection, validation and the PromQL they produce."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ConfigError
from workbench.lab.clock import Grid
from workbench.lab.metrics import SeriesSet
from workbench.lab.naming import rename
from workbench.sources.prometheus import PrometheusSource
from workbench.sources.prometheus import presets as mp
from workbench.sources.prometheus import signals as sig


@pytest.mark.parametrize(
    ("names", "want"),
    [
        ({"http_server_requests_total", "http_server_request_duration_seconds_bucket"}, "lab"),
        ({"http_server_request_duration_seconds_count", "up"}, "otel"),
        ({"http_server_request_duration_seconds_count", "beyla_build_info"}, "beyla"),
        ({"http_server_duration_milliseconds_count"}, "otel-legacy"),
        ({"traces_span_metrics_calls_total"}, "spanmetrics"),
        ({"calls_total", "duration_milliseconds_bucket"}, "spanmetrics-legacy"),
        ({"istio_requests_total", "istio_request_duration_milliseconds_bucket"}, "istio"),
        ({"node_cpu_seconds_total"}, "lab"),
    ],
)
def test_detection_picks_the_convention_the_server_has(names: set[str], want: str) -> None:
    choice = mp.detect(names)
    assert choice.preset == want
    assert choice.names == mp.PRESETS[want]
    assert "detected" in choice.reason or "no known naming" in choice.reason


def test_kubernetes_saturation_is_detected_beside_any_red_naming() -> None:
    have = {
        "istio_requests_total",
        "container_cpu_usage_seconds_total",
        "kube_pod_container_resource_limits",
    }
    choice = mp.detect(have)
    assert choice.preset == "istio+kubernetes"
    assert "kube-state-metrics" in choice.reason
    assert choice.names.cpu_seconds == "container_cpu_usage_seconds_total"
    assert choice.names.requests == "istio_requests_total"


def test_ambiguous_servers_name_the_other_matches() -> None:
    choice = mp.detect({"http_server_request_duration_seconds_count", "istio_requests_total"})
    assert choice.preset == "otel" and "also matched: istio" in choice.reason


def test_queries_of_each_preset() -> None:
    istio = sig.signal_queries(mp.preset("istio"), services=["cart"], rate_window="2m")
    q = istio[sig.ERROR_RATIO]
    assert 'reporter="destination"' in q and 'response_code=~"5.."' in q
    assert "sum by (destination_service_name)" in q
    assert istio[sig.latency_name(0.95)].endswith(" * 0.001")
    span = sig.signal_queries(mp.preset("spanmetrics"), services=None, rate_window="2m")
    assert 'status_code=~"STATUS_CODE_ERROR"' in span[sig.ERROR_RATE]
    assert 'span_kind="SPAN_KIND_SERVER"' in span[sig.REQUEST_RATE]
    k8s = sig.signal_queries(mp.preset("otel+kubernetes"), services=["cart"], rate_window="2m")
    cpu = k8s[sig.CPU_RATIO]
    assert cpu.startswith("label_replace(sum by (container) (rate(container_cpu_usage_seconds")
    assert 'resource="cpu"' in cpu and '"service_name", "$1", "container"' in cpu
    assert 'reason="OOMKilled"' in k8s[sig.OOM_KILLS]
    assert "increase(kube_pod_container_status_restarts_total" in k8s[sig.RESTARTS]
    assert "container_cpu_cfs_throttled_periods_total" in k8s[sig.CPU_THROTTLED_RATIO]
    assert "sum by (service_name) (db_client_connections_usage" in k8s[sig.DB_POOL_RATIO]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"servce_label": "app"}, r"metric_names\.servce_label is not a setting"),
        ({"requests": 3}, r"metric_names\.requests must be a non-empty string"),
        ({"quantiles": [0.5, 2]}, r"metric_names\.quantiles must be a list of numbers"),
        ({"duration_scale": 0}, r"metric_names\.duration_scale must be a positive number"),
        ({"request_matchers": [["a", "==", "b"]]}, r"metric_names\.request_matchers"),
        ("http_requests_total", r"metric_names must be a table"),
    ],
)
def test_metric_names_overrides_are_validated_naming_the_key(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PrometheusSource("http://127.0.0.1:9", metric_names=value)  # type: ignore[arg-type]


def test_config_file_preset_and_overrides(tmp_path) -> None:
    from workbench.config import load_config

    toml = tmp_path / "workbench.toml"
    toml.write_text(
        '[sources.prom]\nurl = "prometheus+http://127.0.0.1:9"\npreset = "otel"\n'
        'metric_names = { service_label = "job" }\n'
    )
    prom = load_config(toml)["prom"]
    assert prom.metric_names.requests == "http_server_request_duration_seconds_count"
    assert prom.metric_names.service_label == "job"
    assert "preset otel (configured with metric_names overrides)" in prom.describe()["metric_names"]
    toml.write_text('[sources.prom]\nurl = "prometheus+http://127.0.0.1:9"\npreset = "nagios"\n')
    with pytest.raises(ConfigError, match=r"source 'prom'.*unknown metric-naming preset 'nagios'"):
        load_config(toml)
    toml.write_text(
        '[sources.prom]\nurl = "prometheus+http://127.0.0.1:9"\nmetric_names = { app = "x" }\n'
    )
    with pytest.raises(ConfigError, match=r"source 'prom': metric_names\.app is not a setting"):
        load_config(toml)


def test_renaming_sums_the_codes_a_convention_folds_together() -> None:
    grid = Grid(t0=0.0, step_s=30.0, n=3)
    ss = SeriesSet(grid, [], [], [], np.zeros(0), [])
    ss._rows = []  # type: ignore[attr-defined]
    base = {"service": "cart", "pod": "cart-0", "method": "GET", "route": "/cart"}
    for code, vals in (("200", [10, 20, 30]), ("500", [1, 2, np.nan]), ("503", [0, 1, 2])):
        ss.add("http_server_requests_total", {**base, "code": code}, 0, np.array(vals, float), True)
    ss.finish()
    out = rename(ss, "spanmetrics")
    rows = {
        (m, lab["status_code"]): list(v)
        for m, lab, v in zip(out.metric, out.labels, out.values, strict=True)
    }
    assert rows[("traces_span_metrics_calls_total", "STATUS_CODE_UNSET")] == [10, 20, 30]
    assert rows[("traces_span_metrics_calls_total", "STATUS_CODE_ERROR")] == [1, 3, 2]
    assert all(lab["service_name"] == "cart" and "service" not in lab for lab in out.labels)
