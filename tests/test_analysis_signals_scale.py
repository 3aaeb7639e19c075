"""The trace signals do not fade as the number of services grows (issue 18, AC@1 at 1,000
services): hand-built frames where one service carries the fault and hundreds of others
only chance, and the same fault alone."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from tests.analysis_builders import T0, spans_frame
from workbench.analysis.signals import _slower_through, signal
from workbench.analysis.suspects import rank_suspects, signal_context
from workbench.analysis.traces import latency_blame
from workbench.timewindow import Window

BASE = Window(T0, T0 + timedelta(hours=1))
WIN = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))


def _trace(rows: list[dict], tid: str, svc: str, start: float, ms: float, err: bool) -> None:
    """One request: ``front`` (the entry, 5 ms of its own) calls ``svc``."""
    status = "error" if err else "ok"
    rows.append(
        {"trace_id": tid, "span_id": "a", "service": "front", "name": f"GET /{svc}",
         "start": start, "ms": ms + 5.0, "status": status}
    )  # fmt: skip
    rows.append(
        {"trace_id": tid, "span_id": "b", "parent": "a", "service": svc, "name": "query",
         "start": start + 0.002, "ms": ms, "status": status}
    )  # fmt: skip


def _errors_case(noise: int) -> pl.DataFrame:
    """``db``: 40 requests an hour, none failing in the baseline, 12 failing in the
    window; ``noise`` services with 4 requests an hour each and 2 failures in the window
    (a chance excess: Poisson z about 1)."""
    rows: list[dict] = []
    for h, base in ((0, 0.0), (1, 3600.0)):
        for i in range(40):
            _trace(rows, f"db-{h}-{i}", "db", base + 60 + i * 80, 20.0, err=h == 1 and i < 12)
        for k in range(noise):
            for i in range(4):
                t = base + 30 + k * 7 + i * 900
                _trace(rows, f"n{k}-{h}-{i}", f"svc-{k}", t, 20.0, err=h == 1 and i < 2)
    return spans_frame(rows)


def _errors_value(spans: pl.DataFrame, service: str) -> float:
    ctx = signal_context(spans=spans, window=WIN, baseline=BASE)
    out = signal("errors").compute(ctx)
    return float(out.filter(pl.col("service") == service)["value"].sum())


def test_errors_share_ignores_chance_excesses_of_many_services() -> None:
    alone = _errors_value(_errors_case(0), "db")
    crowded = _errors_case(300)
    among = _errors_value(crowded, "db")
    assert alone > 0.8
    # 300 services with 600 chance failures (twice what they'd fail at their own rate)
    # do not dilute the one real excess: they are within noise, not in the total
    assert abs(among - alone) < 1e-9
    sus = rank_suspects(spans=crowded, window=WIN, baseline=BASE)
    assert sus.ranking[0] == "db"
    assert _errors_value(crowded, "svc-0") == 0.0


def _latency_case(noise: int, seed: int = 7) -> pl.DataFrame:
    """``label``: 40 requests an hour, 250 ms slower in the window (a network delay on
    it); ``noise`` services with 6 requests an hour each, same times in both hours
    (lognormal), so which of their requests are slow is chance."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for h, base in ((0, 0.0), (1, 3600.0)):
        for i in range(40):
            ms = float(rng.lognormal(np.log(30.0), 0.3)) + (250.0 if h == 1 else 0.0)
            _trace(rows, f"l-{h}-{i}", "label", base + 60 + i * 80, ms, err=False)
        for k in range(noise):
            for i in range(6):
                ms = float(rng.lognormal(np.log(40.0), 0.5))
                _trace(rows, f"n{k}-{h}-{i}", f"svc-{k}", base + 30 + k * 5 + i * 550, ms, False)
    return spans_frame(rows)


def _latency_value(spans: pl.DataFrame, service: str) -> float:
    ctx = signal_context(spans=spans, window=WIN, baseline=BASE)
    out = signal("latency").compute(ctx)
    return float(out.filter(pl.col("service") == service)["value"].sum())


def test_latency_blame_says_how_far_each_extra_is_beyond_noise() -> None:
    b = latency_blame(_latency_case(300), window=WIN, baseline=BASE).filter(
        pl.col("name") == "query"
    )
    z = dict(zip(b["service"], b["z"], strict=True))
    assert z["label"] > 5
    noise = b.filter(pl.col("service") != "label")
    # chance: few noise operations pass the noise level, and they add up to far less
    # extra time than they do without the check
    assert (noise["z"] > 2).mean() < 0.2  # type: ignore[operator]
    assert noise.filter(pl.col("extra_ms") > 0).height > 100


def test_latency_does_not_fade_with_the_number_of_services() -> None:
    alone = _latency_value(_latency_case(0), "label")
    crowded = _latency_case(300)
    among = _latency_value(crowded, "label")
    assert alone > 0.9
    # 300 services (88 % of the requests, none slower) neither dilute the slowdown of
    # the requests through label nor its share of the extra time of the slow ones
    assert among > 0.6
    sus = rank_suspects(spans=crowded, window=WIN, baseline=BASE)
    assert sus.ranking[0] == "label"
    top_noise = sus.table.filter(pl.col("service").str.starts_with("svc-"))["latency"].max() or 0.0
    assert top_noise < among / 5


def test_a_few_slow_requests_in_the_tail_still_count() -> None:
    """``cart``: 6 of its 200 requests in the window take 800 ms more, too few to move
    its own quantiles; ``ads`` is 5 % slower throughout, which moves the system's a
    little. The slowdown behind cart's extra time is then the system's, not 0."""
    rng = np.random.default_rng(3)
    times = {svc: rng.lognormal(np.log(20.0), 0.2, 200) for svc in ("cart", "ads")}
    tail = set(np.argsort(times["cart"])[-6:].tolist())  # the slowest stay the slowest
    rows: list[dict] = []
    for h, base in ((0, 0.0), (1, 3600.0)):
        for svc in ("cart", "ads"):
            for i in range(200):
                ms = float(times[svc][i])
                if h == 1 and svc == "cart" and i in tail:
                    ms += 800.0
                if h == 1 and svc == "ads":
                    ms *= 1.05
                _trace(rows, f"{svc}-{h}-{i}", svc, base + 10 + i * 17, ms, err=False)
    spans = spans_frame(rows)
    ctx = signal_context(spans=spans, window=WIN, baseline=BASE)
    roots = ctx.blamed_spans.filter(pl.col("parent_span_id").is_null())
    through = dict(_slower_through(ctx.blamed_spans, roots, WIN, BASE).iter_rows())
    assert through["cart"] == 0.0  # its own requests' quantiles did not move
    sus = rank_suspects(spans=spans, window=WIN, baseline=BASE)
    assert sus.ranking[0] == "cart"
    assert sus.table.filter(pl.col("service") == "cart")["latency"][0] > 0


def _chain_case(delay_ms: float, seed: int = 5) -> pl.DataFrame:
    """Two request kinds, 300 an hour each: ``GET /a`` calls 10 services one after the
    other (lognormal times, the same in both hours); ``GET /l`` calls ``label`` then the
    same 10. ``label`` is ``delay_ms`` slower in the window, on 1 request in 10 (a network
    delay on one of its pods)."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for h, base in ((0, 0.0), (1, 3600.0)):
        for kind in ("a", "l"):
            for i in range(300):
                tid, t0 = f"{kind}-{h}-{i}", base + 5 + i * 11.0 + (0 if kind == "a" else 3)
                calls: list[tuple[str, float]] = []
                if kind == "l":
                    slow = h == 1 and i % 10 == 0
                    calls.append(("label", 5.0 + (delay_ms if slow else 0.0)))
                calls += [(f"svc-{k}", float(rng.lognormal(np.log(20.0), 0.6))) for k in range(10)]
                t = t0 + 0.001
                for j, (svc, ms) in enumerate(calls):
                    rows.append(
                        {"trace_id": tid, "span_id": f"s{j}", "parent": "root", "service": svc,
                         "name": "call", "start": t, "ms": ms}
                    )  # fmt: skip
                    t += ms / 1000
                rows.append(
                    {"trace_id": tid, "span_id": "root", "service": "front",
                     "name": f"GET /{kind}", "start": t0, "ms": (t - t0) * 1000 + 1}
                )  # fmt: skip
    return spans_frame(rows)


def test_slow_traces_are_compared_with_the_baselines_equally_slow_ones() -> None:
    """The window's slow traces are those above the baseline's 90th percentile: compared
    with every baseline trace, each operation on their path looks slower only because
    they were chosen slow, and over ten operations per trace that choice outweighs a real
    delay on one of them. Compared with the baseline's own slowest tenth, the choice
    cancels and the delay keeps its share."""
    b = latency_blame(_chain_case(150.0), window=WIN, baseline=BASE)
    share = dict(zip(b["service"], b["share"], strict=True))
    assert share["label"] > 0.8
    assert b.filter(pl.col("service") == "label")["extra_ms"][0] > 20
    # no delay: the slow traces are slow by chance, and no operation's extra is beyond it
    calm = latency_blame(_chain_case(0.0), window=WIN, baseline=BASE)
    assert (calm["z"] < 3).all()


def test_a_root_operation_new_in_the_window_is_compared_with_the_whole_baseline() -> None:
    """``GET /new`` first appears in the window (a route a deploy added): it has no
    baseline of its own, so its operations are compared with every baseline trace
    rather than dropped."""
    rows: list[dict] = []
    for h, base in ((0, 0.0), (1, 3600.0)):
        for i in range(40):
            _trace(rows, f"l-{h}-{i}", "label", base + 60 + i * 80, 30.0 + i % 7, err=False)
    for i in range(10):
        _trace(rows, f"new-{i}", "fresh", 3600.0 + 100 + i * 90, 400.0, err=False)
    spans = spans_frame(rows).with_columns(
        name=pl.when(pl.col("service") == "fresh").then(pl.lit("GET /new")).otherwise("name")
    )
    b = latency_blame(spans, window=WIN, baseline=BASE)
    fresh = b.filter(pl.col("service") == "fresh").row(0, named=True)
    assert fresh["normal_ms"] == 0.0 and fresh["slow_ms"] > 50 and fresh["share"] > 0.5
