"""The traffic model: rates, errors and latency per route and pod over the grid.

External traffic follows a daily and weekly shape with noise. Callees are solved before
callers: each call's failure (after one retry on 503/504/timeouts) and latency (capped by
the call's timeout) feed the caller's own error mix and latency. Then rates flow from
the entry routes down the call graph, retries included. Everything is a numpy array over
the grid; no per-request loop.

Example::

    >>> flow = simulate(topo, grid, pods, effects, rng)
    >>> flow.rate[("checkout", "POST /checkout")].max()
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from workbench.lab.clock import Grid
from workbench.lab.faults import Effects
from workbench.lab.rollout import Pod
from workbench.lab.topology import Topology

__all__ = [
    "BASE_ERROR",
    "RTO_MIN_S",
    "SIGMA",
    "Flow",
    "NodeStats",
    "daily_shape",
    "lognorm_cdf",
    "retransmits",
    "simulate",
]

BASE_ERROR = 0.0008
#: the first retransmission timeout of a Linux TCP connection (``TCP_RTO_MIN``, 200 ms);
#: every further loss of the same segment doubles it
RTO_MIN_S = 0.2
SIGMA = 0.5
Node = tuple[str, str]


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (
        ((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592
    ) * t * np.exp(-a * a)
    return s * y


def lognorm_cdf(x: np.ndarray | float, median: np.ndarray, sigma: np.ndarray | float) -> np.ndarray:
    """P(L <= x) for a lognormal with the given median and sigma."""
    x = np.maximum(np.asarray(x, dtype=float), 1e-12)
    z = (np.log(x) - np.log(np.maximum(median, 1e-9))) / (np.asarray(sigma) * math.sqrt(2.0))
    return 0.5 * (1.0 + _erf(z))


def retransmits(loss: np.ndarray, give_up_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Per grid step, for a link that loses each transmission with probability ``loss``:
    the mean retransmission wait of a segment that gets through before ``give_up_s``, and
    the share that does not (the caller times out). The model of
    :func:`workbench.lab.traces.retransmit_wait`: 200 ms, then doubled per further loss.

    Example::

        >>> w, to = retransmits(np.array([0.0, 0.35]), 2.0)
        >>> w[0], round(float(to[1]), 3)      # 0.35**4: four losses in a row pass 2 s
        (0.0, 0.015)
    """
    p = np.clip(np.asarray(loss, dtype=float), 0.0, 0.999)
    mean = np.zeros_like(p)
    got = np.zeros_like(p)  # P(through before giving up)
    wait, rto, k = 0.0, RTO_MIN_S, 0
    while wait <= give_up_s and k < 30:
        share = (1 - p) * p**k  # lost k times, then through
        mean += share * wait
        got += share
        wait += rto
        rto *= 2
        k += 1
    return mean / np.maximum(got, 1e-12), 1 - got


def daily_shape(t: np.ndarray) -> np.ndarray:
    """Relative traffic at epoch seconds ``t``: low at 04:00 UTC, peak at 16:00, weekends lower."""
    hours = (t % 86400) / 3600.0
    day = 0.3 + 0.7 * (0.5 - 0.5 * np.cos(2 * np.pi * (hours - 4.0) / 24.0))
    weekday = ((t // 86400).astype(np.int64) + 3) % 7  # 0 = Monday
    return day * np.where(weekday >= 5, 0.75, 1.0)


@dataclass
class NodeStats:
    """What callers of a route see, averaged over the service's pods."""

    q500: np.ndarray
    q503: np.ndarray
    q504: np.ndarray
    drop: np.ndarray
    mean: np.ndarray  # mean latency (s) of handled requests
    sigma: np.ndarray
    net: np.ndarray  # network delay added on the way back
    loss: np.ndarray


@dataclass
class DepStats:
    """A route's downstream outcome: share of requests failed by calls, and time spent."""

    ok: np.ndarray
    f500: np.ndarray
    f503: np.ndarray
    f504: np.ndarray
    latency: np.ndarray
    timeout_at: float  # where 504s land on the latency axis
    # per critical call: (callee, share of requests it fails, its 500/503/504 split (3, T))
    edges: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)
    # share of requests that waited on at least one retransmitted segment of their calls
    rtx: np.ndarray | float = 0.0


@dataclass
class Flow:
    grid: Grid
    rate: dict[Node, np.ndarray]  # arriving requests/s (retries included)
    dep: dict[Node, DepStats]
    stats: dict[Node, NodeStats]
    external: np.ndarray  # external requests/s at the entry services


def _avg(pods: list[Pod], eff: dict[str, Effects], attr: str) -> np.ndarray:
    return sum(p.share * getattr(eff[p.name], attr) for p in pods)


def simulate(
    topo: Topology,
    grid: Grid,
    pods: dict[str, list[Pod]],
    eff: dict[str, Effects],
    rng: np.random.Generator,
) -> Flow:
    tt = grid.times
    noise = np.empty(grid.n)
    x = 0.0
    eps = rng.normal(0.0, 0.035, grid.n)
    for i in range(grid.n):
        x = 0.9 * x + eps[i]
        noise[i] = x
    external = topo.external_rps * daily_shape(tt) * np.exp(noise)

    stats: dict[Node, NodeStats] = {}
    dep: dict[Node, DepStats] = {}
    edge_retry: dict[tuple[Node, int], np.ndarray] = {}
    svc_avg: dict[str, dict[str, np.ndarray]] = {}
    for s in topo.services:
        ps = pods[s.name]
        svc_avg[s.name] = {
            a: _avg(ps, eff, a)
            for a in ("err500", "drop", "lat_mult", "lat_add", "net_delay", "loss")
        }
    for sname, rname in reversed(topo.nodes):
        svc = topo.service(sname)
        route = next(r for r in svc.routes if r.name == rname)
        a = svc_avg[sname]
        ok = np.ones(grid.n)
        f = {c: np.zeros(grid.n) for c in ("500", "503", "504")}
        lat = np.zeros(grid.n)
        t_max = 0.0
        clean = np.ones(grid.n)  # share of requests none of whose calls retransmitted
        edges: list[tuple[str, np.ndarray, np.ndarray]] = []
        for ci, c in enumerate(route.calls):
            k = stats[(c.to, c.operation)]
            callee = topo.service(c.to)
            # the request leaves the caller's pods, the reply the callee's: each side's
            # egress delay and retransmissions (a lost segment is sent again: no reset)
            w_out, to_out = retransmits(a["loss"], c.timeout_s)
            w_back, to_back = retransmits(k.loss, c.timeout_s)
            delay = a["net_delay"] + k.net + w_out + w_back
            sigma = k.sigma
            median = k.mean / np.exp(sigma**2 / 2) + delay
            a_drop = k.drop
            handled = 1 - a_drop
            p_to = 1 - lognorm_cdf(c.timeout_s, median, sigma)
            gone = 1 - (1 - to_out) * (1 - to_back)
            p_to = np.where(gone > 0, 1 - (1 - p_to) * (1 - gone), p_to)
            p_rtx = 1 - (1 - a["loss"]) * (1 - k.loss)
            clean = clean * (1 - min(c.weight, 1.0) * p_rtx)
            n500 = handled * (1 - p_to) * k.q500
            r503 = a_drop + handled * (1 - p_to) * k.q503
            r504 = handled * (p_to + (1 - p_to) * k.q504)
            r = np.clip(r503 + r504, 0, 1)
            okk = np.clip(1 - n500 - r, 0, 1)
            edge_retry[((sname, rname), ci)] = r
            ok_f = okk * (1 + r)
            one_lat = (1 - p_to) * np.minimum(k.mean + delay, c.timeout_s) + p_to * c.timeout_s
            lat += c.weight * one_lat * (1 + r)
            if not c.critical:
                continue
            t_max = max(t_max, c.timeout_s)
            ok_f = np.clip(ok_f, 0, 1)
            # weight < 1: only that share of requests makes the call at all
            p_ok = (1 - min(c.weight, 1.0) * (1 - ok_f)) * ok_f ** max(c.weight - 1.0, 0.0)
            fail = 1 - p_ok
            parts = np.stack([n500 * (1 + r), r * r503, r * r504])
            tot = np.maximum(parts.sum(axis=0), 1e-12)
            share = parts / tot
            if not callee.is_http:  # a failed DB/cache call is an exception: 500
                share = np.stack([np.ones(grid.n), np.zeros(grid.n), np.zeros(grid.n)])
            # combine independent failures: new failures only among still-ok requests
            for code, sh in zip(("500", "503", "504"), share, strict=True):
                f[code] += ok * fail * sh
            edges.append((c.to, ok * fail, share))
            ok = ok * p_ok
        dep[(sname, rname)] = DepStats(
            ok, f["500"], f["503"], f["504"], lat, t_max or 1.0, edges, 1 - clean
        )
        own_err = np.clip(BASE_ERROR + a["err500"], 0, 1)
        own_median = route.latency_s * a["lat_mult"] + a["lat_add"]
        mean = own_median * math.exp(SIGMA**2 / 2) + lat
        q503 = (1 - own_err) * f["503"]
        q504 = (1 - own_err) * f["504"]
        q500 = np.clip(1 - (1 - own_err) * ok - q503 - q504, 0, 1)
        stats[(sname, rname)] = NodeStats(
            q500, q503, q504, a["drop"], mean, np.full(grid.n, SIGMA), a["net_delay"], a["loss"]
        )

    rate: dict[Node, np.ndarray] = {n: np.zeros(grid.n) for n in topo.nodes}
    for s in topo.services:
        if s.kind == "frontend":
            total = sum(r.share for r in s.routes) or 1.0
            n_front = len(topo.entries)
            for r in s.routes:
                rate[(s.name, r.name)] += external / n_front * r.share / total
    for sname, rname in topo.nodes:
        svc = topo.service(sname)
        route = next(r for r in svc.routes if r.name == rname)
        handled = rate[(sname, rname)] * (1 - svc_avg[sname]["drop"])
        for ci, c in enumerate(route.calls):
            rate[(c.to, c.operation)] += handled * c.weight * (1 + edge_retry[((sname, rname), ci)])
    return Flow(grid, rate, dep, stats, external)
