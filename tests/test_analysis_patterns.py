"""Broken event patterns and per-request error rates, on small hand-made frames."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from tests.diag_builders import BASELINE, WINDOW, logs_frame, span, spans_frame
from workbench.analysis.patterns import broken_patterns, pattern_signal, trace_events
from workbench.analysis.suspects import rank_suspects


def _log(t, service: str, message: str, trace: str, sid: str, level: str = "info") -> dict:
    return {
        "ts": t,
        "service": service,
        "level": level,
        "message": message,
        "trace_id": trace,
        "span_id": sid,
        "attributes": [],
    }


def _shop(n_base: int, n_win: int, cut_from: int | None, cart_win: int | None = None):
    """gateway -> pay and gateway -> cart. In every request pay logs two statements with
    the same text at lines 10 and 14 of PayService; from window request ``cut_from`` on,
    the second one is missing (an exception between them). cart always logs one line."""
    spans, logs = [], []
    for phase, win, n in (("b", BASELINE, n_base), ("w", WINDOW, n_win)):
        step = win.duration / (n + 1)
        for i in range(n):
            t0 = win.start + step * (i + 1)
            tid = f"{phase}{i}"
            spans += [
                span(tid, f"{tid}-g", None, "gateway", "GET /checkout", 0, 40, t0=t0),
                span(tid, f"{tid}-p", f"{tid}-g", "pay", "POST /pay", 1, 20, t0=t0),
            ]
            at = t0 + timedelta(milliseconds=2)
            logs.append(_log(at, "pay", f"c.PayService#10 charge card {i}", tid, f"{tid}-p"))
            if not (phase == "w" and cut_from is not None and i >= cut_from):
                logs.append(_log(at, "pay", f"c.PayService#14 charge card {i}", tid, f"{tid}-p"))
            if phase == "b" or cart_win is None or i < cart_win:
                spans.append(span(tid, f"{tid}-c", f"{tid}-g", "cart", "GET /cart", 21, 30, t0=t0))
                logs.append(_log(at, "cart", f"c.CartService#7 items {i}", tid, f"{tid}-c"))
    return logs_frame(logs), spans_frame(spans)


def test_a_code_path_cut_short_is_found_in_its_service():
    # cart gets half the traffic in the window (a load change, not a broken path)
    logs, spans = _shop(n_base=20, n_win=20, cut_from=8, cart_win=10)
    broken = broken_patterns(logs, spans, WINDOW, BASELINE)
    top = broken.row(0, named=True)
    assert top["service"] == "pay"
    assert top["B"] == "log: c.PayService#14" and top["missing"] == 12
    assert set(broken["service"]) == {"pay"}
    sig = pattern_signal(broken)
    assert sig["service"].to_list() == ["pay"] and sig["patterns"][0] > 0.6


def test_same_text_at_two_source_lines_stays_two_events():
    logs, spans = _shop(n_base=3, n_win=0, cut_from=None)
    events = set(trace_events(logs, spans).filter(pl.col("service") == "pay")["event"])
    assert {"log: c.PayService#10", "log: c.PayService#14", "span: POST /pay"} <= events


def test_a_pair_that_did_not_hold_in_the_baseline_is_not_a_break():
    logs, spans = _shop(n_base=20, n_win=20, cut_from=None)
    # in the baseline, line 14 follows line 10 in only half of the requests
    b_odd = pl.col("trace_id").str.starts_with("b") & pl.col("message").str.contains("#14")
    keep = ~b_odd | (pl.col("message").str.extract(r"(\d+)$").cast(pl.Int64) % 2 == 0)
    logs = logs.filter(keep)
    # ... and in the window in none: as often as it was missing, within noise
    logs = logs.filter(
        ~(pl.col("trace_id").str.starts_with("w") & pl.col("message").str.contains("#14"))
    )
    broken = broken_patterns(logs, spans, WINDOW, BASELINE)
    assert broken.filter(pl.col("B") == "log: c.PayService#14").height == 0
    # with nothing broken at all, the signal is empty
    assert pattern_signal(broken_patterns(*_shop(20, 20, None), WINDOW, BASELINE)).height == 0


def test_a_broken_code_path_ranks_its_service_first_with_the_reason():
    logs, spans = _shop(n_base=20, n_win=20, cut_from=5)
    sus = rank_suspects(None, window=WINDOW, baseline=BASELINE, logs=logs, spans=spans)
    assert sus.ranking[0] == "pay"
    row = sus.table.row(0, named=True)
    assert row["patterns"] > 0.5 and "code path cut short" in row["why"]
    assert sus.table.filter(pl.col("service") == "cart")["patterns"][0] == 0.0
    # the broken path behind it is reachable as a frame, and only the suspect's own
    paths = sus.evidence("pay").paths
    assert paths.height >= 1 and set(paths["service"]) == {"pay"}
    assert sus.evidence("cart").paths.height == 0


def _errors_case(rows: list[tuple[str, int, int, int, int]]):
    """Per service: (name, baseline requests, baseline errors, window requests, window
    errors); each request is a trace gateway -> service, the error on the service span."""
    spans = []
    for name, nb, eb, nw, ew in rows:
        for phase, win, n, e in (("b", BASELINE, nb, eb), ("w", WINDOW, nw, ew)):
            step = win.duration / (n + 1)
            for i in range(n):
                t0 = win.start + step * (i + 1)
                tid = f"{name}-{phase}{i}"
                bad = "error" if i < e else "ok"
                spans += [
                    span(tid, f"{tid}-g", None, "gateway", "GET /", 0, 10, "ok", t0=t0),
                    span(tid, f"{tid}-s", f"{tid}-g", name, "work", 1, 9, bad, t0=t0),
                ]
    return spans_frame(spans)


def test_errors_are_judged_per_request_and_beyond_noise():
    spans = _errors_case(
        [
            # the usual errors of a batch job: 1 in 4 requests, 4x the traffic now
            ("batch", 20, 5, 80, 20),
            # a small rise within noise
            ("search", 40, 2, 40, 4),
            # the real fault: no errors before, most requests fail now
            ("db", 40, 0, 40, 30),
        ]
    )
    sus = rank_suspects(None, window=WINDOW, baseline=BASELINE, spans=spans)
    err = dict(zip(sus.table["service"], sus.table["errors"], strict=True))
    assert sus.ranking[0] == "db" and err["db"] > 0.8
    assert err["batch"] == 0.0 and err["search"] < 0.05
