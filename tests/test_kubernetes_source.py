"""KubernetesSource against a real recorded EventList (a kind cluster's rollout of
``hello-world``, tests/data/recorded/SOURCE.md) served over real HTTP on loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.plugins.recorded_http import RecordedServer
from workbench.errors import AuthError, BadData, SourceUnavailable
from workbench.secrets import Secret
from workbench.sources.http import Auth, Timeout
from workbench.sources.kubernetes import KubernetesSource, kube_events
from workbench.sources.kubernetes.source import workload_name
from workbench.timewindow import Window

RECORDED = Path(__file__).parent / "data" / "recorded" / "kubernetes"
EVENTS = RECORDED / "kspan_deployment_update_events.json"
W = Window.parse("2020-11-27T12:00:00Z..2020-11-27T12:10:00Z")
TOKEN = "k8s-token-9c1e7a"


def _attr(row: dict, key: str) -> str | None:
    return next((kv["value"] for kv in row["attributes"] if kv["key"] == key), None)


def test_a_recorded_rollout_becomes_deploy_events_and_a_killing(
    recorded_http: RecordedServer,
) -> None:
    recorded_http.route("/api/v1/events", file=EVENTS,
                        require_headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    src = KubernetesSource(recorded_http.url, auth=Auth(bearer=Secret.value(TOKEN)))
    res = src.events(W)
    rows = res.frame.to_dicts()
    # 9 events recorded: 2 ScalingReplicaSet + 1 Killing kept; Scheduled, Pulled... dropped
    assert [(r["kind"], _attr(r, "k8s.reason")) for r in rows] == [
        ("deploy", "ScalingReplicaSet"),
        ("deploy", "ScalingReplicaSet"),
        ("annotation", "Killing"),
    ]
    up, down, kill = rows
    assert up["service"] == down["service"] == kill["service"] == "hello-world"
    # count=2 since 2020-11-24: one row spanning its repetitions
    assert up["ts"] == datetime(2020, 11, 24, 18, 37, 54, tzinfo=UTC)
    assert up["end"] == datetime(2020, 11, 27, 12, 4, 5, tzinfo=UTC)
    assert "Scaled up replica set hello-world-6b9d85fbd6 to 1" in up["title"]
    assert (
        _attr(up, "k8s.count") == "2"
        and _attr(up, "k8s.object") == "Deployment/default/hello-world"
    )
    assert kill["end"] is None and _attr(kill, "k8s.host") == "kind-control-plane"
    assert recorded_http.requests[-1].query["limit"] == "500"
    assert not res.partial


def test_window_overlap_and_services_filter(recorded_http: RecordedServer) -> None:
    recorded_http.route("/api/v1/namespaces/default/events", file=EVENTS)
    src = KubernetesSource(recorded_http.url, namespace="default")
    late = Window.parse("2020-11-27T12:04:06Z..2020-11-27T12:05:00Z")
    got = src.events(late).frame
    # the scale-up ended 12:04:05 (before the window): out; scale-down (seen until 12:04:06) and Killing in
    assert got.height == 2
    assert src.events(W, services=["other"]).rows == 0
    early = src.events(Window.parse("2020-11-24T00:00:00Z..2020-11-25T00:00:00Z"))
    assert early.rows == 2  # both ScalingReplicaSet series started on the 24th


def test_paging_follows_continue_and_a_cap_is_partial(recorded_http: RecordedServer) -> None:
    body = json.loads(EVENTS.read_text())
    items = body["items"]
    first = {**body, "items": items[:5], "metadata": {"continue": "tok1"}}
    second = {**body, "items": items[5:], "metadata": {}}
    recorded_http.route("/api/v1/events", query={"continue": "tok1"}, body=json.dumps(second))
    recorded_http.route("/api/v1/events", body=json.dumps(first))
    assert KubernetesSource(recorded_http.url, limit=5).events(W).rows == 3
    capped = KubernetesSource(recorded_http.url, limit=5, max_pages=1).events(W)
    assert capped.partial and "max_pages" in capped.reasons[0]
    assert capped.rows == 1  # only the first page's scale-up


def test_reasons_option_keeps_more_and_events_k8s_io_shape() -> None:
    body = json.loads(EVENTS.read_text())
    more = kube_events(body, window=W, reasons=["SuccessfulCreate"])
    assert "annotation" in more["kind"].to_list() and more.height == 4
    # the same events as events.k8s.io/v1 names them (regarding/note/deprecated*)
    v1 = {"items": [{
        "regarding": e["involvedObject"], "note": e["message"], "reason": e["reason"],
        "type": e["type"], "deprecatedFirstTimestamp": e["firstTimestamp"],
        "deprecatedLastTimestamp": e["lastTimestamp"], "deprecatedCount": e["count"],
        "metadata": e["metadata"], "reportingController": e["source"]["component"],
    } for e in body["items"]]}  # fmt: skip
    a, b = kube_events(body, window=W), kube_events(v1, window=W)
    assert a.select("ts", "end", "kind", "service", "title").equals(
        b.select("ts", "end", "kind", "service", "title")
    )


def test_restart_oom_and_hpa_reasons_map_to_kinds() -> None:
    """No recorded API response with these reasons was found (SOURCE.md); the messages are
    the ones kubelet and the HPA controller write, the shape that of the recorded events."""
    body = json.loads(EVENTS.read_text())
    base = body["items"][7]  # the recorded Killing event, reshaped per reason

    def ev(reason: str, etype: str, kind: str, name: str, msg: str) -> dict:
        return {**base, "reason": reason, "type": etype, "message": msg,
                "involvedObject": {**base["involvedObject"], "kind": kind, "name": name}}  # fmt: skip

    items = [
        ev(
            "BackOff",
            "Warning",
            "Pod",
            "checkout-7d4b9c6f8d-x2x9q",
            "Back-off restarting failed container",
        ),
        ev(
            "OOMKilling",
            "Warning",
            "Node",
            "node-1",
            "Memory cgroup out of memory: Killed process 1234",
        ),
        ev(
            "SuccessfulRescale",
            "Normal",
            "HorizontalPodAutoscaler",
            "checkout",
            "New size: 5; reason: cpu resource utilization (percentage of request) above target",
        ),
    ]
    got = kube_events({"items": items}, window=W).to_dicts()
    assert [(r["kind"], r["service"]) for r in got] == [
        ("alert", "checkout"),
        ("alert", "node-1"),
        ("config", "checkout"),
    ]


@pytest.mark.parametrize(
    ("kind", "name", "want"),
    [("Pod", "hello-world-6b9d85fbd6-klpv2", "hello-world"), ("Pod", "web-0", "web-0"),
     ("Pod", "job-x-abcde", "job-x"), ("ReplicaSet", "hello-world-7ff854f459", "hello-world"),
     ("Deployment", "hello-world", "hello-world"), ("Node", None, None)],
)  # fmt: skip
def test_workload_names(kind: str, name: str | None, want: str | None) -> None:
    assert workload_name(kind, name) == want


def test_typed_errors_401_dead_malformed(recorded_http: RecordedServer, dead_url: str) -> None:
    recorded_http.route(
        "/api/v1/events", file=EVENTS, require_headers={"Authorization": "Bearer ok"}
    )
    src = KubernetesSource(recorded_http.url, auth=Auth(bearer=Secret.value(TOKEN)))
    with pytest.raises(AuthError) as err:
        src.events(W)
    assert TOKEN not in str(err.value) and TOKEN not in repr(src.describe())
    with pytest.raises(SourceUnavailable):
        KubernetesSource(dead_url, timeout=Timeout(connect=1, read=1), retries=0).events(W)
    recorded_http.clear()
    recorded_http.route("/api/v1/events", body=b'{"kind": "EventList", "items": [')
    with pytest.raises(BadData):
        KubernetesSource(recorded_http.url).events(W)
    recorded_http.clear()
    recorded_http.route("/api/v1/events", body=b'{"kind": "Status", "message": "not a list"}')
    with pytest.raises(BadData, match="not an EventList"):
        KubernetesSource(recorded_http.url).events(W)
