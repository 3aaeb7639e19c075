"""The lab writes every file of the scenario layout, deterministically and loadably."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from workbench import frames
from workbench.lab import generate, list_scenarios
from workbench.lab.faults import FAULT_KINDS
from workbench.lab.scenarios import SCENARIOS

FILES = (
    "scenario.json",
    "truth.json",
    "topology.json",
    "metrics/metrics.om",
    "metrics/metrics.parquet",
    "logs/logs.jsonl",
    "traces/traces.otlp.jsonl",
    "events/argocd-applications.json",
    "events/rollouts-events.json",
    "events/alertmanager-webhook.jsonl",
    "events/chaos-mesh.yaml",
)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_every_fault_kind_has_a_scenario_and_demo_exists() -> None:
    kinds = {s.fault for s in SCENARIOS.values()}
    assert kinds == set(FAULT_KINDS)
    assert "demo" in list_scenarios()


def test_demo_has_every_file_and_consistent_metadata(lab_demo_dir: Path) -> None:
    for f in FILES:
        assert (lab_demo_dir / f).is_file(), f
    meta = json.loads((lab_demo_dir / "scenario.json").read_text())
    truth = json.loads((lab_demo_dir / "truth.json").read_text())
    assert meta["window"] == {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T12:00:00Z"}
    assert meta["incident_window"]["start"] == "2026-11-20T11:00:00Z"
    assert meta["baseline_window"]["end"] == "2026-11-20T11:00:00Z"
    assert truth["fault"] == "bad_deploy"
    assert truth["root_cause_service"] == "checkout"
    assert meta["incident_window"]["start"] <= truth["start"] < truth["end"]
    assert {"frontend", "api-gateway"} <= set(truth["details"]["victims"])
    topo = json.loads((lab_demo_dir / "topology.json").read_text())
    names = {s["name"] for s in topo["services"]}
    assert names == set(meta["services"])
    assert {"postgres", "redis", "checkout", "frontend"} <= names
    kinds = {s["kind"] for s in topo["services"]}
    assert {"frontend", "api", "database", "cache"} <= kinds
    assert (lab_demo_dir / "metrics/metrics.om").read_text().endswith("# EOF\n")


def test_demo_metrics_parquet_follows_the_frame_contract(lab_demo_dir: Path) -> None:
    df = frames.validate(pl.read_parquet(lab_demo_dir / "metrics/metrics.parquet"), "metrics")
    meta = json.loads((lab_demo_dir / "scenario.json").read_text())
    assert df.height == meta["counts"]["samples"]
    metrics = set(df["metric"].unique())
    for m in (
        "http_server_requests_total",
        "http_server_request_duration_seconds_bucket",
        "http_server_request_duration_seconds_sum",
        "http_server_request_duration_seconds_count",
        "process_cpu_seconds_total",
        "container_cpu_limit_cores",
        "process_resident_memory_bytes",
        "container_memory_limit_bytes",
        "db_client_connections_usage",
        "db_client_connections_max",
        "up",
        "app_info",
    ):
        assert m in metrics, m
    series = df.select("metric", "service", "labels").unique()
    assert series.height == meta["counts"]["series"]  # no two series share a label set
    steps = df.group_by("metric", "service", "labels").agg(pl.col("ts").diff().max())
    assert steps["ts"].drop_nulls().dt.total_seconds().max() <= 30 * 20  # gaps: restarts only
    keys = df.head(1)["labels"][0].to_list()
    assert {k["key"] for k in keys} >= {"pod", "namespace", "job", "instance"}
    assert "service" not in {k["key"] for k in keys}
    # checkout's error share rises in the incident and falls after the rollback
    req = df.filter(
        pl.col("metric") == "http_server_requests_total", pl.col("service") == "checkout"
    )
    req = req.with_columns(code=frames.attr("labels", "code"), pod=frames.attr("labels", "pod"))
    last = req.group_by("pod", "code").agg(pl.col("value").max() - pl.col("value").min())
    errs = last.filter(pl.col("code") == "500")["value"].sum()
    total = last["value"].sum()
    assert 0.02 < errs / total < 0.3


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    opts = {"step_s": 60.0, "target_traces": 400}  # smaller, same code paths
    a = generate("db-outage", 5, tmp_path / "a", **opts)
    b = generate("db-outage", 5, tmp_path / "b", **opts)
    c = generate("db-outage", 6, tmp_path / "c", **opts)
    ha, hb, hc = _hashes(a), _hashes(b), _hashes(c)
    assert set(ha) == {*FILES}
    assert ha == hb
    assert ha["metrics/metrics.om"] != hc["metrics/metrics.om"]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_generates_with_its_ground_truth(name: str, lab_scenario_dir) -> None:
    path = lab_scenario_dir(name, 1)
    truth = json.loads((path / "truth.json").read_text())
    sc = SCENARIOS[name]
    assert truth["fault"] == sc.fault
    assert truth["root_cause_service"] == sc.root
    chaos = [d for d in yaml.safe_load_all((path / "events/chaos-mesh.yaml").read_text()) if d]
    if sc.fault in ("cpu_hog", "network_delay", "packet_loss", "http_errors"):
        assert len(chaos) == 1
        sel = chaos[0]["spec"]["selector"]["labelSelectors"]["app"]
        assert sel == sc.root
    else:
        assert chaos == []
    apps = json.loads((path / "events/argocd-applications.json").read_text())
    assert {a["metadata"]["name"] for a in apps} >= {sc.root}
    lines = (path / "events/alertmanager-webhook.jsonl").read_text().splitlines()
    assert lines, "some alert should fire"
