"""JSON-lines and CSV logs: the mapping, levels, the two read paths agreeing, real CSVs."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from workbench import frames
from workbench.errors import ConfigError
from workbench.sources.files._common import Problems, norm_level
from workbench.sources.files.logs import LogMapping, _read_lines_slow, read_csv, read_jsonl

from .plugins.files_lab import shared_data

LOGHUB = shared_data() / "loghub-2k"


def test_default_mapping_and_attributes(tmp_path: Path) -> None:
    recs = [
        {"timestamp": "2026-11-20T10:00:00.123456789Z", "level": "WARNING", "service": "a",
         "message": "m1", "trace_id": "AB" * 16, "span_id": "cd" * 8, "pod": "a-0", "n": 3},
        {"time": "2026-11-20T11:00:00+01:00", "severity": "critical", "service.name": "b",
         "msg": "m2", "traceId": "0" * 32, "extra": {"deep": {"x": True}}},
        {"@timestamp": 1795168800123, "levelname": 50, "app": "c", "log": "m3",
         "trace.id": "", "tags": ["x", "y"]},
    ]  # fmt: skip
    p = tmp_path / "l.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in recs) + "\n\n")
    df = frames.validate(read_jsonl(p).frame, "logs")
    assert df["service"].to_list() == ["a", "b", "c"]
    assert df["level"].to_list() == ["warn", "fatal", "error"]
    assert df["message"].to_list() == ["m1", "m2", "m3"]
    assert df["trace_id"].to_list() == ["ab" * 16, None, None]
    assert [t.isoformat() for t in df["ts"]] == [
        "2026-11-20T10:00:00.123456+00:00",
        "2026-11-20T10:00:00+00:00",
        "2026-11-20T10:00:00.123000+00:00",
    ]
    a = [{x["key"]: x["value"] for x in row} for row in df["attributes"]]
    assert a[0] == {"n": "3", "pod": "a-0"}
    assert a[1] == {"extra.deep.x": "true"}  # nested objects flattened to dotted keys
    assert a[2] == {"tags": '["x","y"]'}  # the empty trace.id is not an attribute


def test_custom_mapping_and_default_service(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl"
    p.write_text(json.dumps({"when": 1795168800, "sev": "E", "text": "boom", "x": 1}) + "\n")
    m = LogMapping(ts="when", level="sev", message="text", default_service="svc")
    r = read_jsonl(p, mapping=m).frame.row(0, named=True)
    assert (r["service"], r["level"], r["message"]) == ("svc", "error", "boom")
    assert r["attributes"] == [{"key": "x", "value": "1"}]
    with pytest.raises(ConfigError):
        LogMapping(ts=())
    with pytest.raises(ConfigError):
        LogMapping(tz="Mars/Olympus")


@pytest.mark.parametrize(
    ("raw", "want"),
    [("WARNING", "warn"), ("Critical", "fatal"), ("err", "error"), ("Information", "info"),
     ("notice", "info"), (30, "info"), (17, "error"), ("D", "unknown"), (None, "unknown"),
     ("verbose", "trace"), ("ERROR:", "error"), (float("nan"), "unknown")],
)  # fmt: skip
def test_norm_level(raw: object, want: str) -> None:
    assert norm_level(raw) == want


def test_fast_and_slow_paths_agree_on_lab_like_logs(tmp_path: Path) -> None:
    p = tmp_path / "l.jsonl"
    with p.open("w") as fh:
        for i in range(500):
            rec = {
                "timestamp": f"2026-11-20T10:{i % 60:02d}:{i % 60:02d}.{i:09d}Z",
                "level": ["info", "error", "WARN", "debug"][i % 4],
                "service": f"s{i % 3}",
                "message": f"msg {i}",
                "trace_id": f"{i:032x}",
                "span_id": f"{i + 1:016x}",
                "pod": f"p{i % 5}",
                "duration_ms": i,
            }
            if i % 4 == 1:
                rec["stack_trace"] = "a\n\tb"
            fh.write(json.dumps(rec) + "\n")
    text = p.read_text()
    fast = read_jsonl(p).frame
    slow = _read_lines_slow(text, LogMapping(), Problems())
    assert_frame_equal(fast, slow)
    assert fast.height == 500


_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
)
_record = st.fixed_dictionaries(
    {
        "timestamp": st.integers(1_700_000_000, 1_900_000_000).map(
            lambda s: datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
        "message": st.text(max_size=20),
    },
    optional={
        "level": st.sampled_from(["info", "ERROR", "Warning", "fatal", "x"]),
        "service": st.sampled_from(["a", "b"]),
        "trace_id": st.sampled_from(["ab" * 16, "0" * 32, "", "CD" * 16]),
        "k1": _scalar,
        "k2": _scalar,
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(_record, min_size=1, max_size=20))
def test_property_fast_path_equals_line_by_line(tmp_path: Path, records: list[dict]) -> None:
    """Whatever well-formed records hypothesis builds, the vectorised reader and the
    line-by-line reader give the same frame (so the fast path loses nothing)."""
    # a column that is int in some rows and text in others is coerced by polars; keep
    # each extra key to one JSON type across the file, as real loggers do
    for k in ("k1", "k2"):
        kinds = {type(r[k]) for r in records if k in r and r[k] is not None}
        if len(kinds) > 1:
            for r in records:
                r.pop(k, None)
    p = tmp_path / "h.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    fast = read_jsonl(p).frame
    slow = _read_lines_slow(p.read_text(), LogMapping(), Problems())
    assert_frame_equal(fast, slow)
    assert fast.height == len(records)


def test_loghub_bgl_csv_epoch_seconds() -> None:
    path = LOGHUB / "BGL" / "BGL_2k.log_structured.csv"
    with path.open(newline="") as fh:
        raw = list(csv.DictReader(fh))
    m = LogMapping(ts="Timestamp", level="Level", message="Content", service="Component")
    df = frames.validate(read_csv(path, mapping=m).frame, "logs")
    assert df.height == len(raw) == 2000
    assert df["ts"][0] == datetime.fromtimestamp(int(raw[0]["Timestamp"]), UTC)
    want = Counter(norm_level(r["Level"]) for r in raw)
    assert dict(Counter(df["level"].to_list())) == dict(want)
    assert df["message"][5] == raw[5]["Content"]
    attrs = {a["key"]: a["value"] for a in df["attributes"][0]}
    assert attrs["Node"] == raw[0]["Node"] and "Timestamp" not in attrs


def test_loghub_apache_csv_strptime_format() -> None:
    path = LOGHUB / "Apache" / "Apache_2k.log_structured.csv"
    with path.open(newline="") as fh:
        raw = list(csv.DictReader(fh))
    m = LogMapping(ts="Time", level="Level", message="Content", tz="UTC",
                   ts_format="%a %b %d %H:%M:%S %Y", default_service="apache")  # fmt: skip
    df = read_csv(path, mapping=m).frame
    assert df.height == 2000
    assert df["ts"][0].isoformat() == "2005-12-04T04:47:44+00:00"
    assert set(df["level"]) == {norm_level(r["Level"]) for r in raw}
    assert (df["service"] == "apache").all()


def test_csv_missing_time_column_is_clear(tmp_path: Path) -> None:
    from workbench.errors import BadData

    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(BadData, match="no time field") as ei:
        read_csv(p)
    assert ei.value.path == str(p)


def test_windowed_logs_via_polars_lazy(tmp_path: Path) -> None:
    # logs frame is sorted by time after a directory load
    from workbench.sources.files import DirectorySource
    from workbench.timewindow import Window

    p = tmp_path / "logs.jsonl"
    lines = [{"ts": 1795168800 + 3600 - i, "message": str(i)} for i in range(10)]
    p.write_text("\n".join(json.dumps(x) for x in lines))
    res = DirectorySource(tmp_path).logs(
        None, Window.parse("2026-11-20T10:00:00Z..2026-11-20T12:00:00Z")
    )
    assert res.frame["ts"].is_sorted() and res.rows == 10
    assert (
        res.frame.filter(pl.col("message") == "0")["ts"][0].isoformat()
        == "2026-11-20T11:00:00+00:00"
    )
