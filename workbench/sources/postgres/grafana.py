"""PostgreSQL settings from a Grafana datasource: ``url`` (host:port), ``user``,
``jsonData.database`` (or ``database``), ``jsonData.sslmode`` -> a ``postgres://`` DSN;
``secureJsonData.password`` -> a password reference (read by :mod:`workbench.config_grafana`).

Example::

    >>> options(ds)          # ds: a registry.GrafanaDatasource
    {'url': 'postgres://grafana@db:5432/telemetry?sslmode=require', 'password': Secret(env=...)}
"""

from __future__ import annotations

import re
from typing import Any

from workbench.sources.registry import GrafanaDatasource

__all__ = ["options"]


def options(ds: GrafanaDatasource) -> dict[str, Any]:
    """The PostgresSource settings (url, password) a Grafana PostgreSQL datasource implies."""
    jd, where = ds.json_data, ds.where
    database = ds.expand(jd.get("database") or ds.raw.get("database"), f"{where}.database")
    user = ds.expand(ds.raw.get("user"), f"{where}.user")
    host = re.sub(r"^[a-z]+://", "", str(ds.url)).rstrip("/")
    out: dict[str, Any] = {"url": f"postgres://{f'{user}@' if user else ''}{host}/{database or ''}"}
    sslmode = ds.expand(jd.get("sslmode"), f"{where}.jsonData.sslmode")
    if sslmode:
        out["url"] += f"?sslmode={sslmode}"
    if ds.secure.get("password") is not None:
        out["password"] = ds.secret(ds.secure["password"], f"{where}.secureJsonData.password")
    return out
