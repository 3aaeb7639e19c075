from datetime import UTC, datetime

import polars as pl
import pytest

from workbench import BadData, frames

T = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def _logs(**over: object) -> pl.DataFrame:
    base = {
        "ts": [T, T],
        "service": ["checkout", None],
        "level": ["error", "info"],
        "message": ["boom", "ok"],
        "trace_id": ["ab" * 16, None],
        "span_id": ["cd" * 8, None],
        "attributes": frames.kv_from_dicts([{"k8s.pod.name": "checkout-0"}, None]),
    }
    base.update(over)
    return pl.DataFrame(base)


def test_empty_frames_validate() -> None:
    for kind in frames.SCHEMAS:
        df = frames.validate(frames.empty(kind), kind)
        assert df.schema == pl.Schema(frames.SCHEMAS[kind])


def test_valid_logs_and_attr_lookup() -> None:
    df = frames.validate(_logs(), "logs")
    assert df.select(frames.attr("attributes", "k8s.pod.name"))["k8s.pod.name"].to_list() == [
        "checkout-0",
        None,
    ]


def test_timestamps_in_ns_and_other_zones_are_normalised() -> None:
    ts = pl.Series([T, T]).dt.cast_time_unit("ns").dt.convert_time_zone("Europe/Paris")
    df = frames.validate(_logs(ts=ts), "logs")
    assert df.schema["ts"] == frames.TS and df["ts"][0] == T


def test_missing_column_is_named() -> None:
    with pytest.raises(BadData, match="lacks column") as ei:
        frames.validate(_logs().drop("message"), "logs")
    assert ei.value.field == "message"


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(BadData, match="naive") as ei:
        frames.validate(_logs(ts=[datetime(2026, 1, 1), datetime(2026, 1, 1)]), "logs")
    assert ei.value.field == "ts"


def test_wrong_type_null_and_bad_value_are_named() -> None:
    with pytest.raises(BadData, match=r"logs\.message has type"):
        frames.validate(_logs(message=[1, 2]), "logs")
    with pytest.raises(BadData, match=r"logs\.message has 1 null"):
        frames.validate(_logs(message=["x", None]), "logs")
    with pytest.raises(BadData, match=r"logs\.level has value"):
        frames.validate(_logs(level=["error", "LOUD"]), "logs")


def test_spans_ending_before_start_are_refused() -> None:
    df = pl.DataFrame(
        {
            "trace_id": ["t"],
            "span_id": ["s"],
            "parent_span_id": [None],
            "service": ["a"],
            "name": ["GET /"],
            "kind": ["server"],
            "start": [T],
            "end": [datetime(2026, 11, 27, 2, 0, tzinfo=UTC)],
            "duration_ms": [-1.0],
            "status": ["ok"],
            "attributes": frames.kv_from_dicts([None]),
        }
    )
    with pytest.raises(BadData, match="end before they start"):
        frames.validate(df, "spans")


def test_concat_of_nothing_is_an_empty_frame() -> None:
    assert frames.concat([], "events").height == 0
    two = frames.concat([_logs(), _logs()], "logs")
    assert two.height == 4
