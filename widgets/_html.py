"""Small HTML helpers shared by the explorer's views (accessible tables, notes)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import polars as pl

from workbench.display import column_title, format_value

if TYPE_CHECKING:
    from widgets.explorer import IncidentExplorer

__all__ = ["WARN", "services_note", "table_html"]

WARN = "#b35806"  # dark orange: readable with every colour-vision deficiency


def table_html(
    df: pl.DataFrame,
    *,
    caption: str = "",
    fmt: dict[str, str] | None = None,
    max_rows: int | None = None,
    more_hint: str = "",
) -> str:
    """A small accessible HTML table (header cells scoped, a caption, padded cells).

    With ``max_rows`` the table shows the first rows and says how many more there are
    (and ``more_hint``, where to find them): a cut is never silent.

    >>> table_html(pl.DataFrame({"a": [1, 2, 3]}), max_rows=2)  # "... 2 of 3 rows shown; 1 more"
    """
    fmt = fmt or {}
    total = df.height
    if max_rows is not None:
        df = df.head(max_rows)
    pad = "padding:1px 8px 1px 0;vertical-align:top;text-align:left"
    # headers as the notebook's tables write them ("rate", not "rate_per_s")
    head = "".join(
        f"<th scope='col' style='{pad}'>{html.escape(column_title(c))}</th>" for c in df.columns
    )
    rows = []
    for r in df.iter_rows(named=True):
        cells = []
        for c, v in r.items():
            if v is None:
                text = "—"
            elif c in fmt and isinstance(v, int | float):
                text = format(v, fmt[c])
            elif isinstance(v, int | float):  # units as the notebook's tables write them
                text = format_value(v, c)
            elif hasattr(v, "strftime"):
                text = v.strftime("%H:%M:%S")
            else:
                text = str(v)
            # a short cell (a time, a kind, a service) stays on one line
            wrap = ";white-space:nowrap" if len(text) <= 24 else ""
            cells.append(f"<td style='{pad}{wrap}'>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    more = ""
    if df.height < total:
        hint = f" ({more_hint})" if more_hint else ""
        more = (
            f"<tr><td colspan='{max(len(df.columns), 1)}' style='{pad}'><small>"
            f"{df.height} of {total} rows shown; {total - df.height} more"
            f"{html.escape(hint)}</small></td></tr>"
        )
    return (
        "<table class='wb-table' style='border-collapse:collapse;font-size:12px'>"
        f"{cap}<tr>{head}</tr>{''.join(rows)}{more}</table>"
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
