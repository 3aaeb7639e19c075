"""Bad input to the file parsers: typed BadData naming file/line/field, or a partial
Result with reasons; never another exception and never a quietly short frame."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from workbench.errors import BadData
from workbench.sources.files import DirectorySource, FileSource, jaeger, otlp, zipkin
from workbench.sources.files._common import cycle_span_count
from workbench.sources.files.logs import LogMapping, read_csv, read_jsonl
from workbench.timewindow import Window

from .plugins.files_lab import shared_data

SAMPLES = shared_data() / "trace-samples"
W = Window.parse("2026-11-20T10:00:00Z..2026-11-20T12:00:00Z")
NS = 1795168800 * 10**9  # 2026-11-20T10:00:00Z


def span(sid: str, parent: str = "", start: int = NS, end: int = NS + 10**6, **kw: object) -> dict:
    return {
        "traceId": "ab" * 16,
        "spanId": sid,
        "parentSpanId": parent,
        "name": "op",
        "kind": 2,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        **kw,
    }


def doc(*spans: dict, service: str = "svc") -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                "scopeSpans": [{"spans": list(spans)}],
            }
        ]
    }


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    return p


# --- truncated / not JSON ---------------------------------------------------------------


def test_truncated_otlp_document(tmp_path: Path) -> None:
    text = (SAMPLES / "otlp-json" / "trace.json").read_text()
    p = write(tmp_path, "t.otlp.json", text[: len(text) * 2 // 3])
    with pytest.raises(BadData) as ei:
        otlp.read_file(p)
    err = ei.value
    assert err.path == str(p) and err.line is not None and err.line > 1
    assert "truncated" in str(err)


def test_truncated_otlp_json_lines_names_last_line(tmp_path: Path) -> None:
    lines = [json.dumps(doc(span(f"{i:016x}"))) for i in range(1, 5)]
    p = write(tmp_path, "t.otlp.jsonl", "\n".join(lines)[:-20])
    with pytest.raises(BadData) as ei:
        otlp.read_file(p)
    assert ei.value.line == 4 and ei.value.path == str(p)
    res = otlp.read_file(p, on_error="skip")
    assert res.frame.height == 3
    assert res.problems.reasons() and "first lines 4" in res.problems.reasons()[0]


def test_log_line_not_json_raise_and_skip(tmp_path: Path) -> None:
    good = '{"timestamp": "2026-11-20T10:00:00Z", "message": "ok", "level": "info"}'
    p = write(tmp_path, "a.jsonl", "\n".join([good, good, "oops {", good, "[1, 2]", good]) + "\n")
    with pytest.raises(BadData) as ei:
        read_jsonl(p)
    assert (ei.value.path, ei.value.line) == (str(p), 3)
    res = read_jsonl(p, on_error="skip")
    assert res.frame.height == 4
    reasons = res.problems.reasons()
    assert "skipped 2 bad record(s)" in reasons[0] and "first lines 3, 5" in reasons[0]


def test_invalid_utf8(tmp_path: Path) -> None:
    p = write(
        tmp_path, "b.jsonl", b'{"timestamp": "2026-11-20T10:00:00Z"}\n{"message": "\xff\xfe"}\n'
    )
    with pytest.raises(BadData) as ei:
        read_jsonl(p)
    assert ei.value.line == 2 and "UTF-8" in str(ei.value)


def test_empty_and_wrong_shape_files(tmp_path: Path) -> None:
    with pytest.raises(BadData, match="empty"):
        otlp.read_file(write(tmp_path, "e.otlp.json", "  \n"))
    with pytest.raises(BadData, match="neither resourceSpans"):
        otlp.read_file(write(tmp_path, "w.otlp.json", '{"foo": 1}'))
    with pytest.raises(BadData, match="list of spans or traces"):
        zipkin.parse({"foo": 1})
    with pytest.raises(BadData, match="not Jaeger JSON"):
        jaeger.parse(42)


# --- wrong types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        ({"startTimeUnixNano": [1, 2]}, "startTimeUnixNano"),
        ({"startTimeUnixNano": True}, "startTimeUnixNano"),
        ({"spanId": 3.5}, "spanId"),
        ({"traceId": "zz-not-an-id!"}, "traceId"),
        ({"kind": "sideways"}, "kind"),
        ({"status": {"code": 7}}, "status.code"),
        ({"name": {"a": 1}}, "name"),
        ({"attributes": "x=1"}, "attributes"),
    ],
)
def test_otlp_wrong_types_name_the_field(mutate: dict, field: str) -> None:
    body = doc(span("00000000000000a1", **{}))
    body["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(mutate)
    with pytest.raises(BadData) as ei:
        otlp.parse_traces(body, path="x.json")
    assert ei.value.field is not None and ei.value.field.endswith(field), ei.value.field
    assert "resourceSpans[0].scopeSpans[0].spans[0]" in ei.value.field
    # skip mode: the bad span is dropped and counted
    from workbench.sources.files._common import Problems

    pr = Problems(path="x.json", on_error="skip")
    assert otlp.parse_traces(body, problems=pr).height == 0
    assert len(pr.skipped) == 1


def test_zipkin_and_jaeger_wrong_types() -> None:
    with pytest.raises(BadData) as ei:
        zipkin.parse([{"traceId": "a" * 16, "id": "b" * 16, "timestamp": "soon"}])
    assert ei.value.field == "[0].timestamp"
    with pytest.raises(BadData) as ei:
        jaeger.parse({"data": [{"spans": [{"traceID": "a" * 16, "spanID": "b" * 16,
                                           "startTime": 1.6e15, "duration": "x"}]}]})  # fmt: skip
    assert ei.value.field == "data[0].spans[0].duration"


def test_log_wrong_types(tmp_path: Path) -> None:
    p = write(tmp_path, "t.jsonl", '{"timestamp": true, "message": "x"}\n')
    with pytest.raises(BadData) as ei:
        read_jsonl(p)
    assert (ei.value.line, ei.value.field) == (1, "timestamp")
    p = write(tmp_path, "n.jsonl", '{"message": "no time here"}\n')
    with pytest.raises(BadData, match="no time field"):
        read_jsonl(p)


# --- NaN / Inf ------------------------------------------------------------------------


def test_nan_inf_in_numeric_fields() -> None:
    with pytest.raises(BadData, match=r"not a number|not a finite"):
        otlp.parse_traces(doc(span("00000000000000a1", start="NaN")))  # type: ignore[arg-type]
    z = json.loads('[{"traceId": "aaaaaaaaaaaaaaaa", "id": "bbbbbbbbbbbbbbbb", '
                   '"timestamp": 1600000000000000, "duration": Infinity}]')  # fmt: skip
    with pytest.raises(BadData) as ei:
        zipkin.parse(z)
    assert ei.value.field == "[0].duration"


def test_nan_in_logs(tmp_path: Path) -> None:
    p = write(tmp_path, "n.jsonl", '{"ts": NaN, "message": "x"}\n')
    with pytest.raises(BadData) as ei:
        read_jsonl(p)
    assert ei.value.line == 1 and ei.value.field == "ts"
    # NaN as an attribute value is data, not an error
    p = write(tmp_path, "a.jsonl", '{"ts": 1795168800, "message": "x", "load": NaN}\n')
    df = read_jsonl(p).frame
    assert df["attributes"][0].to_list() == [{"key": "load", "value": "NaN"}]


# --- timestamps in the wrong unit ------------------------------------------------------


def test_otlp_microseconds_in_nano_field() -> None:
    with pytest.raises(BadData, match="wrong unit") as ei:
        otlp.parse_traces(doc(span("00000000000000a1", start=NS // 1000, end=NS // 1000 + 5)))
    assert ei.value.field.endswith("startTimeUnixNano")


def test_zipkin_nanoseconds_in_micro_field() -> None:
    with pytest.raises(BadData, match="wrong unit"):
        zipkin.parse([{"traceId": "a" * 16, "id": "b" * 16, "timestamp": NS, "duration": 5}])


def test_log_epoch_units(tmp_path: Path) -> None:
    t = 1795168800  # 2026-11-20T10:00:00Z
    lines = [{"ts": t, "m": 1}, {"ts": t * 1000}, {"ts": t * 10**6}, {"ts": t * 10**9},
             {"ts": t + 0.5}, {"ts": str(t * 1000)}]  # fmt: skip
    p = write(tmp_path, "u.jsonl", "\n".join(json.dumps(x) for x in lines))
    df = read_jsonl(p).frame
    got = [x.isoformat() for x in df["ts"]]
    base = "2026-11-20T10:00:00+00:00"
    assert got == [base] * 4 + ["2026-11-20T10:00:00.500000+00:00", base]
    # a seconds value that is far too small: 1970 -> wrong unit, naming line and field
    p = write(tmp_path, "bad.jsonl", json.dumps({"ts": t}) + "\n" + json.dumps({"ts": 5000}))
    with pytest.raises(BadData, match="wrong unit") as ei:
        read_jsonl(p)
    assert (ei.value.line, ei.value.field) == (2, "ts")
    # a forced unit that does not fit the numbers
    p = write(tmp_path, "ms.jsonl", json.dumps({"ts": t * 1000}))
    with pytest.raises(BadData, match="wrong unit"):
        read_jsonl(p, mapping=LogMapping(ts_format="s"))
    assert read_jsonl(p, mapping=LogMapping(ts_format="ms")).frame.height == 1


def test_end_before_start() -> None:
    with pytest.raises(BadData, match="before it starts"):
        otlp.parse_traces(doc(span("00000000000000a1", start=NS + 10, end=NS)))


# --- duplicates, missing parents, cycles ----------------------------------------------


def test_duplicate_ids_kept_and_reported(tmp_path: Path) -> None:
    d = doc(
        span("00000000000000a1"),
        span("00000000000000a1"),
        span("00000000000000a2", "00000000000000a1"),
    )
    write(tmp_path, "t.otlp.json", json.dumps(d))
    res = DirectorySource(tmp_path).spans(None, W)
    assert res.rows == 3 and not res.partial
    assert any("appear more than once" in w for w in res.warnings)


def test_missing_parent_is_kept(tmp_path: Path) -> None:
    d = doc(span("00000000000000a2", "00000000000000ff"), span("00000000000000a3", "0" * 16))
    df = otlp.parse_traces(d)
    assert df["parent_span_id"].to_list() == ["00000000000000ff", None]


def test_cycles_kept_reported_and_terminate(tmp_path: Path) -> None:
    d = doc(
        span("00000000000000a1", "00000000000000a2"),
        span("00000000000000a2", "00000000000000a1"),
        span("00000000000000a3", "00000000000000a3"),  # its own parent
        span("00000000000000a4", "00000000000000a1"),  # hangs off the cycle
    )
    write(tmp_path, "t.otlp.json", json.dumps(d))
    res = DirectorySource(tmp_path).spans(None, W)
    assert res.rows == 4
    assert any("3 span(s) sit on a parent cycle" in w for w in res.warnings)


def test_cycle_count_on_a_long_chain_is_linear() -> None:
    n = 200_000
    ids = [f"{i:016x}" for i in range(1, n + 1)]
    df = pl.DataFrame(
        {"trace_id": ["t"] * n, "span_id": ids, "parent_span_id": [ids[-1], *ids[:-1]]}
    )
    assert cycle_span_count(df) == n  # one big ring; no recursion, no hang


# --- CSV and directory errors ---------------------------------------------------------


def test_csv_bad_time_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, "l.csv", "time,msg,lvl\n2026-11-20T10:00:00Z,a,INFO\nyesterday,b,WARN\n")
    m = LogMapping(ts="time", message="msg", level="lvl")
    with pytest.raises(BadData) as ei:
        read_csv(p, mapping=m)
    assert (ei.value.line, ei.value.field) == (3, "time")
    res = read_csv(p, mapping=m, on_error="skip")
    assert res.frame.height == 1 and res.problems.reasons()


def test_zoneless_times_need_a_zone(tmp_path: Path) -> None:
    p = write(tmp_path, "l.csv", "time,msg\n2026-11-20 10:00:00,a\n")
    with pytest.raises(BadData, match="no time zone"):
        read_csv(p, mapping=LogMapping(ts="time", message="msg"))
    m = LogMapping(ts="time", message="msg", tz="UTC", ts_format="%Y-%m-%d %H:%M:%S")
    assert read_csv(p, mapping=m).frame["ts"][0].isoformat() == "2026-11-20T10:00:00+00:00"


def test_bad_parquet_and_file_source(tmp_path: Path) -> None:
    write(tmp_path, "metrics.parquet", b"PAR1 not really")
    src = DirectorySource(tmp_path)
    with pytest.raises(BadData) as ei:
        src.metrics(None, W)
    assert ei.value.path and ei.value.path.endswith("metrics.parquet")
    res = DirectorySource(tmp_path, on_error="skip").metrics(None, W)
    assert res.partial and res.rows == 0 and "metrics.parquet" in res.reasons[0]


def test_unknown_file_needs_format(tmp_path: Path) -> None:
    p = write(tmp_path, "x.json", '{"hello": "world"}')
    with pytest.raises(BadData, match="pass format="):
        FileSource(p)


def test_zoneless_times_skip_mode_skips(tmp_path: Path) -> None:
    p = write(tmp_path, "z.jsonl", '{"ts": "2026-11-20T10:00:00", "message": "a"}\n'
                                   '{"ts": "2026-11-20T10:00:00Z", "message": "b"}\n')  # fmt: skip
    with pytest.raises(BadData, match="no time zone") as ei:
        read_jsonl(p)
    assert ei.value.line == 1
    res = read_jsonl(p, on_error="skip")
    assert res.frame["message"].to_list() == ["b"] and "no time zone" in res.problems.reasons()[0]
    m = LogMapping(tz="Europe/Paris")
    assert read_jsonl(p, mapping=m).frame["ts"][0].isoformat() == "2026-11-20T09:00:00+00:00"
