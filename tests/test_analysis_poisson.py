"""poisson_z: a count's distance from its expectation as a normal quantile, checked
against the exact Poisson tail below the expectation."""

from __future__ import annotations

import math
from statistics import NormalDist

import polars as pl
import pytest

from workbench.analysis.stats import poisson_z


def _z(observed: float, expected: float) -> float:
    return float(pl.select(z=poisson_z(pl.lit(observed), pl.lit(expected))).item())


def _exact_below(observed: int, expected: float) -> float:
    p = sum(math.exp(-expected) * expected**k / math.factorial(k) for k in range(observed + 1))
    return min(NormalDist().inv_cdf(p), 0.0)


@pytest.mark.parametrize(
    ("observed", "expected"),
    [(0, 0.5), (0, 1.0), (0, 2.53), (0, 4.0), (1, 5.0), (2, 8.0), (5, 12.0), (30, 50.0)],
)
def test_a_shortfall_reads_as_the_exact_poisson_tail(observed: int, expected: float):
    assert _z(observed, expected) == pytest.approx(_exact_below(observed, expected), abs=0.02)


def test_none_seen_where_a_few_were_expected_is_not_beyond_noise():
    # 0 of 2.53 expected happens 8% of the time: not past -2 (the root of the likelihood
    # ratio read -2.25); 0 of 4.5 (1.1%) is
    assert -1.5 < _z(0, 2.53) < -1.3
    assert _z(0, 4.5) < -2


def test_above_the_expectation_is_the_likelihood_ratio_root():
    assert _z(10, 10.0) == 0.0
    lr = math.sqrt(2 * (30 * math.log(30 / 10) - 20))
    assert _z(30, 10.0) == pytest.approx(lr)
    assert _z(3, 10.0) < 0 < _z(17, 10.0)
