"""Background log lines of the pods: what they write besides serving requests.

Example::

    >>> lines = background(ctx, random.Random(1))
"""

from __future__ import annotations

import random

from workbench.lab.clock import iso_ns
from workbench.lab.stacks import camel, logger_name
from workbench.lab.traces import NS

__all__ = ["background"]

R = random.Random


def _plain(
    ctx, r: R, service: str, pod: str, version: str, t: float, level: str, msg: str, **extra
) -> dict:
    svc = ctx.topo.service(service)
    d = {
        "timestamp": iso_ns(int(t * NS) + r.randint(0, 999_999)),
        "level": level,
        "service": service,
        "message": msg,
        "pod": pod,
        "logger": logger_name(service, svc.language, r) if svc.is_http else service,
        "version": version,
        "namespace": "shop",
    }
    d.update(extra)
    return d


def background(ctx, r: R) -> list[dict]:
    """Lines every pod writes regardless of traffic: start-up and shutdown, OOM kills,
    pool stats, GC pauses, cache refreshes, database checkpoints, memory warnings."""
    out: list[dict] = []
    g = ctx.grid
    for svc in ctx.topo.services:
        for p in ctx.pods[svc.name]:
            e = ctx.eff[p.name]
            lo, hi = max(p.born, g.t0), min(p.died, g.end)
            if p.born >= g.t0:
                out += _startup(ctx, r, svc, p, p.born)
            if p.died < g.end:
                out.append(
                    _plain(
                        ctx,
                        r,
                        svc.name,
                        p.name,
                        p.version,
                        p.died - 25,
                        "info",
                        "received SIGTERM, draining connections",
                    )
                )
                out.append(
                    _plain(
                        ctx, r, svc.name, p.name, p.version, p.died - 5, "info", "server stopped"
                    )
                )
            for i in range(g.n):
                t = g.t0 + i * g.step_s
                if not (lo <= t < hi):
                    continue
                if e.reset[i]:
                    if svc.is_http:
                        out.append(
                            _plain(
                                ctx,
                                r,
                                svc.name,
                                p.name,
                                p.version,
                                t - 20,
                                "fatal",
                                "container killed: OOMKilled (exit code 137)",
                            )
                        )
                    out += _startup(ctx, r, svc, p, t - 15)
                if e.down[i]:
                    continue
                minute = (i * g.step_s) % 300 == 0
                if svc.kind == "database" and minute:
                    out.append(
                        _plain(
                            ctx,
                            r,
                            svc.name,
                            p.name,
                            p.version,
                            t + r.uniform(0, 30),
                            "info",
                            f"checkpoint complete: wrote {r.randint(200, 4000)} "
                            f"buffers ({r.uniform(0.5, 6):.1f}%); write={r.uniform(1, 30):.3f} s",
                        )
                    )
                elif svc.kind == "cache" and minute:
                    out.append(
                        _plain(
                            ctx,
                            r,
                            svc.name,
                            p.name,
                            p.version,
                            t + r.uniform(0, 30),
                            "info",
                            f"DB saved on disk: {r.randint(1000, 90000)} keys, "
                            f"{r.uniform(5, 80):.1f} MB",
                        )
                    )
                if not svc.is_http:
                    continue
                if svc.pool_max and minute:
                    busy = round(e.pool_busy[i] * svc.pool_max) + r.randint(0, 3)
                    busy = min(busy, svc.pool_max)
                    wait = r.randint(10, 60) if e.pool_busy[i] > 0.8 else 0
                    lvl = "warn" if wait else "debug"
                    out.append(
                        _plain(
                            ctx,
                            r,
                            svc.name,
                            p.name,
                            p.version,
                            t + r.uniform(0, 30),
                            lvl,
                            f"HikariPool-1 - Pool stats (total={svc.pool_max}, "
                            f"active={busy}, idle={svc.pool_max - busy}, waiting={wait})",
                        )
                    )
                if svc.language == "java" and r.random() < 0.25 * (1 + 3 * (e.lat_mult[i] > 1.5)):
                    ms = r.uniform(3, 25) * (e.lat_mult[i] ** 1.5)
                    out.append(
                        _plain(
                            ctx,
                            r,
                            svc.name,
                            p.name,
                            p.version,
                            t + r.uniform(0, 30),
                            "warn" if ms > 200 else "debug",
                            f"GC pause (G1 Evacuation Pause) young {ms:.1f}ms",
                        )
                    )
                if r.random() < 0.05:
                    out.append(
                        _plain(
                            ctx,
                            r,
                            svc.name,
                            p.name,
                            p.version,
                            t + r.uniform(0, 30),
                            "info",
                            f"cache refresh completed: {r.randint(100, 20000)} entries in "
                            f"{r.randint(5, 900)}ms",
                        )
                    )
                if e.mem_extra[i] > 0 and i % 4 == 0:
                    pct = 100 * (svc.memory_base + e.mem_extra[i]) / svc.memory_limit
                    if pct > 70:
                        out.append(
                            _plain(
                                ctx,
                                r,
                                svc.name,
                                p.name,
                                p.version,
                                t + 1,
                                "warn",
                                f"memory usage high: {pct:.0f}% of container limit",
                            )
                        )
    return out


def _startup(ctx, r: R, svc, p, t: float) -> list[dict]:
    if not svc.is_http:
        if svc.kind == "database":
            msgs = [
                "database system was interrupted; last known up at "
                f"{iso_ns(int((t - 600) * NS))[:19]} UTC",
                f"redo starts at 0/{r.getrandbits(28):X}",
                "database system is ready to accept connections",
            ]
        else:
            msgs = ["Server initialized", "Ready to accept connections tcp"]
        return [
            _plain(ctx, r, svc.name, p.name, p.version, t + k * 2, "info", m)
            for k, m in enumerate(msgs)
        ]
    secs = r.uniform(2, 14) if svc.language == "java" else r.uniform(0.2, 2)
    return [
        _plain(
            ctx,
            r,
            svc.name,
            p.name,
            p.version,
            t,
            "info",
            f"starting {camel(svc.name)} v{p.version} on {p.name} (pid 1)",
        ),
        _plain(
            ctx,
            r,
            svc.name,
            p.name,
            p.version,
            t + secs,
            "info",
            f"started {camel(svc.name)} in {secs:.2f} seconds; listening on :8080",
        ),
    ]
