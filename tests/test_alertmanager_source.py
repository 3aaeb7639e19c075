"""AlertmanagerSource against a real Alertmanager 0.25, and on recorded real bodies."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.plugins.hostile import examples
from tests.promservers import post_json
from workbench import frames
from workbench.errors import AuthError, BadData, SourceUnavailable
from workbench.secrets import Secret
from workbench.sources.alertmanager.source import AlertmanagerSource, alert_events, silence_events
from workbench.sources.http import Auth
from workbench.timewindow import Window

KARMA = "api-samples/alertmanager/karma-mock-0.27.0"


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _attrs(df: pl.DataFrame, *keys: str) -> list[tuple[str | None, ...]]:
    return df.select(*(frames.attr("attributes", k) for k in keys)).rows()


@pytest.fixture
def svc() -> str:
    """A service name unique to the test (the Alertmanager is shared by the session)."""
    return f"svc-{uuid.uuid4().hex[:8]}"


def _wait_for(am: AlertmanagerSource, window: Window, svc: str, n: int) -> pl.DataFrame:
    deadline = time.monotonic() + 10
    while True:
        df = am.events(window, services=[svc]).frame
        if df.height >= n or time.monotonic() > deadline:
            return df
        time.sleep(0.1)


@pytest.mark.service
def test_active_alerts_become_alert_events(alertmanager_server, svc) -> None:
    now = datetime.now(UTC)
    post_json(
        alertmanager_server.url + "/api/v2/alerts",
        [
            {
                "labels": {"alertname": "HighErrorRate", "service": svc, "severity": "page"},
                "annotations": {"summary": "errors above 5%", "runbook": "http://rb/1"},
                "startsAt": _iso(now - timedelta(minutes=20)),
                "endsAt": _iso(now + timedelta(hours=1)),
                "generatorURL": "http://prometheus/graph?g0.expr=x",
            },
            {
                "labels": {"alertname": "LatencyHigh", "service": svc},
                "startsAt": _iso(now - timedelta(minutes=5)),
            },
        ],
    )
    am = AlertmanagerSource(alertmanager_server.url)
    window = Window(now - timedelta(hours=1), now + timedelta(minutes=1))
    df = _wait_for(am, window, svc, 2).sort("ts")
    frames.validate(df, "events")
    assert df.height == 2
    assert df["kind"].to_list() == ["alert", "alert"]
    assert df["title"].to_list() == ["HighErrorRate: errors above 5%", "LatencyHigh"]
    assert df["end"].to_list() == [None, None]  # still active
    assert df["source"].to_list() == ["alertmanager"] * 2
    assert abs((df["ts"][0] - (now - timedelta(minutes=20))).total_seconds()) < 0.01
    assert _attrs(df.head(1), "labels.severity", "annotations.runbook", "status") == [
        ("page", "http://rb/1", "active")
    ]
    # a window that ends before the alerts started does not show them
    before = Window(now - timedelta(hours=3), now - timedelta(hours=2))
    assert am.events(before, services=[svc]).frame.height == 0
    # only from 10 minutes ago: the alert that started 20 min ago is still firing -> shown
    recent = Window(now - timedelta(minutes=10), now)
    assert am.events(recent, services=[svc]).frame.height == 2


@pytest.mark.service
def test_resolved_alerts_are_not_in_the_v2_api(alertmanager_server, svc) -> None:
    """Documents the limitation the module docstring states: once endsAt passed,
    Alertmanager's /api/v2/alerts no longer lists the alert."""
    now = datetime.now(UTC)
    post_json(
        alertmanager_server.url + "/api/v2/alerts",
        [
            {
                "labels": {"alertname": "WasFiring", "service": svc},
                "startsAt": _iso(now - timedelta(minutes=30)),
                "endsAt": _iso(now - timedelta(minutes=5)),
            },
            {
                "labels": {"alertname": "Firing", "service": svc},
                "startsAt": _iso(now - timedelta(minutes=1)),
            },
        ],
    )
    am = AlertmanagerSource(alertmanager_server.url)
    df = _wait_for(am, Window(now - timedelta(hours=1), now), svc, 1)
    time.sleep(0.3)
    df = am.events(Window(now - timedelta(hours=1), now), services=[svc]).frame
    assert df["title"].to_list() == ["Firing"]


@pytest.mark.service
def test_silences_become_annotations_and_mark_alerts(alertmanager_server, svc) -> None:
    now = datetime.now(UTC)
    post_json(
        alertmanager_server.url + "/api/v2/alerts",
        [{"labels": {"alertname": "Noisy", "service": svc}, "startsAt": _iso(now)}],
    )
    sil = post_json(
        alertmanager_server.url + "/api/v2/silences",
        {
            "matchers": [
                {"name": "service", "value": svc, "isRegex": False, "isEqual": True},
                {"name": "alertname", "value": "No.*", "isRegex": True, "isEqual": True},
            ],
            "startsAt": _iso(now),
            "endsAt": _iso(now + timedelta(hours=2)),
            "createdBy": "oncall@example.com",
            "comment": "deploy in progress",
        },
    )
    am = AlertmanagerSource(alertmanager_server.url)
    window = Window(now - timedelta(minutes=5), now + timedelta(minutes=5))
    deadline = time.monotonic() + 10
    while True:
        df = am.events(window, services=[svc]).frame.sort("kind")
        status = _attrs(df.filter(pl.col("kind") == "alert"), "status")
        if status == [("suppressed",)] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert df["kind"].to_list() == ["alert", "annotation"]
    note = df.filter(pl.col("kind") == "annotation")
    assert note["title"][0] == (
        f'silence {{service="{svc}", alertname=~"No.*"}}: deploy in progress'
    )
    assert note["end"][0] is not None and note["service"][0] == svc
    assert _attrs(note, "silence.id", "silence.createdBy", "silence.state") == [
        (sil["silenceID"], "oncall@example.com", "active")  # type: ignore[index]
    ]
    alert = df.filter(pl.col("kind") == "alert")
    assert _attrs(alert, "status", "silencedBy") == [("suppressed", sil["silenceID"])]  # type: ignore[index]
    no_silences = AlertmanagerSource(alertmanager_server.url, silences=False)
    assert set(no_silences.events(window, services=[svc]).frame["kind"]) == {"alert"}


def test_recorded_alert_groups_and_silences(shared_data) -> None:
    groups = json.loads((shared_data / KARMA / "api_v2_alerts_groups.json").read_text())
    fps = {a["fingerprint"] for g in groups for a in g["alerts"]}
    df = alert_events(groups, now=datetime(2024, 2, 29, 9, 41, tzinfo=UTC))
    frames.validate(df, "events")
    assert df.height == len(fps)  # an alert in several groups counts once
    assert set(df["kind"]) == {"alert"} and df["end"].null_count() == df.height
    suppressed = df.filter(frames.attr("attributes", "status") == "suppressed")
    assert suppressed.height > 0
    assert (
        suppressed.select(frames.attr("attributes", "silencedBy")).to_series().null_count()
        < suppressed.height
    )
    sil = json.loads((shared_data / KARMA / "api_v2_silences.json").read_text())
    notes = silence_events(sil)
    assert notes.height == len(sil) and set(notes["kind"]) == {"annotation"}
    assert notes.select(frames.attr("attributes", "silence.id")).to_series().to_list() == [
        s["id"] for s in sil
    ]


def test_recorded_bodies_over_real_http(recorded_http, shared_data) -> None:
    groups = json.loads((shared_data / KARMA / "api_v2_alerts_groups.json").read_text())
    flat = list({a["fingerprint"]: a for g in groups for a in g["alerts"]}.values())
    recorded_http.route("/api/v2/alerts", body=json.dumps(flat))
    recorded_http.route("/api/v2/silences", file=shared_data / KARMA / "api_v2_silences.json")
    am = AlertmanagerSource(recorded_http.url, name="karma")
    window = Window.parse("2024-02-29T09:00:00Z..2024-02-29T10:00:00Z")
    res = am.events(window)
    assert not res.partial
    assert res.frame.filter(pl.col("kind") == "alert").height == len(flat)
    assert res.frame.filter(pl.col("kind") == "annotation").height == 3
    assert set(res.frame["source"]) == {"karma"}
    req = recorded_http.requests[0]
    assert req.query["silenced"] == "true" and req.query["inhibited"] == "true"
    # a window before every alert started and every silence: nothing
    old = Window.parse("2024-01-01T00:00:00Z..2024-01-02T00:00:00Z")
    assert am.events(old).frame.height == 0


def test_failures_are_typed(hostile, recorded_http, dead_url, monkeypatch) -> None:
    hostile.fault("alertmanager")
    with pytest.raises(SourceUnavailable):
        AlertmanagerSource(dead_url).events(Window.last("1h"))
    recorded_http.route("/api/v2/alerts", status=503, body=b"overloaded")
    with pytest.raises(SourceUnavailable) as info:
        AlertmanagerSource(recorded_http.url, name="am", retries=0).events(Window.last("1h"))
    assert info.value.status == 503 and info.value.source == "am"
    recorded_http.clear()
    recorded_http.route(
        "/api/v2/alerts", body=b"[]", require_headers={"Authorization": "Bearer ok"}
    )
    monkeypatch.setenv("WB_TEST_AM_TOKEN", "wrong-token")
    with pytest.raises(AuthError) as auth:
        AlertmanagerSource(
            recorded_http.url, auth=Auth(bearer=Secret.env("WB_TEST_AM_TOKEN"))
        ).events(Window.last("1h"))
    assert "wrong-token" not in str(auth.value)
    recorded_http.clear()
    recorded_http.route("/api/v2/alerts", body=b'[{"labels": {"a": "b"}, "startsAt": "2024-')
    with pytest.raises(BadData) as bad:
        AlertmanagerSource(recorded_http.url, name="am").events(Window.last("1h"))
    assert bad.value.source == "am"
    with pytest.raises(BadData) as bad_time:
        alert_events([{"labels": {}, "startsAt": "yesterday"}])
    assert bad_time.value.field == "[0].startsAt"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=10,
)
_time = st.one_of(
    st.sampled_from(["2024-02-29T09:39:52.576Z", "2024-02-29T09:39:52.123456789+01:00",
                     "0001-01-01T00:00:00Z", "garbage", ""]),
    _json,
)  # fmt: skip
_alert = st.fixed_dictionaries(
    {"labels": st.one_of(st.dictionaries(st.text(max_size=5), st.text(max_size=5)), _json),
     "annotations": _json, "startsAt": _time, "endsAt": _time, "status": _json,
     "receivers": _json, "fingerprint": _json}
)  # fmt: skip
_silence = st.fixed_dictionaries(
    {"id": _json, "matchers": _json, "startsAt": _time, "endsAt": _time, "status": _json,
     "comment": _json, "createdBy": _json}
)  # fmt: skip


@settings(max_examples=examples(400), deadline=None)
@given(
    st.one_of(st.lists(_alert, max_size=3), _json), st.one_of(st.lists(_silence, max_size=3), _json)
)
def test_hostile_alertmanager_bodies_give_frames_or_bad_data(hostile, alerts, silences) -> None:
    hostile.count("alertmanager-response")
    for fn, body in ((alert_events, alerts), (silence_events, silences)):
        try:
            df = fn(body, source="am")
        except BadData as exc:
            assert exc.source == "am"
        else:
            frames.validate(df, "events")


@pytest.mark.service
def test_lab_demo_alerts_through_a_real_alertmanager(alertmanager_demo) -> None:
    scenario = json.loads((alertmanager_demo["scenario"] / "scenario.json").read_text())
    window = Window.parse(f"{scenario['window']['start']}..{scenario['window']['end']}")
    am = AlertmanagerSource(alertmanager_demo["server"].url)
    deadline = time.monotonic() + 10
    while True:
        alerts = am.events(window).frame.filter(pl.col("kind") == "alert")
        if alerts.height >= alertmanager_demo["firing"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert alerts.height == alertmanager_demo["firing"] > 0
    assert alerts["ts"].min() >= window.start and alerts["ts"].max() < window.end
    assert set(alerts["service"]) <= set(scenario["services"])
    assert all(": " in t for t in alerts["title"])  # alertname: summary


@pytest.mark.service
def test_lab_demo_after_resolution_shows_nothing(tmp_path, lab_demo_dir) -> None:
    """After the demo's alerts resolved, Alertmanager's API lists none of them: history
    has to come from ALERTS or the webhook log (the module docstring says so)."""
    from tests.promservers import post_webhook_alerts, start_alertmanager

    srv = start_alertmanager(tmp_path / "am")
    try:
        webhook = lab_demo_dir / "events" / "alertmanager-webhook.jsonl"
        assert post_webhook_alerts(srv, webhook, during=False) == 0
        time.sleep(0.5)
        assert AlertmanagerSource(srv.url).alerts().height == 0
    finally:
        srv.stop()
