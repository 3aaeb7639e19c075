"""Long history for capacity analysis: weeks of downsampled per-service usage and limits.

Every service's usage follows the daily and weekly traffic shape, grows at a known
compound rate per day, and carries noise; limits are constant except for one scale-up.
``truth.json`` records each service's growth rate, its peak utilisation at the end, and
the date its noise-free daily peak crosses the threshold (80 %), so a forecast can be
checked against a known answer.

Metrics (recording-rule style, one series per service, labels ``service``, ``namespace``):

=====================================  =========================================
``service:http_requests:rate5m``       requests/s
``service:cpu_usage_cores:rate5m``     CPU cores used (all pods)
``service:cpu_limit_cores:sum``        CPU limit (all pods)
``service:memory_usage_bytes:sum``     memory working set (all pods)
``service:memory_limit_bytes:sum``     memory limit (all pods)
``service:disk_used_bytes:sum``        volume bytes used (databases)
``service:disk_capacity_bytes:sum``    volume size (databases)
=====================================  =========================================

Example::

    >>> from workbench.lab.history import generate_history
    >>> path = generate_history(seed=1, out="/tmp/history", days=28, step_s=300)
    >>> json.loads((path / "truth.json").read_text())["first_to_saturate"]
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import numpy as np

from workbench.lab.clock import Grid, iso, parse_iso
from workbench.lab.metrics import SeriesSet
from workbench.lab.revision import GENERATOR_REVISION
from workbench.lab.sim import daily_shape
from workbench.lab.topology import Topology, generated, shop
from workbench.lab.write_metrics import write_openmetrics, write_series_parquet

__all__ = ["HISTORY_FAMILIES", "RESOURCES", "THRESHOLD", "generate_history"]

THRESHOLD = 0.8
HISTORY_FAMILIES = (
    ("service:http_requests:rate5m", "gauge", "Requests per second served (5m rate)."),
    ("service:cpu_usage_cores:rate5m", "gauge", "CPU cores used by all pods (5m rate)."),
    ("service:cpu_limit_cores:sum", "gauge", "CPU limit of all pods in cores."),
    ("service:memory_usage_bytes:sum", "gauge", "Memory working set of all pods."),
    ("service:memory_limit_bytes:sum", "gauge", "Memory limit of all pods."),
    ("service:disk_used_bytes:sum", "gauge", "Bytes used on the service's volumes."),
    ("service:disk_capacity_bytes:sum", "gauge", "Size of the service's volumes."),
)
RESOURCES = {
    "cpu": {"usage": "service:cpu_usage_cores:rate5m", "limit": "service:cpu_limit_cores:sum"},
    "memory": {
        "usage": "service:memory_usage_bytes:sum",
        "limit": "service:memory_limit_bytes:sum",
    },
    "disk": {"usage": "service:disk_used_bytes:sum", "limit": "service:disk_capacity_bytes:sum"},
}
# shop: (cpu growth per day, days after the end until the CPU peak crosses 80 %)
_SHOP_GROWTH = {
    "checkout": (0.025, 14.0),  # a sales campaign: fastest, runs out first
    "payment": (0.012, 60.0),
    "frontend": (0.006, None),
    "api-gateway": (0.006, None),
    "catalog": (0.008, None),
    "recommendation": (0.004, None),
}


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    eps = rng.normal(0, sigma, n)
    out = np.empty(n)
    x = 0.0
    for i in range(n):
        x = phi * x + eps[i]
        out[i] = x
    return out


def _route_rates(topo: Topology) -> dict[str, float]:
    """Relative request rate per service for one external request/s (no retries)."""
    rate = {n: 0.0 for n in topo.nodes}
    for s in topo.services:
        if s.kind == "frontend":
            tot = sum(r.share for r in s.routes) or 1.0
            for r in s.routes:
                rate[(s.name, r.name)] += r.share / tot / max(len(topo.entries), 1)
    for sname, rname in topo.nodes:
        route = next(r for r in topo.service(sname).routes if r.name == rname)
        for c in route.calls:
            rate[(c.to, c.operation)] += rate[(sname, rname)] * c.weight
    out: dict[str, float] = {}
    for (name, _), v in rate.items():
        out[name] = out.get(name, 0.0) + v
    return out


def _crossing(grows: float, room: float, g: float) -> float | None:
    """Days after the end until ``grows * (1+g)^d`` reaches ``room`` (None: beyond a year)."""
    if grows >= room:
        return 0.0
    if g <= 0 or grows <= 0:
        return None
    d = math.log(room / grows) / math.log1p(g)
    return d if d <= 365 else None


def generate_history(
    seed: int = 1,
    out: Path | str = "lab-history",
    *,
    days: float = 28,
    step_s: float = 300.0,
    end: str = "2026-11-20T00:00:00Z",
    services: int | None = None,
) -> Path:
    """Write ``days`` of per-service usage ending at ``end`` into ``out``; return the path."""
    out = Path(out)
    rng = np.random.default_rng([seed, zlib.crc32(b"history"), services or 0])
    topo = shop() if services is None else generated(services, seed=seed)
    t_end = parse_iso(end)
    grid = Grid(t_end - days * 86400, step_s, round(days * 86400 / step_s))
    tt = grid.times
    age = (tt - grid.t0) / 86400.0  # days since the start
    span = days
    shape = daily_shape(tt)
    rel = _route_rates(topo)
    ext_peak = topo.external_rps
    gap = grid.mask(grid.t0 + 9.4 * 86400, grid.t0 + 9.4 * 86400 + 1800)  # Prometheus restart
    ss = SeriesSet(grid, [], [], [], np.zeros(0), [], families=HISTORY_FAMILIES)
    truth_rows: list[dict] = []
    app = [s for s in topo.services if s.is_http]
    if services is None:
        growth = dict(_SHOP_GROWTH)
    else:
        growth = {s.name: (float(rng.uniform(0.0, 0.01)), None) for s in app}
        fast = app[int(rng.integers(0, len(app)))].name if app else None
        if fast:
            growth[fast] = (0.025, 14.0)
    scale_up = "catalog" if "catalog" in topo.by_name else (app[1].name if len(app) > 1 else None)
    for svc in topo.services:
        lab = {"service": svc.name, "namespace": "shop"}
        g, target_days = growth.get(svc.name, (float(rng.uniform(0.0, 0.004)), None))
        trend = (1 + g) ** age
        trend_end = (1 + g) ** span
        noise = np.exp(_ar1(rng, grid.n, 0.97, 0.01) + rng.normal(0, 0.025, grid.n))
        rps = ext_peak * rel.get(svc.name, 0.0) * shape * trend * noise
        limit = svc.replicas * svc.cpu_limit
        limit_t = np.full(grid.n, limit)
        idle_t = np.full(grid.n, 0.03 * svc.replicas)
        if svc.name == scale_up and services is None:
            # HPA minimum raised on day 12: one more pod, limit and idle use go up
            after = age >= 12.0
            limit_t = np.where(after, limit + svc.cpu_limit, limit)
            idle_t = np.where(after, idle_t + 0.03, idle_t)
        final_limit, idle = float(limit_t[-1]), float(idle_t[-1])
        # the noise-free weekday peak (shape 1) at the end is peak_end cores
        if target_days is not None:
            peak_end = idle + (THRESHOLD * final_limit - idle) / (1 + g) ** target_days
        else:
            peak_end = float(rng.uniform(0.2, 0.45)) * final_limit
        u_end = peak_end / final_limit
        scale = max(peak_end - idle, 0.01) / trend_end
        cores = idle_t + scale * shape * trend * noise
        mem_limit = svc.replicas * svc.memory_limit
        mem_g = g * 0.3
        mem = svc.replicas * svc.memory_base * (1 + 0.08 * shape) * (1 + mem_g) ** age
        if svc.name == "recommendation":
            # a slow leak, reset by the weekly deploy every Tuesday 09:00
            since = ((tt - (grid.t0 - 86400 * 3.625)) % (7 * 86400)) / 86400
            mem = mem + svc.replicas * 4 * 2**20 * since
        mem = mem * np.exp(rng.normal(0, 0.01, grid.n))
        mem_u_end = float(np.max(mem[-int(86400 / step_s) :]) / mem_limit)

        def add(metric: str, values: np.ndarray, is_int: bool = False, _lab=lab) -> None:
            ss.add(metric, _lab, 0, np.where(gap, np.nan, values), is_int)

        if svc.is_http:
            add("service:http_requests:rate5m", np.round(rps, 4))
        add("service:cpu_usage_cores:rate5m", np.round(cores, 5))
        add("service:cpu_limit_cores:sum", limit_t)
        add("service:memory_usage_bytes:sum", np.round(mem), True)
        add("service:memory_limit_bytes:sum", np.full(grid.n, mem_limit), True)
        sat = _crossing(peak_end - idle, THRESHOLD * final_limit - idle, g)
        truth_rows.append(
            {
                "service": svc.name,
                "resource": "cpu",
                "growth_per_day": g,
                "utilisation_peak_end": round(u_end, 4),
                "saturation_date": None if sat is None else iso(t_end + sat * 86400),
                "days_to_saturation": None if sat is None else round(sat, 2),
            }
        )
        truth_rows.append(
            {
                "service": svc.name,
                "resource": "memory",
                "growth_per_day": round(mem_g, 5),
                "utilisation_peak_end": round(mem_u_end, 4),
                "saturation_date": None,
                "days_to_saturation": None,
            }
        )
        if svc.kind == "database":
            cap = 200 * 2**30
            fill_days = 45.0
            per_day = cap * 0.008  # bytes written per day (net of vacuum), linear
            used_end = THRESHOLD * cap - per_day * fill_days
            used = used_end - per_day * (span - age) + np.cumsum(rng.normal(0, 2**24, grid.n))
            add("service:disk_used_bytes:sum", np.round(used), True)
            add("service:disk_capacity_bytes:sum", np.full(grid.n, cap), True)
            truth_rows.append(
                {
                    "service": svc.name,
                    "resource": "disk",
                    "growth_per_day": None,
                    "growth_bytes_per_day": per_day,
                    "utilisation_peak_end": round(used_end / cap, 4),
                    "saturation_date": iso(t_end + fill_days * 86400),
                    "days_to_saturation": fill_days,
                }
            )
    ss.finish()
    out.mkdir(parents=True, exist_ok=True)
    n = write_openmetrics(ss, out / "metrics" / "metrics.om")
    write_series_parquet(ss, out / "metrics" / "metrics.parquet")
    sat_rows = [r for r in truth_rows if r["saturation_date"]]
    first = min(sat_rows, key=lambda r: r["days_to_saturation"]) if sat_rows else None
    cpu_rows = [r for r in truth_rows if r["resource"] == "cpu"]
    fastest = max(cpu_rows, key=lambda r: r["growth_per_day"])["service"]
    last_day = iso(t_end - 86400)
    meta = {
        "name": "history",
        "seed": seed,
        "title": f"{days:g} days of capacity history",
        "incident_id": f"LAB-HISTORY-{seed}",
        "description": "Per-service usage and limits with daily/weekly seasonality and known "
        "growth; see truth.json for growth rates and saturation dates.",
        "window": {"start": iso(grid.t0), "end": iso(t_end)},
        "incident_window": {"start": last_day, "end": iso(t_end)},
        "baseline_window": {"start": iso(t_end - 2 * 86400), "end": last_day},
        "services": sorted(topo.names),
        "generator": f"workbench.lab {_version()}",
        "generator_revision": GENERATOR_REVISION,
        "counts": {"samples": n, "series": len(ss.metric)},
        "options": {"days": days, "step_s": step_s, "services": services, "end": end},
        "resources": RESOURCES,
    }
    truth = {
        "kind": "history",
        "threshold": THRESHOLD,
        "fastest_growing": fastest,
        "first_to_saturate": first,
        "resources": sorted(truth_rows, key=lambda r: (r["service"], r["resource"])),
        "events": (
            [
                {
                    "at": iso(grid.t0 + 12 * 86400),
                    "service": scale_up,
                    "what": "CPU limit raised by one pod (HPA minimum)",
                }
            ]
            if services is None and scale_up
            else []
        )
        + [
            {
                "at": iso(grid.t0 + 9.4 * 86400),
                "service": None,
                "what": "30 minutes without data (Prometheus restart)",
            }
        ],
    }
    (out / "scenario.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    (out / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    (out / "topology.json").write_text(
        json.dumps(
            {
                "services": [
                    {
                        "name": s.name,
                        "kind": s.kind,
                        "pods": [],
                        "calls": topo.service_calls(s.name),
                    }
                    for s in topo.services
                ]
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    return out


def _version() -> str:
    from workbench import __version__

    return __version__
