"""Hostile-input matrix for the file parsers and the span analyses (issue 8 point 1).

Each example takes a real trace document (OTLP, Jaeger, Zipkin) or a JSON-lines log and
applies one hostile mutation: a wrong encoding, NaN/Infinity literals, huge numbers or
strings, deep nesting, duplicate span ids, parents that are missing or form a cycle, or
timestamps in the wrong unit. Only two outcomes are allowed: ``BadData`` naming the file,
or a valid frame with every row (the rows a mutation keeps must all be there). Span
analyses (service graph, error origins, span tree / critical path, latency blame,
waterfall, suspects) must finish on cyclic and orphaned spans.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plugins.files_lab import shared_data
from tests.plugins.hostile import PROFILE, HostileCounter, examples
from workbench import frames
from workbench.errors import BadData, WorkbenchError
from workbench.sources.files import jaeger, otlp, zipkin
from workbench.sources.files.logs import read_jsonl

SAMPLES = shared_data() / "trace-samples"
DOCS: dict[str, list[Path]] = {
    "otlp": [SAMPLES / "jaeger/otlp/memory_otel_traces_01.json",
             SAMPLES / "tempo/vulture_trace_resourceSpans_base64ids.json"],
    "jaeger": [SAMPLES / "jaeger/ui-model/ui_01.json",
               SAMPLES / "jaeger/domain-model/domain_01.json"],
    "zipkin": [SAMPLES / "zipkin-v2/yelp.json"],
}  # fmt: skip
READ: dict[str, Callable[..., Any]] = {
    "otlp": otlp.read_file,
    "jaeger": jaeger.read_file,
    "zipkin": zipkin.read_file,
}
TIME_KEYS = {"startTimeUnixNano", "endTimeUnixNano", "startTime", "timestamp"}
PARENT_KEYS = {"parentSpanId", "parentId"}
ID_KEYS = ("spanId", "spanID", "id")
SETTINGS = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _base(path: Path) -> tuple[Any, int]:
    fmt = next(k for k, v in DOCS.items() if path in v)
    return json.loads(path.read_text()), READ[fmt](path).frame.height


BASE = {p: _base(p) for paths in DOCS.values() for p in paths}


def _walk(node: Any, out: list[Any]) -> None:
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        if isinstance(n, dict):
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)


def _nodes(doc: Any) -> list[Any]:
    out: list[Any] = []
    _walk(doc, out)
    return out


def _is_span(x: Any) -> bool:
    return (
        isinstance(x, dict)
        and any(k in x for k in ID_KEYS)
        and ("traceId" in x or "traceID" in x)
        and ("name" in x or "operationName" in x)
    )


def _span_dicts(doc: Any) -> list[dict]:
    return [n for n in _nodes(doc) if _is_span(n)]


def _span_lists(doc: Any) -> list[list]:
    return [n for n in _nodes(doc) if isinstance(n, list) and n and all(map(_is_span, n))]


def _span_id(sp: dict) -> Any:
    return next(sp[k] for k in ID_KEYS if k in sp)


MUTATIONS = ("utf16", "latin1", "bad-bytes", "bom", "nan", "huge-number", "huge-string",
             "deep", "duplicate", "unit-up", "unit-down", "orphan", "cycle", "wrong-type",
             "surrogate")  # fmt: skip


def _mutate(doc: Any, mutation: str, data: st.DataObject) -> tuple[bytes, int | None]:
    """Apply ``mutation``; return the bytes and the row count a valid frame must have
    (None: a valid frame of any size is fine, e.g. a value changed type)."""
    doc = copy.deepcopy(doc)
    spans = _span_dicts(doc)
    pick = data.draw(st.integers(0, max(len(spans) - 1, 0)), label="span")
    sp = spans[pick] if spans else {}
    keep = True  # does a valid frame keep every row?
    extra = 0
    if mutation == "nan":
        key = data.draw(st.sampled_from(sorted(TIME_KEYS & set(sp)) or ["x"]), label="key")
        sp[key] = data.draw(st.sampled_from([math.nan, math.inf, -math.inf]), label="v")
    elif mutation == "huge-number":
        key = data.draw(st.sampled_from(sorted(TIME_KEYS & set(sp)) or ["x"]), label="key")
        sp[key] = data.draw(st.sampled_from([10**400, -(10**30), 1e308, "9" * 500]), label="v")
    elif mutation == "huge-string":
        key = data.draw(st.sampled_from(sorted(sp) or ["x"]), label="key")
        if key not in TIME_KEYS | PARENT_KEYS | set(ID_KEYS):
            sp[key] = "x" * 200_000
        else:
            keep = False
            sp[key] = "7" * 200_000
    elif mutation == "deep":
        depth = data.draw(st.sampled_from([50, 3000, 100_000]), label="depth")
        sp["attributes" if "attributes" in sp else "tags"] = json.loads(
            "[" * min(depth, 900) + "]" * min(depth, 900)
        )
        keep = False
        if depth > 900:  # deeper than json.dumps allows: splice the text in
            text = json.dumps(doc)
            i = text.find("[[[[")
            text = text[:i] + "[" * depth + "]" * depth + text[i + 1800 :]
            return text.encode(), None
    elif mutation == "duplicate":
        lists = _span_lists(doc)
        if lists:
            lst = lists[data.draw(st.integers(0, len(lists) - 1), label="list")]
            lst.append(copy.deepcopy(lst[data.draw(st.integers(0, len(lst) - 1), label="i")]))
            extra = 1
    elif mutation in ("unit-up", "unit-down"):
        everywhere = data.draw(st.booleans(), label="all")
        targets = spans if everywhere else [sp]
        for s in targets:
            for k in TIME_KEYS & set(s):
                v = s[k]
                if isinstance(v, str) and v.isdigit():
                    s[k] = str(int(v) * 1000 if mutation == "unit-up" else int(v) // 1000)
                elif isinstance(v, int) and not isinstance(v, bool):
                    s[k] = v * 1000 if mutation == "unit-up" else v // 1000
    elif mutation in ("orphan", "cycle"):
        ids = [_span_id(s) for s in spans]
        if mutation == "orphan":
            parent = data.draw(st.sampled_from(["ffffffffffffffff", "", "0" * 16, "zz"]))
        else:  # itself, or a span below it
            parent = _span_id(sp) if data.draw(st.booleans()) else data.draw(st.sampled_from(ids))
        if "references" in sp and isinstance(sp["references"], list) and sp["references"]:
            sp["references"][0]["spanID"] = parent
        elif "parentSpanId" in sp or ("traceId" in sp and "spanId" in sp):
            sp["parentSpanId"] = parent
        else:
            sp["parentId"] = parent
    elif mutation == "surrogate":  # valid JSON ("\ud800"), but not text
        sp["name" if "name" in sp else "operationName"] = "op\ud800"
    elif mutation == "wrong-type":
        key = data.draw(st.sampled_from(sorted(sp) or ["x"]), label="key")
        sp[key] = data.draw(st.sampled_from([None, True, [], {}, 1.5, "x", -1]), label="v")
        keep = False
    text = json.dumps(doc)
    if mutation == "utf16":
        raw = text.encode("utf-16")
    elif mutation == "latin1":
        raw = text.replace('"', '"é', 1).encode("latin-1", errors="replace")
    elif mutation == "bad-bytes":
        i = data.draw(st.integers(0, len(text)), label="at")
        raw = text[:i].encode() + b"\xff\xfe\xc3" + text[i:].encode()
    elif mutation == "bom":
        raw = b"\xef\xbb\xbf" + text.encode()
    else:
        raw = text.encode()
    return raw, (extra if keep else None)


@pytest.mark.parametrize("fmt", sorted(DOCS))
@SETTINGS
@given(data=st.data(), mutation=st.sampled_from(MUTATIONS))
def test_hostile_trace_documents(
    hostile: HostileCounter, tmp_path: Path, fmt: str, data: st.DataObject, mutation: str
) -> None:
    hostile.count(f"{fmt}-json")
    path = data.draw(st.sampled_from(DOCS[fmt]), label="doc")
    doc, base = BASE[path]
    raw, extra = _mutate(doc, mutation, data)
    p = tmp_path / f"hostile.{fmt}.json"
    p.write_bytes(raw)
    t0 = time.monotonic()
    try:
        got = READ[fmt](p)
    except BadData as err:
        assert err.path == str(p), err
    else:
        frames.validate(got.frame, "spans")
        if extra is not None:  # nothing silently lost
            assert got.frame.height == base + extra, (mutation, got.frame.height, base)
    skipped = READ_SKIP(fmt, p)
    if skipped is not None:
        frame, n_skipped = skipped
        frames.validate(frame, "spans")
        if extra is not None and n_skipped == 0:
            assert frame.height == base + extra
    assert time.monotonic() - t0 < 20, "a parser took too long (a hang?)"


def READ_SKIP(fmt: str, p: Path) -> tuple[pl.DataFrame, int] | None:
    """Skip mode: a frame plus the count of skipped records, or None if the whole
    document is unusable (BadData even in skip mode)."""
    try:
        got = READ[fmt](p, on_error="skip")
    except BadData as err:
        assert err.path == str(p)
        return None
    return got.frame, len(got.problems.skipped)


# --- JSON-lines logs: encodings, NaN, huge values, units --------------------------------------

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
_LOG_VALUES = st.sampled_from(
    [math.nan, math.inf, -math.inf, 10**400, 1e308, "x" * 100_000, None, [], {"a": [[[]]]},
     int(T0.timestamp()), int(T0.timestamp() * 1e3), int(T0.timestamp() * 1e6),
     int(T0.timestamp() * 1e9), int(T0.timestamp() * 1e12), T0.timestamp() / 1000,
     "2026-11-20T10:00:00Z", "20261120T100000", "\ud800", "é\u0000\n"]
)  # fmt: skip


@SETTINGS
@given(
    n=st.integers(1, 12),
    edits=st.lists(
        st.tuples(st.integers(0, 11), st.sampled_from(["timestamp", "message", "level",
                                                       "service", "trace_id"]), _LOG_VALUES),
        max_size=3,
    ),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "bad-bytes"]),
    blank=st.booleans(),
)  # fmt: skip
def test_hostile_json_lines_logs(
    hostile: HostileCounter,
    tmp_path: Path,
    n: int,
    edits: list[tuple[int, str, Any]],
    encoding: str,
    blank: bool,
) -> None:
    hostile.count("jsonl-logs")
    recs = [{"timestamp": (T0 + timedelta(seconds=i)).isoformat(), "level": "info",
             "message": f"m{i} é", "service": "s"} for i in range(n)]  # fmt: skip
    for i, key, value in edits:
        recs[i % n][key] = value
    text = ("\n\n" if blank else "\n").join(json.dumps(r) for r in recs)
    if encoding == "bad-bytes":
        raw = text.encode("utf-8", "surrogatepass") + b"\n\xff\xfe\n"
    else:
        raw = text.encode(encoding, errors="surrogatepass" if "utf" in encoding else "replace")
    p = tmp_path / "hostile.jsonl"
    p.write_bytes(raw)
    try:
        df = read_jsonl(p).frame
    except BadData as err:
        assert err.path == str(p)
    else:
        frames.validate(df, "logs")
        assert df.height == n  # every record, or an error: never a short frame
    try:
        res = read_jsonl(p, on_error="skip")
    except BadData as err:  # the whole file is unusable (not UTF-8)
        assert err.path == str(p)
    else:
        frames.validate(res.frame, "logs")
        assert res.frame.height + len(res.problems.skipped) >= n


# --- span analyses on cyclic / orphaned / duplicated spans ---------------------------------------


def _spans_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=frames.SCHEMAS["spans"])


@st.composite
def hostile_spans(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(1, 25))
    ids = [f"{i:016x}" for i in range(n)]
    traces = draw(st.integers(1, 3))
    rows = []
    for i in range(n):
        parent = draw(
            st.one_of(
                st.none(),
                st.sampled_from(ids),  # any span: cycles, self-parents, forward links
                st.just("ffffffffffffffff"),  # missing parent
            )
        )
        start = T0 + timedelta(milliseconds=draw(st.integers(0, 5000)))
        dur = draw(st.integers(0, 3000))
        rows.append({
            "trace_id": f"{draw(st.integers(0, traces - 1)):032x}",
            "span_id": draw(st.sampled_from(ids)) if draw(st.integers(0, 9)) == 0 else ids[i],
            "parent_span_id": parent,
            "service": draw(st.sampled_from(["a", "b", "c", "db"])),
            "name": draw(st.sampled_from(["GET /", "SELECT", "call"])),
            "kind": draw(st.sampled_from(["server", "client", "internal", None])),
            "start": start,
            "end": start + timedelta(milliseconds=dur),
            "duration_ms": float(dur),
            "status": draw(st.sampled_from(["ok", "error", "unset"])),
            "attributes": [],
        })  # fmt: skip
    return _spans_frame(rows)


@settings(
    max_examples=120 if PROFILE == "ci" else 30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(spans=hostile_spans())
def test_span_analyses_finish_on_cycles_and_missing_parents(
    hostile: HostileCounter, spans: pl.DataFrame
) -> None:
    from workbench.analysis.graph import service_graph
    from workbench.analysis.suspects import rank_suspects
    from workbench.analysis.traces import error_origins, latency_blame, span_tree
    from workbench.analysis.waterfall import trace_waterfall
    from workbench.timewindow import Window

    hostile.count("span-analysis")
    window = Window(T0, T0 + timedelta(seconds=10))
    baseline = Window(T0 - timedelta(seconds=10), T0)
    t0 = time.monotonic()
    calls: list[Callable[[], Any]] = [
        lambda: service_graph(spans),
        lambda: error_origins(spans),
        lambda: span_tree(spans),
        lambda: latency_blame(spans),
        lambda: trace_waterfall(spans, spans["trace_id"][0]),
        lambda: rank_suspects(spans=spans, window=window, baseline=baseline),
    ]  # fmt: skip
    for call in calls:
        with contextlib.suppress(WorkbenchError):  # a typed refusal is fine, nothing else
            call()
    tree = span_tree(spans)
    # every span kept, even on a cycle (duplicate ids keep the first, as documented)
    assert tree.height == spans.unique(["trace_id", "span_id"]).height
    assert time.monotonic() - t0 < 20, "an analysis took too long on cyclic spans"


def test_lone_surrogate_in_an_http_body_is_bad_data(recorded_http) -> None:
    from workbench.sources.loki.source import LokiSource
    from workbench.timewindow import Window

    body = (
        '{"status":"success","data":{"resultType":"streams","result":[{"stream":'
        '{"service_name":"a"},"values":[["1645030200000000000","bad \\ud800 line"]]}]}}'
    )
    recorded_http.route("/loki/api/v1/query_range", body=body.encode())
    src = LokiSource(recorded_http.url, name="loki-x")
    with pytest.raises(BadData) as info:
        src.logs('{service_name="a"}', Window.parse("2022-02-16T16:50:00Z..2022-02-16T16:51:00Z"))
    assert info.value.source == "loki-x" and "surrogate" in str(info.value)
