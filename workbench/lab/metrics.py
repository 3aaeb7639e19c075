"""Per-pod Prometheus series from the traffic model: counters, gauges and histograms.

Counts are drawn per scrape interval (Poisson arrivals, multinomial status codes and
latency buckets) and accumulated into counters that reset when a process restarts.
The result is a :class:`SeriesSet`: one row of labels per series and a matrix of
values over the grid (NaN where the target was not scraped).

Example::

    >>> ss = build_series(topo, grid, pods, effects, flow, rng)
    >>> ss.values.shape
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from workbench.lab.clock import Grid
from workbench.lab.faults import Effects
from workbench.lab.rollout import Pod
from workbench.lab.sim import SIGMA, Flow, lognorm_cdf
from workbench.lab.topology import Topology

__all__ = ["BUCKETS", "FAMILIES", "NAMESPACE", "SeriesSet", "build_series"]

NAMESPACE = "shop"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CODES = ("200", "500", "503", "504")

# (family, OpenMetrics type, help) in file order
FAMILIES = (
    ("http_server_requests", "counter", "HTTP requests served, by route, method and code."),
    ("http_server_request_duration_seconds", "histogram", "HTTP server request duration."),
    ("process_cpu_seconds", "counter", "Total user and system CPU time spent in seconds."),
    ("container_cpu_limit_cores", "gauge", "CPU limit of the container in cores."),
    ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes."),
    ("container_memory_limit_bytes", "gauge", "Memory limit of the container in bytes."),
    ("db_client_connections_usage", "gauge", "Connections in the client pool by state."),
    ("db_client_connections_max", "gauge", "Maximum size of the client connection pool."),
    ("up", "gauge", "1 if the target was scraped successfully."),
    ("app_info", "gauge", "Build information of the running application."),
)
_FAMILY_OF = {
    "http_server_requests_total": "http_server_requests",
    "http_server_request_duration_seconds_bucket": "http_server_request_duration_seconds",
    "http_server_request_duration_seconds_sum": "http_server_request_duration_seconds",
    "http_server_request_duration_seconds_count": "http_server_request_duration_seconds",
    "process_cpu_seconds_total": "process_cpu_seconds",
}


def family_of(metric: str) -> str:
    return _FAMILY_OF.get(metric, metric)


@dataclass
class SeriesSet:
    """``metric[i]``, ``labels[i]`` (sorted dict incl. service/pod/...), ``values[i, t]``."""

    grid: Grid
    metric: list[str]
    labels: list[dict[str, str]]
    offset_ms: list[int]  # scrape offset of the series' target
    values: np.ndarray  # (series, grid.n) float64, NaN = no sample
    is_int: list[bool]
    families: tuple[tuple[str, str, str], ...] = FAMILIES  # (name, type, help) in file order
    # failed requests the apps handled: (service, pod name, route name, counts (T, 3) of
    # 500/503/504 per scrape interval); the logs module writes one error line per failure
    errors: list[tuple[str, str, str, np.ndarray]] = field(default_factory=list)
    # OOM kills as kube-state-metrics reports them (restart count, last terminated reason
    # OOMKilled): (service, pod name, True where the container restarted after a kill); read
    # by the alerting rules, not written with the apps' metrics
    oom_kills: list[tuple[str, str, np.ndarray]] = field(default_factory=list)
    # the rows add() collects until finish() stacks them into values
    _rows: list[np.ndarray] = field(default_factory=list, init=False, repr=False, compare=False)

    def add(
        self,
        metric: str,
        labels: dict[str, str],
        offset_ms: int,
        values: np.ndarray,
        is_int: bool = False,
    ) -> None:
        self.metric.append(metric)
        self.labels.append(dict(sorted(labels.items())))
        self.offset_ms.append(offset_ms)
        self._rows.append(values)
        self.is_int.append(is_int)

    def finish(self) -> SeriesSet:
        self.values = np.vstack(self._rows) if self._rows else np.zeros((0, self.grid.n))
        del self._rows
        return self


def _counter(increments: np.ndarray, reset: np.ndarray, start: float = 0.0) -> np.ndarray:
    """Cumulative sums that restart from 0 where ``reset`` is set (``start`` before that)."""
    c = np.cumsum(increments, dtype=float)
    if not reset.any():
        return c + start
    seg = np.cumsum(reset)
    idx = np.flatnonzero(reset)
    before = np.concatenate([[0.0], np.where(idx > 0, c[np.maximum(idx - 1, 0)], 0.0)])
    return c - before[seg] + np.where(seg == 0, start, 0.0)


def build_series(
    topo: Topology,
    grid: Grid,
    pods: dict[str, list[Pod]],
    eff: dict[str, Effects],
    flow: Flow,
    rng: np.random.Generator,
) -> SeriesSet:
    ss = SeriesSet(grid, [], [], [], np.zeros(0), [])
    dt = grid.step_s
    tt = grid.times
    le_edges = np.array(BUCKETS)
    db_down = {
        s.name: np.all([eff[p.name].down | ~p.alive(grid) for p in pods[s.name]], axis=0)
        for s in topo.services
        if not s.is_http
    }
    for svc in topo.services:
        for p in pods[svc.name]:
            e = eff[p.name]
            alive = p.alive(grid)
            scraped = alive & ~e.down
            if e.oom.any():
                ss.oom_kills.append((svc.name, p.name, e.oom.copy()))
            nan = np.full(grid.n, np.nan)
            base = {
                "service": svc.name,
                "pod": p.name,
                "namespace": NAMESPACE,
                "job": svc.name,
                "instance": p.name,
            }
            off = p.scrape_offset_ms
            age0 = max(grid.t0 - p.born, 0.0)
            reset = e.reset.copy()
            handled_total = np.zeros(grid.n)
            for route in svc.routes:
                node = (svc.name, route.name)
                arr = flow.rate[node] * p.share
                handled = arr * (1 - e.drop)
                handled_total += handled
                if not svc.is_http:
                    continue
                d = flow.dep[node]
                own_err = np.clip(0.0008 + e.err500, 0, 1)
                q503 = (1 - own_err) * d.f503
                q504 = (1 - own_err) * d.f504
                q500 = np.clip(1 - (1 - own_err) * d.ok - q503 - q504, 0, 1)
                q200 = np.clip(1 - q500 - q503 - q504, 0, 1)
                probs = np.stack([q200, q500, q503, q504], axis=1)
                probs /= probs.sum(axis=1, keepdims=True)
                n = rng.poisson(np.where(scraped, handled * dt, 0.0))
                codes = rng.multinomial(n, probs)  # (T, 4)
                if codes[:, 1:].any():
                    ss.errors.append((svc.name, p.name, route.name, codes[:, 1:].copy()))
                start_n = handled.mean() * age0 if age0 else 0.0
                labels = {**base, "route": route.path, "method": route.method}
                for ci, code in enumerate(CODES):
                    share = [0.99, 0.006, 0.002, 0.002][ci]
                    cum = _counter(codes[:, ci], reset, round(start_n * share))
                    ss.add(
                        "http_server_requests_total",
                        {**labels, "code": code},
                        off,
                        np.where(scraped, cum, nan),
                        True,
                    )
                own_median = route.latency_s * e.lat_mult + e.lat_add
                mean_ok = own_median * math.exp(SIGMA**2 / 2) + d.latency
                # a tail where its requests waited on retransmitted calls (its own lossy
                # requests or its callees' lossy replies); a server's own lost replies are
                # retransmitted by the kernel after its timer stopped: not in its durations
                sigma = SIGMA + 0.15 * np.clip(d.rtx * 4, 0, 1)
                median_ok = mean_ok / np.exp(sigma**2 / 2)
                f_to = q504
                t_to = d.timeout_at + own_median
                cdf = lognorm_cdf(le_edges[None, :], median_ok[:, None], sigma[:, None])
                cdf = (1 - f_to[:, None]) * cdf + f_to[:, None] * (
                    le_edges[None, :] >= t_to[:, None]
                )
                cdf = np.concatenate([cdf, np.ones((grid.n, 1))], axis=1)
                pb = np.diff(np.concatenate([np.zeros((grid.n, 1)), cdf], axis=1), axis=1)
                pb = np.clip(pb, 0, None)
                pb /= pb.sum(axis=1, keepdims=True)
                total_n = n
                bins = rng.multinomial(total_n, pb)  # (T, 12)
                cum_bins = np.cumsum(bins, axis=1)
                start_b = np.round(start_n * np.concatenate([cdf[0], [1.0]])[: len(BUCKETS) + 1])
                hl = {**base, "route": route.path, "method": route.method}
                for bi, le in enumerate([*BUCKETS, math.inf]):
                    le_s = "+Inf" if le == math.inf else _fmt_le(le)
                    cum = _counter(cum_bins[:, bi], reset, float(start_b[bi]))
                    ss.add(
                        "http_server_request_duration_seconds_bucket",
                        {**hl, "le": le_s},
                        off,
                        np.where(scraped, cum, nan),
                        True,
                    )
                mean_mix = (1 - f_to) * mean_ok + f_to * t_to
                sums = total_n * mean_mix * rng.lognormal(0, 0.05, grid.n)
                ss.add(
                    "http_server_request_duration_seconds_sum",
                    hl,
                    off,
                    np.where(
                        scraped, np.round(_counter(sums, reset, start_n * mean_mix[0]), 4), nan
                    ),
                )
                ss.add(
                    "http_server_request_duration_seconds_count",
                    hl,
                    off,
                    np.where(scraped, _counter(total_n, reset, float(start_b[-1])), nan),
                    True,
                )
            # USE: cpu, memory, pool
            work = handled_total * svc.cpu_per_request * e.lat_mult
            cores = np.minimum(
                0.01 + work * rng.lognormal(0, 0.08, grid.n) + e.cpu_extra, svc.cpu_limit * 0.985
            )
            cpu = _counter(
                np.where(scraped, cores * dt, 0.0),
                reset,
                round(age0 * (0.01 + handled_total.mean() * svc.cpu_per_request), 2),
            )
            ss.add("process_cpu_seconds_total", base, off, np.where(scraped, np.round(cpu, 2), nan))
            ss.add("container_cpu_limit_cores", base, off, np.where(scraped, svc.cpu_limit, nan))
            since = tt - p.born
            last_reset = np.maximum.accumulate(np.where(reset, tt, -np.inf))
            since = np.minimum(since, tt - last_reset)
            warm = 0.75 + 0.25 * (1 - np.exp(-np.maximum(since, 0) / 600.0))
            wander = np.cumsum(rng.normal(0, 0.002, grid.n))
            mem = svc.memory_base * warm * (1 + wander) + handled_total * 2**16 + e.mem_extra
            mem = np.minimum(mem, svc.memory_limit)
            ss.add(
                "process_resident_memory_bytes",
                base,
                off,
                np.where(scraped, np.round(mem), nan),
                True,
            )
            ss.add(
                "container_memory_limit_bytes",
                base,
                off,
                np.where(scraped, svc.memory_limit, nan),
                True,
            )
            if svc.pool_max:
                dbs = {c.to for r in svc.routes for c in r.calls if c.to in db_down}
                broken = (
                    np.any([db_down[x] for x in dbs], axis=0) if dbs else np.zeros(grid.n, bool)
                )
                busy = handled_total * 0.02 + rng.poisson(1.0, grid.n)
                used = np.clip(np.round(busy + e.pool_busy * svc.pool_max), 0, svc.pool_max)
                idle = np.clip(svc.pool_max // 2 - used, 0, svc.pool_max - used)
                used = np.where(broken, 0, used)
                idle = np.where(broken, 0, idle)
                ss.add(
                    "db_client_connections_usage",
                    {**base, "state": "used"},
                    off,
                    np.where(scraped, used, nan),
                    True,
                )
                ss.add(
                    "db_client_connections_usage",
                    {**base, "state": "idle"},
                    off,
                    np.where(scraped, idle, nan),
                    True,
                )
                ss.add(
                    "db_client_connections_max",
                    base,
                    off,
                    np.where(scraped, svc.pool_max, nan),
                    True,
                )
            ss.add("up", base, off, np.where(alive, scraped.astype(float), nan), True)
            ss.add(
                "app_info", {**base, "version": p.version}, off, np.where(scraped, 1.0, nan), True
            )
    return ss.finish()


def _fmt_le(le: float) -> str:
    return repr(float(le))
