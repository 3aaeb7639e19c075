"""Pods, replica sets and deploys: which pods exist when, and how traffic splits over them.

A deploy is an Argo Rollouts canary: new pods start, the canary weight steps up
(``steps``, with pauses), and either the rollout completes (old pods go away), is
aborted by a failed analysis (automatic rollback: canary weight back to 0), or is
rolled back later by hand through Argo CD (``rollback_at``).

Example::

    >>> d = Deploy("checkout", at=t0 + 3900, version="2.14.0", bad={"err500": 0.3})
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.lab.clock import Grid
from workbench.lab.topology import Topology

__all__ = ["Deploy", "Pod", "plan_pods"]

_ALNUM = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class Deploy:
    """One rollout of ``service`` to ``version`` starting at epoch seconds ``at``."""

    service: str
    at: float
    version: str
    steps: tuple[int, ...] = (25, 50, 100)
    pause_s: float = 120.0
    abort_after_step: int | None = None  # automatic rollback after this step (1-based)
    rollback_at: float | None = None  # manual Argo CD rollback to the previous version
    bad: dict = field(default_factory=dict)  # effects of the new version: err500, lat_mult
    author: str = "ci-bot"
    message: str = ""
    recorded: bool = True  # False: rolled out by hand, no Argo CD / Rollouts record

    def step_times(self) -> list[tuple[float, int]]:
        """(time, weight) of each canary step; pods need ~40 s before the first."""
        t = self.at + 40.0
        out = []
        for w in self.steps:
            out.append((t, w))
            t += self.pause_s
        return out

    @property
    def aborted_at(self) -> float | None:
        if self.abort_after_step is None:
            return None
        return self.step_times()[self.abort_after_step - 1][0] + self.pause_s * 0.75

    @property
    def completed_at(self) -> float | None:
        if self.abort_after_step is not None:
            return None
        return self.step_times()[-1][0] + 20.0

    @property
    def ended_at(self) -> float:
        """When the new version stopped serving traffic, or +inf if it stays."""
        if self.aborted_at is not None:
            return self.aborted_at
        if self.rollback_at is not None:
            return self.rollback_at + 45.0
        return float("inf")


@dataclass
class Pod:
    """A pod: name, version, lifetime, and (set by :func:`plan_pods`) its traffic share."""

    service: str
    name: str
    version: str
    born: float  # epoch seconds (may be before the grid)
    died: float  # +inf if alive at the end
    rs: int  # replica-set index within the service
    share: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    scrape_offset_ms: int = 0
    bad: dict = field(default_factory=dict)

    def alive(self, grid: Grid) -> np.ndarray:
        tt = grid.times
        return (tt >= self.born) & (tt < self.died)


def _suffix(rng: np.random.Generator, n: int) -> str:
    return "".join(_ALNUM[i] for i in rng.integers(0, len(_ALNUM), n))


def plan_pods(
    topo: Topology, grid: Grid, deploys: list[Deploy], rng: np.random.Generator
) -> dict[str, list[Pod]]:
    """All pods per service over the grid, with ``share`` = fraction of that service's
    traffic each pod gets at each step (0 when not serving)."""
    by_service: dict[str, list[Deploy]] = {}
    for d in sorted(deploys, key=lambda d: d.at):
        by_service.setdefault(d.service, []).append(d)
    out: dict[str, list[Pod]] = {}
    taken: set[str] = set()
    tt = grid.times
    for svc in topo.services:
        stateful = svc.kind in ("database", "cache")
        hashes: dict[str, str] = {}

        def rs_hash(version: str, _h: dict[str, str] = hashes, _st: bool = stateful) -> str:
            if version not in _h:
                _h[version] = _suffix(rng, 10 if not _st else 0)
            return _h[version]

        def make(
            version: str, born: float, died: float, rs: int, bad: dict, svc=svc, stateful=stateful
        ) -> list[Pod]:
            h = rs_hash(version)
            pods = []
            for i in range(svc.replicas):
                name = f"{svc.name}-{i}" if stateful else f"{svc.name}-{h}-{_suffix(rng, 5)}"
                while name in taken and not stateful:  # pod names never repeat
                    name = f"{svc.name}-{h}-{_suffix(rng, 5)}"
                taken.add(name)
                pods.append(Pod(svc.name, name, version, born, died, rs, bad=dict(bad)))
            return pods

        age = float(rng.uniform(2, 20)) * 86400
        stable_version = svc.version
        pods = make(stable_version, grid.t0 - age, float("inf"), 0, {})
        weights: list[np.ndarray] = [np.ones(grid.n)]  # per replica set, traffic weight
        rs_pods: list[list[Pod]] = [pods]
        for d in by_service.get(svc.name, []):
            prev_version = stable_version
            w_new = np.zeros(grid.n)
            for t, pct in d.step_times():
                w_new[tt >= t] = pct / 100.0
            end = d.ended_at
            w_new[tt >= end] = 0.0
            new_pods = make(d.version, d.at, end + 30.0, len(rs_pods), d.bad)
            # scale the older replica sets down as the canary weight rises
            for wi in weights:
                wi *= 1.0 - w_new
            if d.completed_at is not None:
                for p in (p for ps in rs_pods for p in ps):
                    if p.died == float("inf"):
                        p.died = d.completed_at + 30.0
            weights.append(w_new)
            rs_pods.append(new_pods)
            if d.rollback_at is not None:
                w_back = (tt >= d.rollback_at + 45.0).astype(float)
                back = make(prev_version, d.rollback_at, float("inf"), len(rs_pods), {})
                weights.append(w_back)
                rs_pods.append(back)
            elif d.completed_at is not None:
                stable_version = d.version
            if d.aborted_at is not None:
                # the stable replica set takes the traffic back
                for wi, ps in zip(weights[:-1], rs_pods[:-1], strict=True):
                    if any(p.died == float("inf") for p in ps):
                        wi[tt >= d.aborted_at] = 1.0
        for w, ps in zip(weights, rs_pods, strict=True):
            for p in ps:
                alive = p.alive(grid)
                p.share = np.where(alive, w / len(ps), 0.0)
        total = sum(p.share for ps in rs_pods for p in ps)
        total = np.where(total > 0, total, 1.0)
        flat = [p for ps in rs_pods for p in ps]
        skew = rng.uniform(0.9, 1.1, len(flat))
        for p, k in zip(flat, skew, strict=True):
            p.share = p.share * k
        total = sum(p.share for p in flat)
        total = np.where(total > 0, total, 1.0)
        for p in flat:
            p.share = p.share / total
            p.scrape_offset_ms = int(rng.integers(0, 30_000))
        out[svc.name] = flat
    return out
