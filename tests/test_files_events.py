"""The four event formats of LAB_FORMAT.md into the events frame."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from workbench import frames
from workbench.errors import BadData
from workbench.sources.files import events


def _attrs(row: dict) -> dict[str, str]:
    return {a["key"]: a["value"] for a in row["attributes"]}


def test_argocd_deploys_and_rollback(lab_dir: Path) -> None:
    ef = events.read_file(lab_dir / "events" / "argocd-applications.json")
    df = frames.validate(ef.frame, "events")
    assert ef.format == "argocd"
    assert df["kind"].to_list() == ["deploy", "deploy", "rollback"]
    assert df["title"].to_list() == [
        "deploy payments v1.0.0",
        "deploy payments v1.1.0",
        "rollback payments to v1.0.0",
    ]
    r = df.row(1, named=True)
    assert r["ts"].isoformat() == "2026-11-20T10:55:00+00:00"
    assert r["end"].isoformat() == "2026-11-20T10:57:00+00:00"
    assert r["source"] == "argocd" and r["service"] == "payments"
    assert _attrs(r)["revision"] == "b2"


def test_argocd_same_revision_twice_in_a_row_is_not_a_rollback() -> None:
    hist = [
        {"id": i, "revision": rev, "deployStartedAt": f"2026-11-20T1{i}:00:00Z",
         "source": {"targetRevision": rev}}
        for i, rev in enumerate(["v1", "v1", "v2", "v1"])
    ]  # fmt: skip
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
           "metadata": {"name": "x"}, "status": {"history": hist}}  # fmt: skip
    df = events.parse_argocd([app])
    assert df["kind"].to_list() == ["deploy", "deploy", "deploy", "rollback"]
    assert df["end"].null_count() == 4


def test_rollouts_events(lab_dir: Path) -> None:
    df = events.read_file(lab_dir / "events" / "rollouts-events.json").frame
    assert df["kind"].to_list() == ["deploy", "rollback"]
    step = df.row(0, named=True)
    a = _attrs(step)
    assert (a["canary.step"], a["canary.steps"], a["canary.weight"]) == ("2", "4", "25")
    assert step["source"] == "argo-rollouts" and step["service"] == "payments"
    assert _attrs(df.row(1, named=True))["rollback"] == "automatic"


def test_rollouts_unknown_reason_is_kept_as_annotation() -> None:
    ev = {"kind": "Event", "involvedObject": {"kind": "Rollout", "name": "x"},
          "reason": "RolloutPaused", "message": "paused", "firstTimestamp": "2026-11-20T10:00:00Z"}  # fmt: skip
    other = {**ev, "involvedObject": {"kind": "Pod", "name": "x-1"}}
    df = events.parse_rollouts([ev, other])
    assert df["kind"].to_list() == ["annotation"]


def test_alertmanager_latest_notification_wins(lab_dir: Path) -> None:
    df = events.read_file(lab_dir / "events" / "alertmanager-webhook.jsonl").frame
    assert df.height == 1  # firing then resolved: one row per (fingerprint, startsAt)
    r = df.row(0, named=True)
    assert r["kind"] == "alert" and r["service"] == "payments"
    assert r["title"] == "HighErrorRate: payments 5xx above 5%"
    assert r["end"].isoformat() == "2026-11-20T11:40:00+00:00"
    a = _attrs(r)
    assert a["status"] == "resolved" and a["labels.severity"] == "page"
    assert a["annotations.summary"] == "payments 5xx above 5%"


def test_alertmanager_firing_has_no_end(tmp_path: Path, lab_dir: Path) -> None:
    first = (lab_dir / "events" / "alertmanager-webhook.jsonl").read_text().splitlines()[0]
    p = tmp_path / "alertmanager-webhook.jsonl"
    p.write_text(first + "\n")
    r = events.read_file(p).frame.row(0, named=True)
    assert r["end"] is None


def test_alertmanager_bad_line(tmp_path: Path) -> None:
    p = tmp_path / "alertmanager-webhook.jsonl"
    p.write_text('{"alerts": [], "groupKey": "x"}\n{"alerts": [{"startsAt": "never"}]}\n')
    with pytest.raises(BadData) as ei:
        events.read_file(p)
    assert (ei.value.line, ei.value.field) == (2, "alerts[0].startsAt")


def test_chaos_mesh(lab_dir: Path) -> None:
    df = events.read_file(lab_dir / "events" / "chaos-mesh.yaml").frame
    rows = {r["title"]: r for r in df.iter_rows(named=True)}
    net = rows["NetworkChaos delay on payments"]
    assert net["ts"].isoformat() == "2026-11-20T11:10:02+00:00"  # first Apply
    assert net["end"].isoformat() == "2026-11-20T11:20:02+00:00"  # ts + 10m (no Recover)
    cpu = rows["StressChaos cpu on checkout"]
    assert cpu["end"].isoformat() == "2026-11-20T10:25:01+00:00"  # the Recover record
    assert (df["kind"] == "chaos").all() and (df["source"] == "chaos-mesh").all()


def test_chaos_mesh_bad_yaml_names_line(tmp_path: Path) -> None:
    p = tmp_path / "chaos-mesh.yaml"
    p.write_text("apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: [unclosed\n")
    with pytest.raises(BadData) as ei:
        events.read_file(p)
    assert ei.value.line is not None and ei.value.path == str(p)


def test_empty_event_files_give_empty_frames(tmp_path: Path) -> None:
    for name in ("chaos-mesh.yaml", "alertmanager-webhook.jsonl"):
        p = tmp_path / name
        p.write_text("")
        assert events.read_file(p).frame.height == 0


def test_events_frame_concatenates(lab_dir: Path) -> None:
    parts = [events.read_file(p).frame for p in sorted((lab_dir / "events").iterdir())]
    df = frames.concat(parts, "events")
    assert df.height == 3 + 2 + 1 + 2
    assert df.filter(pl.col("kind") == "rollback").height == 2
    assert json.loads(_attrs(df.filter(pl.col("kind") == "chaos").row(0, named=True))["spec"])


def test_parse_alertmanager_accepts_decoded_bodies(lab_dir: Path) -> None:
    lines = (lab_dir / "events" / "alertmanager-webhook.jsonl").read_text().splitlines()
    bodies = [json.loads(x) for x in lines]
    assert events.parse_alertmanager(bodies).height == 1
    one = events.parse_alertmanager(bodies[0]).row(0, named=True)
    assert one["end"] is None and one["kind"] == "alert"
