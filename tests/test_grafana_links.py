"""Grafana Explore links: written and read back (pure; the real-server test is in
tests/test_naming_prometheus.py)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from workbench.errors import ConfigError
from workbench.grafana_links import Grafana, decode_explore_url, explore_url
from workbench.timewindow import Window

W = Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z")


def test_explore_url_carries_query_datasource_and_absolute_range() -> None:
    g = Grafana("http://grafana:3000", loki_uid="loki-1", tempo_uid="tempo-1")
    url = explore_url(g, query='{service="checkout"} |= "error"', window=W, datasource="loki")
    pane = json.loads(parse_qs(urlsplit(url).query)["panes"][0])["wb"]
    assert pane["range"] == {"from": "1795172400000", "to": "1795176000000"}
    assert pane["queries"][0]["datasource"] == {"type": "loki", "uid": "loki-1"}
    d = decode_explore_url(url)
    assert d["query"] == '{service="checkout"} |= "error"' and d["window"] == W
    t = decode_explore_url(explore_url(g, query="{ status = error }", window=W, datasource="tempo"))
    assert t["type"] == "tempo" and t["query"] == "{ status = error }"


def test_missing_uid_and_bad_urls_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="no prometheus data-source UID"):
        explore_url(Grafana("http://g"), query="up", window=W)
    with pytest.raises(ConfigError, match="must start with http"):
        Grafana("grafana:3000")
    with pytest.raises(ConfigError, match="not a Grafana Explore URL"):
        decode_explore_url("http://g/explore?left=x")
