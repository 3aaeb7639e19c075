"""Exemplars from a real Prometheus (exemplar storage on, scraping an OpenMetrics target)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workbench.sources.prometheus.source import PrometheusSource
from workbench.timewindow import Window

pytestmark = pytest.mark.service


def test_exemplars_carry_trace_and_span_ids(prometheus_exemplar_server) -> None:
    src = PrometheusSource(prometheus_exemplar_server.url, name="ex")
    now = datetime.now(UTC)
    res = src.exemplars("wb_requests_total", Window(now - timedelta(minutes=5), now))
    df = res.frame.sort("service")
    assert res.signal == "exemplars" and df.height >= 2
    first = df.unique(subset=["service"], keep="first").sort("service")
    assert first["service"].to_list() == ["cart", "search"]
    assert first["trace_id"].to_list() == [
        "4bf92f3577b34da6a3ce929d0e0e4736",  # label trace_id
        "0af7651916cd43dd8448eb211c80319c",  # label traceID
    ]
    assert first["span_id"].to_list() == ["00f067aa0ba902b7", None]
    assert first["value"].to_list() == [0.25, 1.5]
    assert set(first["metric"]) == {"wb_requests_total"}
    assert all(now - timedelta(minutes=5) <= t <= now + timedelta(seconds=5) for t in df["ts"])


def test_no_exemplars_is_an_empty_frame(prom_backend) -> None:
    flavor, server = prom_backend
    src = PrometheusSource(server.url, flavor=flavor)
    res = src.exemplars("up", Window.parse("2026-10-01T00:00:00Z..2026-10-01T01:00:00Z"))
    assert res.frame.height == 0 and "trace_id" in res.frame.columns
