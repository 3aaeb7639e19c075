"""LokiSource against Loki's real response bodies (shared/data/api-samples/loki) over real
HTTP, pagination against a query_range emulator, error cases, and query escaping."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plugins.hostile import HostileCounter
from tests.plugins.recorded_http import RecordedRequest, RecordedServer, Reply
from tests.query_parsers import go_unquote, parse_selector, split_alternatives
from workbench import (
    AuthError,
    BadData,
    LimitExceeded,
    QueryError,
    Secret,
    SourceUnavailable,
    Window,
)
from workbench.errors import WorkbenchError
from workbench.sources.http import Auth, Timeout
from workbench.sources.loki import logql
from workbench.sources.loki.response import LogRows, normalize_level, parse_page
from workbench.sources.loki.source import RANGE_PATH, LokiSource

SAMPLE_WINDOW = Window.parse("2022-02-16T16:50:00Z..2022-02-16T16:51:00Z")


@pytest.fixture
def loki_dir(shared_data: Path) -> Path:
    return shared_data / "api-samples" / "loki" / "grafana-loki-testdata"


def _raw_entries(body: dict[str, Any]) -> Counter[tuple[int, str, tuple[tuple[str, str], ...]]]:
    out: Counter[tuple[int, str, tuple[tuple[str, str], ...]]] = Counter()
    for s in body["data"]["result"]:
        labels = tuple(sorted(s["stream"].items()))
        for v in s["values"]:
            out[(int(v[0]), v[1], labels)] += 1
    return out


def _frame_entries(df: pl.DataFrame) -> Counter[tuple[int, str, tuple[tuple[str, str], ...]]]:
    out: Counter[tuple[int, str, tuple[tuple[str, str], ...]]] = Counter()
    for ts, msg, attrs in df.select(
        pl.col("ts").dt.epoch("us"), "message", "attributes"
    ).iter_rows():
        out[(ts * 1000, msg, tuple(sorted((a["key"], a["value"]) for a in attrs)))] += 1
    return out


# -- recorded bodies ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["streams_simple.json", "streams_structured_metadata.json"])
def test_streams_body_becomes_logs_frame(
    recorded_http: RecordedServer, loki_dir: Path, name: str
) -> None:
    recorded_http.route(RANGE_PATH, file=loki_dir / name)
    raw = json.loads((loki_dir / name).read_text())
    src = LokiSource(recorded_http.url, tenant="team-a")
    res = src.logs('{location="moon🌙"}', SAMPLE_WINDOW)
    df = res.frame
    # every entry, the duplicate included, with its labels; timestamps to the microsecond
    want = Counter(
        {(ts // 1000 * 1000, m, lab): n for (ts, m, lab), n in _raw_entries(raw).items()}
    )
    assert _frame_entries(df) == want
    assert df.height == 6 and not res.partial and res.extra["pages"] == 1
    assert df["ts"].is_sorted()
    assert df["service"].null_count() == 6  # no service-like label in these streams
    assert set(df["level"]) == {"unknown"}
    assert res.extra["stats"]["summary"]["totalLinesProcessed"] == 55
    req = recorded_http.requests[-1]
    assert req.query == {
        "query": '{location="moon🌙"}',
        "start": "1645030200000000000",
        "end": "1645030260000000000",
        "limit": "5000",
        "direction": "backward",
    }
    assert req.headers["X-Scope-OrgID"] == "team-a"
    assert req.headers["X-Loki-Response-Encoding-Flags"] == "categorize-labels"


def test_structured_metadata_and_labels_fill_service_level_trace(
    recorded_http: RecordedServer, loki_dir: Path
) -> None:
    body = json.loads((loki_dir / "streams_structured_metadata.json").read_text())
    streams = body["data"]["result"]
    streams[0]["stream"]["service_name"] = "checkout"
    streams[0]["values"][0][2] = {
        "structuredMetadata": {
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "00f067aa0ba902b7",
        },
        "parsed": {"level": "ERROR"},
    }
    streams[1]["stream"]["app"] = "cart"
    streams[1]["values"][1][1] = 'level=warn msg="slow"'
    streams[1]["values"][3][1] = '{"severity":"Critical","msg":"down"}'
    streams[1]["values"][4][2] = {"traceID": "abc"}  # flat third element (no categorize)
    recorded_http.route(RANGE_PATH, body=json.dumps(body))
    df = LokiSource(recorded_http.url).logs('{a="b"}', SAMPLE_WINDOW).frame
    first = df.filter(pl.col("message") == "log line error 1").row(0, named=True)
    assert first["service"] == "checkout" and first["level"] == "error"
    assert first["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert first["span_id"] == "00f067aa0ba902b7"
    keys = {a["key"] for a in first["attributes"]}
    assert {"code", "location", "service_name", "trace_id", "span_id", "level"} <= keys
    assert set(df.filter(pl.col("service") == "cart")["level"]) == {"warn", "fatal", "unknown"}
    assert df.filter(pl.col("message") == "log line info 4")["trace_id"].to_list() == ["abc"]


def test_matrix_body_becomes_metrics_frame_keeping_nan(
    recorded_http: RecordedServer, loki_dir: Path
) -> None:
    recorded_http.route(RANGE_PATH, file=loki_dir / "matrix_nan.json")
    w = Window.parse("2022-01-24T08:50:00Z..2022-01-24T09:00:00Z")
    res = LokiSource(recorded_http.url).metrics('sum(rate({a="b"}[5m]))', w, step=60)
    df = res.frame
    raw = json.loads((loki_dir / "matrix_nan.json").read_text())["data"]["result"][0]["values"]
    assert df.height == len(raw) == 2
    assert [round(t.timestamp(), 3) for t in df["ts"]] == [t for t, _ in raw]
    assert all(math.isnan(v) for v in df["value"])
    assert set(df["metric"]) == {"logql"}
    assert recorded_http.requests[-1].query["step"] == "60"


def test_logs_refuses_metric_result_and_metrics_refuses_streams(
    recorded_http: RecordedServer, loki_dir: Path
) -> None:
    recorded_http.route(RANGE_PATH, query={"step": ".*"}, file=loki_dir / "streams_simple.json")
    recorded_http.route(RANGE_PATH, file=loki_dir / "matrix_nan.json")
    src = LokiSource(recorded_http.url)
    with pytest.raises(QueryError, match="metric query"):
        src.logs('sum(rate({a="b"}[1m]))', SAMPLE_WINDOW)
    with pytest.raises(QueryError, match="log query"):
        src.metrics('{a="b"}', SAMPLE_WINDOW)


# -- a query_range emulator for pagination ---------------------------------------------------
Entry = tuple[dict[str, str], int, str]


def emulate_loki(entries: list[Entry], *, max_limit: int | None = None):
    """A handler answering query_range like Loki: [start, end), direction, limit."""

    def handler(req: RecordedRequest) -> Reply:
        q = req.query
        start, end, limit = int(q["start"]), int(q["end"]), int(q["limit"])
        if max_limit is not None and limit > max_limit:
            msg = (
                "max entries limit per query exceeded, limit > max_entries_limit_per_query "
                f"({limit} > {max_limit})"
            )
            return Reply(msg.encode(), status=400, content_type="text/plain; charset=utf-8")
        sel = [e for e in entries if start <= e[1] < end]
        sel.sort(key=lambda e: e[1], reverse=q.get("direction", "backward") == "backward")
        sel = sel[:limit]
        streams: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        for labels, ts, line in sel:
            k = tuple(sorted(labels.items()))
            streams.setdefault(k, {"stream": labels, "values": []})["values"].append(
                [str(ts), line]
            )
        body = {
            "status": "success",
            "data": {"resultType": "streams", "result": list(streams.values())},
        }
        return Reply(json.dumps(body).encode())

    return handler


def _sample_entries(loki_dir: Path) -> list[Entry]:
    raw = json.loads((loki_dir / "streams_simple.json").read_text())
    return [(s["stream"], int(v[0]), v[1]) for s in raw["data"]["result"] for v in s["values"]]


def _as_counter(entries: list[Entry]) -> Counter[tuple[int, str, tuple[tuple[str, str], ...]]]:
    return Counter(
        (ts // 1000 * 1000, line, tuple(sorted(lab.items()))) for lab, ts, line in entries
    )


@pytest.mark.parametrize("direction", ["backward", "forward"])
def test_pagination_loads_every_line_once(
    recorded_http: RecordedServer, loki_dir: Path, direction: str
) -> None:
    base = _sample_entries(loki_dir)  # 6 real entries, one duplicated
    t0 = 1645030244000000000
    # the real entries plus 4 copies of each at shifted times, with ties across streams
    entries = base + [(lab, t0 + (ts - t0) // 2 + k * 7_000_000, f"{line} #{k}")
                      for k in range(4) for lab, ts, line in base]  # fmt: skip
    entries += [(base[0][0], t0 + 5_000_000_000, "tie")] * 2 + [
        (base[1][0], t0 + 5_000_000_000, "tie")
    ]
    recorded_http.route(RANGE_PATH, handler=emulate_loki(entries))
    res = LokiSource(recorded_http.url, limit=4, direction=direction).logs('{a="b"}', SAMPLE_WINDOW)
    assert not res.partial, res.reasons
    assert _frame_entries(res.frame) == _as_counter(entries)
    assert res.extra["pages"] == len(recorded_http.requests) > len(entries) // 4
    assert res.frame["ts"].is_sorted()


def test_pagination_stops_at_max_pages_and_says_partial(
    hostile: HostileCounter,
    recorded_http: RecordedServer,
    loki_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hostile.fault("loki", 1)
    lab = _sample_entries(loki_dir)[0][0]
    entries = [(lab, 1645030200000000000 + i * 1_000_000_000, f"line {i}") for i in range(50)]
    recorded_http.route(RANGE_PATH, handler=emulate_loki(entries))
    with caplog.at_level(logging.INFO):
        res = LokiSource(recorded_http.url, limit=10, max_pages=3).logs('{a="b"}', SAMPLE_WINDOW)
    assert res.partial and res.frame.height == 28  # 3 pages of 10, boundary lines once
    assert "stopped after 3 pages of 10 lines" in res.reasons[0]
    assert "older than 2022-02-16T16:50:22" in res.reasons[0]
    assert res.frame["message"].to_list() == [f"line {i}" for i in range(22, 50)]
    # logged at INFO: the result is partial and says why, which is what is reported
    # (a WARNING would print raw above the notebook's headline: test_logging_policy)
    assert [r.levelno for r in caplog.records if "partial" in r.message] == [logging.INFO]


def test_more_lines_at_one_instant_than_limit_is_partial_not_endless(
    hostile: HostileCounter, recorded_http: RecordedServer, loki_dir: Path
) -> None:
    hostile.fault("loki", 1)
    lab = _sample_entries(loki_dir)[0][0]
    t = 1645030230000000000
    entries = [(lab, t, f"same {i}") for i in range(7)] + [(lab, t - 10, "older")]
    recorded_http.route(RANGE_PATH, handler=emulate_loki(entries))
    res = LokiSource(recorded_http.url, limit=5).logs('{a="b"}', SAMPLE_WINDOW)
    assert res.partial and "share the timestamp" in res.reasons[0]
    assert "older" in res.frame["message"].to_list()  # it stepped past the instant
    assert res.frame.height == 6


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 6), st.sampled_from(["x", "y"])),
        max_size=30,
    ),
    limit=st.integers(1, 6),
    direction=st.sampled_from(["backward", "forward"]),
)
def test_pagination_property_complete_or_partial(
    recorded_http_module: RecordedServer,
    data: list[tuple[str, int, str]],
    limit: int,
    direction: str,
) -> None:
    t0 = 1645030210000000000
    entries = [({"stream": s}, t0 + t, line) for s, t, line in data]
    srv = recorded_http_module
    srv.clear()
    srv.route(RANGE_PATH, handler=emulate_loki(entries))
    with LokiSource(srv.url, limit=limit, max_pages=500, direction=direction) as src:
        res = src.logs('{a="b"}', SAMPLE_WINDOW)
    got, want = _frame_entries(res.frame), _as_counter(entries)
    assert not (got - want)  # never a line Loki did not have
    if res.partial:
        per_instant = Counter(t for _, t, _ in entries)
        assert max(per_instant.values()) >= limit and "share the timestamp" in res.reasons[0]
    else:
        assert got == want


# -- errors ---------------------------------------------------------------------------------
def test_loki_plain_text_400_is_query_error(
    hostile: HostileCounter, recorded_http: RecordedServer
) -> None:
    hostile.fault("loki", 1)
    text = "parse error at line 1, col 4: syntax error: unexpected IDENTIFIER, expecting STRING\n"
    recorded_http.route(RANGE_PATH, body=text, status=400, content_type="text/plain; charset=utf-8")
    with pytest.raises(QueryError) as ei:
        LokiSource(recorded_http.url).logs("{a=b}", SAMPLE_WINDOW)
    err = ei.value
    assert type(err) is QueryError and err.status == 400 and err.source == "loki"
    assert err.detail == text.strip() and err.query == "{a=b}"


def test_server_limit_400_is_limit_exceeded(
    hostile: HostileCounter, recorded_http: RecordedServer, loki_dir: Path
) -> None:
    hostile.fault("loki", 1)
    recorded_http.route(RANGE_PATH, handler=emulate_loki(_sample_entries(loki_dir), max_limit=1000))
    with pytest.raises(LimitExceeded) as ei:
        LokiSource(recorded_http.url, limit=5000).logs('{a="b"}', SAMPLE_WINDOW)
    assert ei.value.limit == "max_entries_limit_per_query" and "5000 > 1000" in ei.value.detail
    assert "limit=" in (ei.value.hint or "")


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("the query time range exceeds the limit (query length: 721h0m0s, limit: 720h0m0s)",
         "max_query_length"),
        ("maximum of series (500) reached for a single query", "max_query_series"),
        ("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
         "query resolution (?step=XX)", "max points per series"),
    ],
)  # fmt: skip
def test_loki_limit_messages_are_limit_exceeded(
    hostile: HostileCounter, recorded_http: RecordedServer, text: str, limit: str
) -> None:
    hostile.fault("loki")
    recorded_http.route(RANGE_PATH, status=400, body=text, content_type="text/plain")
    with pytest.raises(LimitExceeded) as ei:
        LokiSource(recorded_http.url).metrics('sum(rate({a="b"}[1m]))', SAMPLE_WINDOW)
    assert ei.value.limit == limit and ei.value.detail == text and ei.value.hint


def test_5xx_is_source_unavailable_and_503_is_retried(
    hostile: HostileCounter, recorded_http: RecordedServer, loki_dir: Path
) -> None:
    hostile.fault("loki", 2)
    recorded_http.route(RANGE_PATH, query={"query": "boom"}, status=500, body="internal error")
    recorded_http.route(RANGE_PATH, status=503, body="too busy", times=1)
    recorded_http.route(RANGE_PATH, file=loki_dir / "streams_simple.json")
    src = LokiSource(recorded_http.url)
    with pytest.raises(SourceUnavailable) as ei:
        src.logs("boom", SAMPLE_WINDOW)
    assert ei.value.status == 500 and ei.value.detail == "internal error"
    assert src.logs('{a="b"}', SAMPLE_WINDOW).frame.height == 6  # after one 503


def test_truncated_body(
    hostile: HostileCounter, recorded_http: RecordedServer, loki_dir: Path
) -> None:
    hostile.fault("loki", 2)
    f = loki_dir / "streams_simple.json"
    recorded_http.route(RANGE_PATH, query={"query": "cut"}, file=f, truncate_at=300)
    recorded_http.route(RANGE_PATH, file=f, truncate_at=300, declare_full_length=False)
    src = LokiSource(recorded_http.url, retries=0)
    with pytest.raises(SourceUnavailable, match="before the response was complete"):
        src.logs("cut", SAMPLE_WINDOW)
    with pytest.raises(BadData, match="cut short") as ei:
        src.logs('{a="b"}', SAMPLE_WINDOW)
    assert ei.value.source == "loki"


def test_slow_answer_times_out_within_the_timeout(
    hostile: HostileCounter, recorded_http: RecordedServer, loki_dir: Path
) -> None:
    hostile.fault("loki", 1)
    recorded_http.route(RANGE_PATH, file=loki_dir / "streams_simple.json", delay_s=3)
    src = LokiSource(recorded_http.url, timeout=Timeout(connect=1, read=0.5))
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailable, match=r"did not answer within 0\.5s"):
        src.logs('{a="b"}', SAMPLE_WINDOW)
    assert time.monotonic() - t0 < 2.0


def test_dead_port_is_source_unavailable(hostile: HostileCounter, dead_url: str) -> None:
    hostile.fault("loki", 1)
    with pytest.raises(SourceUnavailable, match="cannot connect") as ei:
        LokiSource(dead_url, retries=0).logs('{a="b"}', SAMPLE_WINDOW)
    assert ei.value.hint and ei.value.query == '{a="b"}'


def test_wrong_credential_is_auth_error_and_never_echoed(
    hostile: HostileCounter,
    recorded_http: RecordedServer,
    loki_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hostile.fault("loki", 1)
    monkeypatch.setenv("WB_LOKI_TOKEN", "canary-loki-0451")
    monkeypatch.setenv("WB_LOKI_GOOD", "right-token")
    recorded_http.route(
        RANGE_PATH, file=loki_dir / "streams_simple.json",
        require_headers={"Authorization": "Bearer right-token"},
    )  # fmt: skip
    bad = LokiSource(recorded_http.url, auth=Auth(bearer=Secret.env("WB_LOKI_TOKEN")))
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as ei:
        bad.logs('{a="b"}', SAMPLE_WINDOW)
    assert ei.value.status == 401
    texts = [str(ei.value), ei.value._repr_html_(), repr(bad), str(bad.describe())]
    texts += [r.getMessage() for r in caplog.records]
    assert not [t for t in texts if "canary-loki-0451" in t]
    good = LokiSource(recorded_http.url, auth=Auth(bearer=Secret.env("WB_LOKI_GOOD")))
    assert good.logs('{a="b"}', SAMPLE_WINDOW).frame.height == 6


# -- server-side aggregation ----------------------------------------------------------------
def test_error_ratio_is_computed_from_server_side_counts(recorded_http: RecordedServer) -> None:
    def matrix(series: list[tuple[str, list[float]]]) -> bytes:
        result = [
            {
                "metric": {"service_name": s},
                "values": [[1645030200 + 60 * i, f"{v:g}"] for i, v in enumerate(vals)],
            }
            for s, vals in series
        ]
        return json.dumps(
            {"status": "success", "data": {"resultType": "matrix", "result": result}}
        ).encode()

    recorded_http.route(RANGE_PATH, query={"query": r".*\(error\|err.*"},
                        body=matrix([("checkout", [1, 0, 3])]))  # fmt: skip
    recorded_http.route(RANGE_PATH, body=matrix([("checkout", [10, 10, 6]), ("cart", [5, 5, 5])]))
    w = Window.parse("2022-02-16T16:50:00Z..2022-02-16T16:53:00Z")
    res = LokiSource(recorded_http.url).error_ratio(w, services=["checkout", "cart"], step=60)
    got = {(s, t.minute): v for t, s, v in res.frame.select("ts", "service", "value").iter_rows()}
    assert got == {("checkout", 50): 0.1, ("checkout", 51): 0.0, ("checkout", 52): 0.5,
                   ("cart", 50): 0.0, ("cart", 51): 0.0, ("cart", 52): 0.0}  # fmt: skip
    sent = [r.query["query"] for r in recorded_http.requests]
    assert sent[0] == ('sum by (service_name) (count_over_time({service_name=~"checkout|cart"} '
                       "[60s]))")  # fmt: skip
    assert sent[1].startswith(
        'sum by (service_name) (count_over_time({service_name=~"checkout|cart"} |~'
    )
    assert all(r.query["step"] == "60" for r in recorded_http.requests)


# -- escaping -------------------------------------------------------------------------------
names = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20)


@given(
    services=st.lists(names, min_size=1, max_size=4),
    text=st.text(st.characters(exclude_categories=("Cs",))),
)
def test_hostile_service_names_cannot_change_the_query(
    hostile: HostileCounter, services: list[str], text: str
) -> None:
    hostile.count("logql-selector-builder")
    q = logql.selector(services, label="app") + " " + logql.line_contains(text)
    matchers, rest = parse_selector(q)
    uniq = list(dict.fromkeys(services))
    assert len(matchers) == 1 and matchers[0][0] == "app"
    _, op, value = matchers[0]
    if len(uniq) == 1:
        assert (op, value) == ("=", uniq[0])
    else:
        assert op == "=~" and split_alternatives(value) == uniq
        for s in uniq:  # RE2 and Python agree on escaped literals and '|'
            assert re.fullmatch(value, s, re.S)
    m = re.compile(r" \|= ").match(rest)
    assert m
    filt, end = go_unquote(rest, m.end())
    assert filt == text and end == len(rest)


def test_selector_refuses_empty_or_bad_labels() -> None:
    with pytest.raises(WorkbenchError):
        logql.selector([""])
    with pytest.raises(WorkbenchError):
        logql.selector(["x"], label='a="b"')
    assert logql.selector(None) == '{service_name=~".+"}'


def test_default_logs_query_escapes_services(recorded_http: RecordedServer, loki_dir: Path) -> None:
    recorded_http.route(RANGE_PATH, file=loki_dir / "streams_simple.json")
    LokiSource(recorded_http.url, service_label="app").logs(
        None, SAMPLE_WINDOW, services=['x"} |= "', "a.b"]
    )
    assert recorded_http.requests[-1].query["query"] == r'{app=~"x\"\\} \\|= \"|a\\.b"}'


# -- hostile bodies -------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=20,
)
loki_like = st.fixed_dictionaries(
    {"status": st.sampled_from(["success", "error", 3]),
     "data": st.fixed_dictionaries({"resultType": st.sampled_from(["streams", "matrix", "vector", "x"]),
                                    "result": st.lists(st.fixed_dictionaries(
                                        {"stream": json_values, "metric": json_values,
                                         "values": st.lists(st.lists(json_values, max_size=4), max_size=4),
                                         "value": json_values}), max_size=3) | json_values})}
)  # fmt: skip


@given(body=loki_like | json_values)
def test_hostile_bodies_give_frames_or_bad_data(hostile: HostileCounter, body: Any) -> None:
    hostile.count("loki-query-response")
    from workbench.sources.loki.response import matrix_frame

    try:
        page = parse_page(body, source="loki")
        if page.result_type == "streams":
            rows = LogRows()
            rows.add(page)
            df = rows.frame()
            assert df.height == page.entries
        else:
            df = matrix_frame(page, metric="m")
            n = len(page.result) if page.result_type == "vector" else page.entries
            assert df.height == n
    except BadData:
        pass


def test_normalize_level() -> None:
    assert [normalize_level(x) for x in ("WARNING", "err", "crit", "Info", None, "weird")] == [
        "warn", "error", "fatal", "info", "unknown", "unknown"
    ]  # fmt: skip


def test_transport_oddities_are_typed(
    hostile: HostileCounter, recorded_http: RecordedServer
) -> None:
    hostile.fault("loki", 3)
    recorded_http.route(RANGE_PATH, body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(SourceUnavailable, match="could not be read") as ei:
        LokiSource(recorded_http.url, retries=0).logs('{a="b"}', SAMPLE_WINDOW)
    assert "DecodingError" in (ei.value.detail or "")
    with pytest.raises(WorkbenchError, match="not an http"):
        LokiSource("ftp://loki.example").logs('{a="b"}', SAMPLE_WINDOW)
    with pytest.raises(WorkbenchError, match="cannot use CA file"):
        LokiSource(recorded_http.url, auth=Auth(ca_file="/no/such/ca.pem")).logs(
            "{}", SAMPLE_WINDOW
        )


def test_metadata_shadowing_a_label_wins_and_attributes_stay_sorted() -> None:
    body = {"status": "success", "data": {"resultType": "streams", "encodingFlags": ["categorize-labels"], "result": [
        {"stream": {"app": "cart", "zone": "a", "level": "info"}, "values": [
            ["1645030244810757120", "one", {"structuredMetadata": {"zone": "b", "trace_id": "t1"}, "parsed": {"level": "error"}}],
            ["1645030244810757121", "two"],
            ["1645030244810757122", "three", {}],
        ]}]}}  # fmt: skip
    rows = LogRows()
    rows.add(parse_page(body, source="loki"))
    df = rows.frame()
    one, two, three = df.iter_rows(named=True)
    assert one["attributes"] == [
        {"key": k, "value": v}
        for k, v in [("app", "cart"), ("level", "error"), ("trace_id", "t1"), ("zone", "b")]
    ]
    assert (one["level"], one["trace_id"], one["service"]) == ("error", "t1", "cart")
    assert two["attributes"] == three["attributes"] == [
        {"key": "app", "value": "cart"}, {"key": "level", "value": "info"},
        {"key": "zone", "value": "a"},
    ]  # fmt: skip
    assert (two["level"], two["trace_id"]) == ("info", None)


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"resultType": "streams", "result": [{"stream": {}, "values": [[str(2**70), "x"]]}]}},
        {"data": {"resultType": "streams", "result": [{"stream": {}, "values": [["1645030244", "s"]]}]}},
        {"data": {"resultType": "streams", "result": [{"stream": {}, "values": [[True, "x"]]}]}},
        {"data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1e300, "1"]]}]}},
        {"data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[float("nan"), "1"]]}]}},
        {"data": {"resultType": "vector", "result": [{"metric": {}, "value": [1645030244, "x"]}]}},
    ],
)  # fmt: skip
def test_wrong_unit_or_garbage_timestamps_are_bad_data(body: dict[str, Any]) -> None:
    from workbench.sources.loki.response import matrix_frame

    page = parse_page(body, source="loki")
    with pytest.raises(BadData, match=r"timestamp|sample") as ei:
        if page.result_type == "streams":
            rows = LogRows()
            rows.add(page)
        else:
            matrix_frame(page, metric="m")
    assert ei.value.field and ei.value.field.startswith("data.result[0]")


def test_connection_reset_is_retried_then_source_unavailable(
    hostile: HostileCounter, recorded_http: RecordedServer, loki_dir: Path
) -> None:
    hostile.fault("loki", 2)
    recorded_http.route(RANGE_PATH, query={"query": "once"}, reset=True, times=1)
    recorded_http.route(RANGE_PATH, query={"query": "once"}, file=loki_dir / "streams_simple.json")
    recorded_http.route(RANGE_PATH, reset=True)
    src = LokiSource(recorded_http.url, retries=1)
    assert src.logs("once", SAMPLE_WINDOW).rows == 6  # a reset GET is retried
    n = len(recorded_http.requests)
    with pytest.raises(SourceUnavailable) as ei:
        src.logs('{a="b"}', SAMPLE_WINDOW)
    assert len(recorded_http.requests) - n == 2  # bounded: 1 + retries
    assert ei.value.query == '{a="b"}'


def test_services_from_label_values(recorded_http: RecordedServer) -> None:
    # the documented /loki/api/v1/label/<name>/values response shape
    body = {"status": "success", "data": ["checkout", "cart", 'we"ird']}
    recorded_http.route("/loki/api/v1/label/app/values", body=json.dumps(body))
    src = LokiSource(recorded_http.url, service_label="app")
    assert src.services(SAMPLE_WINDOW) == ["cart", "checkout", 'we"ird']
    assert recorded_http.requests[-1].query == {"start": "1645030200000000000",
                                                "end": "1645030260000000000"}  # fmt: skip


def test_rate_and_server_warnings_are_surfaced(
    recorded_http: RecordedServer, loki_dir: Path
) -> None:
    body = json.loads((loki_dir / "matrix_nan.json").read_text())
    body["warnings"] = ["query was split: results may be approximate"]
    body["data"]["result"][0]["metric"] = {"service_name": "checkout"}
    recorded_http.route(RANGE_PATH, body=json.dumps(body))
    w = Window.parse("2022-01-24T08:50:00Z..2022-01-24T09:00:00Z")
    res = LokiSource(recorded_http.url).rate(w, services=["checkout"], step=300, pipeline='|= "x"')
    assert res.warnings == ("query was split: results may be approximate",)
    assert set(res.frame["metric"]) == {"log_lines_per_second"}
    assert set(res.frame["service"]) == {"checkout"}
    assert recorded_http.requests[-1].query["query"] == (
        'sum by (service_name) (rate({service_name="checkout"} |= "x" [300s]))'
    )
    streams = json.loads((loki_dir / "streams_simple.json").read_text())
    streams["data"]["warnings"] = ["max_query_series hit on one shard"]
    recorded_http.clear()
    recorded_http.route(RANGE_PATH, body=json.dumps(streams))
    assert LokiSource(recorded_http.url).logs("{}", SAMPLE_WINDOW).warnings == (
        "max_query_series hit on one shard",
    )
