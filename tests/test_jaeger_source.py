"""JaegerSource against Jaeger's real trace bodies (shared/data/trace-samples/jaeger) over
real HTTP: API v1 (UI model) and api v3 (OTLP), search across services, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.hostile import HostileCounter
from tests.plugins.recorded_http import RecordedServer
from workbench import AuthError, BadData, QueryError, SourceUnavailable, Window
from workbench.sources.http import Timeout
from workbench.sources.jaeger.source import JaegerSource

W = Window.parse("2017-01-26T21:46:00Z..2017-01-26T21:47:00Z")


@pytest.fixture
def jaeger_dir(shared_data: Path) -> Path:
    return shared_data / "trace-samples" / "jaeger"


def _ui_trace(jaeger_dir: Path) -> dict[str, Any]:
    return json.loads((jaeger_dir / "ui-model" / "ui_01.json").read_text())


def _envelope(traces: list[dict[str, Any]], errors: list[Any] | None = None) -> bytes:
    """The /api/traces response envelope of Jaeger's query service (structuredResponse)."""
    body = {"data": traces, "total": len(traces), "limit": 0, "offset": 0, "errors": errors}
    return json.dumps(body).encode()


def test_trace_by_id_v1_ui_model(recorded_http: RecordedServer, jaeger_dir: Path) -> None:
    tr = _ui_trace(jaeger_dir)
    recorded_http.route("/api/traces/0000000000000001", body=_envelope([tr]))
    res = JaegerSource(recorded_http.url).trace("0000000000000001")
    df = res.frame
    assert df.height == len(tr["spans"])
    procs = {k: v["serviceName"] for k, v in tr["processes"].items()}
    want = sorted((s["spanID"].lstrip("0"), s["operationName"], procs[s["processID"]])
                  for s in tr["spans"])  # fmt: skip
    got = sorted(
        (r["span_id"].lstrip("0"), r["name"], r["service"]) for r in df.iter_rows(named=True)
    )
    assert got == want
    # the span tagged error=true is an error span
    err_ops = {s["operationName"] for s in tr["spans"]
               if any(t["key"] == "error" and t["value"] is True for t in s["tags"])}  # fmt: skip
    assert set(df.filter(df["status"] == "error")["name"]) == err_ops


def test_v1_and_v3_give_the_same_spans(recorded_http: RecordedServer, jaeger_dir: Path) -> None:
    v1 = (jaeger_dir / "api-v3-otlp" / "otlp2jaeger-out.json").read_bytes()
    v3 = json.loads((jaeger_dir / "api-v3-otlp" / "otlp2jaeger-in.json").read_text())
    tid = json.loads(v1)["data"][0]["traceID"]
    recorded_http.route(f"/api/traces/{tid}", body=v1)
    recorded_http.route(f"/api/v3/traces/{tid}", body=json.dumps({"result": v3}))
    cols = ["trace_id", "span_id", "parent_span_id", "service", "name", "kind", "start", "end"]
    a = JaegerSource(recorded_http.url).trace(tid).frame.select(cols).sort("span_id")
    b = JaegerSource(recorded_http.url, api="v3").trace(tid).frame.select(cols).sort("span_id")
    assert a.height == len(json.loads(v1)["data"][0]["spans"]) and a.equals(b)


def test_search_across_services_dedupes_and_reports(
    hostile: HostileCounter, recorded_http: RecordedServer, jaeger_dir: Path
) -> None:
    hostile.fault("jaeger", 2)
    tr = _ui_trace(jaeger_dir)
    services = sorted({p["serviceName"] for p in tr["processes"].values()})
    recorded_http.route(
        "/api/services", body=json.dumps({"data": services, "total": len(services)})
    )
    err = [{"code": 500, "msg": "storage timeout on shard 3"}]
    recorded_http.route("/api/traces", query={"service": services[0]}, body=_envelope([tr], err))
    recorded_http.route("/api/traces", body=_envelope([tr]))
    res = JaegerSource(recorded_http.url, limit=1, concurrency=2).spans(None, W)
    assert res.frame.height == len(tr["spans"])  # one trace, found via every service, kept once
    assert res.partial
    assert any("storage timeout on shard 3" in r for r in res.reasons)
    assert sum("returned limit=1 traces" in r for r in res.reasons) == len(services)
    searched = [r.query for r in recorded_http.requests if r.path == "/api/traces"]
    assert sorted(q["service"] for q in searched) == services
    q = searched[0]
    assert (q["start"], q["end"], q["limit"]) == ("1485467160000000", "1485467220000000", "1")


def test_search_params_v1_and_v3(recorded_http: RecordedServer, jaeger_dir: Path) -> None:
    recorded_http.route("/api/traces", body=_envelope([]))
    v3 = json.loads((jaeger_dir / "api-v3-otlp" / "otlp2jaeger-in.json").read_text())
    recorded_http.route("/api/v3/traces", body=json.dumps({"result": v3}))
    res = JaegerSource(recorded_http.url).spans(
        "checkout", W, operation="GET /x", tags={"http.status_code": "500"}, min_duration="250ms"
    )
    assert res.frame.height == 0 and not res.partial
    q = recorded_http.requests[-1].query
    assert q["operation"] == "GET /x" and json.loads(q["tags"]) == {"http.status_code": "500"}
    assert q["minDuration"] == "250ms"
    res3 = JaegerSource(recorded_http.url, api="v3").spans("telemetrygen", W)
    assert res3.frame.height == 2
    q3 = recorded_http.requests[-1].query
    assert q3["query.service_name"] == "telemetrygen"
    assert q3["query.start_time_min"] == "2017-01-26T21:46:00.000000Z"


def test_errors(hostile: HostileCounter, recorded_http: RecordedServer, dead_url: str) -> None:
    hostile.fault("jaeger", 5)
    nf = {"data": None, "total": 0, "limit": 0, "offset": 0,
          "errors": [{"code": 404, "msg": "trace not found"}]}  # fmt: skip
    recorded_http.route("/api/traces/00000000000000000000000000000404", status=404,
                        body=json.dumps(nf))  # fmt: skip
    recorded_http.route("/api/traces/00000000000000000000000000000401", status=401, body="")
    recorded_http.route("/api/services", query={"x": "1"}, body="[1,2]")
    recorded_http.route("/api/traces", status=502, body="bad gateway", delay_s=0)
    recorded_http.route("/api/services", body='{"data": ["a"', content_type="application/json")
    src = JaegerSource(recorded_http.url, retries=0, timeout=Timeout(connect=1, read=1))
    with pytest.raises(QueryError, match="has no trace") as ei:
        src.trace("00000000000000000000000000000404")
    assert ei.value.status == 404
    with pytest.raises(AuthError):
        src.trace("00000000000000000000000000000401")
    with pytest.raises(SourceUnavailable) as e5:
        src.spans("a", W)
    assert e5.value.status == 502
    with pytest.raises(BadData, match="cut short"):
        src.services()
    with pytest.raises(SourceUnavailable, match="cannot connect"):
        JaegerSource(dead_url, retries=0).services()
