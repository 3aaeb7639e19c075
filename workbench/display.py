"""Tables for people: polars frames rendered as readable HTML or Markdown.

A frame is data for code; a person wants units, percentages, durations in words, times
to the second, no dtype rows, no quotes, nested values summarised and long tables cut
with a count. Column names say how to show a value (by a whole ``_``-separated word):

=========================================  ==========================================
column                                     shown as
=========================================  ==========================================
``ratio``, ``share``, ``pct``, ...         percentage: ``17.9%`` (``pct``: already x100)
``..._ratio_delta`` (a percentage's change)  percentage points: ``+17.1 pts``
``p95_ratio``, ``rate_ratio``, ...           factor: ``1.4×`` (a measure's ratio, not a share)
``ms``                                     duration: ``840 ms``, ``2.4 s``
``s``, ``seconds``, ``elapsed``            duration: ``12.5 s``, ``3 min 20 s``
``rate``, ``rps``, ``per_s``               rate: ``2.9 req/s`` (:func:`format_rate`)
``bytes``                                  size: ``1.2 MiB``
``change`` (a kind: ``errors_up``)          words: ``errors up``
datetime                                   ``2026-11-20 11:05:03`` (UTC, whole seconds)
duration                                   ``1 min 05 s``
list / struct                              ``a, b, c (+4 more)`` / ``key=value, ...``
null, NaN, inf                             ``—``, ``—``, ``∞``
=========================================  ==========================================

Text outside tables writes percentages with :func:`format_percent` (``18.0%``, as the
tables and the charts' tooltips do), request rates with :func:`format_rate`
(``2.91 req/s``, the one rate unit, :data:`RATE_UNIT`) and a change with
:func:`format_change` (``0.7% → 18.0%``, the one arrow, :data:`ARROW`).

The frame stays one attribute away: objects that render with this module keep theirs
(``suspects.table``, ``incident.status()``), and the table says how many rows it left out.

Example::

    >>> from workbench.display import html_table, markdown_table
    >>> html_table(suspects.table, columns=["rank", "service", "score", "why"], max_rows=5)
    >>> print(markdown_table(inc.status()))
    | source | signal | rows | status | ...
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

__all__ = [
    "ARROW",
    "RATE_UNIT",
    "STATUS_COLOURS",
    "column_title",
    "details",
    "format_change",
    "format_duration",
    "format_factor",
    "format_percent",
    "format_points",
    "format_rate",
    "format_time",
    "format_value",
    "format_window",
    "html_table",
    "markdown_table",
    "markdown_text",
    "span_label",
    "status_badge",
]

#: The one arrow for "before → after" in text people read (findings, timeline, tables).
ARROW = "→"

#: The one unit of a request rate in text people read (tables, findings, postmortem, chart
#: titles and tooltips): requests per second. A call on a graph edge is a request too.
RATE_UNIT = "req/s"

#: status words and their colour (green ok, amber empty or partial, red error)
STATUS_COLOURS: dict[str, str] = {
    "ok": "#1a7f37",
    "empty": "#9a6700",
    "partial": "#9a6700",
    "error": "#cf222e",
}


def _word(*names: str) -> re.Pattern[str]:
    """Matches one of ``names`` as a whole ``_``-separated word of a column name."""
    return re.compile(rf"(^|_)({'|'.join(names)})(_|$)", re.I)


_PERCENT = _word("ratio", "share", "fraction", "frac", "pct", "percent", "utilisation")
_SCALED = _word("pct", "percent")
_FACTOR = re.compile(r"(^|_)(p\d\d|latency|duration|rate|rps|requests)_ratio(_|$)", re.I)
_DELTA = _word("delta", "diff")
_MS = _word("ms", "millis")
_SECONDS = _word("s", "sec", "secs", "seconds", "elapsed")
_RATE = _word("rate", "rps", "qps", "per_s", "throughput")
_BYTES = _word("bytes")
_CHANGE = _word("change")
#: a kind written as an identifier (``errors_up``): shown as words in a ``change`` column
_IDENTIFIER = re.compile(r"[a-z]+(?:_[a-z]+)+")
_LIST_SHOWN = 3


# single values ------------------------------------------------------------------------------
def format_time(t: datetime | date | None, *, with_date: bool = True) -> str:
    """``2026-11-20 11:05:03`` in UTC, to the second (``11:05:03`` without the date)."""
    if t is None:
        return "—"
    if not isinstance(t, datetime):
        return t.isoformat()
    if t.tzinfo is not None:
        from datetime import UTC

        t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def format_window(window: Any) -> str:
    """``2026-11-20 11:00:00 – 12:00:00 UTC``: a window (``.start``, ``.end``) to the
    second, the date written once when both ends share it."""
    start, end = window.start, window.end
    same_day = (
        isinstance(start, datetime) and isinstance(end, datetime) and (start.date() == end.date())
    )
    return f"{format_time(start)} – {format_time(end, with_date=not same_day)} UTC"


def span_label(window: Any) -> str:
    """``11:00–12:00`` (same day) or the full window, for captions: every number shown
    names its window.

    >>> span_label(Window.parse("2026-01-01T11:00Z..2026-01-01T12:00Z"))
    '2026-01-01 11:00–12:00 UTC'
    """
    s, e = window.start, window.end
    fmt = "%H:%M:%S" if (s.second or e.second) else "%H:%M"
    if s.date() == e.date():
        return f"{s:%Y-%m-%d} {s.strftime(fmt)}–{e.strftime(fmt)} UTC"
    return f"{s:%Y-%m-%d} {s.strftime(fmt)} – {e:%Y-%m-%d} {e.strftime(fmt)} UTC"


def format_duration(seconds: float | timedelta | None) -> str:
    """A duration in words a person reads at a glance: ``840 ms``, ``12.5 s``,
    ``3 min 20 s``, ``2 h 05 min``, ``8 h``, ``3 d 4 h``."""
    if seconds is None:
        return "—"
    s = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
    if math.isnan(s):
        return "—"
    if math.isinf(s):
        return "∞"
    sign, s = ("-" if s < 0 else ""), abs(s)
    if s < 1:
        return f"{sign}{s * 1000:.3g} ms" if s else "0 s"
    if s < 60:
        return f"{sign}{s:.3g} s"
    if s < 3600:
        m, sec = divmod(round(s), 60)
        return f"{sign}{m} min {sec:02d} s" if sec else f"{sign}{m} min"
    if s < 86400:
        h, rem = divmod(round(s), 3600)
        return f"{sign}{h} h {rem // 60:02d} min" if rem // 60 else f"{sign}{h} h"
    d, rem = divmod(round(s), 86400)
    return f"{sign}{d} d {rem // 3600} h"


#: a number and the unit after it ("8 h", "38 min", "2.2 ×"), for :func:`unit_nowrap`
_NUMBER_UNIT = re.compile(r"(\d) (ms|s|min|h|d|req/s|pts|B|KiB|MiB|GiB|TiB)(?![\w/])")


def unit_nowrap(escaped: str) -> str:
    """HTML text (already escaped) with each number kept on one line with its unit: a
    line broken between "8" and "h" read as a lone 8.

    >>> unit_nowrap("a baseline of 8 h, 2 min 05 s")
    'a baseline of 8&nbsp;h, 2&nbsp;min 05&nbsp;s'
    """
    return _NUMBER_UNIT.sub(r"\1&nbsp;\2", escaped)


def _number(x: float) -> str:
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 0.01:
        return f"{x:.2f}"
    return f"{x:.2g}"


def format_percent(x: float | None, *, scaled: bool = False, digits: int = 1) -> str:
    """A ratio as a percentage, the one way the product writes it: ``18.0%`` (``digits``
    decimals), two significant digits under 0.1% (``0.0081%``, never a misleading
    ``0.0%``), no decimals from 100% up; ``scaled``: ``x`` is already x100. A measured
    ratio keeps its decimal (``18.0%``, never ``18%`` beside ``17.9%``); ``digits=0``
    is for settings that are whole by definition (a threshold of ``80%``, ``95%``
    confidence). Charts that format in the browser use the same rule
    (:mod:`workbench.charts._text`).

    >>> format_percent(0.17953), format_percent(0.000081), format_percent(0)
    ('18.0%', '0.0081%', '0%')
    """
    if x is None or math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞"
    p = x if scaled else x * 100
    if p == 0:
        return "0%"
    if abs(p) < 0.1:
        return f"{p:.2g}%"
    return f"{p:.{digits}f}%" if abs(p) < 100 else f"{p:,.0f}%"


def format_points(x: float | None) -> str:
    """The change of a ratio in percentage points, signed: ``+17.1 pts`` (``0.171``), as
    :func:`format_percent` writes the ratios themselves.

    >>> format_points(0.171), format_points(-0.0004)
    ('+17.1 pts', '-0.04 pts')
    """
    if x is None or math.isnan(x):
        return "—"
    if x == 0:
        return "0 pts"
    return ("+" if x > 0 else "-") + format_percent(abs(x))[:-1] + " pts"


def format_factor(x: float | None) -> str:
    """How many times another value: ``2.0×`` (a p95 against the baseline's, evidence
    against chance's level), the one way the product writes a factor.

    >>> format_factor(1.04), format_factor(2.67), format_factor(float("inf"))
    ('1.0×', '2.7×', '∞×')
    """
    if x is None or math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞×"
    return f"{x:.1f}×" if abs(x) < 100 else f"{x:,.0f}×"


def format_rate(x: float | None) -> str:
    """A request rate with its unit, the one way the product writes it: ``2.91 req/s``
    (:data:`RATE_UNIT`; the number as the tables write numbers).

    >>> format_rate(2.914), format_rate(40.83), format_rate(1200.0)
    ('2.91 req/s', '40.8 req/s', '1,200 req/s')
    """
    if x is None or math.isnan(x):
        return "—"
    return f"{_number(float(x))} {RATE_UNIT}"


def format_change(before: str, after: str) -> str:
    """``0.7% → 18.0%``: a value before and after, with the one arrow (:data:`ARROW`).

    >>> format_change(format_percent(0.007), format_percent(0.18))
    '0.7% → 18.0%'
    """
    return f"{before} {ARROW} {after}"


def _bytes(x: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(x) < 1024 or unit == "TiB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return f"{x:.1f} TiB"  # pragma: no cover


def format_apart(a: float | None, b: float | None, metric: str = "") -> tuple[str, str]:
    """Two numbers shown side by side (a baseline and an incident level), with as many
    significant digits as it takes for different values to read differently (up to 6):
    ``0.0201`` and ``0.0196``, not ``0.02`` and ``0.02`` beside the word "down". A
    ``metric`` whose name gives its unit (Prometheus' ``_ratio`` and ``_bytes``
    suffixes) writes it: ``2.01%``, ``118 MiB``.

    >>> format_apart(0.0201, 0.0196)
    ('0.0201', '0.0196')
    >>> format_apart(12.0, 48.5)
    ('12', '48.5')
    >>> format_apart(0.0201, 0.0196, "cpu_utilisation_ratio")
    ('2.01%', '1.96%')
    """
    if a is None or b is None:
        named = metric if _unit_of_metric(metric, 0.0)[1] else ""
        return format_value(a, named), format_value(b, named)
    a, b = float(a), float(b)
    scale, unit = _unit_of_metric(metric, max(abs(a), abs(b)))
    a, b = a / scale, b / scale
    sa, sb = _number(a), _number(b)
    digits = 3
    while sa == sb and a != b and digits <= 6:
        sa, sb = f"{a:,.{digits}g}", f"{b:,.{digits}g}"
        digits += 1
    return sa + unit, sb + unit


def _unit_of_metric(metric: str, largest: float) -> tuple[float, str]:
    """(divisor, suffix) for the values of ``metric``, by the unit its name ends with:
    ``_ratio`` (not a ratio of two rates or latencies) in percent, ``_bytes`` in the
    binary unit of ``largest``; (1, "") otherwise."""
    m = metric.lower()
    if m.endswith("_ratio") and not _FACTOR.search(m):
        return 0.01, "%"
    if m.endswith("_bytes"):
        scale = 1.0
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if largest < 1024 * scale or unit == "TiB":
                return scale, f" {unit}"
            scale *= 1024
    return 1.0, ""


def format_value(value: Any, column: str = "") -> str:
    """One cell as text, the way ``column``'s name says (see the module table)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date):
        return format_time(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, int | float):
        x = float(value)
        if _FACTOR.search(column):
            return format_factor(x)
        if _PERCENT.search(column) and _DELTA.search(column):
            return format_points(x / 100 if _SCALED.search(column) else x)
        if _PERCENT.search(column):
            return format_percent(x, scaled=bool(_SCALED.search(column)))
        if _MS.search(column):  # "0 ms" beside "0.744 ms", not "0 s"
            return "0 ms" if x == 0 else format_duration(x / 1000)
        if _RATE.search(column):  # before seconds: ``rate_per_s`` is a rate, not a duration
            return format_rate(x)
        if _SECONDS.search(column):
            return format_duration(x)
        if _BYTES.search(column):
            return _bytes(x)
        return _number(x) if isinstance(value, float) else f"{value:,}"
    if isinstance(value, dict):
        items = [f"{k}={format_value(v)}" for k, v in value.items() if v is not None]
        return ", ".join(items) or "—"
    if isinstance(value, list | tuple):
        if not value:
            return "—"
        if all(isinstance(v, dict) and set(v) == {"key", "value"} for v in value):
            value = [f"{v['key']}={v['value']}" for v in value]  # labels / attributes
        elif all(isinstance(v, dict) for v in value):
            return f"{len(value)} item{'s' if len(value) != 1 else ''}"
        shown = ", ".join(format_value(v, column) for v in value[:_LIST_SHOWN])
        more = len(value) - _LIST_SHOWN
        return f"{shown} (+{more} more)" if more > 0 else shown
    if isinstance(value, str) and _CHANGE.search(column) and _IDENTIFIER.fullmatch(value):
        return value.replace("_", " ")  # a graph diff's "errors_up" reads "errors up"
    return str(value)


def column_title(column: str) -> str:
    """A column's name as a table's header says it: ``error_ratio_base`` -> ``error ratio
    base``, ``p95_ms`` -> ``p95``, ``rate_per_s`` -> ``rate`` (the cells carry the units).

    >>> column_title("rate_per_s"), column_title("error_ratio")
    ('rate', 'error ratio')
    """
    words = column.split("_")
    if len(words) > 2 and [w.lower() for w in words[-2:]] == ["per", "s"]:
        words = words[:-2]
    elif len(words) > 1 and words[-1].lower() in ("ms", "s", "pct", "secs", "bytes"):
        words = words[:-1]
    return " ".join(w for w in words if w)


def _numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype == pl.Duration


# tables ---------------------------------------------------------------------------------------
def _prepare(
    df: pl.DataFrame, columns: Sequence[str] | None, max_rows: int
) -> tuple[pl.DataFrame, int]:
    if columns is not None:
        df = df.select([c for c in columns if c in df.columns])
    hidden = max(df.height - max_rows, 0)
    return df.head(max_rows), hidden


def _more(hidden: int, total: int, more_hint: str | None) -> str:
    if not hidden:
        return ""
    hint = f" ({more_hint})" if more_hint else ""
    return f"{total - hidden} of {total:,} rows shown; {hidden:,} more{hint}"


def html_table(
    df: pl.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    max_rows: int = 20,
    more_hint: str | None = None,
    caption: str | None = None,
    cell_html: Mapping[str, Any] | None = None,
    cell_padding: str = "",
) -> str:
    """``df`` as a readable HTML table (class ``wb-table``), at most ``max_rows`` rows and
    a line saying how many more there are and ``more_hint`` (where to find them).

    ``cell_padding`` (CSS, e.g. ``"1px 8px"``) pads every cell where no notebook style
    does (inside a widget), so adjacent columns do not run together.

    ``cell_html`` maps a column to a function ``(value, row) -> html`` for cells that
    need markup (a coloured status word, say); every other cell is escaped text.

    >>> html_table(inc.status(), max_rows=10, more_hint="inc.status() has them all")
    """
    shown, hidden = _prepare(df, columns, max_rows)
    names = headers or {}
    special = cell_html or {}
    right = {c for c, t in shown.schema.items() if _numeric(t)}
    pad = f";padding:{cell_padding}" if cell_padding else ""
    th = "".join(
        f"<th style='text-align:{'right' if c in right else 'left'}{pad}'>"
        f"{html.escape(names.get(c, column_title(c)))}</th>"
        for c in shown.columns
    )
    body = []
    for row in shown.iter_rows(named=True):
        tds = []
        for c in shown.columns:
            fmt = special.get(c)
            cell = fmt(row[c], row) if fmt else html.escape(format_value(row[c], c))
            align = "right" if c in right else "left"
            tds.append(f"<td style='text-align:{align};vertical-align:top{pad}'>{cell}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    if not body:
        body.append(f"<tr><td colspan='{max(len(shown.columns), 1)}'><i>no rows</i></td></tr>")
    cap = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    more = _more(hidden, df.height, more_hint)
    foot = f"<div class='wb-more'><small>{html.escape(more)}</small></div>" if more else ""
    return (
        "<table class='wb-table' style='border-collapse:collapse;font-variant-numeric:"
        f"tabular-nums'>{cap}<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody>"
        f"</table>{foot}"
    )


_MD_SPECIAL = re.compile(r"[\\*<>\[\]`&]")


def _md_cell(text: str) -> str:
    """A cell that renders as written on GitHub and in any CommonMark wiki: text with
    Markdown's special characters (a log template's ``<*>``) goes in a code span rather
    than under a rash of backslashes; ``|`` is escaped, as tables need even there."""
    text = text.replace("\n", " ")
    if _MD_SPECIAL.search(text) and "`" not in text:
        text = f"`{text}`"
    return text.replace("|", "\\|")


def markdown_table(
    df: pl.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    max_rows: int = 20,
    more_hint: str | None = None,
) -> str:
    """``df`` as a pipe table (GitHub-flavoured Markdown; plain paragraphs otherwise),
    numbers right-aligned, at most ``max_rows`` rows plus a line with the count left out.

    >>> print(markdown_table(suspects.table, columns=["rank", "service", "why"]))
    """
    shown, hidden = _prepare(df, columns, max_rows)
    if not shown.columns:
        return "_no columns_"
    names = headers or {}
    right = {c for c, t in shown.schema.items() if _numeric(t)}
    head = "| " + " | ".join(_md_cell(names.get(c, column_title(c))) for c in shown.columns) + " |"
    rule = "| " + " | ".join("---:" if c in right else "---" for c in shown.columns) + " |"
    rows = [
        "| " + " | ".join(_md_cell(format_value(r[c], c)) for c in shown.columns) + " |"
        for r in shown.iter_rows(named=True)
    ]
    if not rows:
        return "_no rows_"
    more = _more(hidden, df.height, more_hint)
    return "\n".join([head, rule, *rows]) + (f"\n\n_{more}_" if more else "")


_MD_ESCAPES = (
    (re.compile(r"\\(?=[!-/:-@\[-`{-~])"), r"\\\\"),  # a backslash that would escape
    (re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"), r"\\_"),  # _ that could emphasise
    (re.compile(r"<(?=[A-Za-z/!?])"), r"\\<"),  # an HTML tag or autolink
    (re.compile(r"&(?=#?[A-Za-z0-9]+;)"), r"\\&"),  # an entity
    (re.compile(r"\[(?=[^\]]*\][(\[])"), r"\\["),  # a link
    (re.compile(r"~~"), r"\\~\\~"),  # strikethrough (GFM)
    (re.compile(r"^([#>+-]|\d+[.)])(?=\s|$)"), r"\\\1"),  # a heading, quote or list
    (re.compile(r"\|"), r"\\|"),  # a table cell's end
)


def markdown_text(text: Any, limit: int = 120) -> str:
    """One line of untrusted text for CommonMark: whitespace folded, cut to ``limit``,
    backticks made quotes, and escaped only where Markdown would read it as syntax, so
    ``0.7% → 35.9%`` and ``http_server_requests_total`` stay as they are, and so does a
    lone ``<*>`` (two ``*`` could pair into emphasis and are escaped).

    >>> markdown_text("errors rise: 0.7% → 35.9% on <b>web</b> | http_requests_total")
    'errors rise: 0.7% → 35.9% on \\\\<b>web\\\\</b> \\\\| http_requests_total'
    """
    s = " ".join(str(text).split()).replace("`", "'")
    s = s if len(s) <= limit else s[: limit - 1] + "…"
    for pattern, repl in _MD_ESCAPES:
        s = pattern.sub(repl, s)
    if s.count("*") > 1:
        s = s.replace("*", "\\*")
    return s


def status_badge(status: str) -> str:
    """A status word in its colour (``ok`` green, ``empty``/``partial`` amber, ``error`` red)."""
    colour = STATUS_COLOURS.get(status, "#57606a")
    return f"<b style='color:{colour}'>{html.escape(status)}</b>"


def details(summary: str, body_html: str, *, open: bool = False) -> str:
    """A collapsible block (``<details>``): ``summary`` is escaped, ``body_html`` is not."""
    flag = " open" if open else ""
    return (
        f"<details{flag}><summary>{html.escape(summary)}</summary>"
        f"<div style='margin-left:1em'>{body_html}</div></details>"
    )
