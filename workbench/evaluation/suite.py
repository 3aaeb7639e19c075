"""The lab suite: every fault kind on several topologies and seeds, generated on demand.

``SUITE`` lists ``(scenario, services, seed)``: ``services=None`` is the default shop
(about 12 services with a database and a cache), a number is a generated topology of
that many services. Directories are named ``<scenario>-<topology>-s<seed>`` and reused
when already present (generation is deterministic).

Example::

    >>> from workbench.evaluation.suite import generate_suite, default_suite_dir
    >>> path = generate_suite(default_suite_dir())      # ~60 scenario directories
    >>> # then: workbench eval rca <path>
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["SUITE", "case_name", "default_suite_dir", "generate_suite", "suite_spec"]

_SCENARIOS = (
    "demo",
    "bad-deploy-canary",
    "conn-pool-exhaustion",
    "cpu-hog",
    "db-outage",
    "http-errors",
    "memory-leak",
    "network-delay",
    "packet-loss",
)
_TOPOLOGIES: tuple[int | None, ...] = (None, 8, 20)
_SEEDS = (1, 2)


def suite_spec() -> list[tuple[str, int | None, int]]:
    """(scenario, services, seed) for every case: 9 scenarios x 3 topologies x 2 seeds,
    plus a third seed on the shop (63 cases)."""
    spec = [(sc, topo, seed) for sc in _SCENARIOS for topo in _TOPOLOGIES for seed in _SEEDS]
    spec += [(sc, None, 3) for sc in _SCENARIOS]
    return spec


SUITE = suite_spec()


def default_suite_dir() -> Path:
    """``$WORKBENCH_CACHE/lab-suite`` or ``~/.cache/workbench/lab-suite``."""
    base = os.environ.get("WORKBENCH_CACHE") or Path.home() / ".cache" / "workbench"
    return Path(base) / "lab-suite"


def case_name(scenario: str, services: int | None, seed: int) -> str:
    topo = "shop" if services is None else f"gen{services}"
    return f"{scenario}-{topo}-s{seed}"


def generate_suite(
    out: str | Path,
    *,
    spec: list[tuple[str, int | None, int]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Generate every case of ``spec`` (default: :data:`SUITE`) under ``out``; cases whose
    directory already holds a complete scenario are kept. Returns ``out``."""
    from workbench.lab import generate

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    for scenario, services, seed in spec or SUITE:
        name = case_name(scenario, services, seed)
        d = root / name
        if (d / "truth.json").exists() and (d / "scenario.json").exists():
            try:
                json.loads((d / "truth.json").read_text())
                continue
            except ValueError:
                pass
        generate(scenario, seed, d, services=services)
        if progress:
            progress(name)
    return root
