"""Small HTML helpers shared by the explorer's views (accessible tables, notes)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from widgets.explorer import IncidentExplorer

__all__ = ["WARN", "services_note", "table_html"]

WARN = "#b35806"  # dark orange: readable with every colour-vision deficiency


def table_html(df: pl.DataFrame, *, caption: str = "", fmt: dict[str, str] | None = None) -> str:
    """A small accessible HTML table (header cells scoped, a caption)."""
    fmt = fmt or {}
    head = "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in df.columns)
    rows = []
    for r in df.iter_rows(named=True):
        cells = []
        for c, v in r.items():
            if v is None:
                text = "—"
            elif c in fmt and isinstance(v, int | float):
                text = format(v, fmt[c])
            elif hasattr(v, "strftime"):
                text = v.strftime("%H:%M:%S")
            else:
                text = str(v)
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    return (
        "<table class='wb-table' style='border-collapse:collapse;font-size:12px'>"
        f"{cap}<tr>{head}</tr>{''.join(rows)}</table>"
    )


def services_note(ex: IncidentExplorer) -> str:
    if not ex.services:
        return "all services"
    if len(ex.services) == 1:
        return ex.services[0]
    if ex.service:
        others = [s for s in ex.services if s != ex.service]
        return f"{ex.service} and its neighbours ({', '.join(others) or 'none'})"
    return ", ".join(ex.services)
