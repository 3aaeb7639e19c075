"""Grafana Explore links where a person looks: HTML anchors and Markdown links.

:class:`~workbench.grafana_links.ExploreLinks` builds the URLs; this module decides
which rows of which view get which link, and draws them: ``<a href>`` in HTML (a new
tab, no referrer), ``[label](url)`` in Markdown. With no Grafana configured every
function returns nothing and the views look as they did.

What links where (each over the evidence window, baseline start .. incident end):

- a metric change (``metric``, ``labels``): the series' PromQL on Prometheus;
- a log pattern (``template``): the service's streams filtered by the pattern on Loki;
- a span or trace (``trace_id``): that trace on Tempo;
- an error origin (``origins``: ``service``, ``name``): its failing spans on Tempo;
- a slow operation (``blame``: ``name``, ``normal_ms``): its spans slower than normal;
- a RED row (``red_summary``: ``service``): request rate, error ratio and p95 on
  Prometheus, the RED panels' queries.

Example::

    >>> links = explore_links(inc)
    >>> links_html(row_links("templates", {"template": "timeout <*>"}, links, "checkout"))
    "<a href='http://grafana/explore?...' ...>logs</a>"
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

__all__ = ["COLUMN", "link_cells", "links_html", "links_markdown", "row_links"]

#: the column added to tables that carry links
COLUMN = "grafana"


def links_html(links: Mapping[str, str]) -> str:
    """``label`` anchors, separated by middle dots ("" when there are none)."""
    return " · ".join(
        f"<a class='wb-grafana' style='white-space:nowrap' "
        f"href='{html.escape(url, quote=True)}' target='_blank' "
        f"rel='noopener noreferrer' title='Open in Grafana Explore'>{html.escape(label)}</a>"
        for label, url in links.items()
    )


def links_markdown(links: Mapping[str, str]) -> str:
    """``[label](url)`` links, separated by middle dots ("" when there are none)."""
    return " · ".join(f"[{label}]({url})" for label, url in links.items())


def row_links(
    view: str, row: Mapping[str, Any], links: Any, service: str | None = None
) -> dict[str, str]:
    """``{label: url}`` for one row of ``view`` (see the module doc); {} without links."""
    if links is None:
        return {}
    svc = service or row.get("service")
    out: dict[str, str | None] = {}
    if view == "red_summary" and svc:
        from workbench.sources.prometheus.signals import (
            ERROR_RATIO,
            REQUEST_RATE,
            latency_name,
        )

        out["rate"] = links.metric(REQUEST_RATE, svc)
        out["errors"] = links.metric(ERROR_RATIO, svc)
        out["p95"] = links.metric(latency_name(0.95), svc)
    elif row.get("metric") and svc:
        out["metric"] = links.metric(str(row["metric"]), svc, row.get("labels") or ())
    elif row.get("template") and svc:
        # a line put on the callee it names was written by its caller: search there
        out["logs"] = links.logs(row.get("logged_by") or svc, str(row["template"]))
    elif row.get("trace_id"):
        out["trace"] = links.trace(str(row["trace_id"]))
    elif view == "blame" and svc and row.get("name"):
        normal = row.get("normal_ms")
        out["slow traces"] = links.traces(
            svc, operation=str(row["name"]),
            min_duration_ms=round(float(normal), 1) if normal is not None else None,
        )  # fmt: skip
    elif view == "origins" and svc and row.get("name"):
        out["failing traces"] = links.traces(svc, errors=True, operation=str(row["name"]))
    return {k: v for k, v in out.items() if v}


def link_cells(
    df: pl.DataFrame, view: str, links: Any, service: str | None = None
) -> tuple[pl.DataFrame, dict[str, Callable[[Any, dict[str, Any]], str]]]:
    """``df`` with a ``grafana`` column and the ``cell_html`` that draws its links, for
    :func:`workbench.display.html_table`; ``df`` unchanged and ``{}`` without links or
    when no row of ``view`` gets one."""
    if links is None or df.is_empty() or COLUMN in df.columns:
        return df, {}
    probe = df.head(1).row(0, named=True)
    if not row_links(view, probe, links, service):
        return df, {}

    def cell(_value: Any, row: dict[str, Any]) -> str:
        return links_html(row_links(view, row, links, service))

    return df.with_columns(pl.lit(None, dtype=pl.String).alias(COLUMN)), {COLUMN: cell}
