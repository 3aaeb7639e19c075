"""Lab fixtures: scenario directories generated once per test session.

``lab_demo_dir``      Path of the demo scenario (seed 1).
``lab_scenario_dir``  factory ``(name, seed=1, **opts) -> Path``, cached per arguments.
``lab_history_dir``   Path of a 14-day capacity history at 5 minutes (seed 1); see
                      workbench/lab/history.py and its truth.json.

Example::

    def test_something(lab_scenario_dir):
        path = lab_scenario_dir("db-outage", 2)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def lab_scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    from workbench.lab import generate

    made: dict[tuple, Path] = {}

    def make(name: str = "demo", seed: int = 1, **opts: Any) -> Path:
        key = (name, seed, tuple(sorted(opts.items())))
        if key not in made:
            out = tmp_path_factory.mktemp(f"lab-{name}-{seed}")
            made[key] = generate(name, seed, out, **opts)
        return made[key]

    return make


@pytest.fixture(scope="session")
def lab_demo_dir(lab_scenario_dir: Callable[..., Path]) -> Path:
    return lab_scenario_dir("demo", 1)


@pytest.fixture(scope="session")
def lab_history_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from workbench.lab.history import generate_history

    return generate_history(1, tmp_path_factory.mktemp("lab-history"), days=14, step_s=300)
