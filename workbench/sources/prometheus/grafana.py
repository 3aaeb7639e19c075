"""Prometheus settings from a Grafana datasource: ``prometheusType`` -> ``flavor``,
``timeInterval`` -> ``scrape_interval`` (read by :mod:`workbench.config_grafana`).

Example::

    >>> options(ds)          # ds: a registry.GrafanaDatasource
    {'flavor': 'thanos', 'scrape_interval': '30s'}
"""

from __future__ import annotations

from typing import Any

from workbench.sources.registry import GrafanaDatasource

__all__ = ["options"]

_FLAVORS = {"prometheus": "prometheus", "thanos": "thanos", "mimir": "mimir", "cortex": "mimir"}


def options(ds: GrafanaDatasource) -> dict[str, Any]:
    """The PrometheusSource options a Grafana Prometheus datasource implies."""
    jd, out = ds.json_data, {}
    flavor = _FLAVORS.get(str(jd.get("prometheusType") or "prometheus").lower())
    if flavor and flavor != "prometheus":
        out["flavor"] = flavor
    if jd.get("timeInterval"):
        out["scrape_interval"] = str(
            ds.expand(jd["timeInterval"], f"{ds.where}.jsonData.timeInterval")
        )
    return out
