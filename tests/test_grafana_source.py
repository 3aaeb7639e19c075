"""Grafana annotations both ways, against the response bodies of Grafana's HTTP API docs
(tests/data/recorded/grafana/SOURCE.md) served over real HTTP: read as events, notes
written back only when asked, and the typed errors of every other source."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.plugins.recorded_http import RecordedServer
from workbench import Incident
from workbench.config import load_config
from workbench.errors import AuthError, BadData, ConfigError, SourceUnavailable
from workbench.grafana_links import Grafana
from workbench.secrets import Secret
from workbench.sources.grafana import GrafanaSource, post_annotation
from workbench.sources.http import Auth, Timeout
from workbench.timewindow import Window

DATA = Path(__file__).parent / "data" / "recorded" / "grafana"
FIND = DATA / "find_annotations_example.json"
CREATED = DATA / "create_annotation_example.json"
CREATED_VERBATIM = DATA / "create_annotation_example_verbatim.json"
# the docs' example asks from=1506676478816 to=1507281278816; both annotations lie inside
W = Window(
    datetime.fromtimestamp(1506676478816 / 1000, tz=UTC),
    datetime.fromtimestamp(1507281278816 / 1000, tz=UTC),
)
TOKEN = "glsa_grafana-token-5b1f"


def _attr(row: dict, key: str) -> str | None:
    return next((kv["value"] for kv in row["attributes"] if kv["key"] == key), None)


def test_annotations_in_the_window_are_events(recorded_http: RecordedServer) -> None:
    recorded_http.route("/api/annotations", file=FIND,
                        require_headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    src = GrafanaSource(recorded_http.url, auth=Auth(bearer=Secret.value(TOKEN)), org_id=3,
                        tags=["tag1", "tag2"])  # fmt: skip
    res = src.events(W)
    req = recorded_http.requests[-1]
    assert req.method == "GET"
    assert req.query["from"] == "1506676478816" and req.query["to"] == "1507281278816"
    assert [v for k, v in req.query_list if k == "tags"] == ["tag1", "tag2"]
    assert req.headers["X-Grafana-Org-Id"] == "3"
    rows = res.frame.to_dicts()
    assert [r["ts"] for r in rows] == [
        datetime(2017, 10, 6, 4, 45, 11, tzinfo=UTC),  # 1507265111000, sorted oldest first
        datetime(2017, 10, 6, 5, 6, 35, tzinfo=UTC),  # 1507266395000
    ]
    assert {r["kind"] for r in rows} == {"annotation"} and {r["title"] for r in rows} == {"test"}
    assert rows[0]["end"] is None  # timeEnd == time: a point, not a region
    assert _attr(rows[1], "grafana.id") == "1124"
    assert _attr(rows[1], "grafana.dashboardUID") == "uGlb_lG7z"
    assert _attr(rows[0], "grafana.tags") == "tag1,tag2"
    assert not res.partial
    # a window that holds only the later one
    narrow = src.events(Window.parse("2017-10-06T05:00:00Z..2017-10-06T06:00:00Z"))
    assert narrow.rows == 1
    assert TOKEN not in repr(src.describe()) and TOKEN not in repr(res)


def test_a_full_page_is_marked_partial_and_regions_and_alerts_map(
    recorded_http: RecordedServer,
) -> None:
    body = json.loads(FIND.read_text())
    body[0]["timeEnd"] = body[0]["time"] + 120_000  # a region of two minutes
    body[1]["alertId"] = 7
    body[1]["newState"] = "alerting"
    body[1]["tags"] = ["service:checkout"]
    recorded_http.route("/api/annotations", body=json.dumps(body))
    res = GrafanaSource(recorded_http.url, limit=2).events(W)
    assert recorded_http.requests[-1].query["limit"] == "2"
    assert res.partial and "limit" in res.reasons[0]
    rows = {r["title"] + r["kind"]: r for r in res.frame.to_dicts()}
    alert = rows["testalert"]
    assert alert["service"] == "checkout" and _attr(alert, "grafana.newState") == "alerting"
    region = rows["testannotation"]
    assert region["end"] == datetime(2017, 10, 6, 5, 8, 35, tzinfo=UTC)


def test_typed_errors_name_the_source_and_what_to_do(
    recorded_http: RecordedServer, dead_url: str
) -> None:
    recorded_http.route("/api/annotations", file=FIND,
                        require_headers={"Authorization": "Bearer right"})  # fmt: skip
    with pytest.raises(AuthError) as err:
        GrafanaSource(recorded_http.url, auth=Auth(bearer=Secret.value(TOKEN))).events(W)
    assert err.value.source == "grafana" and err.value.hint and TOKEN not in str(err.value)
    recorded_http.clear()
    recorded_http.route("/api/annotations", status=500,
                        body=b'{"message":"Failed to get annotations"}')  # fmt: skip
    with pytest.raises(SourceUnavailable) as down:
        GrafanaSource(recorded_http.url, retries=0).events(W)
    assert down.value.status == 500 and "grafana" in str(down.value)
    recorded_http.clear()
    recorded_http.route("/api/annotations", body=FIND.read_bytes()[:300])
    with pytest.raises(BadData):
        GrafanaSource(recorded_http.url).events(W)
    recorded_http.clear()
    recorded_http.route("/api/annotations", body=b'{"message":"not a list"}')
    with pytest.raises(BadData, match="not a list"):
        GrafanaSource(recorded_http.url).events(W)
    with pytest.raises(SourceUnavailable):
        GrafanaSource(dead_url, timeout=Timeout(connect=1, read=1), retries=0).events(W)
    with pytest.raises(ConfigError):
        GrafanaSource(recorded_http.url, limit=0)


def test_a_note_is_written_to_grafana_only_when_asked(
    recorded_http: RecordedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    recorded_http.route("/api/annotations", method="POST", file=CREATED,
                        require_headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    inc = Incident("INC-9", Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z"),
                   grafana=Grafana(recorded_http.url, token_env="GRAFANA_TOKEN", org_id=2))  # fmt: skip
    inc.note("looked at the checkout pods", at="2026-11-20T11:05:00Z")
    assert recorded_http.requests == []  # never implicitly
    a = inc.note("rolled back checkout v2.14.0", at="2026-11-20T11:12:00Z", kind="action",
                 grafana=True)  # fmt: skip
    (req,) = recorded_http.requests
    assert req.method == "POST" and req.path == "/api/annotations"
    assert req.headers["X-Grafana-Org-Id"] == "2"
    body = json.loads(req.body)
    assert body == {
        "time": int(datetime(2026, 11, 20, 11, 12, tzinfo=UTC).timestamp() * 1000),
        "text": "rolled back checkout v2.14.0",
        "tags": ["workbench", "incident:INC-9", "kind:action"],
    }
    assert inc.grafana_posts == [(a, 1)]  # the id of the docs' example answer
    assert len(inc.annotations) == 2
    # a region, through the function
    end = datetime(2026, 11, 20, 11, 20, tzinfo=UTC)
    gid = post_annotation(inc.grafana, "mitigation window",
                          at=datetime(2026, 11, 20, 11, 12, tzinfo=UTC), end=end)  # fmt: skip
    assert gid == 1 and json.loads(recorded_http.requests[-1].body)["timeEnd"] == 1795173600000


def test_failed_writes_are_typed_and_keep_the_note(
    recorded_http: RecordedServer, dead_url: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    w = Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z")
    inc = Incident("INC-9", w)
    with pytest.raises(ConfigError, match="no Grafana configured"):
        inc.note("x", grafana=True)
    recorded_http.route("/api/annotations", method="POST", file=CREATED,
                        require_headers={"Authorization": "Bearer other"})  # fmt: skip
    inc.grafana = Grafana(recorded_http.url, token_env="GRAFANA_TOKEN")
    with pytest.raises(AuthError) as err:
        inc.note("wrong token", grafana=True)
    assert TOKEN not in str(err.value) and err.value.source == "grafana"
    assert list(inc.annotations)[-1].text == "wrong token"  # kept locally all the same
    recorded_http.clear()
    recorded_http.route("/api/annotations", method="POST", file=CREATED_VERBATIM)
    with pytest.raises(BadData):  # the docs' example as printed: a trailing comma
        inc.note("malformed answer", grafana=True)
    recorded_http.clear()
    recorded_http.route("/api/annotations", method="POST", status=503, body=b"down")
    with pytest.raises(SourceUnavailable):
        inc.note("server error", grafana=True)
    assert len([r for r in recorded_http.requests if r.method == "POST"]) == 1  # not retried
    recorded_http.clear()
    recorded_http.route("/api/annotations", method="POST", body=b'{"message":"ok"}')
    with pytest.raises(BadData, match="no annotation id"):
        inc.note("no id", grafana=True)
    inc.grafana = Grafana(dead_url, token_env="GRAFANA_TOKEN")
    with pytest.raises(SourceUnavailable):
        inc.note("dead server", grafana=True)
    monkeypatch.delenv("GRAFANA_TOKEN")
    with pytest.raises(ConfigError, match="GRAFANA_TOKEN"):
        inc.note("no token in the environment", grafana=True)
    assert TOKEN not in caplog.text


def test_the_grafana_table_adds_the_annotations_source(
    recorded_http: RecordedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    recorded_http.route("/api/annotations", file=FIND,
                        require_headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    cfg = tmp_path / "workbench.toml"
    cfg.write_text(f'[grafana]\nurl = "{recorded_http.url}"\ntoken_env = "GRAFANA_TOKEN"\n')
    sources = load_config(cfg, env=False)
    assert list(sources) == ["grafana"]
    inc = Incident("INC-1", W, sources=list(sources.values()))
    assert inc.events.height == 2 and set(inc.events["source"]) == {"grafana"}
    cfg.write_text(f'[grafana]\nurl = "{recorded_http.url}"\nannotations = false\n')
    assert load_config(cfg, env=False) == {}


def test_the_note_command_writes_only_with_grafana(
    recorded_http: RecordedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from workbench.cli import main

    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    monkeypatch.delenv("WORKBENCH_GRAFANA_URL", raising=False)
    recorded_http.route("/api/annotations", method="POST", file=CREATED,
                        require_headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    cfg = tmp_path / "workbench.toml"
    cfg.write_text(f'[grafana]\nurl = "{recorded_http.url}"\ntoken_env = "GRAFANA_TOKEN"\n')
    assert main(["note", "paged payments", "--config", str(cfg)]) == 1
    assert "add --grafana" in capsys.readouterr().err and recorded_http.requests == []
    code = main(["note", "paged payments", "--grafana", "--config", str(cfg), "--incident",
                 "INC-9", "--at", "2026-11-20T11:30:00Z", "--tag", "team:payments"])  # fmt: skip
    assert code == 0 and "annotation 1 written" in capsys.readouterr().out
    body = json.loads(recorded_http.requests[-1].body)
    assert body["tags"] == ["workbench", "incident:INC-9", "kind:note", "team:payments"]
    assert body["time"] == 1795174200000
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_wrong_9f")
    assert main(["note", "x", "--grafana", "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "AuthError" in err and "glsa_wrong_9f" not in err
