"""Per-case variation that makes a lab scenario as hard as a real incident.

A scenario fixes its fault kind; a :class:`Variation` draws the rest per case, from the
case's seed, so a ranker cannot learn the catalogue:

* **when** the fault starts (anywhere from 2 to 40 minutes into the incident window) and
  how long it lasts;
* **where** it is: the root's ``position`` in the call graph, ``entry`` (a frontend),
  ``middle`` (called and calling other HTTP services) or ``leaf`` (called, calling no
  HTTP service); kinds whose symptom only callers see (network delay, packet loss,
  aborted requests) need a service with callers, a database outage a database;
* **decoys**: benign deploys, one of them on a caller of the root (a service with
  symptoms) a few minutes before the fault, one elsewhere in the incident window, one in
  the baseline;
* whether a **change record names the root** (``announced``): when not, the fault leaves
  no Chaos Mesh object and a bad version no Argo CD / Argo Rollouts record (a hotfix
  pushed by hand, a noisy neighbour): the suite announces at most half of its cases;
* **telemetry gaps**: one service sends no traces, one service lacks one metric family.

The scenario's own defaults (``workbench lab generate``, ``workbench demo``) draw no
variation: ``variation=None`` generates exactly what it always did.

Example::

    >>> from workbench.lab.topology import shop
    >>> from workbench.lab.scenarios import get_scenario
    >>> v = draw_variation(shop(), get_scenario("cpu-hog"), 7, position="leaf", announced=False)
    >>> v.position, v.announced
    ('leaf', False)
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass

import numpy as np

from workbench.lab.scenarios import Scenario
from workbench.lab.topology import Topology

__all__ = ["GAP_FAMILIES", "POSITIONS", "Variation", "draw_variation", "positions_of"]

POSITIONS = ("entry", "middle", "leaf")
# metric families a service may lack (an exporter without the histogram, no memory metric)
GAP_FAMILIES = (
    "http_server_request_duration_seconds",
    "process_resident_memory_bytes",
    "process_cpu_seconds",
)
# kinds whose symptom only the callers of the root see
_NEEDS_CALLERS = ("network_delay", "packet_loss", "http_errors")
# the incident window is the second hour of the scenario: faults start within it
_START_MIN = (62.0, 100.0)


@dataclass(frozen=True)
class Variation:
    """What one suite case draws on top of its scenario (see the module docstring)."""

    root: str
    position: str
    fault_at_min: float
    fault_minutes: float | None  # None: until the end of the window
    decoys: tuple[tuple[str, float], ...]  # (service, minute) benign deploys
    announced: bool
    no_traces: tuple[str, ...]
    missing_metric: tuple[str, str] | None  # (service, metric family)

    def describe(self) -> dict:
        """JSON-ready summary (written to scenario.json and truth.json)."""
        d = asdict(self)
        d["decoys"] = [{"service": s, "minute": m} for s, m in self.decoys]
        d["no_traces"] = list(self.no_traces)
        d["missing_metric"] = (
            None
            if self.missing_metric is None
            else {"service": self.missing_metric[0], "family": self.missing_metric[1]}
        )
        return d


def positions_of(topo: Topology) -> dict[str, str]:
    """``entry``, ``middle`` or ``leaf`` for every HTTP service of ``topo``."""
    callers = topo.callers
    out = {}
    for s in topo.services:
        if not s.is_http:
            continue
        calls_http = any(topo.service(c.to).is_http for r in s.routes for c in r.calls)
        if s.kind == "frontend" or not callers[s.name]:
            out[s.name] = "entry"
        elif calls_http:
            out[s.name] = "middle"
        else:
            out[s.name] = "leaf"
    return out


def _candidates(
    topo: Topology, sc: Scenario, position: str, *, served: bool = False
) -> tuple[list[str], str]:
    """Services that can hold ``sc``'s fault at ``position`` (or the nearest position);
    with ``served``, only services some request reaches (:attr:`Topology.served`)."""
    callers = topo.callers
    keep = topo.served if served else frozenset(topo.names)
    if sc.fault == "db_outage":
        dbs = [s.name for s in topo.services if s.kind == "database" and s.name in keep]
        return dbs or [s.name for s in topo.services if not s.is_http], "leaf"
    pos = {n: p for n, p in positions_of(topo).items() if n in keep}
    fit = [n for n in pos if sc.fault not in _NEEDS_CALLERS or callers[n]]
    if sc.fault == "conn_pool_exhaustion":
        fit = [n for n in fit if topo.service(n).pool_max] or fit
    order = [position] + [p for p in ("middle", "leaf", "entry") if p != position]
    for p in order:
        here = [n for n in fit if pos[n] == p]
        if here:
            return here, p
    return sorted(pos), pos[sorted(pos)[0]]


def draw_variation(
    topo: Topology,
    sc: Scenario,
    seed: int,
    *,
    position: str,
    announced: bool,
) -> Variation:
    """Draw one case's variation from ``seed`` (deterministic: same inputs, same draw).

    ``position`` is where the root should sit (the nearest position the fault kind allows
    when the topology has none there); ``announced`` whether a change record names it.
    """
    if position not in POSITIONS:
        raise ValueError(f"position must be one of {POSITIONS}, not {position!r}")
    rng = np.random.default_rng([seed, zlib.crc32(sc.name.encode()), len(topo.services), 7])
    cands, pos = _candidates(topo, sc, position)
    root = cands[int(rng.integers(len(cands)))]
    if root not in topo.served:
        # no request reaches it (a route no caller uses): its fault would show nowhere.
        # Drawn again among the served services from a stream of its own, so every case
        # whose first draw was served keeps exactly the draws it always had
        cands, pos = _candidates(topo, sc, position, served=True)
        again = np.random.default_rng([seed, zlib.crc32(sc.name.encode()), len(topo.services), 8])
        root = cands[int(again.integers(len(cands)))]
    at = round(float(rng.uniform(*_START_MIN)), 1)
    minutes = None if sc.fault_minutes is None else round(float(rng.uniform(10.0, 30.0)), 1)
    http = [s.name for s in topo.services if s.is_http]
    others = [n for n in http if n != root]
    callers = [n for n in topo.callers[root] if n != root and topo.service(n).is_http]
    decoys: list[tuple[str, float]] = []
    if others:
        near = callers or others  # an affected caller, just before the fault
        decoys.append((near[int(rng.integers(len(near)))], round(at - rng.uniform(1.0, 8.0), 1)))
        decoys.append((others[int(rng.integers(len(others)))], round(rng.uniform(60.0, 115.0), 1)))
        decoys.append((others[int(rng.integers(len(others)))], round(rng.uniform(10.0, 55.0), 1)))
    # one deploy per service and minute: drop repeats (a second deploy of the same
    # service at another time is fine)
    decoys = list(dict.fromkeys(decoys))
    no_traces = (http[int(rng.integers(len(http)))],) if http else ()
    gap_svc = http[int(rng.integers(len(http)))] if http else None
    family = GAP_FAMILIES[int(rng.integers(len(GAP_FAMILIES)))]
    return Variation(
        root=root,
        position=pos,
        fault_at_min=at,
        fault_minutes=minutes,
        decoys=tuple(sorted(decoys, key=lambda d: (d[1], d[0]))),
        announced=announced,
        no_traces=no_traces,
        missing_metric=None if gap_svc is None else (gap_svc, family),
    )
