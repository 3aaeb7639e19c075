"""Suspect ranking on a hand-built cascade: the cause outranks its victims, with evidence."""

from __future__ import annotations

import polars as pl

from tests.diag_builders import cascade_case
from workbench.analysis.suspects import blame_services, rank_suspects
from workbench.display import span_label


def test_cause_outranks_its_victims_and_carries_evidence():
    case = cascade_case()
    sus = rank_suspects(case)
    assert sus.ranking[0] == "db"
    # callers failing because db fails rank below it and are flagged as possible victims
    assert sus.rank_of("db") < sus.rank_of("api") and sus.rank_of("db") < sus.rank_of("frontend")
    assert sus.table.filter(pl.col("service") == "frontend")["victim_of"][0] in ("api", "db")
    ev = sus.evidence("db")
    assert ev.spans.height == 60 and set(ev.spans["name"]) == {"SELECT"}
    assert ev.events["title"].to_list() == ["deploy db v2"]  # the baseline deploy of search is not
    # db's own new line, and api's line about db (api's calls to db fail more): the
    # evidence lists what the score counted, each with who wrote it
    new = ev.templates.filter(pl.col("new")).sort("template")
    assert new.select("template", "logged_by").rows() == [
        ("FATAL: too many clients for pool <*>", "db"),
        ("upstream error from db after <*> ms", "api"),
    ]
    assert ev.series.height >= 1 and set(ev.series["service"]) == {"db"}
    html = sus._repr_html_()
    assert "db" in html and "Suspects" in html and "<table" in html
    assert "errors start here" in sus.table["why"][0]
    # says what its share is of and over which window (the origins table gives another
    # share: of all failing traces)
    window = span_label(case["window"])
    assert (
        f"of the failing traces in excess of the baseline's error rate in {window}"
        in (sus.table["why"][0])
    )


def test_metrics_only_cascade_uses_the_call_graph():
    case = cascade_case()
    edges = pl.DataFrame({"caller": ["frontend", "api"], "callee": ["api", "db"]})
    # no spans, logs or events: the metric symptoms alone, biggest at the frontend
    sus = rank_suspects(
        None, window=case["window"], baseline=case["baseline"], metrics=case["metrics"], edges=edges
    )
    assert sus.ranking[0] == "db"
    no_graph = rank_suspects(
        None,
        window=case["window"],
        baseline=case["baseline"],
        metrics=case["metrics"],
        edges=pl.DataFrame(schema={"caller": pl.String, "callee": pl.String}),
        graph_discount=0.0,
    )
    assert no_graph.table.height >= 3  # still ranks every service


def test_client_spans_blame_their_callee():
    b = blame_services(cascade_case()["spans"])
    got = dict(zip(b["span_id"], b["blame_service"], strict=True))
    assert got["1-0000-ac"] == "db" and got["1-0000-fc"] == "api" and got["1-0000-a"] == "api"


def test_error_logs_mark_spans_when_the_export_has_no_status():
    from tests.diag_builders import span, spans_frame
    from workbench.analysis.suspects import errors_from_logs

    spans = spans_frame(
        [
            span("t", "a", None, "fe", "GET", 0, 10, "unset"),
            span("t", "b", "a", "db", "SELECT", 1, 9, "unset"),
        ]
    )
    logs = (
        cascade_case()["logs"]
        .head(2)
        .with_columns(
            level=pl.Series(["error", "info"]),
            trace_id=pl.lit("t"),
            span_id=pl.Series(["b", "a"]),
        )
    )
    marked = errors_from_logs(spans, logs)
    assert dict(zip(marked["span_id"], marked["status"], strict=True)) == {
        "a": "unset",
        "b": "error",
    }
    with_status = spans.with_columns(status=pl.Series(["error", "ok"]))
    assert errors_from_logs(with_status, logs)["status"].to_list() == ["error", "ok"]


def test_a_call_into_an_untraced_service_does_not_keep_the_time_of_what_it_calls():
    # web calls sms, which sends no spans; sms calls tax (its spans name the missing
    # sms span as parent). In the window tax waits for a pool: its spans take ~1.9 s,
    # web's calls to sms time out at 1 s, and some tax spans fail. The time of web's
    # call is tax's, and the errors under the gap start at tax: tax ranks above sms.
    from datetime import timedelta

    from tests.diag_builders import BASELINE, WINDOW, span, spans_frame

    rows = []
    for i in range(40):
        for side, t0 in (("b", BASELINE.start), ("w", WINDOW.start)):
            t0 = t0 + timedelta(seconds=60 * i)
            slow, tr = side == "w", f"{side}{i}"
            tax_end = 1900 if slow else 60
            call_end = 1005 if slow else 95
            bad = "error" if slow else "ok"
            attrs = [{"key": "server.address", "value": "sms"}]
            call = span(tr, "call", "root", "web", "POST", 5, call_end, bad, "client", t0)
            rows += [
                span(tr, "root", None, "web", "GET /", 0, call_end + 5, bad, t0=t0),
                {**call, "attributes": attrs},
                span(
                    tr,
                    "tax",
                    "gone",
                    "tax",
                    "GET /tax",
                    20,
                    tax_end,
                    "error" if slow and i % 3 else "ok",
                    t0=t0,
                ),
            ]
    sus = rank_suspects(spans=spans_frame(rows), window=WINDOW, baseline=BASELINE)
    assert sus.ranking[0] == "tax"
    t = {r["service"]: r for r in sus.table.iter_rows(named=True)}
    assert t["tax"]["latency"] > 0.5 and t["sms"]["latency"] < 0.1
    assert t["tax"]["errors"] > t["sms"]["errors"] > 0  # timeouts over ok tax spans stay sms's


def test_a_metric_change_says_its_size_in_words_not_a_second_score():
    """The ``why`` of a metric change says its size in the baseline's spreads, in words,
    never "score": a suspect row read "score 0.29 | process_resident_memory_bytes changed
    (score 5)" (look9), then "changed (held z = 5 against the baseline)" (look18: jargon,
    and parentheses inside the suspect's own)."""
    case = cascade_case()
    edges = pl.DataFrame({"caller": ["frontend", "api"], "callee": ["api", "db"]})
    sus = rank_suspects(
        None, window=case["window"], baseline=case["baseline"], metrics=case["metrics"], edges=edges
    )
    whys = [w for w in sus.table["why"].to_list() if " rose by " in w or " fell by " in w]
    assert whys, sus.table
    assert all(
        "score" not in w
        and "z = " not in w
        and "(" not in w
        and "× the baseline's usual spread and held" in w
        for w in whys
    )


def test_evidence_lists_only_operations_that_took_longer():
    # the demo's checkout evidence listed "POST: 0.0408 ms -> 0.0408 ms, extra 0 ms" among
    # its "slow operations"; as with metric series and totals, only what changed is evidence
    case = cascade_case()
    sus = rank_suspects(case)
    assert sus.blame.filter(pl.col("service") == "db").height == 2  # computed, all 0 ms extra
    assert sus.evidence("db").blame.height == 0
    slower = sus.blame.with_columns(
        extra_ms=pl.when(pl.col("name") == "SELECT").then(12.0).otherwise(pl.col("extra_ms"))
    )
    sus.blame = slower
    assert sus.evidence("db").blame["name"].to_list() == ["SELECT"]


def test_a_metric_change_says_which_way_its_run_went():
    """look22: postgres' `up`, down 12 of 60 minutes, read "up shifted 100× ..." beside
    "direction up, 1 -> 1" in its evidence; the why says the way the scored run went."""
    import numpy as np

    from tests.diag_builders import BASELINE, WINDOW, metric_frame

    rng = np.random.default_rng(5)
    up = np.ones(240)
    up[150:174] = 0.0
    mem = rng.normal(100, 1, 240)
    mem[130:] += 40
    metrics = metric_frame({("up", "db"): up, ("process_resident_memory_bytes", "cache"): mem})
    sus = rank_suspects(None, window=WINDOW, baseline=BASELINE, metrics=metrics)
    why = dict(zip(sus.table["service"], sus.table["why"], strict=True))
    assert why["db"].startswith("up fell by ") and "rose" not in why["db"]
    assert why["cache"].startswith("process_resident_memory_bytes rose by ")
