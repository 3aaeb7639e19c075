"""Every span-bearing file in shared/data/trace-samples parses into the spans frame with
the right span and service counts (counted independently from the raw JSON here), plus
hard-checked values read off the files by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from workbench import frames
from workbench.sources.files import FileSource, jaeger, otlp, zipkin

from .plugins.files_lab import shared_data

SAMPLES = shared_data() / "trace-samples"


def _otlp_counts(d: dict[str, Any]) -> tuple[int, set[Any]]:
    d = d.get("result", d)
    n, services = 0, set()
    for rs in d.get("resourceSpans", d.get("batches", [])):
        svc = next(
            (
                a["value"].get("stringValue")
                for a in rs.get("resource", {}).get("attributes", [])
                if a["key"] == "service.name"
            ),
            None,
        )
        for ss in rs.get("scopeSpans", []):
            n += len(ss.get("spans", []))
            if ss.get("spans"):
                services.add(svc)
    return n, services


def _jaeger_counts(d: Any) -> tuple[int, set[Any]]:
    if isinstance(d, list):  # spans with inline process
        return len(d), {s["process"]["serviceName"] for s in d}
    traces = d.get("data", [d])
    n, services = 0, set()
    for t in traces:
        n += len(t["spans"])
        procs = t.get("processes", {})
        for s in t["spans"]:
            p = s.get("process") or procs[s["processID"]]
            services.add(p["serviceName"])
    return n, services


def _zipkin_counts(d: list[dict[str, Any]]) -> tuple[int, set[Any]]:
    return len(d), {s.get("localEndpoint", {}).get("serviceName") for s in d}


def _expected(path: Path) -> tuple[str, int, set[Any]]:
    d = json.loads(path.read_text())
    if isinstance(d, dict) and ("resourceSpans" in d or "batches" in d or "result" in d):
        return "otlp", *_otlp_counts(d)
    if isinstance(d, dict) and "resourceLogs" in d:
        return "logs", 0, set()
    if isinstance(d, dict) and "resourceMetrics" in d:
        return "metrics", 0, set()
    if "zipkin" in path.parts[-2]:
        return "zipkin", *_zipkin_counts(d)
    return "jaeger", *_jaeger_counts(d)


SPAN_FILES = [
    p for p in sorted(SAMPLES.rglob("*.json")) if _expected(p)[0] in ("otlp", "zipkin", "jaeger")
]


def test_sample_folder_is_there() -> None:
    assert len(SPAN_FILES) == 23, SPAN_FILES  # 7 jaeger, 1 otlp-json, 6 tempo, 9 zipkin


@pytest.mark.parametrize("path", SPAN_FILES, ids=lambda p: str(p.relative_to(SAMPLES)))
def test_every_sample_parses_with_right_counts(path: Path) -> None:
    fmt, n_spans, services = _expected(path)
    src = FileSource(path)
    assert src.format == ("otlp" if fmt == "otlp" else fmt)
    df = src.frame()
    frames.validate(df, "spans")
    assert df.height == n_spans
    assert set(df["service"].to_list()) == services
    assert df["duration_ms"].min() >= 0
    assert df["trace_id"].str.contains(r"^[0-9a-f]{16}([0-9a-f]{16})?$").all()


@pytest.mark.parametrize(
    ("name", "spans", "services"),
    [
        ("smartthings-mobile-web-install.json", 1041, 16),
        ("yelp.json", 16, 6),
        ("ascend.json", 8, 3),
        ("messaging-kafka.json", 28, 2),
        ("messaging2.json", 11, 4),
        ("messaging.json", 4, 2),
        ("simple-db-p6.json", 5, 1),
        ("skew.json", 4, 2),
        ("envoy.json", 1, 1),
    ],
)
def test_zipkin_counts_from_source_md(name: str, spans: int, services: int) -> None:
    df = FileSource(SAMPLES / "zipkin-v2" / name, format="zipkin").frame()
    assert df.height == spans
    assert df["service"].n_unique() == services


def test_zipkin_known_values() -> None:
    df = zipkin.read_file(SAMPLES / "zipkin-v2" / "messaging.json").frame
    root = df.filter(pl.col("parent_span_id").is_null()).row(0, named=True)
    assert root["span_id"] == "b33447baae403ed6" and root["service"] == "frontend"
    assert root["kind"] == "server" and root["duration_ms"] == pytest.approx(2.839)
    assert root["start"].isoformat() == "2018-03-16T07:40:11.926119+00:00"
    consumer = df.filter(pl.col("kind") == "consumer").row(0, named=True)
    attrs = {a["key"]: a["value"] for a in consumer["attributes"]}
    assert attrs["peer.service"] == "rabbitmq" and attrs["rabbit.queue"] == "backend"
    # error tag (any value, even "") -> error
    kafka = zipkin.read_file(SAMPLES / "zipkin-v2" / "messaging-kafka.json").frame
    raw = json.loads((SAMPLES / "zipkin-v2" / "messaging-kafka.json").read_text())
    assert (kafka["status"] == "error").sum() == sum("error" in s.get("tags", {}) for s in raw) == 3
    # envoy has no localEndpoint.serviceName -> null service, http 200 server -> unset
    env = zipkin.read_file(SAMPLES / "zipkin-v2" / "envoy.json").frame
    assert env["service"].to_list() == [None] and env["status"].to_list() == ["unset"]


def test_zipkin_incomplete_spans_are_filled_and_flagged() -> None:
    res = zipkin.read_file(SAMPLES / "zipkin-v2" / "smartthings-mobile-web-install.json")
    df = res.frame
    inferred = df.filter(frames.attr("attributes", "workbench.inferred") == "timestamp")
    assert inferred.height == 84  # spans without timestamp, filled from their other half
    incomplete = df.filter(frames.attr("attributes", "workbench.incomplete") == "duration")
    assert incomplete.height > 0 and (incomplete["duration_ms"] == 0).all()
    assert any("without duration" in w for w in res.problems.warnings)
    assert res.problems.reasons() == []


def test_jaeger_ui_and_domain_models_agree() -> None:
    ui = jaeger.read_file(SAMPLES / "jaeger" / "ui-model" / "ui_01.json").frame
    dom = jaeger.read_file(SAMPLES / "jaeger" / "domain-model" / "domain_01.json").frame
    cols = ["span_id", "parent_span_id", "service", "name", "start", "duration_ms", "status"]
    assert ui.select(cols).rows() == dom.select(cols).rows()
    # ui_01: span 4 has a CHILD_OF reference into another trace first; the same-trace one wins
    row = ui.filter(pl.col("name") == "reference-test").row(0, named=True)
    assert row["parent_span_id"] == "0000000000000002"
    assert ui.filter(pl.col("status") == "error")["name"].to_list() == ["some-operation"]
    assert ui["trace_id"].unique().to_list() == ["0000000000000001"]
    assert dom["trace_id"].unique().to_list() == ["0" * 31 + "1"]


def test_jaeger_api_v3_pair_agrees() -> None:
    src = otlp.read_file(SAMPLES / "jaeger" / "api-v3-otlp" / "otlp2jaeger-in.json").frame
    out = jaeger.read_file(SAMPLES / "jaeger" / "api-v3-otlp" / "otlp2jaeger-out.json").frame
    cols = ["trace_id", "span_id", "parent_span_id", "service", "name", "kind", "start", "end"]
    assert src.select(cols).rows() == out.select(cols).rows()
    assert src["kind"].to_list() == ["server", "server"]
    # the api-v3 wrapper {"result": ...} reads the same
    body = {"result": json.loads((SAMPLES / "jaeger/api-v3-otlp/otlp2jaeger-in.json").read_text())}
    assert jaeger.parse(body).select(cols).rows() == src.select(cols).rows()


def test_otlp_known_values() -> None:
    df = otlp.read_file(SAMPLES / "otlp-json" / "trace.json").frame
    r = df.row(0, named=True)
    assert r["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert r["span_id"] == "eee19b7ec3c1b174" and r["parent_span_id"] == "eee19b7ec3c1b173"
    assert r["service"] == "my.service" and r["kind"] == "server" and r["status"] == "unset"
    assert r["duration_ms"] == 1000.0
    assert r["start"].isoformat() == "2018-12-13T14:51:00+00:00"
    attrs = {a["key"]: a["value"] for a in r["attributes"]}
    assert attrs == {"my.span.attr": "some value", "otel.scope.name": "my.library"}
    # tempopb batches: the same span
    tb = otlp.read_file(SAMPLES / "tempo" / "tempopb_trace_batches.json").frame
    assert tb.drop("attributes").rows() == df.drop("attributes").rows()


def test_tempo_vulture_base64_ids_and_resource_attributes() -> None:
    path = SAMPLES / "tempo" / "vulture_trace_resourceSpans_base64ids.json"
    df = otlp.read_file(path).frame
    raw = json.loads(path.read_text())
    first = raw["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    import base64

    assert df["trace_id"][0] == base64.b64decode(first["traceId"]).hex()
    assert df["span_id"][0] == base64.b64decode(first["spanId"]).hex()
    attrs = {a["key"]: a["value"] for a in df["attributes"][0]}
    assert attrs["k8s.pod.name"] == "XkqgWWT"  # resource attribute kept
    assert "vulture-process-0" not in attrs  # arbitrary resource attributes are not
    assert attrs["http.status_code"] == "110"


def test_tempo_servicegraph_failed_requests() -> None:
    path = SAMPLES / "tempo" / "servicegraphs" / "trace-with-failed-requests.json"
    df = otlp.read_file(path).frame
    raw = json.loads(path.read_text())
    n_err = sum(
        sp.get("status", {}).get("code") in (2, "STATUS_CODE_ERROR")
        for rs in raw["resourceSpans"]
        for ss in rs["scopeSpans"]
        for sp in ss["spans"]
    )
    assert (df["status"] == "error").sum() == n_err > 0
    # the requester's client span -> the server's server span is one failed edge
    j = df.join(df, left_on=["trace_id", "span_id"], right_on=["trace_id", "parent_span_id"])
    edges = j.filter(pl.col("service") != pl.col("service_right"))
    assert edges.select("service", "service_right").unique().rows() == [
        ("mythical-requester", "mythical-server")
    ]
    assert (edges["status_right"] == "error").all()


def test_otlp_logs_sample() -> None:
    res = otlp.read_file(SAMPLES / "otlp-json" / "logs.json")
    assert res.signal == "logs"
    df = frames.validate(res.frame, "logs")
    r = df.row(0, named=True)
    assert r["service"] == "my.service" and r["level"] == "info"
    assert r["message"] == "Example log record"
    assert r["trace_id"] == "5b8efff798038103d269b633813fc60c"
    attrs = {a["key"]: a["value"] for a in r["attributes"]}
    assert attrs["int.attribute"] == "10" and attrs["boolean.attribute"] == "true"
    assert attrs["array.attribute"] == '["many","values"]'
    assert attrs["map.attribute"] == '{"some.map.key":"some value"}'
    ev = otlp.read_file(SAMPLES / "otlp-json" / "events.json").frame
    assert {a["key"]: a["value"] for a in ev["attributes"][0]}["event.name"] == "browser.page_view"


def test_otlp_metrics_file_is_refused_clearly() -> None:
    from workbench.errors import BadData

    with pytest.raises(BadData, match="OTLP metrics"):
        FileSource(SAMPLES / "otlp-json" / "metrics.json")
