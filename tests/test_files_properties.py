"""Hostile-input properties of the file parsers (hypothesis): a truncated or mutated
document gives BadData or a valid frame, never another exception and never a hang."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plugins.hostile import HostileCounter, examples
from workbench import frames
from workbench.errors import BadData
from workbench.sources.files import FileSource
from workbench.sources.files.logs import read_jsonl

from .plugins.files_lab import shared_data

SAMPLES = shared_data() / "trace-samples"
DOCS = {
    "otlp": SAMPLES / "jaeger" / "otlp" / "memory_otel_traces_01.json",
    "otlp-base64": SAMPLES / "tempo" / "vulture_trace_resourceSpans_base64ids.json",
    "tempo-batches": SAMPLES / "tempo" / "tempopb_trace_batches.json",
    "zipkin": SAMPLES / "zipkin-v2" / "yelp.json",
    "jaeger-ui": SAMPLES / "jaeger" / "ui-model" / "ui_01.json",
    "jaeger-domain": SAMPLES / "jaeger" / "domain-model" / "domain_01.json",
}
FORMAT = {"otlp": "otlp", "otlp-base64": "otlp", "tempo-batches": "otlp", "zipkin": "zipkin",
          "jaeger-ui": "jaeger", "jaeger-domain": "jaeger"}  # fmt: skip
TEXT = {k: p.read_text() for k, p in DOCS.items()}
SETTINGS = settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _load(tmp_path: Path, kind: str, text: str, on_error: str = "raise") -> None:
    p = tmp_path / f"doc.{kind}.json"
    p.write_text(text)
    src = FileSource(p, format=FORMAT[kind], on_error=on_error)  # type: ignore[arg-type]
    frames.validate(src.frame(), "spans")


@SETTINGS
@given(kind=st.sampled_from(sorted(DOCS)), data=st.data())
def test_truncated_document_is_bad_data(
    hostile: HostileCounter, tmp_path: Path, kind: str, data: st.DataObject
) -> None:
    hostile.count(f"{FORMAT[kind]}-json")
    text = TEXT[kind].rstrip()
    cut = data.draw(st.integers(0, len(text) - 1), label="cut")
    with pytest.raises(BadData) as ei:
        _load(tmp_path, kind, text[:cut])
    assert ei.value.path is not None


@SETTINGS
@given(
    kind=st.sampled_from(sorted(DOCS)),
    data=st.data(),
    junk=st.text(alphabet='{}[]",:0123456789abcdefxyzAZ=-.eE \n\\', min_size=1, max_size=4),
)
def test_mutated_document_is_bad_data_or_a_valid_frame(
    hostile: HostileCounter, tmp_path: Path, kind: str, data: st.DataObject, junk: str
) -> None:
    hostile.count(f"{FORMAT[kind]}-json")
    text = TEXT[kind]
    pos = data.draw(st.integers(0, len(text) - 1), label="pos")
    span = data.draw(st.integers(0, 4), label="span")
    mutated = text[:pos] + junk + text[pos + span :]
    with contextlib.suppress(BadData):
        _load(tmp_path, kind, mutated)


_any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@SETTINGS
@given(
    kind=st.sampled_from(sorted(DOCS)),
    path=st.lists(st.integers(0, 50), min_size=1, max_size=6),
    value=_any_json,
)
def test_wrong_typed_value_anywhere(
    hostile: HostileCounter, tmp_path: Path, kind: str, path: list[int], value: object
) -> None:
    """Replace a value somewhere inside the parsed document with any JSON value."""
    hostile.count(f"{FORMAT[kind]}-json")
    doc = json.loads(TEXT[kind])
    node = doc
    for step in path[:-1]:
        children = (
            list(node.values())
            if isinstance(node, dict)
            else node
            if isinstance(node, list)
            else []
        )
        if not children:
            break
        node = children[step % len(children)]
    if isinstance(node, dict) and node:
        key = sorted(node)[path[-1] % len(node)]
        node[key] = value
    elif isinstance(node, list) and node:
        node[path[-1] % len(node)] = value
    for mode in ("raise", "skip"):
        with contextlib.suppress(BadData):
            _load(tmp_path, kind, json.dumps(doc), mode)


@SETTINGS
@given(data=st.data())
def test_truncated_json_lines_logs(
    hostile: HostileCounter, tmp_path: Path, data: st.DataObject
) -> None:
    hostile.count("jsonl-logs")
    lines = [
        json.dumps(
            {
                "timestamp": f"2026-11-20T10:00:{i:02d}Z",
                "level": "info",
                "message": f"m{i}",
                "service": "s",
                "k": i,
            }
        )
        for i in range(20)
    ]
    text = "\n".join(lines)
    cut = data.draw(st.integers(1, len(text) - 1), label="cut")
    p = tmp_path / "l.jsonl"
    p.write_text(text[:cut])
    complete = text[:cut].count("\n") + (1 if text[:cut].endswith("}") else 0)
    try:
        df = read_jsonl(p).frame
    except BadData as err:
        assert err.line == text[:cut].count("\n") + 1  # the cut line is named
        res = read_jsonl(p, on_error="skip")
        assert res.frame.height == complete and res.problems.reasons()
    else:
        assert df.height == complete  # cut exactly at a record boundary


_odd = st.sampled_from(
    [None, True, 0, -1, 2**70, 1.5, float("nan"), float("inf"), "", "x", "NaN", "0" * 40, [],
     {}, [1], {"a": 1}, "1e400", 10**30, "2026-11-20T10:00:00Z", 1795168800, "1795168800123",
     "2026-11-20 10:00:00", "ab" * 16, "AB" * 8, -1e300]
)  # fmt: skip


@SETTINGS
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, 9),
            st.sampled_from(
                [
                    "timestamp",
                    "level",
                    "message",
                    "service",
                    "trace_id",
                    "span_id",
                    "time",
                    "msg",
                    "x",
                ]
            ),
            _odd,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_hostile_log_values_skip_mode_accounts_for_every_line(
    hostile: HostileCounter, tmp_path: Path, edits: list[tuple[int, str, object]]
) -> None:
    hostile.count("jsonl-logs")
    recs = [
        {
            "timestamp": f"2026-11-20T10:00:{i:02d}Z",
            "level": "info",
            "message": f"m{i}",
            "service": "s",
            "trace_id": f"{i:032x}",
            "span_id": f"{i + 1:016x}",
        }
        for i in range(10)
    ]
    for i, key, val in edits:
        recs[i][key] = val
    p = tmp_path / "h.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in recs))
    try:
        frames.validate(read_jsonl(p).frame, "logs")
    except BadData as err:
        assert err.line is not None and err.path == str(p)
    res = read_jsonl(p, on_error="skip")
    frames.validate(res.frame, "logs")
    assert res.frame.height + len(res.problems.skipped) == len(recs)


_cell = st.sampled_from(
    ["2026-11-20T10:00:00Z", "1795168800", "1795168800123", "x", "", "NaN", "inf", "-1",
     "2026-11-20 10:00:00", '"a,b"', '"', "ab" * 16, "ERROR", "30", "1e400", "é", "0" * 32,
     "2026-13-45T99:00:00Z"]
)  # fmt: skip


@SETTINGS
@given(
    cols=st.lists(
        st.sampled_from(["time", "level", "message", "service", "trace_id", "x"]),
        min_size=1,
        max_size=5,
        unique=True,
    ),
    cells=st.lists(st.lists(_cell, min_size=5, max_size=5), max_size=8),
    ragged=st.booleans(),
)
def test_hostile_csv_logs(
    hostile: HostileCounter, tmp_path: Path, cols: list[str], cells: list[list[str]], ragged: bool
) -> None:
    hostile.count("csv-logs")
    from workbench.sources.files.logs import read_csv

    rows = [",".join(r[: len(cols)]) for r in cells]
    if ragged:
        rows.append(",".join(["1"] * (len(cols) + 2)))
    p = tmp_path / "h.csv"
    p.write_text(",".join(cols) + "\n" + "\n".join(rows) + "\n")
    for mode in ("raise", "skip"):
        try:
            res = read_csv(p, on_error=mode)  # type: ignore[arg-type]
        except BadData as err:
            assert err.path == str(p)
        else:
            frames.validate(res.frame, "logs")
