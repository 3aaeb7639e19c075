"""CPU utilisation per pod from the raw series any user has (a CPU-seconds counter and
a CPU limit): a CPU driven to its limit is saturation, the service's own state, not a
symptom. Hand-made metric frames."""

from __future__ import annotations

import numpy as np
import polars as pl

from tests.diag_builders import BASELINE, WINDOW, metric_frame
from workbench.analysis.suspects import rank_suspects
from workbench.analysis.utilisation import UTILISATION, cpu_utilisation

STEP = 30
N = 240  # two hours of 30 s steps: the baseline hour, then the window's


def _cores(before: float, after: float, *, from_step: int = 160) -> np.ndarray:
    """A CPU-seconds counter using ``before`` cores, then ``after`` from ``from_step``."""
    use = np.where(np.arange(N) < from_step, before, after)
    rng = np.random.default_rng(7)
    use = use * (1 + 0.02 * rng.standard_normal(N))
    return 1000.0 + np.cumsum(use * STEP)


def _metrics(web_after: float) -> pl.DataFrame:
    return metric_frame(
        {
            ("process_cpu_seconds_total", "web"): _cores(0.3, web_after),
            ("container_cpu_limit_cores", "web"): np.full(N, 1.0),
            ("process_cpu_seconds_total", "api"): _cores(0.2, 0.2),
            ("container_cpu_limit_cores", "api"): np.full(N, 2.0),
            # a service without a limit: no fraction to derive
            ("process_cpu_seconds_total", "batch"): _cores(0.5, 0.5),
        },
        step_s=STEP,
    )


def test_the_counters_rate_over_the_pods_limit() -> None:
    got = cpu_utilisation(_metrics(0.98))
    assert set(got["metric"]) == {UTILISATION}
    assert set(got["service"]) == {"web", "api"}  # batch has no limit
    web = got.filter(pl.col("service") == "web")
    before = web.filter(pl.col("ts") < WINDOW.start)["value"].median()
    after = web.filter(pl.col("ts") >= WINDOW.start + (WINDOW.end - WINDOW.start) / 3)
    assert abs(before - 0.3) < 0.02
    assert abs(after["value"].median() - 0.98) < 0.03
    api = got.filter(pl.col("service") == "api")["value"].median()
    assert abs(api - 0.1) < 0.01  # 0.2 cores of a 2-core limit
    # the pod's labels are the counter's
    assert web["labels"][0].to_list() == [{"key": "pod", "value": "web-0"}]


def test_nothing_to_derive_without_a_limit() -> None:
    m = metric_frame({("process_cpu_seconds_total", "web"): _cores(0.3, 0.3)}, step_s=STEP)
    assert cpu_utilisation(m).height == 0


def test_a_cpu_driven_to_its_limit_is_saturation() -> None:
    # web's CPU from 0.3 to 0.98 of its 1-core limit: before, only "CPU seconds rose" (a
    # symptom, 0 saturation); now its own state (lab cpu-hog-gen8-s401: web at 98% of
    # its limit ranked second, behind a benign deploy, verdict none)
    sus = rank_suspects(metrics=_metrics(0.98), window=WINDOW, baseline=BASELINE)
    t = sus.table
    assert t.filter(pl.col("service") == "web")["saturation"][0] > 0.9
    assert "near capacity" in t.filter(pl.col("service") == "web")["why"][0]
    assert t.filter(pl.col("service") == "api")["saturation"][0] == 0.0


def test_a_cpu_that_rose_but_stays_below_half_its_limit_is_not_saturation() -> None:
    sus = rank_suspects(metrics=_metrics(0.45), window=WINDOW, baseline=BASELINE)
    assert sus.table.filter(pl.col("service") == "web")["saturation"][0] == 0.0


def test_the_fraction_replaces_its_counter_in_the_evidence() -> None:
    # the rate over a constant limit is the counter's change in another unit: listed
    # once, as the fraction (the demo listed each of checkout's pods twice)
    sus = rank_suspects(metrics=_metrics(0.98), window=WINDOW, baseline=BASELINE)
    assert sus.evidence("web").series["metric"].to_list() == [UTILISATION]
    # a counter without a limit has nothing to be replaced by: it stays
    m = _metrics(0.98).with_columns(
        value=pl.when(pl.col("service") == "batch")
        .then(pl.col("value") * pl.when(pl.col("ts") >= WINDOW.start).then(3.0).otherwise(1.0))
        .otherwise(pl.col("value"))
    )
    batch = rank_suspects(metrics=m, window=WINDOW, baseline=BASELINE).evidence("batch")
    assert batch.series["metric"].to_list() == ["process_cpu_seconds_total"]
