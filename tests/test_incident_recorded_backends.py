"""An Incident over Loki, Tempo and Jaeger configured in workbench.toml, served from their
recorded real response bodies over real HTTP: every signal loads through the same path
the notebook uses (load_config -> Incident.load)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import workbench as wb
from tests.plugins.canary import Canaries
from tests.plugins.recorded_http import RecordedServer


def test_incident_loads_from_loki_tempo_jaeger(
    canaries: Canaries,
    recorded_http: RecordedServer,
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loki = shared_data / "api-samples" / "loki" / "grafana-loki-testdata"
    traces = shared_data / "trace-samples"
    matrix = json.loads((loki / "matrix_nan.json").read_text())
    matrix["data"]["result"][0]["metric"] = {"service_name": "checkout"}
    matrix["data"]["result"][0]["values"] = [[1645030200, "12"], [1645030260, "3"]]
    recorded_http.route("/loki/api/v1/query_range", query={"step": ".+"}, body=json.dumps(matrix))
    recorded_http.route("/loki/api/v1/query_range", file=loki / "streams_structured_metadata.json")
    tid = "e8b6dff9f8d44b28f1b22bc3bd2f6768"
    search = {"traces": [{"traceID": tid, "rootServiceName": "mythical-requester",
                          "startTimeUnixNano": "1645030230000000000", "durationMs": 5}]}  # fmt: skip
    recorded_http.route("/api/search", body=json.dumps(search))
    recorded_http.route(f"/api/traces/{tid}",
                        file=traces / "tempo/servicegraphs/trace-with-failed-requests.json")  # fmt: skip
    ui = json.loads((traces / "jaeger/ui-model/ui_01.json").read_text())
    recorded_http.route("/api/traces", body=json.dumps({"data": [ui], "errors": None}))
    (tmp_path / "workbench.toml").write_text(
        f"""
[sources.logs]
url = "loki+{recorded_http.url}"
tenant = "team-a"
bearer = {{ env = "{canaries.TOKEN_ENV}" }}

[sources.tempo]
url = "tempo+{recorded_http.url}"

[sources.jaeger]
url = "jaeger+{recorded_http.url}"
user = "jaeger"
password = {{ env = "{canaries.PASSWORD_ENV}" }}
"""
    )
    monkeypatch.chdir(tmp_path)
    window = wb.Window.parse("2022-02-16T16:50:00Z..2022-02-16T16:51:00Z")
    inc = wb.Incident("INC-7", window, sources=list(wb.load_config(env=False).values()),
                      services=["checkout"])  # fmt: skip
    inc.load()
    status = inc.status()
    assert status.filter(pl.col("status") != "ok").height == 0, status
    got = {(r["source"], r["signal"]): r["rows"] for r in status.iter_rows(named=True)}
    assert got[("logs", "logs")] == 6
    assert got[("logs", "metrics")] == 4  # lines and error lines, 2 buckets each
    assert got[("tempo", "spans")] == 15 and got[("jaeger", "spans")] == len(ui["spans"])
    assert inc.spans.height == 15 + len(ui["spans"])
    assert set(inc.metrics["metric"]) == {"log_lines", "log_error_lines"}
    # the default queries were built for the incident's services, escaped
    sent = [r.query.get("query") or r.query.get("q") or r.query.get("service")
            for r in recorded_http.requests]  # fmt: skip
    assert '{service_name="checkout"}' in sent
    assert '{ resource.service.name = "checkout" }' in sent and "checkout" in sent
    # canary credentials were sent (the session's canary plugin checks they leak nowhere)
    auth = {r.headers.get("Authorization") for r in recorded_http.requests}
    assert f"Bearer {canaries.token}" in auth
    assert any(a and a.startswith("Basic ") for a in auth)
    for text in (repr(inc), inc._repr_html_(), str(inc.status()), repr(inc.sources)):
        canaries.check(text, "the incident's reprs and status")
