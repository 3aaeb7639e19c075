"""A simulated microservice system with fault injection: the lab.

It writes a directory of realistic telemetry (Prometheus metrics as OpenMetrics and
Parquet, JSON logs, OTLP traces, Argo CD / Argo Rollouts / Alertmanager / Chaos Mesh
events) with the ground truth of the injected fault in ``truth.json``. The same
scenario and seed give byte-identical files.

Example::

    >>> from workbench import lab
    >>> lab.list_scenarios()[:2]
    ['bad-deploy-canary', 'conn-pool-exhaustion']
    >>> path = lab.generate("cpu-hog", seed=3, out="/tmp/cpu-hog")
    >>> from workbench import Incident
    >>> inc = Incident.from_directory(path)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["generate", "list_scenarios", "scenario_info"]


def list_scenarios() -> list[str]:
    """Names of the lab scenarios, sorted."""
    from workbench.lab.scenarios import SCENARIOS

    return sorted(SCENARIOS)


def scenario_info() -> list[dict[str, Any]]:
    """One dict per scenario: name, fault, root (in the default shop), title."""
    from workbench.lab.scenarios import SCENARIOS

    return [
        {"name": s.name, "fault": s.fault, "root": s.root, "title": s.title}
        for s in sorted(SCENARIOS.values(), key=lambda s: s.name)
    ]


def generate(
    scenario: str = "demo", seed: int = 1, out: Path | str = "lab-out", **opts: Any
) -> Path:
    """Write ``scenario`` generated with ``seed`` into directory ``out``; return the path.

    Options: ``start`` (RFC 3339 window start), ``services`` (use a generated topology
    of that many services), ``step_s`` (scrape interval), ``target_traces``.
    """
    from workbench.lab.runner import generate as _generate

    return _generate(scenario, seed, out, **opts)
