"""Prometheus response parsing and chunk planning: properties and recorded real bodies."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.plugins.hostile import examples
from workbench import frames
from workbench.errors import BadData, ConfigError
from workbench.sources import chunking
from workbench.sources.prometheus import response as promjson
from workbench.sources.prometheus.source import PrometheusSource
from workbench.timewindow import Window

UP = "api-samples/prometheus/real-production-up-series"

label_names = st.sampled_from(["__name__", "service", "job", "pod", "le", "code", "a_b", "x"])
label_values = st.text(min_size=1, max_size=12)
metrics = st.dictionaries(label_names, label_values, max_size=5)
values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["NaN", "+Inf", "-Inf", "0", "1e308", "-0", "1.5"]),
)
timestamps = st.one_of(
    st.integers(0, 4_000_000_000), st.integers(0, 4_000_000_000_000).map(lambda x: x / 1000)
)
series = st.fixed_dictionaries(
    {"metric": metrics, "values": st.lists(st.tuples(timestamps, values), max_size=6)}
)


def _same(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    if a.schema != b.schema or a.height != b.height:
        return False
    nan = pl.col("value").is_nan()
    return a.with_columns(nan_=nan).fill_nan(None).equals(b.with_columns(nan_=nan).fill_nan(None))


@settings(max_examples=400)
@given(st.lists(series, min_size=1, max_size=6), st.sampled_from([None, "alias"]))
def test_fast_and_general_matrix_parsers_agree(result: list[dict], alias: str | None) -> None:
    body = json.dumps(
        {"status": "success", "data": {"resultType": "matrix", "result": result}}
    ).encode()
    slow, notes = promjson.matrix_frame(json.loads(body)["data"]["result"], alias=alias)
    assert notes == []
    assert slow.height == sum(len(s["values"]) for s in result)
    fast = promjson.fast_matrix(body, alias=alias)
    if fast is not None:
        assert _same(fast.frame, slow), (fast.frame, slow)
    else:  # the fast path only declines when no series has a sample
        assert slow.height == 0
    frames.validate(slow, "metrics")


def test_fast_path_declines_what_it_does_not_handle() -> None:
    def body(**data: object) -> bytes:
        return json.dumps({"status": "success", "data": data}).encode()

    assert promjson.fast_matrix(b"{not json") is None
    assert promjson.fast_matrix(body(resultType="vector", result=[])) is None
    assert promjson.fast_matrix(body(resultType="matrix", result=[])) is None
    hist = {"metric": {"a": "b"}, "values": [[1, "1"]], "histograms": [[2, {"count": "1"}]]}
    assert promjson.fast_matrix(body(resultType="matrix", result=[hist])) is None
    bad = {"metric": {"a": "b"}, "values": [[1, "one"]]}
    assert promjson.fast_matrix(body(resultType="matrix", result=[bad])) is None
    with pytest.raises(BadData, match="not a number"):
        promjson.matrix_frame([bad], source="s")
    # a series whose values are null next to a good one (found by the hostile test)
    null_values = [{"metric": {}, "values": [[0, "0.0"]]}, {"metric": {}, "values": None}]
    assert promjson.fast_matrix(body(resultType="matrix", result=null_values)) is None
    with pytest.raises(BadData, match="expected a list"):
        promjson.matrix_frame(null_values, source="s")


def test_native_histograms_are_reported_not_dropped_silently() -> None:
    hist = {"metric": {"__name__": "h"}, "values": [[1, "1"]], "histograms": [[2, {}], [3, {}]]}
    frame, notes = promjson.matrix_frame([hist])
    assert frame.height == 1 and notes == ["2 native-histogram sample(s) of h not loaded"]


@pytest.mark.parametrize(
    "data",
    [
        {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1", 3]]}]},
        {"resultType": "matrix", "result": [{"metric": "x", "values": []}]},
        {"resultType": "vector", "result": [{"metric": {}, "value": [1]}]},
        {"resultType": "scalar", "result": [1]},
        {"resultType": "weird", "result": []},
        {"result": []},
        [],
    ],
)
def test_malformed_results_are_bad_data(data: object) -> None:
    with pytest.raises(BadData):
        promjson.result_frame(data, source="prom")


def test_nan_and_infinities_in_recorded_style_bodies() -> None:
    result = [{"metric": {"__name__": "m", "job": "j"},
               "values": [[1435781430.781, "NaN"], [1435781445.781, "+Inf"],
                          [1435781460.781, "-Inf"]]}]  # fmt: skip
    body = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}})
    for frame in (promjson.matrix_frame(result)[0], promjson.fast_matrix(body.encode()).frame):  # type: ignore[union-attr]
        v = frame["value"].to_list()
        assert math.isnan(v[0]) and v[1:] == [math.inf, -math.inf]
        assert frame["ts"][0] == datetime(2015, 7, 1, 20, 10, 30, 781000, tzinfo=UTC)
        assert frame["service"][0] == "j"  # no service label: job


def test_real_production_up_series_over_http(recorded_http, shared_data) -> None:
    """The Red Hat production `up` series (real data), each 6 h file served as a
    query_range response: every sample arrives, none invented."""
    files = sorted((shared_data / UP).rglob("*.json"))
    assert len(files) == 7
    src = PrometheusSource(recorded_http.url, name="prod")
    total = 0
    for f in files:
        result = json.loads(f.read_text())
        recorded_http.clear()
        recorded_http.route(
            "/api/v1/query_range",
            body=json.dumps({"status": "success", "data": {"resultType": "matrix",
                                                           "result": result}}),
        )  # fmt: skip
        res = src.query_range("up", Window.parse("2019-07-28T00:00:00Z..2019-07-28T06:00:00Z"),
                              step="6h")  # fmt: skip
        want = sum(len(s["values"]) for s in result)
        assert res.frame.height == want and not res.partial
        assert set(res.frame["metric"]) == {"up"}
        assert set(res.frame["service"]) == {s["metric"]["job"] for s in result}
        assert res.frame["value"].is_in([0.0, 1.0]).all()
        got = res.frame.group_by("service").len().sort("service")
        exp = (
            pl.DataFrame({"service": [s["metric"]["job"] for s in result],
                          "len": [len(s["values"]) for s in result]})
            .group_by("service").agg(pl.col("len").sum()).sort("service")
        )  # fmt: skip
        assert got.cast({"len": pl.Int64}).equals(exp.cast({"len": pl.Int64}))
        total += want
    assert total > 40_000


def test_recorded_docs_and_grafana_bodies(shared_data) -> None:
    base = shared_data / "api-samples/prometheus"
    matrix = json.loads((base / "docs-examples/query_range_up_matrix.json").read_text())
    frame, _ = promjson.result_frame(matrix["data"])
    assert frame.height == 6 and set(frame["service"]) == {"prometheus", "node"}
    vector = json.loads((base / "docs-examples/query_up_vector.json").read_text())
    vf, _ = promjson.result_frame(vector["data"])
    assert vf["value"].to_list() == [1.0, 0.0]
    irregular = json.loads(
        (base / "grafana-promlib-testdata/range_missing.result.json").read_text()
    )
    gf, _ = promjson.result_frame(irregular["data"])
    assert [t.second for t in gf["ts"]] == [33, 34, 37]  # kept as they are: no filling
    big = json.loads((base / "jaeger-metricstore-testdata/service_datapoint_response.json")
                     .read_text())  # fmt: skip
    bf, _ = promjson.result_frame(big["data"], alias="calls")
    assert bf.select("metric", "service", "value").row(0) == ("calls", None, 9223372036854.0)


# --- chunk planning ---------------------------------------------------------------------

T = datetime(2026, 1, 1, tzinfo=UTC)


@settings(max_examples=1000)
@given(
    st.integers(0, 10**9),  # start offset, ms
    st.integers(1, 200_000),  # duration in steps x 1000 (up to 200 points)
    st.integers(1, 10**7),  # step, ms
    st.integers(1, 250),
)
def test_chunks_cover_every_step_once(start: int, k: int, step: int, max_points: int) -> None:
    dur = max(1, k * step // 1000)
    w = Window(T + timedelta(milliseconds=start), T + timedelta(milliseconds=start + dur))
    chunks = chunking.plan(w, step / 1000, max_points=max_points)
    s_ms, e_ms = chunking._ms(w.start), chunking._ms(w.end)
    want_first = -(-s_ms // step) * step
    expected = max(0, (e_ms - 1 - want_first) // step + 1) if want_first < e_ms else 0
    assert sum(c.points for c in chunks) == expected
    for a, b in itertools.pairwise(chunks):
        assert b.start_ms == a.end_ms + step  # contiguous: no gap, no overlap
    for c in chunks:
        assert c.start_ms % step == 0 and c.end_ms % step == 0
        assert 1 <= c.points <= max_points
        assert s_ms <= c.start_ms and c.end_ms < e_ms


def test_choose_step() -> None:
    w = Window.parse("2026-11-20T00:00:00Z..2026-11-27T00:00:00Z")
    assert chunking.choose_step(w, target_points=20_160).total_seconds() == 30
    assert chunking.choose_step(w, target_points=720).total_seconds() == 900
    assert chunking.choose_step(Window.parse("2026-11-20T00:00:00Z..2026-11-20T00:01:00Z"),
                                min_step="15s").total_seconds() == 15  # fmt: skip
    assert [c.points for c in chunking.plan(w, "30s")] == [11_000, 9_160]
    with pytest.raises(ConfigError):
        chunking.step_ms("0s")
    with pytest.raises(ConfigError, match=r"points per series"):
        chunking.plan(w, "1s", max_points=100)  # 604,800 points: 6,048 queries


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
near_matrix = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["success", "error", "warning", 1]),
        "data": st.fixed_dictionaries(
            {
                "resultType": st.sampled_from(["matrix", "vector", "scalar", "string", "x"]),
                "result": st.one_of(
                    json_values,
                    st.lists(
                        st.fixed_dictionaries(
                            {"metric": st.one_of(metrics, json_values),
                             "values": st.one_of(
                                 st.lists(st.tuples(timestamps, values), max_size=3),
                                 json_values)}
                        ),
                        max_size=3,
                    ),
                ),
            }
        ),
    }
)  # fmt: skip


@settings(max_examples=examples(300), deadline=None)
@given(st.one_of(near_matrix, json_values), st.integers(0, 400))
def test_hostile_bodies_give_frames_or_bad_data(hostile, body: object, cut: int) -> None:
    hostile.count("prometheus-response")
    raw = json.dumps(body).encode()
    for data in (raw, raw[:cut]):
        fast = promjson.fast_matrix(data)  # never raises: None means "not for me"
        if fast is not None:
            frames.validate(fast.frame, "metrics")
    payload = body.get("data") if isinstance(body, dict) else body
    try:
        frame, _ = promjson.result_frame(payload, source="prom")
    except BadData as exc:
        assert exc.source == "prom"
    else:
        frames.validate(frame, "metrics")
