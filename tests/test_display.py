"""Tables for people: units, percentages, durations, times to the second, nested values
summarised, long tables cut with a count; and an incident that shows empty sources."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from workbench import Incident, Window
from workbench.display import (
    details,
    format_duration,
    format_value,
    html_table,
    markdown_table,
)


def _frame() -> pl.DataFrame:
    t = datetime(2026, 11, 20, 11, 5, 3, 5123, tzinfo=UTC)
    return pl.DataFrame(
        {
            "service": ["checkout", "frontend", "cart"],
            "error_ratio": [0.179776, 0.0, None],
            "p95_ms": [840.0, 123_456.0, 12.0],
            "rate": [2.914, 0.04, 1200.0],
            "ts": [t, t + timedelta(minutes=1), t],
            "templates": [["a <*>", "b", "c", "d"], [], ["x"]],
            "labels": [{"pod": "p1", "zone": None}, {"pod": "p2", "zone": "z"}, None],
            "score": [float("inf"), 0.5, None],
            "duration": [840.0, 1.0, 2.0],  # "ratio" inside a word is not a percentage
        }
    )


def test_values_carry_units_and_no_machine_noise() -> None:
    row = _frame().row(0, named=True)
    shown = {c: format_value(v, c) for c, v in row.items()}
    assert shown["error_ratio"] == "18.0%"
    assert shown["p95_ms"] == "840 ms"
    assert shown["rate"] == "2.91 req/s"
    assert shown["ts"] == "2026-11-20 11:05:03"  # no microseconds, no "T", no "+00:00"
    assert shown["templates"] == "a <*>, b, c (+1 more)"
    assert shown["labels"] == "pod=p1"
    assert shown["score"] == "∞"
    assert shown["duration"] == "840"
    assert format_value(None, "error_ratio") == "—"
    assert format_value(12.5, "completeness_pct") == "12.5%"
    assert [format_duration(s) for s in (0.0123, 12.5, 200, 7500, 28800, 90000)] == [
        "12.3 ms",
        "12.5 s",
        "3 min 20 s",
        "2 h 05 min",
        "8 h",
        "1 d 1 h",
    ]


def test_html_table_has_no_dtype_row_no_quotes_and_counts_what_it_cut() -> None:
    df = pl.concat([_frame()] * 10)
    out = html_table(df, max_rows=4, more_hint=".table has them all")
    assert out.count("<tr>") == 1 + 4
    assert "4 of 30 rows shown; 26 more (.table has them all)" in out
    assert "str" not in re.sub(r"<[^>]+>", " ", out).split()  # no dtype row
    assert '"checkout"' not in out and "checkout" in out
    assert "&lt;*&gt;" in out  # escaped, never raw markup from data
    assert "<th style='text-align:left'>p95</th>" not in out  # numbers align right
    assert "<th style='text-align:right'>p95</th>" in out
    assert "no rows" in html_table(df.head(0))


def test_markdown_table_is_a_clean_pipe_table() -> None:
    md = markdown_table(_frame(), columns=["service", "error_ratio", "templates"], max_rows=2)
    lines = md.splitlines()
    assert lines[0] == "| service | error ratio | templates |"
    assert lines[1] == "| --- | ---: | --- |"
    assert lines[2] == "| checkout | 18.0% | `a <*>, b, c (+1 more)` |"  # a code span
    assert lines[-1] == "_2 of 3 rows shown; 1 more_"
    assert "\\-" not in md and "\n\n\n" not in md


def test_details_is_collapsed_unless_asked() -> None:
    assert details("Evidence", "<p>x</p>").startswith("<details><summary>Evidence</summary>")
    assert details("Evidence", "", open=True).startswith("<details open>")


def test_a_source_with_no_rows_for_the_window_is_empty_not_ok() -> None:
    demo = Incident.demo()
    far = Window(demo.window.start + timedelta(days=30), demo.window.end + timedelta(days=30))
    inc = Incident("INC-E", far, sources=demo.sources)
    inc.load(["events"])
    status = inc.status()
    assert status["status"].to_list() == ["empty"]
    assert status["detail"].to_list() == ["no rows in the baseline or incident window"]
    assert inc.empty == [(demo.sources[0].name, "events")]
    page = inc._repr_html_()
    assert "#9a6700'>empty</b>" in page  # amber, not the green of ok
    assert "No rows for the window from" in page
    assert "<details open>" in page  # the sources table opens when something is missing


def test_suspects_and_evidence_read_as_tables_with_the_frames_one_attribute_away() -> None:
    from workbench.analysis.suspects import rank_suspects

    sus = rank_suspects(Incident.demo())
    page = sus._repr_html_()
    assert "ranked on 2026-11-20 11:00:00 – 12:00:00 UTC" in page  # which window
    assert "<th style='text-align:left'>why</th>" in page
    ranked = sus.table.filter(sus.table["rank"].is_not_null()).height
    assert ranked > 5  # the demo ranks more services than the first screen shows
    assert f"5 of {ranked} rows shown; {ranked - 5} more (.table has them all" in page
    top = f"{float(sus.table['score'][0]):.2f}"  # no six-decimal floats: two decimals
    assert top in page and not re.search(re.escape(top) + r"\d", page)
    assert sus.table.height == 13  # the frame itself is untouched
    ev = sus.evidence(sus.ranking[0])
    shown = ev._repr_html_()
    assert shown.startswith("<details><summary>Evidence for checkout: ")  # collapsed
    assert "list[struct" not in shown and "{&quot;key&quot;" not in shown
    assert "job=checkout" in shown  # labels summarised as key=value
    assert ev.spans.height > 8 and f"8 of {ev.spans.height} rows shown" in shown


def test_capacity_ranking_has_no_null_or_inf() -> None:
    from workbench.capacity import load_usage, open_source

    ranking = load_usage(open_source("", ""), "").ranking(threshold=0.8, horizon_days=180)
    md = ranking._repr_markdown_()
    page = ranking._repr_html_()
    assert ranking.table["days_left"].is_infinite().any()  # the frame keeps inf for code
    for text in (md, page):
        assert "inf" not in text and "null" not in text and "None" not in text
        assert "not within the horizon" in text and re.search(r"\d%", text)
    assert md.splitlines()[0].startswith("| service | resource | peak | headroom |")


def _user_text(root: Path) -> list[tuple[str, int, str]]:
    """Every string literal under ``root`` but docstrings (the lab's simulated
    applications write their own log lines: not ours)."""
    import ast

    out = []
    for path in sorted(root.rglob("*.py")):
        if "lab" in path.relative_to(root).parts:
            continue
        tree = ast.parse(path.read_text())
        docs = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        for n in ast.walk(tree):
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs:
                out.append((str(path.relative_to(root.parent)), n.lineno, n.value))
    return out


def test_one_arrow_and_one_percent_format_in_user_visible_text() -> None:
    """The product writes a change with one arrow (``0.7% → 18.0%``, ``display.ARROW``)
    and a percentage one way (``18.0%``, as the charts' d3 tooltips do): the findings
    said ``→`` and ``18.0%``, the timeline ``->``, the tables ``18.0 %``."""
    from workbench.display import ARROW, format_change, format_percent

    assert ARROW == "→"
    assert format_change(format_percent(0.007), format_percent(0.18)) == "0.7% → 18.0%"
    assert format_percent(0.000081) == "0.0081%" and format_percent(12.5, scaled=True) == "12.5%"
    assert format_value(0.18, "error_ratio") == format_percent(0.18)
    repo = Path(__file__).resolve().parents[1]
    bad = [
        f"{p}:{line}: {text[:60]!r}"
        for d in ("workbench", "widgets")
        for p, line, text in _user_text(repo / d)
        if re.search(r"\S ->|-> \S", text) or re.search(r"\d %(?![a-z(])", text)
    ]
    assert not bad, "\n".join(bad)


def test_a_change_of_ratios_is_in_points_and_a_ratio_of_measures_a_factor() -> None:
    """The RED summary showed ``error ratio delta 17.1 %`` (percentage points written as
    a percentage) and ``p95 ratio 100%`` (a factor written as a share) where the findings
    say ``p95 2.0×``: each is written as what it is, one way everywhere."""
    from workbench.display import format_factor, format_points

    assert format_value(0.171, "error_ratio_delta") == "+17.1 pts" == format_points(0.171)
    assert format_value(-0.0004, "error_ratio_delta") == "-0.04 pts"
    assert format_value(1.04, "p95_ratio") == "1.0×" == format_factor(1.04)
    assert format_value(2.0, "rate_ratio") == "2.0×"
    assert format_value(0.18, "error_ratio") == "18.0%"  # a share stays a percentage
    page = html_table(pl.DataFrame({"error_ratio_delta": [0.171], "p95_ratio": [2.0]}))
    assert "+17.1 pts" in page and "2.0×" in page and "200" not in page


def test_evidence_counts_say_what_they_count() -> None:
    """The evidence line ended "…, 8 change events, 1 total" (look9, look10) and would
    have said "2 code path cut shorts": each count names its kind in words."""
    from workbench.summaries import _plural

    assert _plural(1, "total above normal") == "1 total above normal"
    assert _plural(2, "total above normal") == "2 totals above normal"
    assert _plural(3, "code path cut short") == "3 code paths cut short"
    assert _plural(1_200, "metric change") == "1,200 metric changes"


def test_a_rate_per_second_is_a_rate_not_a_duration() -> None:
    """``rate_per_s`` (the graph's node rate, the explorer's focus table) came out as a
    duration, ``2.91 s``, once the explorer's tables took the notebook's formats (look10)."""
    assert format_value(2.91, "rate_per_s") == "2.91 req/s" == format_value(2.91, "rate_inc")
    assert format_value(12.5, "elapsed_s") == "12.5 s"


def test_no_time_in_a_milliseconds_column_is_written_in_seconds() -> None:
    """The blame evidence's "extra" column read ``0.744 ms`` above ``0 s`` (look11)."""
    assert format_value(0.0, "extra_ms") == "0 ms" and format_value(0.744, "extra_ms") == "0.744 ms"
    assert format_value(0.0, "elapsed_s") == "0 s"  # a seconds column stays in seconds


def test_one_rate_unit_and_no_chart_percent_format_of_its_own() -> None:
    """A request rate was written three ways: ``2.91 /s`` in the tables, ``requests/s``
    on the RED panels, ``req/s`` and ``calls/s`` in the graph's tooltips (look11); and
    the charts' d3 ``.1%`` wrote ``0.0%`` where the tables say ``0.035%``. One unit
    (``display.RATE_UNIT``), one function each (``format_rate``, ``format_percent``)."""
    from workbench.charts.red import MEASURES
    from workbench.display import RATE_UNIT, format_rate

    assert RATE_UNIT == "req/s"
    assert format_rate(2.914) == "2.91 req/s" == format_value(2.914, "rate_per_s")
    assert format_value(40.83, "rate_base") == "40.8 req/s" and format_rate(None) == "—"
    assert MEASURES["rate"].endswith(f"({RATE_UNIT})")
    repo = Path(__file__).resolve().parents[1]
    other_rate = re.compile(r"\d /s\b|\brequests/s\b|\bcalls/s\b|(?<!\S)/s\b")
    d3_percent = re.compile(r",?\.\d~?%")  # a d3 percent format (".1%"): not display's rule
    bad = [
        f"{p}:{line}: {text[:60]!r}"
        for d in ("workbench", "widgets")
        for p, line, text in _user_text(repo / d)
        if other_rate.search(text) or d3_percent.fullmatch(text)
    ]
    assert not bad, "\n".join(bad)


def test_chart_expressions_write_numbers_as_the_tables_do() -> None:
    """The RED panels' and capacity charts' tooltips format in the browser (thousands of
    rows): their Vega expressions must give the text ``workbench.display`` gives."""
    import html as html_mod

    import altair as alt
    import vl_convert as vlc

    from workbench.charts._text import ms_expr, percent_expr, rate_expr
    from workbench.display import format_percent, format_rate

    values = [0.0, 0.0081, 0.035, 0.093, 0.2, 0.617, 2.914, 7.0, 18.0, 35.94, 100.0, 496.0]
    values += [840.0, 2400.0, 12345.0]
    chart = (
        alt.Chart(alt.Data(values=[{"v": v, "i": i} for i, v in enumerate(values)]))
        .transform_calculate(
            t=f"({rate_expr('datum.v')}) + '|' + ({percent_expr('datum.v', scaled=True)}) "
            f"+ '|' + ({percent_expr('datum.v / 100')}) + '|' + ({ms_expr('datum.v')})"
        )
        .mark_text()
        .encode(y="i:O", text="t:N")
    )
    svg = vlc.vegalite_to_svg(chart.to_dict())
    got = [html_mod.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*\|[^<]*)</text>", svg)]
    want = [
        "|".join(
            (
                format_rate(v),
                format_percent(v, scaled=True),
                format_percent(v / 100),
                format_value(v, "p95_ms"),
            )
        )
        for v in values
    ]
    assert got == want


def test_graph_tooltips_say_numbers_as_the_tables_do() -> None:
    """The graph's node tooltip read ``req/s 2.91``, ``p95 ms 496.0`` and ``no spans of
    its own: false`` (a raw boolean) beside a table saying ``2.91 /s`` and ``496 ms``
    (look11): each number now is the text ``workbench.display`` writes."""
    from tests.analysis_builders import spans_frame
    from tests.test_analysis_graph import shop_traces
    from workbench.analysis.graph import service_graph
    from workbench.charts import render, service_graph_chart
    from workbench.display import format_percent, format_rate

    g = service_graph(spans_frame(shop_traces()))
    svg = render.to_svg(service_graph_chart(g))
    labels = re.findall(r'aria-label="([^"]*service: [^"]*)"', svg)
    assert labels
    node = g.nodes.row(0, named=True)
    mine = next(lab for lab in labels if f"service: {node['service']};" in lab)
    assert f"request rate: {format_rate(node['rate_per_s'])}" in mine
    assert f"error ratio: {format_percent(node['error_ratio'])}" in mine
    assert f"p95: {format_value(node['p95_ms'], 'p95_ms')}" in mine
    for raw in (": false", ": true", "req/s:", "calls/s", "p95 ms"):
        assert not any(raw in lab for lab in labels), raw


def test_two_levels_side_by_side_read_differently_when_they_differ() -> None:
    # a metric change read "0.02 -> 0.02, down" in the demo's evidence for checkout
    from workbench.display import format_apart

    assert format_apart(0.020333, 0.019) == ("0.0203", "0.019")
    assert format_apart(1234.4, 1234.2) == ("1,234.4", "1,234.2")
    assert format_apart(12.0, 48.5) == ("12", "48.5")  # already apart: as format_value
    assert format_apart(0.02, 0.02) == ("0.02", "0.02")  # equal stays equal
    assert format_apart(None, 3.0) == ("—", "3")


def _evidence_html(metric: str) -> str:
    """The evidence HTML of one metric change of ``metric`` (medians 0.020333 -> 0.019)."""
    series = pl.DataFrame(
        {
            "metric": [metric],
            "labels": ["job=checkout"],
            "direction": ["down"],
            "baseline_median": [0.020333],
            "incident_median": [0.019],
            "onset": [None],
            "score": [5.06],
        }
    )
    return _evidence_page("checkout", series)


def _evidence_page(service: str, series: pl.DataFrame) -> str:
    """The evidence HTML of ``service`` with these metric changes and nothing else."""
    from types import SimpleNamespace

    from workbench.summaries import EVIDENCE_VIEWS, evidence_html

    ev = SimpleNamespace(service=service, links=None, series=series)
    for name in EVIDENCE_VIEWS:
        if name != "series":
            setattr(ev, name, pl.DataFrame())
    return evidence_html(ev, open=True)


def test_a_metric_changes_evidence_never_shows_the_same_number_twice() -> None:
    html = _evidence_html("process_cpu_seconds_total")
    assert ">0.0203<" in html and ">0.019<" in html and ">0.02<" not in html


def test_a_metric_change_says_what_moved_and_the_level_it_held() -> None:
    """look22: postgres' `up`, down 12 of 60 minutes, read "up" with medians "1 -> 1" in
    the evidence. The evidence now says the direction of the run the score measures and
    the level it held; a frame without them (hand-made) keeps the median's direction."""
    series = pl.DataFrame(
        {
            "metric": ["up"],
            "labels": ["job=postgres"],
            "direction": ["up"],
            "moved": ["down"],
            "baseline_median": [1.0],
            "incident_median": [1.0],
            "run_level": [0.0],
            "onset": [None],
            "score": [100.0],
        }
    )
    page = _evidence_page("postgres", series)
    assert ">down<" in page and page.count(">up</td>") == 1  # the metric's name only
    assert ">held at<" in page and page.count(">1<") == 2 and ">0<" in page
    without = _evidence_page("postgres", series.drop("moved", "run_level"))
    assert without.count(">up</td>") == 2


def test_apart_writes_the_unit_a_metric_name_gives() -> None:
    """look22: the evidence's metric changes showed cpu_utilisation_ratio's medians as
    "0.0203" and "0.019" (no unit, beside tables that write ratios as percentages) and
    process_resident_memory_bytes as raw byte counts. The name's unit is written now;
    a name without one stays a plain number."""
    from workbench.display import format_apart

    assert format_apart(0.020333, 0.019, "cpu_utilisation_ratio") == ("2.03%", "1.90%")
    assert format_apart(0.0201, 0.0201, "cpu_utilisation_ratio") == ("2.01%", "2.01%")
    got = format_apart(123_456_789.0, 150_000_000.0, "process_resident_memory_bytes")
    assert got == ("117.7 MiB", "143.1 MiB")
    assert format_apart(1.2, 1.5, "p95_latency_ratio") == ("1.20", "1.50")  # a factor
    assert format_apart(0.020333, 0.019, "http_requests_total") == ("0.0203", "0.019")
    assert format_apart(None, 0.5, "cpu_utilisation_ratio") == ("—", "50.0%")
    # and the evidence table writes it
    html = _evidence_html("cpu_utilisation_ratio")
    assert ">2.03%<" in html and ">1.90%<" in html and ">0.0203<" not in html


def test_a_number_stays_on_the_line_of_its_unit() -> None:
    """look22: the explorer's verdict line broke "a baseline of 8 / h just before the
    window" across two lines (screenshot look22-final-explorer-suspects.png): the headline
    and the explorer keep each number with its unit; other words wrap as before."""
    from workbench.display import unit_nowrap
    from workbench.summaries import Headline

    text = "a baseline of 8 h, 2 min 05 s, 40.8 req/s; 5 separate windows, 10.6% of the time"
    got = unit_nowrap(text)
    assert got == (
        "a baseline of 8&nbsp;h, 2&nbsp;min 05&nbsp;s, 40.8&nbsp;req/s; 5 separate windows, "
        "10.6% of the time"
    )
    head = Headline("INC-1", "t", "w", [], "weak", "a baseline of 8 h <b>", None, "set 8 h")
    shown = head._repr_html_()
    assert "a baseline of 8&nbsp;h &lt;b&gt;" in shown and "set 8&nbsp;h" in shown
