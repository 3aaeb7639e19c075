"""Links that open a query over a window in Grafana Explore.

Grafana's Explore URL (``/explore?schemaVersion=1&panes=...&orgId=N``) carries the data
source, the query and the absolute time range as JSON; :func:`explore_url` writes it
and :func:`decode_explore_url` reads it back. :func:`suspect_links` gives each suspect a
link to the PromQL behind its strongest metric change, over the window its evidence
compares (baseline start to incident end), when the metrics came from a
:class:`~workbench.sources.prometheus.PrometheusSource`.

Example::

    >>> g = Grafana("https://grafana.example.com", prometheus_uid="prom")
    >>> explore_url(g, query='sum(rate(http_server_requests_total[1m]))',
    ...             window=Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z"))
    >>> links = suspect_links(rank_suspects(inc), inc, prom, g)   # {service: url}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from workbench.errors import ConfigError
from workbench.timewindow import Window

if TYPE_CHECKING:
    from workbench.sources.prometheus import PrometheusSource

__all__ = ["Grafana", "decode_explore_url", "explore_url", "suspect_links"]


@dataclass(frozen=True)
class Grafana:
    """Where Grafana is and which data-source UIDs hold the workbench's sources."""

    url: str
    prometheus_uid: str | None = None
    loki_uid: str | None = None
    tempo_uid: str | None = None
    org_id: int = 1

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"grafana url must start with http:// or https://, not {self.url!r}")


_QUERY_KEY = {"prometheus": "expr", "loki": "expr", "tempo": "query"}


def explore_url(
    grafana: Grafana, *, query: str, window: Window, datasource: str = "prometheus"
) -> str:
    """The Explore URL showing ``query`` on the ``datasource`` type over ``window``."""
    uid = getattr(grafana, f"{datasource}_uid", None)
    if datasource not in _QUERY_KEY:
        raise ConfigError(f"no Explore links for data source type {datasource!r}")
    if not uid:
        raise ConfigError(
            f"no {datasource} data-source UID configured for Grafana links",
            hint=f"set Grafana(..., {datasource}_uid='...') (the UID in Grafana's data "
            "source settings or provisioning file)",
        )
    q: dict[str, Any] = {
        "refId": "A",
        "datasource": {"type": datasource, "uid": uid},
        _QUERY_KEY[datasource]: query,
    }
    if datasource == "tempo":
        q["queryType"] = "traceql"
    pane = {
        "datasource": uid,
        "queries": [q],
        "range": {
            "from": str(int(window.start.timestamp() * 1000)),
            "to": str(int(window.end.timestamp() * 1000)),
        },
    }
    params = {
        "schemaVersion": "1",
        "panes": json.dumps({"wb": pane}, separators=(",", ":")),
        "orgId": str(grafana.org_id),
    }
    return f"{grafana.url.rstrip('/')}/explore?{urlencode(params)}"


def decode_explore_url(url: str) -> dict[str, Any]:
    """``{"datasource", "type", "query", "window"}`` of an Explore URL (its first pane)."""
    qs = parse_qs(urlsplit(url).query)
    try:
        panes = json.loads(qs["panes"][0])
        pane = next(iter(panes.values()))
        q = pane["queries"][0]
        rng = pane["range"]
    except (KeyError, IndexError, StopIteration, ValueError) as exc:
        raise ConfigError(f"not a Grafana Explore URL: {url[:120]}") from exc
    from datetime import UTC, datetime

    def ts(ms: str) -> datetime:
        return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)

    return {
        "datasource": pane["datasource"],
        "type": q["datasource"]["type"],
        "query": q.get("expr", q.get("query")),
        "window": Window(ts(rng["from"]), ts(rng["to"])),
    }


def suspect_links(
    suspects: Any, incident: Any, prometheus: PrometheusSource, grafana: Grafana, *, top: int = 5
) -> dict[str, str]:
    """``{service: Explore URL}`` for the ``top`` suspects: the PromQL of each one's
    strongest metric change (a ``red:``/``saturation:`` signal of ``prometheus``) for that
    service, over baseline start .. incident end (the span its evidence compares).
    Suspects whose evidence holds no such signal get no link."""
    from workbench.sources.prometheus.signals import signal_queries

    window = Window(incident.baseline.start, incident.window.end)
    step = prometheus._step(window, None)
    out: dict[str, str] = {}
    for service in suspects.ranking[:top]:
        series = suspects.evidence(service).series
        if series.is_empty() or "metric" not in series.columns:
            continue
        order = series.sort("score", descending=True) if "score" in series.columns else series
        for metric in order["metric"].to_list():
            queries = signal_queries(
                prometheus.metric_names,
                services=[service],
                rate_window=prometheus._rate_window(step),
            )
            if metric in queries:
                out[service] = explore_url(grafana, query=queries[metric], window=window)
                break
    return out
