"""Bridges to prometheus-api-client, for notebooks that already use it.

* :func:`from_prometheus_connect` builds a :class:`PrometheusSource` from an existing
  ``prometheus_api_client.PrometheusConnect``: the same URL, headers (a tenant header, a
  bearer token), basic auth, TLS verification or CA bundle and timeout. Header values and
  passwords are wrapped in :class:`~workbench.secrets.Secret`, so they are never shown.
  Settings the workbench cannot carry over (a client certificate, proxies) raise
  :class:`ConfigError` instead of being dropped silently.
* :func:`metric_range_dataframe` turns a metrics frame into the pandas frame
  ``prometheus_api_client.MetricRangeDataFrame`` gives: one row per sample, a
  ``timestamp`` index (naive UTC datetimes, as that class makes them), one column per
  label (``__name__`` included) and ``value``.

The ``prometheus`` extra installs prometheus-api-client; this module imports neither it
nor pandas until called.

Example::

    >>> from prometheus_api_client import PrometheusConnect
    >>> pc = PrometheusConnect("https://prom.example.com", headers={"X-Scope-OrgID": "t1"})
    >>> prom = PrometheusSource.from_client(pc)
    >>> res = prom.query_range("rate(http_server_requests_total[1m])", Window.last("1h"))
    >>> df = metric_range_dataframe(res.frame)        # what MetricRangeDataFrame would give
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.errors import ConfigError
from workbench.secrets import Secret
from workbench.sources.http import Auth, Timeout

if TYPE_CHECKING:
    import pandas as pd

    from workbench.sources.prometheus import PrometheusSource

__all__ = ["auth_from_prometheus_connect", "from_prometheus_connect", "metric_range_dataframe"]


def auth_from_prometheus_connect(pc: Any) -> tuple[Auth, Timeout | None]:
    """The :class:`Auth` and :class:`Timeout` a ``PrometheusConnect`` connects with."""
    session = getattr(pc, "_session", None)
    if getattr(session, "cert", None):
        raise ConfigError(
            "the PrometheusConnect uses a TLS client certificate, which the workbench's "
            "Prometheus source does not support",
            hint="connect with PrometheusSource(url, auth=Auth(...)) and a bearer token or "
            "basic auth instead",
        )
    if getattr(session, "proxies", None):
        raise ConfigError(
            "the PrometheusConnect goes through a proxy, which the workbench's Prometheus "
            "source does not carry over",
            hint="set HTTPS_PROXY / HTTP_PROXY in the environment (httpx reads them) and "
            "build PrometheusSource(url) directly",
        )
    verify = getattr(session, "verify", True)
    headers = {
        str(k): Secret.value(str(v)) for k, v in (getattr(pc, "headers", None) or {}).items()
    }
    username = password = None
    basic = getattr(pc, "auth", None)
    if basic is not None:
        if not (isinstance(basic, tuple) and len(basic) == 2):
            raise ConfigError(
                f"the PrometheusConnect's auth is a {type(basic).__name__}; only a "
                "(user, password) tuple can be carried over",
                hint="pass auth=Auth(...) to PrometheusSource directly",
            )
        username, password = str(basic[0]), Secret.value(str(basic[1]))
    auth = Auth(
        username=username,
        password=password,
        headers=headers,
        ca_file=verify if isinstance(verify, str) else None,
        verify=bool(verify),
    )
    seconds = getattr(pc, "_timeout", None)
    return auth, (Timeout(read=float(seconds)) if seconds else None)


def from_prometheus_connect(pc: Any, **kwargs: Any) -> PrometheusSource:
    """A :class:`PrometheusSource` talking to the server ``pc`` talks to, the same way.

    ``kwargs`` go to :class:`PrometheusSource` (``name``, ``metric_names``, ...)."""
    from workbench.sources.prometheus import PrometheusSource

    url = getattr(pc, "url", None)
    if not isinstance(url, str) or not url:
        raise ConfigError(
            f"expected a prometheus_api_client.PrometheusConnect, got {type(pc).__name__}"
        )
    auth, timeout = auth_from_prometheus_connect(pc)
    kwargs.setdefault("auth", auth)
    if timeout is not None:
        kwargs.setdefault("timeout", timeout)
    return PrometheusSource(url, **kwargs)


def metric_range_dataframe(frame: pl.DataFrame) -> pd.DataFrame:
    """The metrics frame shaped like ``prometheus_api_client.MetricRangeDataFrame``.

    One row per sample, index ``timestamp`` (naive UTC ``datetime64``, as that class
    converts Prometheus's unix seconds), a column per label plus ``__name__`` (the
    frame's ``metric``) and ``value``. Needs pandas.
    """
    import pandas as pd

    if frame.is_empty():
        return pd.DataFrame({"value": []}, index=pd.DatetimeIndex([], name="timestamp"))
    rows = frame.with_row_index("_row")
    labels = (
        rows.select("_row", "labels")
        .explode("labels")
        .drop_nulls("labels")
        .unnest("labels")
        .pivot(on="key", index="_row", values="value", aggregate_function="first")
    )
    wide = rows.select(
        "_row",
        pl.col("ts").dt.convert_time_zone("UTC").dt.replace_time_zone(None).alias("timestamp"),
        pl.col("metric").alias("__name__"),
        "value",
    ).join(labels, on="_row", how="left")
    label_cols = sorted(c for c in wide.columns if c not in {"_row", "timestamp", "value"})
    out = wide.sort("_row").select("timestamp", *label_cols, "value").to_pandas()
    return out.set_index("timestamp")
