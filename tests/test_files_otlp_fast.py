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
from workbench.sources.files.otlp_fast import fast_spans, fast_spans_file

NS = 1_795_168_804_155_657_712


def careful(path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import workbench.sources.files.otlp_fast as fast

    with monkeypatch.context() as m:
        m.setattr(fast, "fast_spans_file", lambda path, **kw: None)
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
    assert_frame_equal(fast_spans_file(path), fast)  # read line by line: the same
    assert_frame_equal(otlp.read_file(path).frame, fast)  # what read_file takes


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
        {"kind": -1},  # integers outside the enum: the checks decline, nothing raises
        {"kind": 6},
        {"status": {"code": 3}},
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
    assert fast is not None  # one document over many lines: read whole
    assert_frame_equal(fast, careful(p, monkeypatch))
    assert_frame_equal(fast_spans_file(p), fast)
    # CRLF line ends, blank lines between requests
    p = tmp_path / "crlf.jsonl"
    other = _span(spanId="b35b28af18223143")
    p.write_bytes(b"\r\n".join([json.dumps(_doc([span])).encode(), b"", b"  ",
                                  json.dumps(_doc([other])).encode(), b""]))  # fmt: skip
    fast = fast_spans_file(p)
    assert fast is not None and fast.height == 2
    assert_frame_equal(fast, careful(p, monkeypatch))
    assert fast_spans(b"") is None and fast_spans(b"\xef\xbb\xbf{}") is None


def _kv(key: str, value: dict | None) -> dict:  # type: ignore[type-arg]
    return {"key": key, "value": value} if value is not None else {"key": key}


def test_every_attribute_value_kind_equals_the_careful_path(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch
) -> None:
    """Every OTLP AnyValue kind, in span, resource and exception-event attributes, and the
    ways a value can be missing: the fast path writes each as the careful path does."""
    nested = {
        "values": [
            {"stringValue": "a"},
            {"intValue": "2"},
            {"doubleValue": 2.5},
            {"boolValue": True},
            {"arrayValue": {"values": [{"intValue": 3}]}},
            {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}},
        ]
    }
    kinds = [
        _kv("s", {"stringValue": "x"}),
        _kv("s_empty", {"stringValue": ""}),
        _kv("i", {"intValue": "42"}),
        _kv("i_num", {"intValue": 42}),
        _kv("i_neg", {"intValue": "-7"}),
        _kv("i_zero", {"intValue": "0"}),
        _kv("i_pad", {"intValue": "007"}),
        _kv("i_big", {"intValue": "123456789012345678901234567890"}),
        _kv("i_text", {"intValue": "12abc"}),
        _kv("d", {"doubleValue": 0.1}),
        _kv("d_int", {"doubleValue": 3}),
        _kv("d_big", {"doubleValue": 1e300}),
        _kv("d_neg0", {"doubleValue": -0.0}),
        _kv("b_t", {"boolValue": True}),
        _kv("b_f", {"boolValue": False}),
        _kv("bytes", {"bytesValue": "AQID"}),
        _kv("arr", {"arrayValue": nested}),
        _kv("arr_empty", {"arrayValue": {}}),
        _kv("arr_null", {"arrayValue": None}),
        _kv("kvl", {"kvlistValue": nested | {"values": [{"key": "x", "value": {"intValue": 1}}]}}),
        _kv("two", {"stringValue": "first", "intValue": "1"}),  # stringValue wins
        _kv("null_first", {"stringValue": None, "intValue": "1"}),  # left out
        _kv("empty", {}),  # left out
        _kv("missing", None),  # left out
        _kv("dup", {"stringValue": "1"}),
        _kv("dup", {"intValue": "2"}),  # the last one wins
        _kv("dup2", {"stringValue": "kept"}),
        _kv("dup2", {}),  # an empty value does not replace
    ]
    resource = [
        {"key": "service.name", "value": {"stringValue": "api"}},
        {"key": "k8s.pod.uid", "value": {"intValue": "77"}},
        {"key": "host.cpu", "value": {"doubleValue": 1.5}},
        {"key": "cloud.on", "value": {"boolValue": True}},
        {"key": "i", "value": {"stringValue": "resource"}},  # not a kept prefix
        {"key": "service.version", "value": {"stringValue": "1"}},
    ]
    spans = [
        _span(attributes=kinds),
        _span(
            spanId="b35b28af18223143",
            attributes=[_kv("service.version", {"intValue": "2"})],  # beats the resource's
            status={"code": 2, "message": "boom"},
            events=[
                {
                    "name": "exception",
                    "attributes": [
                        _kv("exception.type", {"intValue": "500"}),
                        _kv("exception.message", {"arrayValue": nested}),
                    ],
                }
            ],
        ),
    ]
    path = _write(tmp_path, [_doc(spans, resource), _doc([_span(spanId="c35b28af18223143")])])
    fast = fast_spans(path.read_bytes())
    assert fast is not None and fast.height == 3
    assert_frame_equal(fast, careful(path, monkeypatch))
    attrs = {kv["key"]: kv["value"] for kv in fast["attributes"][0]}
    assert attrs["i"] == "42" and attrs["i_num"] == "42" and attrs["i_pad"] == "7"
    assert attrs["i_text"] == "12abc" and attrs["d"] == "0.1" and attrs["d_int"] == "3"
    assert attrs["b_t"] == "true" and attrs["two"] == "first" and attrs["dup"] == "2"
    assert attrs["dup2"] == "kept" and attrs["arr"].startswith('["a",2,2.5,true,[3]')
    assert "null_first" not in attrs and "empty" not in attrs and "missing" not in attrs
    assert attrs["k8s.pod.uid"] == "77" and attrs["host.cpu"] == "1.5"
    second = {kv["key"]: kv["value"] for kv in fast["attributes"][1]}
    assert second["service.version"] == "2" and second["exception.type"] == "500"
    assert second["otel.status_description"] == "boom"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        # the last line cut short (a killed exporter)
        (lambda good: good + b"\n" + good[:-40] + b"\n", "line 2"),
        # bytes that are not UTF-8, in a field the frame does not keep
        (
            lambda good: (
                good.replace(b'"name": "GET /x"', b'"name": "GET /x", "note": "\xff"') + b"\n"
            ),
            "UTF-8",
        ),
        # a lone surrogate escape in a field the frame does not keep
        (
            lambda good: (
                good.replace(b'"name": "GET /x"', b'"name": "GET /x", "note": "\\ud800"') + b"\n"
            ),
            "surrogate",
        ),
        # a wrong type: attributes as an object
        (
            lambda good: (
                good.replace(
                    b'"attributes": [{"key": "http.route"',
                    b'"attributes": {"a": [{"key": "http.route"',
                    1,
                ).replace(b'"/x"}}]', b'"/x"}}]}', 1)
                + b"\n"
            ),
            "attributes",
        ),
        # a carriage return inside a line: the careful path reads two broken lines
        (
            lambda good: (
                good + b"\n" + good.replace(b'"name": "GET /x"', b'"name":\r"GET /x"') + b"\n"
            ),
            "line",
        ),
    ],
)
def test_malformed_bodies_decline_and_the_careful_path_names_the_file(  # type: ignore[no-untyped-def]
    tmp_path: Path, body, says: str
) -> None:
    from workbench.errors import BadData

    good = json.dumps(_doc([_span()])).encode()
    p = tmp_path / "bad.otlp.jsonl"
    p.write_bytes(body(good))
    assert fast_spans(p.read_bytes()) is None
    with pytest.raises(BadData) as ei:
        otlp.read_file(p)
    err = ei.value
    assert err.path == str(p) and says in (str(err) + str(err.field))
    assert err.hint or err.field  # what to do, or which field to fix


def test_too_many_attribute_layouts_go_the_careful_way(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch
) -> None:
    import workbench.sources.files.otlp_fast as fast

    spans = [
        _span(spanId=f"{i + 1:016x}", attributes=[_kv(f"user.{i}", {"stringValue": "x"})])
        for i in range(3)
    ]
    path = _write(tmp_path, [_doc(spans)])
    assert fast_spans(path.read_bytes()) is not None
    monkeypatch.setattr(fast, "_MAX_LAYOUTS", 2)
    assert fast_spans(path.read_bytes()) is None
    assert_frame_equal(otlp.read_file(path).frame, careful(path, monkeypatch))


def _repeating_file(tmp_path: Path) -> Path:
    """Requests that repeat attribute arrays (the cache's common case) across spans,
    scopes and resources, mixed with spans that carry a status message or an exception
    event under the same arrays, spans without attributes, and blank and CRLF lines."""
    arrays = [
        [_kv("http.route", {"stringValue": f"/r{i % 3}"}), _kv("n", {"intValue": str(i % 2)})]
        for i in range(6)
    ]
    pods = [
        [
            {"key": "service.name", "value": {"stringValue": f"svc{r}"}},
            {"key": "k8s.pod.name", "value": {"stringValue": f"pod{r}"}},
        ]
        for r in range(2)
    ]
    lines = []
    k = 0
    for req in range(12):
        spans = []
        for j in range(9):
            k += 1
            over: dict = {"spanId": f"{k:016x}", "attributes": arrays[(req + j) % 6]}
            if j == 4:
                over["status"] = {"code": 2, "message": f"boom {req % 2}"}
            if j == 5:
                over["events"] = [
                    {
                        "name": "exception",
                        "attributes": [_kv("exception.type", {"stringValue": "E"})],
                    }
                ]
            if j == 6:
                over["events"] = [{"name": "log"}]  # no exception: an ordinary span
            span = _span(**over)
            if j == 7:
                del span["attributes"]
            spans.append(span)
        doc = _doc(spans, pods[req % 2])
        doc["resourceSpans"][0]["scopeSpans"].append(
            {"scope": {"name": f"lib{req % 3}"}, "spans": [_span(spanId=f"{10_000 + req:016x}")]}
        )
        lines.append(json.dumps(doc).encode())
    p = tmp_path / "repeat.otlp.jsonl"
    p.write_bytes(b"\n".join(lines[:5]) + b"\n\n" + b"\r\n".join(lines[5:]) + b"\r\n")
    return p


def test_repeated_attribute_arrays_equal_the_careful_path(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch
) -> None:
    """Each distinct (resource + scope, attribute bytes) is decoded once and gathered: the
    same frame as the careful path, whatever the chunk size, however often the kept
    combinations are let go, and wherever the file's blocks end."""
    import workbench.sources.files.otlp_fast as fast

    p = _repeating_file(tmp_path)
    slow = careful(p, monkeypatch)
    assert slow.height == 12 * 10
    whole = fast_spans(p.read_bytes())
    assert whole is not None
    assert_frame_equal(whole, slow)
    by_file = fast_spans_file(p)
    assert by_file is not None
    assert_frame_equal(by_file, slow)
    attrs = [{kv["key"]: kv["value"] for kv in row} for row in slow["attributes"]]
    assert attrs[4]["otel.status_description"] == "boom 0" and attrs[5]["exception.type"] == "E"
    assert "http.route" not in attrs[7] and attrs[7]["k8s.pod.name"] == "pod0"
    for chunk, held, block in ((7, 10**9, 1 << 23), (5, 300, 1 << 23), (1000, 0, 97)):
        monkeypatch.setattr(fast, "_CHUNK_SPANS", chunk)
        monkeypatch.setattr(fast, "_MAX_HELD", held)
        monkeypatch.setattr(fast, "_BLOCK", block)  # lines longer than a block: it grows
        assert_frame_equal(fast_spans_file(p), slow)
        assert_frame_equal(fast_spans(p.read_bytes()), slow)


def test_blocks_end_anywhere_in_the_demo(lab_demo_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The file read in blocks of any size (here ~1.5 lines) gives the same frame as its
    bytes decoded at once."""
    import workbench.sources.files.otlp_fast as fast

    path = lab_demo_dir / "traces" / "traces.otlp.jsonl"
    want = fast_spans(path.read_bytes())
    assert want is not None
    monkeypatch.setattr(fast, "_BLOCK", 100_003)
    assert_frame_equal(fast_spans_file(path), want)


@pytest.mark.parametrize("missing", ["startTimeUnixNano", "endTimeUnixNano", "traceId"])
def test_a_span_without_a_time_or_id_declines(tmp_path: Path, missing: str) -> None:
    from workbench.errors import BadData

    span = _span(spanId="b35b28af18223143")
    del span[missing]
    p = _write(tmp_path, [_doc([_span(), span])])
    assert fast_spans(p.read_bytes()) is None
    with pytest.raises(BadData) as ei:
        otlp.read_file(p)
    assert ei.value.path == str(p) and missing in str(ei.value.field)


@pytest.mark.parametrize(
    ("odd", "field"), [({"kind": -1}, "kind"), ({"status": {"code": 7}}, "status.code")]
)
def test_a_kind_or_status_outside_its_enum_is_named_by_the_careful_path(
    tmp_path: Path, odd: dict, field: str
) -> None:
    from workbench.errors import BadData

    p = _write(tmp_path, [_doc([_span(), _span(spanId="b35b28af18223143", **odd)])])
    with pytest.raises(BadData) as ei:
        otlp.read_file(p)
    assert ei.value.path == str(p) and str(ei.value.field).endswith(field)


def test_absent_null_and_empty_attributes_under_one_block(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch
) -> None:
    """A line whose spans all carry attributes (read by the C-level pass) and lines where
    one span has none, ``null`` or ``[]`` (the fallback pass): absent and ``null`` share a
    combination, ``[]`` is one of its own; all equal to the careful path."""
    bare = _span(spanId="b35b28af18223143")
    del bare["attributes"]
    lines = [
        _doc([_span(), _span(spanId="c35b28af18223143")]),
        _doc([_span(spanId="d35b28af18223143"), bare]),
        _doc([_span(spanId="e35b28af18223143", attributes=None), bare]),
        _doc([_span(spanId="f35b28af18223143", attributes=[]), _span()]),
    ]
    p = _write(tmp_path, lines)
    slow = careful(p, monkeypatch)
    fast = fast_spans_file(p)
    assert fast is not None
    assert_frame_equal(fast, slow)
    routes = [
        {kv["key"]: kv["value"] for kv in row}.get("http.route") for row in fast["attributes"]
    ]
    assert routes == ["/x", "/x", "/x", None, None, None, None, "/x"]
    assert {kv["key"]: kv["value"] for kv in fast["attributes"][3]}["k8s.pod.name"] == "api-1"


def test_fast_path_with_keys_keeps_only_those_and_equals_the_cut_of_all(
    lab_demo_dir: Path,
) -> None:
    """A lean load (issue 18): the fast path builds only the kept keys' attributes, and
    the result is the full frame with its attributes cut to those keys."""
    from workbench.analysis._util import PEER_KEYS
    from workbench.sources.files.detail import lean

    path = lab_demo_dir / "traces" / "traces.otlp.jsonl"
    full = fast_spans_file(path)
    cut = fast_spans_file(path, keys=PEER_KEYS)
    assert full is not None and cut is not None
    assert_frame_equal(cut, lean(full, "spans"))
    keys = set(cut["attributes"].explode().struct.field("key").drop_nulls().to_list())
    assert keys and keys <= set(PEER_KEYS)
