"""Whose log surge: a caller's error line naming the one callee it failed to reach is
about that callee, as a failing client span is. Hand-made spans, logs and surges."""

from __future__ import annotations

import polars as pl

from tests.diag_builders import BASELINE, WINDOW, every, log_rows, logs_frame, span, spans_frame
from workbench.analysis.logblame import on_named_callee
from workbench.analysis.suspects import blame_services, rank_suspects


def _traffic(failing: tuple[str, ...] = ("shipping", "shipping-2")) -> pl.DataFrame:
    """gateway -> checkout -> shipping, shipping-2 and currency, every 20 s in both
    windows; in the window 1 in 30 of checkout's calls to ``failing`` fail (the call
    never reached the callee: its own span is fine)."""
    rows: list[dict] = []
    for k, w in enumerate((BASELINE, WINDOW)):
        for i in range(180):
            tid, t0, ms = f"{k}-{i}", w.start, i * 20_000.0
            rows += [
                span(
                    tid, "g", None, "gateway", "POST /order", ms, ms + 60, "ok", "server", w.start
                ),
                span(tid, "gc", "g", "gateway", "checkout", ms + 1, ms + 55, "ok", "client", t0),
                span(
                    tid, "c", "gc", "checkout", "POST /order", ms + 2, ms + 54, "ok", "server", t0
                ),
            ]
            for j, callee in enumerate(("shipping", "shipping-2", "currency")):
                a = ms + 3 + 10 * j
                bad = k == 1 and callee in failing and i % 30 == 0
                st = "error" if bad else "ok"
                rows += [
                    span(tid, f"cc{j}", "c", "checkout", callee, a, a + 8, st, "client", t0),
                    span(
                        tid, f"s{j}", f"cc{j}", callee, "GET /q", a + 1, a + 7, "ok", "server", t0
                    ),
                ]
    return spans_frame(rows)


def _surges(rows: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(s, t, True, 8.0, "error") for s, t in rows],
        schema=["service", "template", "surge", "z", "level"],
        orient="row",
    )


def _upstream_logs() -> pl.DataFrame:
    """checkout's steady order lines in both windows, and from the window on its error
    line naming shipping: "upstream shipping unavailable"."""
    return logs_frame(
        log_rows("checkout", "order {i} placed", every(BASELINE, 120))
        + log_rows("checkout", "order {i} placed", every(WINDOW, 120))
        + log_rows(
            "checkout",
            "upstream shipping unavailable (503) while processing POST /order/{i}",
            every(WINDOW, 90),
            level="error",
        )
    )


def test_a_surge_naming_one_callee_whose_calls_fail_more_is_put_on_it() -> None:
    blamed = blame_services(_traffic())
    got = on_named_callee(
        _surges(
            [
                ("checkout", "upstream shipping.shop.svc unavailable while processing POST <*>"),
                ("checkout", "call to shipping-<*> failed: connection reset"),  # masked digits
                ("checkout", "shipping and shipping-2 both failing"),  # two callees: left
                ("checkout", "order <*> placed"),  # names nobody
                ("checkout", "currency rate <*> stale"),  # its calls are fine: left
                ("gateway", "upstream shipping unavailable"),  # not a service gateway calls
                ("shipping", "Unable to connect to checkout:8080"),  # a caller, not a callee
            ]
        ),
        blamed,
        WINDOW,
        BASELINE,
    )
    assert got["service"].to_list() == [
        "shipping",
        "shipping-2",  # a whole name: "shipping" inside "shipping-<*>" is not shipping
        "checkout",
        "checkout",
        "checkout",
        "gateway",
        "shipping",
    ]
    assert got["logged_by"].to_list() == [
        "checkout",
        "checkout",
        "checkout",
        "checkout",
        "checkout",
        "gateway",
        "shipping",
    ]


def test_without_templates_or_spans_nothing_moves() -> None:
    s = _surges([("checkout", "upstream shipping unavailable")])
    blamed = blame_services(_traffic())
    assert on_named_callee(s.drop("template"), blamed, WINDOW, BASELINE).equals(s.drop("template"))
    empty = blame_services(_traffic().clear())
    assert on_named_callee(s, empty, WINDOW, BASELINE)["service"].to_list() == ["checkout"]


def test_a_callee_named_whose_calls_are_fine_keeps_nothing() -> None:
    # a Java NullPointerException names a field: "shipping" is null. checkout's calls to
    # shipping are as fine as ever: the line is checkout's own bug, not shipping's
    blamed = blame_services(_traffic(failing=()))
    npe = 'Cannot invoke "Address.getCountry()" because "shipping" is null'
    got = on_named_callee(_surges([("checkout", npe)]), blamed, WINDOW, BASELINE)
    assert got["service"].to_list() == ["checkout"]


def test_the_callee_a_callers_errors_name_ranks_first() -> None:
    # HTTPChaos aborts requests to shipping before its application: shipping logs and
    # measures nothing, checkout logs "upstream shipping unavailable" from the window on
    # and 1 in 30 of checkout's calls to it fail (the old ranking put checkout first, on
    # its own log surge)
    logs = _upstream_logs()
    sus = rank_suspects(spans=_traffic(), logs=logs, window=WINDOW, baseline=BASELINE)
    assert sus.ranking[0] == "shipping"
    t = sus.table
    assert t.filter(pl.col("service") == "checkout")["logs"][0] == 0.0
    why = t.filter(pl.col("service") == "shipping")["why"][0]
    assert "checkout logs: upstream shipping unavailable" in why


def test_a_moved_line_is_the_callees_evidence_and_its_logs_are_searched_at_the_writer() -> None:
    # the why said "checkout logs: upstream shipping unavailable" while shipping's evidence
    # listed no log pattern and checkout's still did: the evidence and the score disagreed
    from tests.test_grafana_links import G
    from workbench.grafana_links import ExploreLinks, decode_explore_url
    from workbench.summaries import evidence_html

    logs = _upstream_logs()
    sus = rank_suspects(spans=_traffic(), logs=logs, window=WINDOW, baseline=BASELINE)
    moved = sus.evidence("shipping").templates
    assert moved.height == 1 and "upstream shipping unavailable" in moved["template"][0]
    assert moved["logged_by"].to_list() == ["checkout"]
    assert sus.evidence("checkout").templates.height == 0
    # the reader is told who wrote it; the writer's own lines do not say it again
    assert "written by" in evidence_html(sus.evidence("shipping"), open=True)
    # a Grafana link to the pattern searches checkout's streams, where the lines are
    ev = sus.evidence("shipping")
    ev.links = ExploreLinks(G, WINDOW)
    url = ev.links.evidence(ev)["log pattern"]
    assert decode_explore_url(url)["query"].startswith('{service_name="checkout"}')


def test_a_callers_line_stays_with_it_when_its_failing_calls_are_its_own() -> None:
    # only cart's calls to redis fail (auth's and catalog's are fine): the error signal
    # keeps those failing calls on cart (attribution.own_failures), and cart's line about
    # them, the same evidence in words, stays with cart too (lab packet-loss-shop-s401:
    # api-gateway's "catalog returned HTTP 500; retrying" went to catalog and made a wrong
    # "clear" there, while the failing calls it wrote about stayed api-gateway's)
    from tests.test_analysis_attribution import CALLS
    from tests.test_analysis_attribution import _calls as failing_calls

    spans = spans_frame(failing_calls({"cart": 0.3}, CALLS))
    logs = logs_frame(
        log_rows("cart", "cart {i} updated", every(BASELINE, 120))
        + log_rows("cart", "cart {i} updated", every(WINDOW, 120))
        + log_rows(
            "cart", "redis returned HTTP 500; retrying (attempt {i}/2)", every(WINDOW, 36), "warn"
        )
    )
    sus = rank_suspects(spans=spans, logs=logs, window=WINDOW, baseline=BASELINE)
    t = sus.table
    assert t.filter(pl.col("service") == "redis")["logs"][0] == 0.0
    assert t.filter(pl.col("service") == "cart")["logs"][0] > 0.0
    assert sus.ranking[0] == "cart"
