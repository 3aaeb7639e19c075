"""PagerDuty incidents and log entries from the API reference's example responses and a
recorded log-entries response (tests/data/recorded/SOURCE.md), served over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.plugins.recorded_http import RecordedServer
from workbench import notebook
from workbench.cli import main
from workbench.errors import AuthError, BadData, ConfigError, SourceUnavailable
from workbench.sources.http import Timeout
from workbench.sources.pagerduty import PagerDutyIncidents, incident_facts, pagerduty_auth
from workbench.timewindow import Window

PD = Path(__file__).parent / "data" / "recorded" / "pagerduty"
INCIDENT = PD / "incident_PT4KHLK.json"
LOG = PD / "log_entries_P31FVLZ.json"
KEY = "pd-key-3b8e1f"


def _serve(http: RecordedServer, incident_id: str = "P31FVLZ") -> None:
    auth = {"Authorization": f"Token token={KEY}"}
    http.route(f"/incidents/{incident_id}/log_entries", file=LOG, require_headers=auth)
    http.route(f"/incidents/{incident_id}", file=INCIDENT, require_headers=auth)


def test_incident_facts_and_log_entries(recorded_http: RecordedServer, monkeypatch) -> None:
    monkeypatch.setenv("PD_TEST_KEY", KEY)
    _serve(recorded_http)
    pd = PagerDutyIncidents(recorded_http.url, auth=pagerduty_auth("PD_TEST_KEY"))
    facts = pd.incident("P31FVLZ")
    assert (facts["title"], facts["service"], facts["status"]) == (
        "The server is on fire.", "My Mail Service", "triggered"
    )  # fmt: skip
    assert facts["created_at"] == datetime(2015, 10, 6, 21, 30, 42, tzinfo=UTC)
    ev = pd.events("P31FVLZ")
    assert ev.height == 12
    # the page is the alert (the postmortem's detection); the rest are people's/PD's notes
    assert ev.filter(ev["kind"] == "alert")["title"].to_list() == [
        "PagerDuty Triggered through the website: Martian's are attacking"
    ]
    assert ev.filter(ev["kind"] == "annotation").height == 11
    assert set(ev["service"]) == {"Test Service"}
    assert ev["title"][0] == "PagerDuty Triggered through the website: Martian's are attacking"
    assert ev["title"][-1] == "PagerDuty Resolved by Tim Wright: Fixed"
    req = recorded_http.requests[-1]
    assert req.headers["Accept"] == "application/vnd.pagerduty+json;version=2"
    w = Window.parse("2013-03-06T20:29:00Z..2013-03-06T21:00:00Z")
    assert pd.events("P31FVLZ", w).height == 4  # ack, unack, 2 notifies at 20:59


def test_detection_and_response_times_from_the_log() -> None:
    import json

    inc, log = json.loads(INCIDENT.read_text()), json.loads(LOG.read_text())
    # the log entries belong to another incident (2013): put the incident at its trigger
    inc["incident"].update(id="P31FVLZ", created_at="2013-03-06T20:28:46Z")
    assert incident_facts(json.loads(INCIDENT.read_text()), log)["acknowledged_at"] is None
    f = incident_facts(inc, log)
    assert f["acknowledged_at"] == datetime(2013, 3, 6, 20, 29, 30, tzinfo=UTC)
    assert f["time_to_acknowledge_s"] == 44
    assert f["time_to_resolve_s"] == (21 * 3600 + 33 * 60 + 15) - (20 * 3600 + 28 * 60 + 46)
    with pytest.raises(BadData, match="no incident"):
        incident_facts({"incidents": []})


def test_workbench_new_pagerduty(recorded_http: RecordedServer, tmp_path: Path, monkeypatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("PAGERDUTY_TOKEN", KEY)
    _serve(recorded_http, "PT4KHLK")
    cfg = tmp_path / "workbench.toml"
    cfg.write_text('[sources.k8s]\ntype = "kubernetes"\nurl = "http://127.0.0.1:1"\n')
    rc = main(["new", "INC-9", "--pagerduty", "PT4KHLK", "--pagerduty-url", recorded_http.url,
               "--config", str(cfg), "--no-check", "--out", str(tmp_path)])  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    assert "The server is on fire." in out and KEY not in out
    params = notebook.read_parameters(tmp_path / "INC-9.ipynb")
    assert params["services"] == ["My Mail Service"]
    w = Window.parse(params["window"])
    assert w.start == datetime(2015, 10, 6, 21, 30, 42, tzinfo=UTC) - timedelta(minutes=30)
    assert w.end > datetime(2026, 1, 1, tzinfo=UTC)  # still triggered: up to now


def test_typed_errors(recorded_http: RecordedServer, dead_url: str, monkeypatch) -> None:
    monkeypatch.delenv("PD_MISSING", raising=False)
    with pytest.raises(ConfigError, match="PD_MISSING"):
        pagerduty_auth("PD_MISSING")
    monkeypatch.setenv("PD_WRONG", "wrong-key-55")
    _serve(recorded_http)
    with pytest.raises(AuthError) as err:
        PagerDutyIncidents(recorded_http.url, auth=pagerduty_auth("PD_WRONG")).incident("P31FVLZ")
    assert "wrong-key-55" not in str(err.value) and "wrong-key-55" not in repr(err.value)
    with pytest.raises(SourceUnavailable):
        PagerDutyIncidents(dead_url, timeout=Timeout(connect=1, read=1), retries=0).incident("X")
    recorded_http.clear()
    recorded_http.route("/incidents/X", body=b'{"incident": {"id": "X", ')
    with pytest.raises(BadData):
        PagerDutyIncidents(recorded_http.url).raw_incident("X")


def test_log_entries_follow_more_paging(recorded_http: RecordedServer) -> None:
    import json

    body = json.loads(LOG.read_text())
    first = {**body, "log_entries": body["log_entries"][:7], "more": True}
    rest = {**body, "log_entries": body["log_entries"][7:], "offset": 100, "more": False}
    recorded_http.route(
        "/incidents/P31FVLZ/log_entries", query={"offset": "100"}, body=json.dumps(rest)
    )
    recorded_http.route("/incidents/P31FVLZ/log_entries", body=json.dumps(first))
    pd = PagerDutyIncidents(recorded_http.url)
    assert pd.events("P31FVLZ").height == 12
    with pytest.raises(BadData, match="more than 100"):
        pd.raw_log_entries("P31FVLZ", max_pages=1)


def test_the_page_is_the_postmortems_detection() -> None:
    """PagerDuty's trigger, among the timeline's events, is what timings() calls detection."""
    import json

    import polars as pl

    from workbench.analysis.impact import Period
    from workbench.postmortem import timings
    from workbench.sources.pagerduty import log_entry_events
    from workbench.timeline_view import SCHEMA

    ev = log_entry_events(json.loads(LOG.read_text()))
    tl = ev.drop("attributes").with_columns(
        evidence=pl.lit("pagerduty log entries"), signal=pl.lit("events")
    ).select(list(SCHEMA)).cast(SCHEMA)  # fmt: skip
    onset = datetime(2013, 3, 6, 20, 25, tzinfo=UTC)
    t = timings(tl, Period(onset, datetime(2013, 3, 6, 21, 40, tzinfo=UTC), "x", "y"))
    assert t.detected == datetime(2013, 3, 6, 20, 28, 46, tzinfo=UTC)
    assert t.detected_by.startswith("alert PagerDuty Triggered")
    assert t.time_to_detect == timedelta(minutes=3, seconds=46)
