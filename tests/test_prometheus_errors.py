"""Every failure of issue 3 point 6 for PrometheusSource, against real servers or real HTTP.

Real Prometheus / VictoriaMetrics instances answer bad queries, limits and wrong
credentials; a small real HTTP server (tests/plugins/recorded_http.py) plays the slow,
failing and truncating server, and a proxy in front of the real Prometheus fails one
chunk of a chunked load.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest

from tests import promdata
from tests.plugins.recorded_http import RecordedRequest, Reply
from tests.plugins.servers_prometheus import BASIC_AUTH
from workbench.errors import (
    AuthError,
    BadData,
    LimitExceeded,
    QueryError,
    SourceError,
    SourceUnavailable,
)
from workbench.secrets import Secret
from workbench.sources.http import Auth, Timeout
from workbench.sources.prometheus.source import PrometheusSource
from workbench.timewindow import Window

pytestmark = pytest.mark.service

DAY = Window(promdata.LONG_START, promdata.LONG_START + timedelta(days=1))


def test_unreachable_server_is_source_unavailable(hostile, dead_url: str) -> None:
    hostile.fault("prometheus")
    src = PrometheusSource(dead_url, name="gone", timeout=Timeout(connect=1, read=2))
    t = time.monotonic()
    with pytest.raises(SourceUnavailable) as info:
        src.query_range("up", DAY)
    assert time.monotonic() - t < 5
    assert info.value.source == "gone" and "cannot connect" in info.value.message
    assert info.value.query == "up"


def test_slow_server_times_out_within_the_timeout(hostile, recorded_http, shared_data) -> None:
    hostile.fault("prometheus")
    body = shared_data / "api-samples/prometheus/docs-examples/query_range_up_matrix.json"
    recorded_http.route("/api/v1/query_range", file=body, delay_s=3.0)
    src = PrometheusSource(recorded_http.url, name="slow", timeout=Timeout(connect=1, read=0.5))
    t = time.monotonic()
    with pytest.raises(SourceUnavailable) as info:
        src.query_range("up", DAY, step="1h")
    elapsed = time.monotonic() - t
    assert elapsed < 1.5, elapsed
    assert "did not answer within 0.5s" in info.value.message
    assert "raise the source's timeout" in (info.value.hint or "")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_source_unavailable(hostile, recorded_http, status: int) -> None:
    hostile.fault("prometheus")
    recorded_http.route("/api/v1/query_range", status=status, body=b"upstream exploded")
    src = PrometheusSource(recorded_http.url, name="broken", retries=1)
    with pytest.raises(SourceUnavailable) as info:
        src.query_range("up", DAY, step="1h")
    assert info.value.status == status and info.value.source == "broken"
    assert "upstream exploded" in (info.value.detail or "")
    # GETs are retried a bounded number of times on 502/503/504 only
    want = 2 if status in (502, 503) else 1
    assert len(recorded_http.requests) == want


@pytest.mark.parametrize("declare_full_length", [True, False])
def test_truncated_body_names_the_source(
    hostile, recorded_http, shared_data, declare_full_length
) -> None:
    hostile.fault("prometheus")
    body = shared_data / "api-samples/prometheus/docs-examples/query_range_up_matrix.json"
    recorded_http.route(
        "/api/v1/query_range",
        file=body,
        truncate_at=200,
        declare_full_length=declare_full_length,
    )
    src = PrometheusSource(recorded_http.url, name="cut", retries=0)
    with pytest.raises((BadData, SourceUnavailable)) as info:
        src.query_range("up", DAY, step="1h")
    assert info.value.source == "cut"
    assert "cut short" in info.value.message or "closed the connection" in info.value.message


def test_recorded_error_bodies_give_query_errors(hostile, recorded_http, shared_data) -> None:
    hostile.fault("prometheus")
    folder = shared_data / "api-samples/prometheus/errors"
    for case in json.loads((folder / "index.json").read_text()):
        recorded_http.clear()
        recorded_http.route(
            case["endpoint"], file=folder / case["file"], status=case["http_status"]
        )
        want = json.loads((folder / case["file"]).read_text())
        src = PrometheusSource(recorded_http.url, name="rec")
        with pytest.raises(QueryError) as info:
            if case["endpoint"] == "/api/v1/query":
                src.query(case["params"]["query"])
            else:
                src.query_range(case["params"]["query"], DAY, step="1h")
        err = info.value
        assert (err.status, err.error_type, err.detail) == (
            case["http_status"],
            want["errorType"],
            want["error"],
        )
        assert not isinstance(err, LimitExceeded)


def test_bad_query_against_real_server(prom_backend) -> None:
    flavor, server = prom_backend
    src = PrometheusSource(server.url, name=flavor, flavor=flavor)
    with pytest.raises(QueryError) as info:
        src.query_range("invalid][query", DAY, step="1h")
    err = info.value
    if flavor == "prometheus":  # the same error type and parser text as the recorded body
        assert (err.status, err.error_type) == (400, "bad_data")
        assert "1:8: parse error: unexpected right bracket ']'" in (err.detail or "")
    else:
        assert err.status == 422 and "unexpected token" in (err.detail or "")
    assert err.query == "invalid][query" and err.source == flavor
    assert "invalid][query" in str(err)


def test_wrong_credentials_are_auth_errors(hostile, prometheus_auth_server, monkeypatch) -> None:
    hostile.fault("prometheus")
    url = prometheus_auth_server.url
    monkeypatch.setenv("WB_TEST_PROM_PASSWORD", "not-the-password")
    wrong = PrometheusSource(
        url,
        name="guarded",
        auth=Auth(username=BASIC_AUTH[0], password=Secret.env("WB_TEST_PROM_PASSWORD")),
    )
    with pytest.raises(AuthError) as info:
        wrong.query_range("wb_long", DAY, step="1h")
    assert info.value.status == 401 and info.value.source == "guarded"
    assert "not-the-password" not in str(info.value) + repr(wrong) + str(wrong.describe())
    with pytest.raises(AuthError):
        PrometheusSource(url).query("wb_long")  # no credentials at all
    monkeypatch.setenv("WB_TEST_PROM_PASSWORD", BASIC_AUTH[1])
    right = PrometheusSource(
        url, auth=Auth(username=BASIC_AUTH[0], password=Secret.env("WB_TEST_PROM_PASSWORD"))
    )
    assert right.query_range("wb_long", DAY, step="1h").frame.height == 3 * 24


def test_prometheus_max_samples_is_limit_exceeded(hostile, prometheus_limited_server) -> None:
    hostile.fault("prometheus")
    src = PrometheusSource(prometheus_limited_server.url, name="tiny")
    with pytest.raises(LimitExceeded) as info:
        src.query_range("wb_long", DAY, step="60s")
    err = info.value
    assert err.limit == "samples per query" and err.status == 422
    assert "too many samples" in (err.detail or "")
    assert "narrow the window" in (err.hint or "")
    # narrowing as the hint says works
    narrow = Window(DAY.start, DAY.start + timedelta(minutes=20))
    assert src.query_range('wb_long{series="0"}', narrow, step="60s").frame.height == 20


def test_victoriametrics_points_limit_is_limit_exceeded(
    hostile, victoriametrics_limited_server
) -> None:
    hostile.fault("victoriametrics")
    src = PrometheusSource(victoriametrics_limited_server.url, name="vm", flavor="victoriametrics")
    with pytest.raises(LimitExceeded) as info:
        src.query_range("wb_long", DAY, step="60s")
    assert info.value.limit == "points per series"
    assert "maxPointsPerTimeseries=100" in (info.value.detail or "")
    # the source chunks by its own max_points_per_series: set below the server's limit
    ok = PrometheusSource(
        victoriametrics_limited_server.url, flavor="victoriametrics", max_points_per_series=100
    )
    res = ok.query_range("wb_long", DAY, step="60s")
    assert res.extra["chunks"] == 15 and res.frame.height == 3 * 1440


def test_unchunked_11000_points_is_limit_exceeded(hostile, prometheus_server) -> None:
    hostile.fault("prometheus")
    src = PrometheusSource(prometheus_server.url, max_points_per_series=50_000)
    with pytest.raises(LimitExceeded) as info:
        src.query_range("wb_long", DAY, step="5s")
    assert info.value.limit == "points per series" and info.value.status == 400
    assert "11,000 points" in (info.value.detail or "")


def _proxy_failing(target: str, fail_start: str):  # type: ignore[no-untyped-def]
    client = httpx.Client(base_url=target, timeout=30)

    def handle(req: RecordedRequest) -> Reply:
        if req.query.get("start") == fail_start:
            return Reply(b'{"status":"error","errorType":"unavailable","error":"boom"}', 503)
        r = client.get(req.path, params=req.query_list)
        return Reply(r.content, r.status_code)

    return handle


@pytest.mark.parametrize("mode", ["raise", "partial"])
def test_failed_chunk_raises_or_marks_partial(
    hostile, recorded_http, prometheus_server, mode
) -> None:
    hostile.fault("prometheus")
    from workbench.sources import chunking

    chunks = chunking.plan(DAY, "5s")
    assert len(chunks) == 2
    bad = chunks[1]
    recorded_http.route(
        "/api/v1/query_range", handler=_proxy_failing(prometheus_server.url, bad.params()["start"])
    )
    src = PrometheusSource(recorded_http.url, name="flaky", on_chunk_error=mode, retries=1)
    if mode == "raise":
        with pytest.raises(SourceUnavailable) as info:
            src.query_range("wb_long", DAY, step="5s")
        assert info.value.status == 503 and info.value.window == bad.describe()
        return
    res = src.query_range("wb_long", DAY, step="5s")
    assert res.partial
    assert len(res.reasons) == 1 and bad.describe() in res.reasons[0]
    assert res.frame.height == 3 * chunks[0].points  # the good chunk, whole
    assert res.frame["ts"].max().timestamp() * 1000 < bad.start_ms


def test_warnings_are_surfaced_not_dropped(recorded_http, shared_data) -> None:
    body = shared_data / "api-samples/prometheus/jaeger-metricstore-testdata/warning_response.json"
    recorded_http.route("/api/v1/query_range", file=body)
    res = PrometheusSource(recorded_http.url).query_range("up", DAY, step="1h")
    assert res.warnings == ("warning0", "warning1") and not res.partial
    thanos = PrometheusSource(recorded_http.url, flavor="thanos").query_range("up", DAY, step="1h")
    assert thanos.partial and len(thanos.reasons) == 2
    assert recorded_http.requests[-1].query["partial_response"] == "true"


def test_warnings_and_infos_on_a_matrix(recorded_http) -> None:
    body = {
        "status": "success",
        "warnings": ["PromQL warning: encountered a mix of histograms and floats"],
        "infos": ["PromQL info: metric might not be a counter, name does not end in _total"],
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"__name__": "x", "service": "a"},
                    "values": [[1790812800, "1"], [1790812860, "NaN"]],
                }
            ],
        },
    }
    recorded_http.route("/api/v1/query_range", body=json.dumps(body))
    res = PrometheusSource(recorded_http.url).query_range("x", DAY, step="1h")
    assert res.frame.height == 2
    assert res.warnings == (body["warnings"][0], "info: " + body["infos"][0])


def test_every_error_is_a_source_error_naming_the_source(recorded_http) -> None:
    recorded_http.route(
        "/api/v1/query",
        status=422,
        body=json.dumps(
            {"status": "error", "errorType": "execution", "error": "expanding series: boom"}
        ),
    )
    with pytest.raises(SourceError) as info:
        PrometheusSource(recorded_http.url, name="named").query("up")
    assert info.value.source == "named" and info.value.error_type == "execution"
    assert "<b>QueryError</b>" in info.value._repr_html_()


@pytest.mark.parametrize("mode", ["raise", "partial"])
def test_server_killed_in_the_middle_of_a_chunked_load(
    hostile, tmp_path, prom_small_data, mode
) -> None:
    """A real Prometheus is stopped after the first chunk came back: the other chunks hit a
    dead server. ``raise``: SourceUnavailable; ``partial``: the loaded chunk plus reasons
    naming every missing window."""
    hostile.fault("prometheus")
    from tests.promservers import start_prometheus
    from workbench.sources import chunking

    srv = start_prometheus(tmp_path / "prom", [prom_small_data])

    class KillAfterFirst(PrometheusSource):
        def _run_task(self, task, out):  # type: ignore[no-untyped-def]
            super()._run_task(task, out)
            srv.stop()  # the server dies once the first chunk is in

    try:
        src = KillAfterFirst(srv.url, name="dying", max_concurrency=1, retries=1,
                             max_points_per_series=400, on_chunk_error=mode,
                             timeout=Timeout(connect=1, read=5))  # fmt: skip
        chunks = chunking.plan(DAY, "60s", max_points=400)
        assert len(chunks) == 4
        t = time.monotonic()
        if mode == "raise":
            with pytest.raises(SourceUnavailable) as info:
                src.query_range("wb_long", DAY, step="60s")
            assert info.value.source == "dying" and info.value.window == chunks[1].describe()
        else:
            res = src.query_range("wb_long", DAY, step="60s")
            assert res.partial and res.frame.height == 3 * chunks[0].points
            assert all(c.describe() in r for c, r in zip(chunks[1:], res.reasons, strict=True))
            assert all("cannot connect" in r for r in res.reasons)
        assert time.monotonic() - t < 10
    finally:
        srv.stop()


def test_tls_with_an_unknown_ca_and_with_the_right_ca(
    hostile,
    recorded_https,
    tls_certs,
    shared_data,
) -> None:
    hostile.fault("prometheus")
    body = shared_data / "api-samples/prometheus/docs-examples/query_range_up_matrix.json"
    recorded_https.route("/api/v1/query_range", file=body)
    with pytest.raises(SourceUnavailable) as info:
        PrometheusSource(recorded_https.url, name="tls").query_range("up", DAY, step="1h")
    assert "TLS" in info.value.message and "ca_file" in (info.value.hint or "")
    ok = PrometheusSource(recorded_https.url, auth=Auth(ca_file=str(tls_certs["ca"])))
    assert ok.query_range("up", DAY, step="1h").frame.height == 6
