"""TempoSource against Tempo's real trace bodies (shared/data/trace-samples/tempo) and the
search examples of Tempo's docs (tests/data/recorded/tempo), over real HTTP."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.plugins.hostile import HostileCounter
from tests.plugins.recorded_http import RecordedRequest, RecordedServer, Reply
from tests.query_parsers import go_unquote
from workbench import AuthError, BadData, QueryError, SourceUnavailable, Window
from workbench.errors import ConfigError
from workbench.sources.http import Timeout
from workbench.sources.tempo import traceql
from workbench.sources.tempo.source import TempoSource, parse_search

RECORDED = Path(__file__).resolve().parent / "data" / "recorded" / "tempo"
W = Window.parse("2018-12-13T14:50:00Z..2021-11-12T16:00:00Z")

SAMPLES = {
    "5b8efff798038103d269b633813fc60c": "tempopb_trace_batches.json",
    "3149195ffb0bec05347b48efe8ecc1b0": "vulture_trace_resourceSpans_base64ids.json",
    "e8b6dff9f8d44b28f1b22bc3bd2f6768": "servicegraphs/trace-with-failed-requests.json",
}


@pytest.fixture
def tempo_dir(shared_data: Path) -> Path:
    return shared_data / "trace-samples" / "tempo"


def _hex(v: str) -> str:
    if re.fullmatch(r"[0-9a-fA-F]+", v) and len(v) in (16, 32):
        return v.lower()
    return base64.b64decode(v).hex()


def _raw_spans(body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """span id -> (name, service) straight from the JSON."""
    out = {}
    for rs in body.get("batches") or body.get("resourceSpans"):
        svc = next(
            a["value"]["stringValue"]
            for a in rs["resource"]["attributes"]
            if a["key"] == "service.name"
        )
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans"):
            for s in ss["spans"]:
                out[_hex(s["spanId"])] = (s["name"], svc)
    return out


def _search_body(ids: list[str]) -> bytes:
    """A search response in the shape of Tempo's docs example, for the given traces."""
    traces = [
        {"traceID": t, "rootServiceName": "svc", "rootTraceName": "op",
         "startTimeUnixNano": "1636729665000000000", "durationMs": 5,
         "spanSets": [{"spans": [], "matched": 1}]}
        for t in ids
    ]  # fmt: skip
    return json.dumps({"traces": traces, "metrics": {"inspectedTraces": 9}}).encode()


@pytest.mark.parametrize("trace_id", sorted(SAMPLES))
def test_trace_by_id_batches_and_resource_spans(
    recorded_http: RecordedServer, tempo_dir: Path, trace_id: str
) -> None:
    f = tempo_dir / SAMPLES[trace_id]
    recorded_http.route(f"/api/traces/{trace_id}", file=f)
    res = TempoSource(recorded_http.url, tenant="t9").trace(trace_id)
    df = res.frame
    raw = _raw_spans(json.loads(f.read_text()))
    assert df.height == len(raw) and not res.partial
    got = {r["span_id"]: (r["name"], r["service"]) for r in df.iter_rows(named=True)}
    assert got == raw
    assert set(df["trace_id"]) == {trace_id}
    req = recorded_http.requests[-1]
    assert req.headers["Accept"] == "application/json" and req.headers["X-Scope-OrgID"] == "t9"


def test_v2_trace_wrapper_and_partial_status(
    recorded_http: RecordedServer, tempo_dir: Path
) -> None:
    tid = "3149195ffb0bec05347b48efe8ecc1b0"
    trace = json.loads((tempo_dir / SAMPLES[tid]).read_text())
    body = {"trace": trace, "status": "PARTIAL", "message": "trace exceeds max size"}
    recorded_http.route(f"/api/v2/traces/{tid}", body=json.dumps(body))
    res = TempoSource(recorded_http.url, api="v2").trace(tid, W)
    assert res.partial and "trace exceeds max size" in res.reasons[0]
    assert res.frame.height == 6
    assert recorded_http.requests[-1].query == {"start": "1544712600", "end": "1636732800"}


def test_search_docs_examples(recorded_http: RecordedServer) -> None:
    recorded_http.route("/api/search", query={"q": r"\{ status = error \}"},
                        file=RECORDED / "search_traceql_example.json")  # fmt: skip
    recorded_http.route("/api/search", file=RECORDED / "search_tags_example.json")
    src = TempoSource(recorded_http.url, limit=20)
    res = src.search("{ status = error }", W)
    row = res.frame.row(0, named=True)
    assert row["trace_id"] == "2f3e0cee77ae5dc9c17ade3689eb2e54"
    assert row["root_service"] == "shop-backend" and row["duration_ms"] == 557
    assert row["matched_spans"] == 1
    assert row["start"].isoformat() == "2023-05-22T17:58:47.699392+00:00"
    assert not res.partial and res.extra["metrics"] == {"totalBlocks": 13}
    two = src.search("{ }", W, limit=2)
    assert two.frame["trace_id"].to_list() == ["0000000000000000d6e9329d67b6146a",
                                                "00000000000000001b1ba462b409200d"]  # fmt: skip
    assert two.partial and "limit=2" in two.reasons[0]
    q = recorded_http.requests[-1].query
    assert q == {"q": "{ }", "start": "1544712600", "end": "1636732800", "limit": "2", "spss": "3"}


def test_spans_searches_then_fetches_each_trace_bounded(
    recorded_http: RecordedServer, tempo_dir: Path
) -> None:
    ids = sorted(SAMPLES)
    recorded_http.route("/api/search", body=_search_body(ids))
    active, peak, lock = [0], [0], threading.Lock()

    def serve(path: Path):
        def handler(req: RecordedRequest) -> Reply:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.05)
            with lock:
                active[0] -= 1
            return Reply(path.read_bytes())

        return handler

    for tid, name in SAMPLES.items():
        recorded_http.route(f"/api/traces/{tid}", handler=serve(tempo_dir / name))
    res = TempoSource(recorded_http.url, concurrency=2).spans(None, W, services=["my.service"])
    assert not res.partial, res.reasons
    assert res.frame.height == sum(
        len(_raw_spans(json.loads((tempo_dir / n).read_text()))) for n in SAMPLES.values()
    )
    assert set(res.frame["trace_id"]) == set(ids)
    assert res.extra == {"traces_found": 3, "traces_loaded": 3}
    assert peak[0] <= 2
    assert recorded_http.requests[0].query["q"] == '{ resource.service.name = "my.service" }'


def test_spans_partial_when_a_trace_is_gone_or_search_hits_limit(
    hostile: HostileCounter, recorded_http: RecordedServer, tempo_dir: Path
) -> None:
    hostile.fault("tempo", 2)
    ids = sorted(SAMPLES)
    recorded_http.route("/api/search", body=_search_body(ids))
    gone = ids[0]
    recorded_http.route(f"/api/traces/{gone}", status=404, body="trace not found",
                        content_type="text/plain")  # fmt: skip
    for tid in ids[1:]:
        recorded_http.route(f"/api/traces/{tid}", file=tempo_dir / SAMPLES[tid])
    res = TempoSource(recorded_http.url, limit=3).spans("{ }", W)
    assert res.partial
    assert any("limit=3" in r for r in res.reasons)
    assert any(f"1 of 3 traces could not be fetched ({gone})" in r for r in res.reasons)
    assert set(res.frame["trace_id"]) == set(ids[1:])


def test_trace_errors(
    hostile: HostileCounter, recorded_http: RecordedServer, tempo_dir: Path, dead_url: str
) -> None:
    hostile.fault("tempo", 7)
    tid = "5b8efff798038103d269b633813fc60c"
    f = tempo_dir / SAMPLES[tid]
    recorded_http.route("/api/traces/00000000000000000000000000000404", status=404,
                        body="trace not found")  # fmt: skip
    recorded_http.route("/api/traces/00000000000000000000000000000500", status=500, body="boom")
    recorded_http.route("/api/traces/00000000000000000000000000000401", status=401, body="no")
    recorded_http.route("/api/traces/0000000000000000000000000000cccc", file=f, truncate_at=50,
                        declare_full_length=False)  # fmt: skip
    recorded_http.route("/api/traces/000000000000000000000000000000ee", file=f, delay_s=3)
    src = TempoSource(recorded_http.url, retries=0, timeout=Timeout(connect=1, read=0.4))
    with pytest.raises(QueryError, match="has no trace") as ei:
        src.trace("00000000000000000000000000000404")
    assert ei.value.status == 404 and "expired" in (ei.value.hint or "")
    with pytest.raises(SourceUnavailable) as e5:
        src.trace("00000000000000000000000000000500")
    assert e5.value.status == 500
    with pytest.raises(AuthError):
        src.trace("00000000000000000000000000000401")
    with pytest.raises(BadData, match="cut short"):
        src.trace("0000000000000000000000000000cccc")
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailable, match="did not answer"):
        src.trace("000000000000000000000000000000ee")
    assert time.monotonic() - t0 < 2
    with pytest.raises(ConfigError):
        src.trace("../../etc/passwd")
    with pytest.raises(SourceUnavailable, match="cannot connect"):
        TempoSource(dead_url, retries=0).search("{ }", W)


def test_bad_traceql_is_query_error_with_server_text(
    hostile: HostileCounter, recorded_http: RecordedServer
) -> None:
    hostile.fault("tempo", 1)
    text = (
        "invalid TraceQL query: parse error at line 1, col 3: syntax error: unexpected IDENTIFIER"
    )
    recorded_http.route("/api/search", status=400, body=text, content_type="text/plain")
    with pytest.raises(QueryError) as ei:
        TempoSource(recorded_http.url).spans("{ x y }", W)
    assert ei.value.detail == text and ei.value.query == "{ x y }"


def test_search_body_shape_errors() -> None:
    for body in ([], {"traces": {}}, {"traces": [{"rootServiceName": "x"}]},
                 {"traces": [{"traceID": "zz"}]},
                 {"traces": [{"traceID": "ab", "startTimeUnixNano": "x"}]}):  # fmt: skip
        with pytest.raises(BadData):
            parse_search(body)
    assert parse_search({}).height == 0


def _parse_spanset(q: str) -> tuple[list[str], str]:
    """Parse a spanset filter built by traceql.spanset: (service names, remainder)."""
    m = re.match(r"\{ \(?", q)
    assert m
    i, names = m.end(), []
    while q.startswith("resource.service.name = ", i):
        v, i = go_unquote(q, i + len("resource.service.name = "))
        names.append(v)
        if q.startswith(" || ", i):
            i += 4
    return names, q[i:]


@given(
    services=st.lists(st.text(st.characters(exclude_categories=("Cs",)), min_size=1), min_size=1,
                      max_size=4),
    errors=st.booleans(),
)  # fmt: skip
def test_hostile_service_names_cannot_change_traceql(
    hostile: HostileCounter, services: list[str], errors: bool
) -> None:
    hostile.count("traceql-builder")
    q = traceql.spanset(services, errors_only=errors)
    names, rest = _parse_spanset(q)
    assert names == list(dict.fromkeys(services))
    tail = (
        " }"
        if not errors
        else (") && status = error }" if len(names) > 1 else " && status = error }")
    )
    assert rest == tail


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=15,
)
summary = st.fixed_dictionaries(
    {},
    optional={"traceID": st.text("0123456789abcdefXYZ", max_size=40) | json_values,
              "startTimeUnixNano": st.integers() | st.text("0123456789", max_size=25) | json_values,
              "durationMs": json_values, "rootServiceName": json_values,
              "spanSets": st.lists(st.dictionaries(st.sampled_from(["matched", "spans"]),
                                                   json_values), max_size=2) | json_values,
              "spanSet": json_values},
)  # fmt: skip


@given(
    body=st.fixed_dictionaries({"traces": st.lists(summary, max_size=4) | json_values})
    | json_values
)
def test_hostile_search_bodies_give_summaries_or_bad_data(
    hostile: HostileCounter, body: Any
) -> None:
    hostile.count("tempo-search-response")
    try:
        df = parse_search(body)
    except BadData:
        return
    assert df.height == len(body.get("traces") or [])


def test_services_from_tag_values(recorded_http: RecordedServer) -> None:
    # /api/search/tag/<tag>/values as in Tempo's API docs: {"tagValues": [...]}
    recorded_http.route("/api/search/tag/service.name/values",
                        body=json.dumps({"tagValues": ["shop-backend", "frontend"]}))  # fmt: skip
    assert TempoSource(recorded_http.url).services(W) == ["frontend", "shop-backend"]
    assert recorded_http.requests[-1].query == {"start": "1544712600", "end": "1636732800"}


def test_search_that_did_not_finish_its_jobs_is_partial(recorded_http: RecordedServer) -> None:
    body = json.loads((RECORDED / "search_traceql_example.json").read_text())
    body["metrics"] = {"inspectedTraces": 50, "completedJobs": 7, "totalJobs": 12}
    recorded_http.route("/api/search", body=json.dumps(body))
    res = TempoSource(recorded_http.url).search("{ status = error }", W)
    assert res.partial and "7 of 12 jobs" in res.reasons[0]
    body["metrics"] = {"completedJobs": 12, "totalJobs": 12}
    recorded_http.clear()
    recorded_http.route("/api/search", body=json.dumps(body))
    assert not TempoSource(recorded_http.url).search("{ status = error }", W).partial
