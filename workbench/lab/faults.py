"""Injected faults and what they do to the pods of the root-cause service.

Each fault kind turns into per-pod effect arrays over the grid (:class:`Effects`); the
simulation then carries the symptoms to callers along the call graph.

=====================  =========================================================  ==========
kind                   symptom at the root cause                                  chaos kind
=====================  =========================================================  ==========
cpu_hog                CPU at the limit (throttled), own latency x3-5             StressChaos
memory_leak            memory climbs to the limit, OOM kill + restart, GC stalls  -
network_delay          +delay on every packet the pods send (callers see it)      NetworkChaos
packet_loss            retransmits (200 ms, doubling): callers wait or time out   NetworkChaos
http_errors            requests aborted before the app (callers get 503)         HTTPChaos
bad_deploy             new version returns 500s (NullPointerException)            -
db_outage              database down: no scrapes, connections refused             -
conn_pool_exhaustion   pool at max, requests wait then fail (pool timeout)        -
=====================  =========================================================  ==========

Example::

    >>> Fault("cpu_hog", "catalog", start=t0 + 3900, end=t0 + 5100)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.lab.clock import Grid
from workbench.lab.rollout import Pod
from workbench.lab.topology import Topology

__all__ = ["CHAOS_KINDS", "FAULT_KINDS", "Effects", "Fault", "apply_faults"]

FAULT_KINDS = (
    "cpu_hog",
    "memory_leak",
    "network_delay",
    "packet_loss",
    "http_errors",
    "bad_deploy",
    "db_outage",
    "conn_pool_exhaustion",
)
CHAOS_KINDS = {
    "cpu_hog": "StressChaos",
    "network_delay": "NetworkChaos",
    "packet_loss": "NetworkChaos",
    "http_errors": "HTTPChaos",
}


@dataclass(frozen=True)
class Fault:
    kind: str
    service: str
    start: float
    end: float
    params: dict = field(default_factory=dict)
    recorded: bool = True  # False: no Chaos Mesh object (a real fault, not an experiment)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {FAULT_KINDS}")


class Effects:
    """Per-pod effect arrays (length ``grid.n``)."""

    def __init__(self, n: int) -> None:
        z = np.zeros(n)
        self.err500 = z.copy()  # fraction of handled requests the app fails with 500
        self.drop = z.copy()  # fraction of requests that never reach the app (callers: 503)
        self.lat_mult = np.ones(n)  # multiplier on own processing time
        self.lat_add = z.copy()  # seconds added to own processing time
        self.net_delay = z.copy()  # seconds added to every response / outgoing call
        self.loss = z.copy()  # packet loss fraction
        self.cpu_extra = z.copy()  # cores burnt besides request work
        self.mem_extra = z.copy()  # bytes on top of the normal working set
        self.down = np.zeros(n, dtype=bool)  # scrape fails (process not running)
        self.reset = np.zeros(n, dtype=bool)  # process restarted at this step
        self.oom = np.zeros(n, dtype=bool)  # restarted at this step after an OOM kill
        self.pool_busy = z.copy()  # extra fraction of the DB pool held


def _ramp(grid: Grid, start: float, end: float, rise_s: float = 60.0) -> np.ndarray:
    tt = grid.times
    r = np.clip((tt - start) / max(rise_s, 1e-9), 0.0, 1.0)
    return np.where((tt >= start) & (tt < end), r, 0.0)


def apply_faults(
    topo: Topology,
    grid: Grid,
    pods: dict[str, list[Pod]],
    faults: list[Fault],
    rng: np.random.Generator,
) -> dict[str, Effects]:
    """Effects per pod name for every pod (faults applied; others neutral)."""
    eff = {p.name: Effects(grid.n) for ps in pods.values() for p in ps}
    for ps in pods.values():
        for p in ps:
            if p.bad:  # a bad version: errors while its pods serve
                e = eff[p.name]
                alive = p.alive(grid)
                e.err500 = np.where(alive, p.bad.get("err500", 0.0), e.err500)
                e.lat_mult = np.where(alive, p.bad.get("lat_mult", 1.0), e.lat_mult)
    for f in faults:
        svc = topo.service(f.service)
        targets = [p for p in pods[f.service] if p.born <= f.start < p.died] or pods[f.service]
        k = f.kind
        if k == "cpu_hog":
            n = f.params.get("pods", 1)
            for p in targets[:n]:
                r = _ramp(grid, f.start, f.end, 30)
                e = eff[p.name]
                e.cpu_extra += r * svc.cpu_limit * 1.2
                e.lat_mult *= 1 + r * f.params.get("slowdown", 3.5)
        elif k == "memory_leak":
            rate = f.params.get("bytes_per_s") or _leak_rate(svc, f)
            for p in targets:
                _leak(grid, eff[p.name], svc.memory_limit, svc.memory_base, f, rate, rng)
        elif k == "network_delay":
            r = _ramp(grid, f.start, f.end, 1)
            for p in targets:
                eff[p.name].net_delay += r * f.params.get("delay_s", 0.3)
        elif k == "packet_loss":
            r = _ramp(grid, f.start, f.end, 1)
            for p in targets:
                eff[p.name].loss += r * f.params.get("loss", 0.35)
        elif k == "http_errors":
            r = _ramp(grid, f.start, f.end, 1)
            n = max(1, round(len(targets) * f.params.get("pod_fraction", 0.5)))
            for p in targets[:n]:
                eff[p.name].drop = np.maximum(eff[p.name].drop, r * f.params.get("abort", 1.0))
        elif k == "db_outage":
            on = grid.mask(f.start, f.end)
            for p in targets:
                e = eff[p.name]
                e.drop = np.where(on, 1.0, e.drop)
                e.down |= on
                idx = grid.index(f.end)
                if idx < grid.n:
                    e.reset[idx] = True
        elif k == "conn_pool_exhaustion":
            r = _ramp(grid, f.start, f.end, 120)
            for p in targets:
                e = eff[p.name]
                e.pool_busy = np.maximum(e.pool_busy, r)
                e.err500 += r * f.params.get("err500", 0.3)
                e.lat_add += r * f.params.get("wait_s", 1.8)
        # bad_deploy acts through the deploy's pods (Pod.bad), nothing else to do here
    return eff


def _leak_rate(svc, f: Fault) -> float:
    """Bytes per second a leak grows by: 55% of the limit in 25 min, or faster when the
    fault starts late, so the heap fills within half of the time left and the pods are
    OOM killed and restart inside the window, as the scenario says (a leak drawn to
    start 22 min before the window's end used to fill 40% of it: no OOM kill, no alert,
    nothing a user would be paged for)."""
    head = svc.memory_limit - svc.memory_base * 1.05
    return max(svc.memory_limit * 0.55 / 1500, head / max(0.5 * (f.end - f.start), 60.0))


def _leak(
    grid: Grid,
    e: Effects,
    limit: float,
    base: float,
    f: Fault,
    rate: float,
    rng: np.random.Generator,
) -> None:
    tt = grid.times
    extra = np.zeros(grid.n)
    head = limit - base * 1.05
    since = f.start + float(rng.uniform(0, 120))
    for i, t in enumerate(tt):
        if t < since or t >= f.end:
            continue
        extra[i] = (t - since) * rate * float(rng.uniform(0.97, 1.03))
        if extra[i] >= head:  # OOM killed: restarts with an empty heap
            e.down[i] = True
            e.drop[i] = max(e.drop[i], 0.8)
            if i + 1 < grid.n:
                e.reset[i + 1] = True
                e.oom[i + 1] = True
            extra[i] = 0.0
            since = t + grid.step_s
    e.mem_extra += extra
    fill = np.clip(extra / max(head, 1.0), 0, 1)
    gc = np.clip((fill - 0.7) / 0.3, 0, 1)
    e.lat_mult *= 1 + 2.5 * gc**2
    e.cpu_extra += 0.35 * gc
    e.err500 += 0.04 * gc**3
