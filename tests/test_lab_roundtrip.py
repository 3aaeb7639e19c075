"""Lab output read back through the file sources: what was written is what is read."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from workbench import Incident, frames
from workbench.timewindow import Window


def _meta(path: Path) -> dict:
    return json.loads((path / "scenario.json").read_text())


@pytest.fixture(scope="module")
def demo_incident(lab_demo_dir: Path) -> Incident:
    return Incident.from_directory(lab_demo_dir).load()


def test_incident_reads_every_signal_in_full(demo_incident: Incident, lab_demo_dir: Path) -> None:
    meta = _meta(lab_demo_dir)
    assert not demo_incident.partial, demo_incident.status()
    assert demo_incident.window == Window(
        meta["incident_window"]["start"], meta["incident_window"]["end"]
    )
    c = meta["counts"]
    assert demo_incident.metrics.height == c["samples"]
    assert demo_incident.logs.height == c["logs"]
    assert demo_incident.spans.height == c["spans"]
    assert set(demo_incident.services_seen) == set(meta["services"])


def test_metrics_frame_matches_the_parquet_written(
    demo_incident: Incident, lab_demo_dir: Path
) -> None:
    written = frames.validate(pl.read_parquet(lab_demo_dir / "metrics/metrics.parquet"), "metrics")
    key = ["metric", "service", "ts", "value"]
    got = demo_incident.metrics.select(key).sort(key)
    assert got.equals(written.select(key).sort(key))


def test_logs_and_spans_join_on_trace_and_span_ids(demo_incident: Incident) -> None:
    flags = frames.attr("attributes", "trace_flags")
    logs = demo_incident.logs.filter(pl.col("trace_id").is_not_null(), flags == "01")
    assert logs.height > 1000
    unsampled = demo_incident.logs.filter(flags == "00")
    assert unsampled.height > 1000 and (unsampled["level"] == "error").all()
    assert unsampled.join(demo_incident.spans, on="trace_id").height == 0
    spans = demo_incident.spans.select("trace_id", "span_id", "service")
    joined = logs.join(spans, on=["trace_id", "span_id"], how="left", suffix="_span")
    assert joined["service_span"].null_count() == 0
    assert (joined["service"] == joined["service_span"]).all()
    errors = demo_incident.logs.filter(pl.col("level") == "error")
    stack = errors.with_columns(st=frames.attr("attributes", "stack_trace"))["st"]
    assert stack.drop_nulls().str.contains("\n").all()
    assert stack.drop_nulls().len() > 0.8 * errors.height


def test_spans_follow_semantic_conventions(demo_incident: Incident) -> None:
    spans = demo_incident.spans
    assert set(spans["kind"].unique()) == {"server", "client"}
    server = spans.filter(pl.col("kind") == "server").with_columns(
        code=frames.attr("attributes", "http.response.status_code"),
        route=frames.attr("attributes", "http.route"),
    )
    assert server["code"].null_count() == 0 and server["route"].null_count() == 0
    db = spans.filter(frames.attr("attributes", "db.system") == "postgresql")
    assert db.height > 0 and (db["kind"] == "client").all()
    bad = server.filter(pl.col("service") == "checkout", pl.col("status") == "error")
    assert bad.height > 20
    roots = spans.filter(pl.col("parent_span_id").is_null())
    assert set(roots["service"].unique()) == {"frontend"}


def test_demo_events_have_deploys_rollback_and_alerts(demo_incident: Incident) -> None:
    ev = demo_incident.events
    kinds = set(ev["kind"])
    assert {"deploy", "rollback", "alert"} <= kinds
    assert "chaos" not in kinds
    checkout = ev.filter(pl.col("service") == "checkout")
    assert checkout.filter(pl.col("kind") == "rollback").height >= 1
    alerts = ev.filter(pl.col("kind") == "alert")
    assert "checkout" in set(alerts["service"])
    first_alert = alerts["ts"].min()
    deploy = checkout.filter(pl.col("kind") == "deploy")["ts"].min()
    assert deploy < first_alert
    assert (first_alert - deploy).total_seconds() < 600
    # red herrings: deploys of other services
    others = ev.filter(pl.col("kind") == "deploy", pl.col("service") != "checkout")
    assert others["service"].n_unique() >= 2


@pytest.mark.parametrize(
    ("name", "kind"),
    [("http-errors", "chaos"), ("bad-deploy-canary", "rollback"), ("cpu-hog", "chaos")],
)
def test_scenario_events_read_back(name: str, kind: str, lab_scenario_dir) -> None:
    path = lab_scenario_dir(name, 1)
    truth = json.loads((path / "truth.json").read_text())
    inc = Incident.from_directory(path)
    ev = inc.events
    assert not inc.partial, inc.status()
    rows = ev.filter(pl.col("kind") == kind, pl.col("service") == truth["root_cause_service"])
    assert rows.height >= 1, ev
    assert "alert" in set(ev["kind"])


def test_error_logs_follow_the_failed_requests_in_metrics(demo_incident: Incident) -> None:
    """Every failed request logs an error line (zap-style rate limit aside)."""
    m = demo_incident.metrics.filter(
        pl.col("metric") == "http_server_requests_total", pl.col("service") == "checkout"
    ).with_columns(code=frames.attr("labels", "code"), pod=frames.attr("labels", "pod"))
    m = m.sort("ts").with_columns(d=pl.col("value").diff().over("pod", "code"))
    failed = m.filter(pl.col("code") != "200")["d"].sum()
    logged = demo_incident.logs.filter(
        pl.col("service") == "checkout", pl.col("level") == "error"
    ).height
    assert 0.6 * failed < logged < 1.3 * failed  # the rate limit drops a few
