"""DirectorySource / FileSource over the lab layout (a directory the tests write)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from workbench import frames
from workbench.errors import BadData, ConfigError
from workbench.incident import Incident
from workbench.sources.files import DirectorySource, FileSource
from workbench.timewindow import Window

FULL = Window.parse("2026-11-20T10:00:00Z..2026-11-20T12:00:00Z")
SECOND_HOUR = Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z")


def test_lab_layout_all_signals(lab_dir: Path) -> None:
    src = DirectorySource(lab_dir)
    assert src.capabilities == {"metrics", "logs", "spans", "events"}
    d = src.describe()
    assert d["files"]["spans"] == ["traces/traces.otlp.jsonl (otlp)"]
    assert d["files"]["logs"] == ["logs/logs.jsonl (jsonl)"]
    assert d["files"]["metrics"] == ["metrics/metrics.parquet (parquet)"]
    assert len(d["files"]["events"]) == 4
    assert "scenario.json" in d["ignored"]
    assert src.metrics(None, FULL).rows == 360
    logs = src.logs(None, FULL)
    assert logs.rows == 120 and not logs.partial
    assert logs.frame.filter(pl.col("level") == "error").height == 20
    spans = src.spans(None, FULL).frame
    assert spans.height == 24
    assert spans.filter(pl.col("parent_span_id").is_null()).height == 12
    assert set(spans["service"]) == {"frontend", "payments"}
    assert spans.select(frames.attr("attributes", "k8s.pod.name"))["k8s.pod.name"].null_count() == 0
    assert spans.filter(pl.col("service") == "frontend")["duration_ms"].to_list()[0] == 120.0
    ev = src.events(FULL).frame
    assert sorted(ev["source"].unique()) == [
        "alertmanager",
        "argo-rollouts",
        "argocd",
        "chaos-mesh",
    ]


def test_window_and_service_filters(lab_dir: Path) -> None:
    src = DirectorySource(lab_dir)
    m = src.metrics(None, SECOND_HOUR, services=["checkout"]).frame
    assert m.height == 60 and set(m["service"]) == {"checkout"}
    assert m["ts"].min() >= SECOND_HOUR.start and m["ts"].max() < SECOND_HOUR.end
    s = src.spans(None, SECOND_HOUR).frame
    assert s.height == 12 and (s["status"] == "error").all()
    # events overlap: the argocd deploy of 10:55-10:57 is outside, the alert inside
    ev = src.events(SECOND_HOUR).frame
    assert "deploy payments v1.1.0" not in ev["title"].to_list()
    assert any(t.startswith("HighErrorRate") for t in ev["title"])


def test_incident_from_directory(lab_dir: Path) -> None:
    inc = Incident.from_directory(lab_dir)
    assert inc.id == "LAB-TINY"
    assert inc.spans.height == 24
    assert inc.logs.height == 120
    assert inc.events.height > 0


def test_queries(lab_dir: Path) -> None:
    src = DirectorySource(lab_dir)
    assert src.metrics("http_*", FULL).rows == 360
    assert src.metrics("up", FULL).rows == 0
    assert src.logs("request 7 ", FULL).rows == 1
    assert src.spans("POST", FULL).rows == 12
    assert src.spans(f"{1:032x}", FULL).rows == 2


def test_empty_directory_says_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("nothing here")
    with pytest.raises(BadData) as ei:
        DirectorySource(tmp_path)
    msg = str(ei.value)
    assert "no telemetry" in msg and "README.md" in msg
    assert "metrics.parquet" in msg and "otlp.jsonl" in msg
    with pytest.raises(ConfigError):
        DirectorySource(tmp_path / "missing")


def test_bad_log_line_raises_or_skips(lab_dir: Path) -> None:
    p = lab_dir / "logs" / "logs.jsonl"
    lines = p.read_text().splitlines()
    lines.insert(4, "this is not json {")
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadData) as ei:
        DirectorySource(lab_dir).logs(None, FULL)
    assert ei.value.line == 5 and ei.value.path == str(p)
    res = DirectorySource(lab_dir, on_error="skip").logs(None, FULL)
    assert res.partial and res.rows == 120
    assert "skipped 1 bad record" in res.reasons[0] and "first lines 5" in res.reasons[0]


def test_truncated_otlp_file_in_directory(lab_dir: Path) -> None:
    p = lab_dir / "traces" / "traces.otlp.jsonl"
    text = p.read_text()
    p.write_text(text[: len(text) // 2])
    with pytest.raises(BadData) as ei:
        DirectorySource(lab_dir).spans(None, FULL)
    assert ei.value.path == str(p) and ei.value.line is not None
    res = DirectorySource(lab_dir, on_error="skip").spans(None, FULL)
    assert res.partial and 0 < res.rows < 24


def test_cache_notices_changed_file(lab_dir: Path) -> None:
    src = DirectorySource(lab_dir)
    assert src.logs(None, FULL).rows == 120
    p = lab_dir / "logs" / "logs.jsonl"
    rec = json.loads(p.read_text().splitlines()[0])
    with p.open("a") as fh:
        fh.write(json.dumps(rec) + "\n")
    assert src.logs(None, FULL).rows == 121


def test_file_source_detects_and_forces_format(lab_dir: Path) -> None:
    fs = FileSource(lab_dir / "traces" / "traces.otlp.jsonl")
    assert fs.format == "otlp" and fs.capabilities == {"spans"}
    assert fs.frame().height == 24
    with pytest.raises(ConfigError):
        FileSource(lab_dir / "scenario.json", format="nope")
    with pytest.raises(BadData):
        FileSource(lab_dir / "scenario.json")


def test_generic_directory_detects_by_content(tmp_path: Path, samples_dir: Path) -> None:
    import shutil

    ts = samples_dir / "trace-samples"
    shutil.copy(ts / "zipkin-v2" / "yelp.json", tmp_path / "a.json")
    shutil.copy(ts / "jaeger" / "ui-model" / "ui_01.json", tmp_path / "b.json")
    shutil.copy(ts / "tempo" / "tempopb_trace_batches.json", tmp_path / "c.json")
    shutil.copy(ts / "otlp-json" / "logs.json", tmp_path / "d.otlp.json")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "app.csv").write_text("time,message\n2018-12-13T14:51:01Z,hello\n")
    (tmp_path / "sub" / "numbers.csv").write_text("a,b\n1,2\n")
    (tmp_path / ".hidden.jsonl").write_text("not even json")
    src = DirectorySource(tmp_path)
    d = src.describe()
    assert sorted(d["files"]["spans"]) == ["a.json (zipkin)", "b.json (jaeger)", "c.json (otlp)"]
    assert sorted(d["files"]["logs"]) == ["d.otlp.json (otlp)", "sub/app.csv (csv)"]
    assert d["ignored"] == ["sub/numbers.csv"]
    wide = Window.parse("2000-01-01T00:00:00Z..2030-01-01T00:00:00Z")
    spans = src.spans(None, wide)
    assert spans.rows == 16 + 5 + 1
    assert spans.frame["start"].is_sorted()
    assert src.logs(None, wide).rows == 2
    assert src.spans(None, wide, services=["service-x"]).rows == 2


def test_contract_parquet_by_columns_and_naive_times(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    logs = pl.DataFrame(
        {
            "ts": [
                datetime(2026, 11, 20, 10, 30, tzinfo=UTC),
                datetime(2026, 11, 20, 9, tzinfo=UTC),
            ],
            "service": ["a", "b"],
            "level": ["info", "error"],
            "message": ["x", "y"],
            "trace_id": [None, None],
            "span_id": [None, None],
            "attributes": [[], []],
        },
        schema=frames.SCHEMAS["logs"],
    )
    logs.write_parquet(tmp_path / "export-2026.parquet")
    src = DirectorySource(tmp_path)
    assert src.describe()["files"] == {"logs": ["export-2026.parquet (parquet)"]}
    assert src.logs(None, FULL).frame["message"].to_list() == ["x"]
    logs.with_columns(pl.col("ts").dt.replace_time_zone(None)).write_parquet(
        tmp_path / "export-2026.parquet"
    )
    with pytest.raises(BadData, match="naive"):
        DirectorySource(tmp_path).logs(None, FULL)


def test_parsed_files_are_shared_between_sources(lab_dir: Path) -> None:
    from workbench.sources.files.directory import clear_cache

    a, b = DirectorySource(lab_dir), DirectorySource(lab_dir, name="other")
    tf = next(f for f in a.files if f.signal == "spans")
    assert a._parsed(tf) is b._parsed(tf)
    clear_cache()
    assert DirectorySource(lab_dir, on_error="skip")._parsed(tf) is not a._parsed(tf)


def test_a_source_says_whether_its_loads_run_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small files load side by side (the explorer then starts the metrics at once);
    large ones take turns (the explorer loads the first view's signals first)."""
    from workbench.lab.demo import demo_path
    from workbench.sources.files import directory

    src = Incident.from_directory(demo_path()).sources[0]
    assert src.loads_concurrently is True
    monkeypatch.setattr(directory, "_CONCURRENT_BYTES", 1024)
    assert src.loads_concurrently is False


def _buffer(df: pl.DataFrame, col: str) -> int:
    """Address of a column's values buffer (to tell a shared column from a copy)."""
    return df[col].to_physical().to_arrow().buffers()[1].address


def test_a_window_holding_the_whole_file_returns_the_parse_without_a_copy(
    lab_dir: Path,
) -> None:
    """A load whose window holds every row of a parsed file (the lab: baseline + window)
    returns the cached parse itself, in time order, instead of a filtered, sorted copy
    kept beside it; narrower windows and services still filter and sort (those equalities below). Every result
    equals filtering the raw parse and sorting it stably by time."""
    from workbench.sources.files import parquet
    from workbench.sources.files.directory import _CACHE, clear_cache, read_any

    traces = lab_dir / "traces" / "traces.otlp.jsonl"
    lines = traces.read_text().splitlines()
    traces.write_text("\n".join(reversed(lines)) + "\n")  # spans out of time order
    clear_cache()
    src = DirectorySource(lab_dir)
    for signal, col in (("spans", "start"), ("logs", "ts")):
        tf = next(f for f in src.files if f.signal == signal)
        raw = read_any(tf).frame
        if signal == "spans":
            assert not raw["start"].is_sorted()
        for window, services in ((FULL, None), (SECOND_HOUR, None), (FULL, ["payments"])):
            got = src.load(signal, window, services=services).frame
            want = frames.concat([parquet.filter_frame(raw, signal, window, services)], signal)
            want = want.sort(col, maintain_order=True)
            assert got.height > 0
            assert got.equals(want), (signal, window, services)
        whole = src.load(signal, FULL).frame
        cached = next(v.frame for k, v in _CACHE.items() if k[0] == str(tf.path.resolve()))
        assert whole.height == raw.height
        assert _buffer(whole, col) == _buffer(cached, col)  # the same memory, no copy
