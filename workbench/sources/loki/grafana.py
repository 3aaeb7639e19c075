"""Loki settings from a Grafana datasource: ``maxLines`` -> ``limit``
(read by :mod:`workbench.config_grafana`).

Example::

    >>> options(ds)          # ds: a registry.GrafanaDatasource
    {'limit': 5000}
"""

from __future__ import annotations

from typing import Any

from workbench.errors import ConfigError
from workbench.sources.registry import GrafanaDatasource

__all__ = ["options"]


def options(ds: GrafanaDatasource) -> dict[str, Any]:
    """The LokiSource options a Grafana Loki datasource implies."""
    if not ds.json_data.get("maxLines"):
        return {}
    try:
        return {"limit": int(ds.expand(ds.json_data["maxLines"], f"{ds.where}.jsonData.maxLines"))}
    except (TypeError, ValueError):
        raise ConfigError(f"{ds.where}: jsonData.maxLines is not a number") from None
