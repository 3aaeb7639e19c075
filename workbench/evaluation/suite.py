"""The lab suite: every fault kind on several topologies, as hard as a real incident.

For every seed, each of the 9 scenarios runs on 3 topologies (the shop, about 12
services with a database and a cache, and generated topologies of 8 and 20 services):
27 cases per seed. Each case draws a :class:`~workbench.lab.variation.Variation` from
its seed: fault start anywhere in the incident window, the root at the entry, in the
middle or at a leaf of the call graph (the three positions take turns), decoy deploys
on an affected caller and elsewhere, telemetry gaps (a service without traces, a
missing metric family), and a change record naming the root in at most half of the
cases (:data:`ANNOUNCED_SHARE`, chosen per seed by a seeded shuffle).

Directories are named ``<scenario>-<topology>-s<seed>`` and reused when already
present (generation is deterministic). Develop on some seeds and report others::

    >>> from workbench.evaluation.suite import generate_suite, default_suite_dir, suite_spec
    >>> path = generate_suite(default_suite_dir(), spec=suite_spec((101, 102, 103)))
    >>> # then: workbench eval rca <path>   (or: workbench eval rca --lab-suite --seeds 101,102,103)
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.evaluation.cases import Case as EvalCase
    from workbench.lab.variation import Variation

__all__ = [
    "ANNOUNCED_SHARE",
    "DEFAULT_SEEDS",
    "FAULT_SCENARIOS",
    "SUITE",
    "SuiteCase",
    "case_name",
    "case_variation",
    "default_suite_dir",
    "generate_suite",
    "older_suites",
    "suite_cases",
    "suite_spec",
]

#: one lab scenario per fault kind (bad_deploy: the canary scenario)
FAULT_SCENARIOS = (
    "bad-deploy-canary",
    "conn-pool-exhaustion",
    "cpu-hog",
    "db-outage",
    "http-errors",
    "memory-leak",
    "network-delay",
    "packet-loss",
)
_SCENARIOS = ("demo", *FAULT_SCENARIOS)
_TOPOLOGIES: tuple[int | None, ...] = (None, 8, 20)
DEFAULT_SEEDS = (1, 2, 3)
# share of a seed's cases whose change records (chaos object, deploy) name the root
ANNOUNCED_SHARE = 0.4
# disk a generated case may take: 81 cases of revision 6 took 6.6, 7.0 and 7.5 GB (seeds
# 101-103, 201-203, 301-303: 83-93 MB a case, 159 MB the largest seen)
CASE_BYTES = 100 * 1024**2
# room left free besides the cases, for whatever else writes to that disk
HEADROOM_BYTES = 1024**3

# (scenario, services, seed, position, announced)
SuiteCase = tuple[str, int | None, int, str, bool]


def suite_spec(seeds: Iterable[int] = DEFAULT_SEEDS) -> list[SuiteCase]:
    """``(scenario, services, seed, position, announced)`` for every case: 9 scenarios x
    3 topologies per seed. Positions take turns (entry, middle, leaf, shifted by seed);
    ``announced`` holds for ``floor(ANNOUNCED_SHARE * 27)`` cases of each seed."""
    from workbench.lab.variation import POSITIONS

    spec: list[SuiteCase] = []
    for seed in seeds:
        cells = [(sc, topo) for sc in _SCENARIOS for topo in _TOPOLOGIES]
        order = list(range(len(cells)))
        random.Random(seed * 7919 + 1).shuffle(order)
        announced = set(order[: int(ANNOUNCED_SHARE * len(cells))])
        for i, (sc, topo) in enumerate(cells):
            spec.append((sc, topo, seed, POSITIONS[(i + seed) % 3], i in announced))
    return spec


SUITE = suite_spec()


def default_suite_dir() -> Path:
    """``$WORKBENCH_CACHE/lab-suite-v<N>`` or ``~/.cache/workbench/lab-suite-v<N>``, N the
    lab's :data:`~workbench.lab.revision.GENERATOR_REVISION` (v2: the cases with drawn
    variation; v3: a root no request reaches is drawn again; v4: alerts start when they
    fired, not when they went pending). Directories of earlier versions are not reused."""
    from workbench.lab.revision import GENERATOR_REVISION

    base = os.environ.get("WORKBENCH_CACHE") or Path.home() / ".cache" / "workbench"
    return Path(base) / f"lab-suite-v{GENERATOR_REVISION}"


def case_name(scenario: str, services: int | None, seed: int, *_: object) -> str:
    topo = "shop" if services is None else f"gen{services}"
    return f"{scenario}-{topo}-s{seed}"


def case_variation(
    scenario: str, services: int | None, seed: int, *, position: str, announced: bool
) -> Variation:
    """The drawn variation of one suite case (root at ``position``, drawn time, decoys,
    telemetry gaps; a change record naming the root when ``announced``)."""
    from workbench.lab.runner import build_topology
    from workbench.lab.scenarios import get_scenario
    from workbench.lab.variation import draw_variation

    return draw_variation(
        build_topology(services, seed),
        get_scenario(scenario),
        seed,
        position=position,
        announced=announced,
    )


def generate_suite(
    out: str | Path,
    *,
    spec: list[SuiteCase] | None = None,
    progress: Callable[[str], None] | None = None,
    history_hours: float = 0.0,
) -> Path:
    """Generate every case of ``spec`` (default: :data:`SUITE`) under ``out``; cases whose
    directory already holds a complete scenario drawn with the same variation by this
    :data:`~workbench.lab.revision.GENERATOR_REVISION` (and the same ``history_hours``)
    are kept (one drawn differently, or written by an older generator, is generated
    again). ``history_hours`` of healthy operation before each scenario give room for a
    longer baseline (``workbench eval rca --baseline``; about that much more disk per
    two hours of scenario). Returns ``out``."""
    from workbench.lab import generate

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    todo = []
    for scenario, services, seed, position, announced in spec or SUITE:
        d = root / case_name(scenario, services, seed)
        v = case_variation(scenario, services, seed, position=position, announced=announced)
        if not _held(d, v, history_hours):
            todo.append((scenario, services, seed, d, v))
    scale = 1.0 + history_hours / 2.0  # the scenarios' own two hours, and the history
    _check_room(root, len(todo), free_bytes(root), scale=scale)
    for scenario, services, seed, d, v in todo:
        if d.exists():
            # new files, not the old ones rewritten in place (a cache copied with hard
            # links keeps the original intact)
            shutil.rmtree(d)
        generate(scenario, seed, d, services=services, variation=v, history_hours=history_hours)
        if progress:
            progress(d.name)
    return root


def _held(d: Path, v: Variation, history_hours: float = 0.0) -> bool:
    """Whether ``d`` holds a complete case drawn with ``v`` by this generator revision,
    with ``history_hours`` of history before it."""
    from workbench.lab.revision import GENERATOR_REVISION

    if not ((d / "truth.json").exists() and (d / "scenario.json").exists()):
        return False
    try:
        json.loads((d / "truth.json").read_text())
        held = json.loads((d / "scenario.json").read_text())
    except ValueError:
        return False
    return bool(
        held.get("generator_revision") == GENERATOR_REVISION
        and held.get("variation") == json.loads(json.dumps(v.describe()))
        and float((held.get("options") or {}).get("history_hours") or 0.0) == history_hours
    )


def free_bytes(path: Path) -> int:
    """Free bytes on the disk that holds ``path``."""
    return shutil.disk_usage(path).free


def disk_size(n: float) -> str:
    """``n`` bytes as a person reads a disk size: ``6.6 GB``, ``3 MB``."""
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def _check_room(root: Path, cases: int, free: int, *, scale: float = 1.0) -> None:
    """Refuse to start generating ``cases`` cases (each ``scale`` times a two-hour case)
    that would not fit under ``root``: a full disk breaks more than this run (databases,
    notebooks saving)."""
    from workbench.errors import ConfigError

    need = int(cases * CASE_BYTES * scale) + HEADROOM_BYTES
    if cases == 0 or free >= need:
        return
    old = older_suites(root)
    freeable = "; " + ", ".join(f"{p} ({disk_size(n)})" for p, n in old) if old else ""
    raise ConfigError(
        f"lab suite: {cases} case(s) to generate in {root} need about {disk_size(need)} "
        f"(up to {disk_size(CASE_BYTES * scale)} a case, and {disk_size(HEADROOM_BYTES)} left free); "
        f"the disk has {disk_size(free)} free",
        hint="free some space, or set WORKBENCH_CACHE (or pass --lab-suite DIR) to a disk "
        "with room; suites of older generators are never read again and can be deleted" + freeable,
    )


def older_suites(root: str | Path) -> list[tuple[Path, int]]:
    """Suites beside ``root`` written by other generator revisions (``lab-suite-v<N>``),
    with the bytes each takes: never read again, they only hold disk.

    >>> for path, size in older_suites(default_suite_dir()):
    ...     print(path, size)
    """
    from workbench.lab.revision import GENERATOR_REVISION

    root = Path(root)
    if not root.parent.is_dir():
        return []
    out = []
    for p in sorted(root.parent.glob("lab-suite-v*")):
        tail = p.name.removeprefix("lab-suite-v")
        if p.is_dir() and tail.isdigit() and int(tail) != GENERATOR_REVISION:
            size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
            out.append((p, size))
    return out


def suite_cases(
    root: str | Path, spec: list[SuiteCase] | None = None, **kw: Any
) -> Iterator[EvalCase]:
    """The evaluation cases of ``spec`` under ``root`` (only those: a suite directory may
    also hold the cases of other seeds), at alert time; ``kw`` goes to
    :func:`~workbench.evaluation.labcase.lab_case` (``detection_delay``)."""
    from workbench.evaluation.labcase import lab_case

    for scenario, services, seed, *_ in spec or SUITE:
        yield lab_case(Path(root) / case_name(scenario, services, seed), **kw)
