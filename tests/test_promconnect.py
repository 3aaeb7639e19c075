"""The ``prometheus`` extra: a PrometheusConnect a notebook already has becomes a source,
and results come back shaped like MetricRangeDataFrame, against a real Prometheus behind
basic auth."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest

from tests import promdata
from tests.plugins.servers_prometheus import BASIC_AUTH
from workbench import PrometheusSource
from workbench.errors import AuthError, ConfigError
from workbench.sources.prometheus.connect import metric_range_dataframe
from workbench.timewindow import Window

pytestmark = pytest.mark.service
pac = pytest.importorskip("prometheus_api_client")

W = Window(promdata.LONG_START, promdata.LONG_START + timedelta(hours=2))


def test_a_prometheus_connect_becomes_a_source_with_its_credentials(
    prometheus_auth_server,
) -> None:
    pc = pac.PrometheusConnect(
        prometheus_auth_server.url, auth=BASIC_AUTH, headers={"X-Scope-OrgID": "tenant-7"}
    )
    src = PrometheusSource.from_client(pc, name="from-pac")
    assert src.name == "from-pac"
    assert "tenant-7" not in repr(src.describe()) and "test" not in str(src.describe().get("auth"))
    res = src.query_range("wb_long", W, step="60s")
    assert res.frame.height == promdata.LONG_SERIES * 120  # 2 h at 60 s, end exclusive
    # the same client without the password is refused by the server: the auth came from pc
    bare = PrometheusSource.from_client(pac.PrometheusConnect(prometheus_auth_server.url))
    with pytest.raises(AuthError):
        bare.query_range("wb_long", W, step="60s")
    src.close()
    bare.close()


def test_output_is_shaped_like_metric_range_dataframe(prometheus_auth_server) -> None:
    pd = pytest.importorskip("pandas")
    pc = pac.PrometheusConnect(prometheus_auth_server.url, auth=BASIC_AUTH)
    src = PrometheusSource.from_client(pc)
    ours = metric_range_dataframe(src.query_range("wb_long", W, step="60s").frame)
    raw = pc.custom_query_range("wb_long", start_time=W.start, end_time=W.end, step="60")
    with warnings.catch_warnings():  # prometheus-api-client's own pandas deprecations
        warnings.simplefilter("ignore")
        theirs = pac.MetricRangeDataFrame(raw)
    # the workbench's windows are end-exclusive; Prometheus also returns the end instant
    theirs = theirs[theirs.index < pd.Timestamp(W.end).tz_convert(None)]
    assert list(ours.index.names) == ["timestamp"] == list(theirs.index.names)
    assert sorted(ours.columns) == sorted(theirs.columns)
    key = ["timestamp", "series"]
    a = ours.reset_index().sort_values(key).reset_index(drop=True)
    b = theirs.reset_index().sort_values(key).reset_index(drop=True)[a.columns]
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    src.close()


def test_settings_that_cannot_be_carried_over_are_refused() -> None:
    pc = pac.PrometheusConnect("http://127.0.0.1:9", proxy={"https": "http://proxy:3128"})
    with pytest.raises(ConfigError, match="proxy"):
        PrometheusSource.from_client(pc)
    with pytest.raises(ConfigError, match="PrometheusConnect"):
        PrometheusSource.from_client(object())
