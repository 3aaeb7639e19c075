"""ArgoCDSource against a real recorded Application body (SOURCE.md), over real HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.plugins.recorded_http import RecordedServer
from workbench.errors import AuthError, BadData, ConfigError, SourceUnavailable
from workbench.secrets import Secret
from workbench.sources.argocd import ArgoCDSource, application_events
from workbench.sources.http import Auth, Timeout
from workbench.timewindow import Window

APP = Path(__file__).parent / "data" / "recorded" / "argocd" / "application_nginx.json"
W = Window.parse("2021-07-11T21:00:00Z..2021-07-11T22:00:00Z")
TOKEN = "argocd-token-77ab1"


def _attr(row: dict, key: str) -> str | None:
    return next((kv["value"] for kv in row["attributes"] if kv["key"] == key), None)


def test_history_entries_are_deploys(recorded_http: RecordedServer) -> None:
    recorded_http.route("/api/v1/applications/nginx", file=APP,
                        require_headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    src = ArgoCDSource(recorded_http.url, applications=["nginx"],
                       auth=Auth(bearer=Secret.value(TOKEN)))  # fmt: skip
    res = src.events(W)
    rows = res.frame.to_dicts()
    assert len(rows) == 8  # 8 history entries; the Succeeded operation is the last of them
    assert {r["kind"] for r in rows} == {"deploy"} and {r["service"] for r in rows} == {"nginx"}
    first, last = rows[0], rows[-1]
    assert first["ts"] == datetime(2021, 7, 11, 21, 14, 26, tzinfo=UTC)
    assert first["end"] == datetime(2021, 7, 11, 21, 14, 35, tzinfo=UTC)
    assert _attr(last, "argocd.helm.parameters") == "image.tag=1.20.0"
    assert _attr(last, "argocd.revision") == "cf19b85121a940a5ef7da2d3b31c165566d58e9c"
    assert last["end"] == datetime(2021, 7, 11, 21, 33, 15, tzinfo=UTC)
    narrow = src.events(Window.parse("2021-07-11T21:28:00Z..2021-07-11T21:30:00Z"))
    assert narrow.rows == 3


def test_failed_operation_and_rollback() -> None:
    app = json.loads(APP.read_text())
    hist = app["status"]["history"]
    hist[3]["revision"] = "aaaa" + "0" * 36  # an older revision deployed in the middle...
    hist[4]["revision"] = "bbbb" + "0" * 36
    hist[5]["revision"] = "aaaa" + "0" * 36  # ...and gone back to: a rollback
    hist[6]["revision"] = hist[7]["revision"] = "cccc" + "0" * 36  # then a new one
    op = app["status"]["operationState"]
    op.update(phase="Failed", message="one or more objects failed to apply",
              startedAt="2021-07-11T21:40:00Z", finishedAt="2021-07-11T21:40:09Z")  # fmt: skip
    op["syncResult"]["revision"] = "dddd" + "0" * 36
    got = application_events(app, window=W).to_dicts()
    assert [r["kind"] for r in got].count("rollback") == 1
    assert "rolled back to aaaa" in next(r["title"] for r in got if r["kind"] == "rollback")
    failed = got[-1]
    assert _attr(failed, "argocd.phase") == "Failed" and "failed to apply" in failed["title"]
    assert failed["kind"] == "deploy" and len(got) == 9
    op["syncResult"]["revision"] = "cf19b85121a940a5ef7da2d3b31c165566d58e9c"  # back again
    assert application_events(app, window=W).to_dicts()[-1]["kind"] == "rollback"
    op.update(phase="Running", finishedAt=None)
    assert application_events(app, window=W).to_dicts()[-1]["end"] is None


def test_service_label_and_config_errors() -> None:
    app = json.loads(APP.read_text())
    app["metadata"]["labels"] = {"service": "frontend"}
    assert set(application_events(app, service_label="service")["service"]) == {"frontend"}
    with pytest.raises(ConfigError):
        ArgoCDSource("http://127.0.0.1:1")
    with pytest.raises(BadData, match="not an Application"):
        application_events({"items": []})


def test_typed_errors_401_dead_malformed(recorded_http: RecordedServer, dead_url: str) -> None:
    recorded_http.route("/api/v1/applications/nginx", file=APP,
                        require_headers={"Authorization": "Bearer ok"})  # fmt: skip
    src = ArgoCDSource(
        recorded_http.url, applications="nginx", auth=Auth(bearer=Secret.value(TOKEN))
    )
    with pytest.raises(AuthError) as err:
        src.events(W)
    assert TOKEN not in str(err.value)
    with pytest.raises(SourceUnavailable):
        ArgoCDSource(dead_url, applications=["x"], timeout=Timeout(connect=1, read=1),
                     retries=0).events(W)  # fmt: skip
    recorded_http.clear()
    recorded_http.route("/api/v1/applications/nginx", body=APP.read_bytes()[:500])
    with pytest.raises(BadData):
        ArgoCDSource(recorded_http.url, applications=["nginx"]).events(W)
