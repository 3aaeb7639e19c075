"""The columnar OTLP fast path gives exactly the careful path's spans frame, or declines
(None) and leaves the file to the careful path: on real samples, on the lab demo's
traces, and on hand-made edge cases (duplicate keys, exception events, status messages,
all-zero parents, doubles, booleans, odd ids, kinds as strings, nested values)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from workbench.sources.files import otlp
from workbench.sources.files.otlp_fast import fast_spans

NS = 1_795_168_804_155_657_712


def careful(path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import workbench.sources.files.otlp_fast as fast

    with monkeypatch.context() as m:
        m.setattr(fast, "fast_spans", lambda data: None)
        return otlp.read_file(path).frame


def _span(**over) -> dict:  # type: ignore[no-untyped-def]
    sp = {
        "traceId": "a77e69ffff9eda3f6906b1a5cb0b7977",
        "spanId": "a35b28af18223143",
        "parentSpanId": "7bc5af57252759d3",
        "name": "GET /x",
        "kind": 2,
        "startTimeUnixNano": str(NS),
        "endTimeUnixNano": str(NS + 21_737_417),
        "status": {},
        "attributes": [{"key": "http.route", "value": {"stringValue": "/x"}}],
    }
    sp.update(over)
    return sp


def _doc(spans: list[dict], resource: list[dict] | None = None) -> dict:
    res = resource or [
        {"key": "service.name", "value": {"stringValue": "api"}},
        {"key": "k8s.pod.name", "value": {"stringValue": "api-1"}},
        {"key": "telemetry.sdk.name", "value": {"stringValue": "otel"}},
    ]
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": res},
                "scopeSpans": [{"scope": {"name": "lib", "version": "1"}, "spans": spans}],
            }
        ]
    }


def _write(tmp_path: Path, docs: list[dict]) -> Path:
    p = tmp_path / "t.otlp.jsonl"
    p.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return p


def test_demo_traces_fast_equals_careful(lab_demo_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = lab_demo_dir / "traces" / "traces.otlp.jsonl"
    fast = fast_spans(path.read_bytes())
    assert fast is not None and fast.height > 1000  # the common case takes the fast path
    assert_frame_equal(fast, careful(path, monkeypatch))


def test_samples_fast_equals_careful_or_declines(samples_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    taken = 0
    for path in sorted((samples_dir / "trace-samples").rglob("*.json*")):
        try:
            slow = careful(path, monkeypatch)
        except Exception:  # not an OTLP traces file: the fast path must decline it too
            assert fast_spans(path.read_bytes()) is None, path
            continue
        fast = fast_spans(path.read_bytes())
        if fast is not None:
            assert_frame_equal(fast, slow)
            taken += 1
    assert taken >= 1


def test_edge_cases_match_the_careful_path(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    spans = [
        _span(),
        # duplicate keys: the last wins; a span attribute beats a resource one
        _span(
            spanId="b35b28af18223143",
            attributes=[
                {"key": "a", "value": {"stringValue": "1"}},
                {"key": "a", "value": {"stringValue": "2"}},
                {"key": "k8s.pod.name", "value": {"stringValue": "mine"}},
                {"key": "n", "value": {"intValue": "-42"}},
                {"key": "d", "value": {"doubleValue": 0.1}},
                {"key": "big", "value": {"doubleValue": 1.2345678901234568e17}},
                {"key": "b", "value": {"boolValue": False}},
                {"key": "empty", "value": {}},
            ],
        ),
        # error with a message and an exception event (a span attribute of the same
        # name wins over the event's)
        _span(
            spanId="c35b28af18223143",
            parentSpanId="0000000000000000",
            status={"code": 2, "message": "boom"},
            attributes=[{"key": "exception.type", "value": {"stringValue": "Mine"}}],
            events=[
                {"name": "log", "attributes": []},
                {
                    "name": "exception",
                    "attributes": [
                        {"key": "exception.type", "value": {"stringValue": "NPE"}},
                        {"key": "exception.message", "value": {"stringValue": "null"}},
                        {"key": "other", "value": {"stringValue": "x"}},
                    ],
                },
                {
                    "name": "exception",
                    "attributes": [{"key": "exception.message", "value": {"stringValue": "2nd"}}],
                },
            ],
        ),
        _span(spanId="d35b28af18223143", parentSpanId="", kind=0, status={"code": 1}),
        _span(spanId="e35b28af18223143", kind=None, status=None, attributes=None),
    ]
    spans[4] = {k: v for k, v in spans[4].items() if v is not None}
    path = _write(tmp_path, [_doc(spans), {}, _doc([_span(spanId="f35b28af18223143")])])
    fast = fast_spans(path.read_bytes())
    assert fast is not None and fast.height == 6
    assert_frame_equal(fast, careful(path, monkeypatch))


@pytest.mark.parametrize(
    "odd",
    [
        {"traceId": "A77E69FFFF9EDA3F6906B1A5CB0B7977"},  # upper case
        {"spanId": "o1sor1IlJ0M="},  # base64
        {"kind": "SPAN_KIND_SERVER"},
        {"status": {"code": "STATUS_CODE_ERROR"}},
        {"name": "caf\\ud800"},
        {"endTimeUnixNano": str(NS - 1)},  # ends before it starts
        {"startTimeUnixNano": str(NS // 1000)},  # microseconds: a wrong unit
        {"kind": 2**70},
        {"attributes": [{"key": "n", "value": None}]},
        {"attributes": [{"key": 5, "value": {"stringValue": "x"}}]},
    ],
)
def test_anything_unusual_goes_the_careful_way(tmp_path: Path, odd: dict) -> None:
    doc = _doc([_span(**odd)])
    text = json.dumps(doc).replace("\\\\ud800", "\\ud800")
    p = tmp_path / "odd.jsonl"
    p.write_text(text + "\n")
    assert fast_spans(p.read_bytes()) is None


@pytest.mark.parametrize(
    "usual",
    [
        {"startTimeUnixNano": NS, "endTimeUnixNano": NS + 5},  # numbers, not strings
        {"attributes": [{"key": "n", "value": {"intValue": 7}}]},
        {"attributes": [{"key": "n", "value": {"intValue": "007"}}]},
        {"attributes": [{"key": "n", "value": {"intValue": "-3"}}]},
        {"attributes": [{"key": "l", "value": {"arrayValue": {"values": []}}}]},
        {"attributes": [{"key": "l", "value": {"kvlistValue": {"values": []}}}]},
        {"attributes": [{"key": "s", "value": {"stringValue": None, "intValue": "1"}}]},
        {"somethingNew": 1, "flags": 257, "links": [{"spanId": "0102030405060708"}]},
    ],
)
def test_values_the_careful_path_would_convert_are_read_the_same(  # type: ignore[no-untyped-def]
    tmp_path: Path, usual: dict, monkeypatch
) -> None:
    p = _write(tmp_path, [_doc([_span(**usual)])])
    fast = fast_spans(p.read_bytes())
    assert fast is not None and fast.height == 1
    assert_frame_equal(fast, careful(p, monkeypatch))


def test_other_shapes_decline(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    span = _span()
    for body in (
        {"batches": _doc([span])["resourceSpans"]},  # Tempo
        {"result": _doc([span])},  # Jaeger api-v3
        {"resourceLogs": []},
    ):
        assert fast_spans((json.dumps(body) + "\n").encode()) is None
    # one pretty-printed document: read whole, or declined; never different
    p = tmp_path / "pretty.json"
    p.write_text(json.dumps(_doc([span]), indent=2))
    fast = fast_spans(p.read_bytes())
    if fast is not None:
        assert_frame_equal(fast, careful(p, monkeypatch))
    assert fast_spans(b"") is None and fast_spans(b"\xef\xbb\xbf{}") is None
