"""Hostile-input accounting for property tests (issue 8).

Property tests take the ``hostile`` fixture and call ``hostile.count("otlp-json")`` once per
example; the terminal summary prints how many hostile examples each parser received.
Hypothesis runs 1,000 examples per test under CI (``CI=true``), 150 otherwise; set
``HYPOTHESIS_PROFILE`` to override.

Example::

    @given(st.binary())
    def test_otlp_never_crashes(hostile, data):
        hostile.count("otlp-json")
        ...
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
settings.register_profile(
    "dev",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


def examples(dev: int) -> int:
    """``max_examples`` for a hostile-input test that sets its own count: at least the
    profile's (1,000 under CI), ``dev`` otherwise. ``@settings(max_examples=examples(300))``"""
    return max(dev, settings.default.max_examples) if PROFILE == "ci" else dev


_COUNTS: Counter[str] = Counter()
_FAULTS: Counter[str] = Counter()


class HostileCounter:
    """Counts hostile examples per parser and fault cases per source."""

    def count(self, parser: str, n: int = 1) -> None:
        _COUNTS[parser] += n

    def fault(self, source: str, n: int = 1) -> None:
        _FAULTS[source] += n


@pytest.fixture(scope="session")
def hostile() -> HostileCounter:
    return HostileCounter()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _COUNTS and not _FAULTS:
        return
    tr = terminalreporter
    tr.section("hostile input and fault cases")
    for name, n in sorted(_COUNTS.items()):
        tr.write_line(f"parser {name:32} {n:>7,} hostile examples")
    for name, n in sorted(_FAULTS.items()):
        tr.write_line(f"source {name:32} {n:>7,} fault cases")
    tr.write_line(
        f"total: {sum(_COUNTS.values()):,} hostile examples over {len(_COUNTS)} parsers, "
        f"{sum(_FAULTS.values()):,} fault cases over {len(_FAULTS)} sources"
    )
