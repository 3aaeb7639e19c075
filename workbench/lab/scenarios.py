"""The catalogue of lab scenarios: one per fault kind, plus ``demo``.

Each scenario names its fault, the root-cause service (in the default shop; a generated
topology gets a comparable service picked by role), when the fault starts and how long it
lasts (minutes after the window start), and benign deploys of other services that serve
as red herrings.

Example::

    >>> from workbench.lab.scenarios import SCENARIOS
    >>> SCENARIOS["demo"].fault
    'bad_deploy'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.lab.topology import Topology

__all__ = ["SCENARIOS", "Scenario", "get_scenario", "pick_root"]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    description: str
    fault: str
    root: str  # service in the default shop
    fault_at_min: float = 65.0
    fault_minutes: float | None = 25.0  # None: until the end of the window
    params: dict = field(default_factory=dict)
    # bad_deploy: how the bad version leaves (abort_after_step / rollback_after_min)
    deploy: dict = field(default_factory=dict)
    herrings: tuple[tuple[str, float], ...] = ()  # (service, minute) benign deploys
    hours: float = 2.0
    start: str = "2026-11-20T10:00:00Z"


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "demo",
            "Checkout errors after deploy of checkout v2.14.0",
            "A new checkout version throws NullPointerException on a share of orders. The "
            "canary has no analysis step, so it is promoted; errors cascade to api-gateway "
            "and frontend until the deploy is rolled back by hand through Argo CD.",
            "bad_deploy",
            "checkout",
            64.0,
            None,
            deploy={
                "version": "2.14.0",
                "bad": {"err500": 0.3, "lat_mult": 1.25},
                "rollback_after_min": 38.0,
            },
            herrings=(("currency", 21.0), ("recommendation", 79.0)),
        ),
        Scenario(
            "bad-deploy-canary",
            "Payment canary fails analysis and is rolled back automatically",
            "payment v5.1.0 fails a third of charges. Argo Rollouts' analysis catches the error "
            "rate at the second canary step and aborts: an automatic rollback.",
            "bad_deploy",
            "payment",
            66.0,
            None,
            deploy={
                "version": "5.1.0",
                "bad": {"err500": 0.35, "lat_mult": 1.1},
                "abort_after_step": 2,
                "pause_s": 240.0,
            },
            herrings=(("cart", 38.0), ("frontend", 92.0)),
        ),
        Scenario(
            "cpu-hog",
            "Catalog slow: CPU saturated on one pod",
            "A StressChaos experiment burns all CPU on one catalog pod; its requests slow "
            "down, callers time out on some of them.",
            "cpu_hog",
            "catalog",
            65.0,
            25.0,
            params={"pods": 1, "slowdown": 6.0},
            herrings=(("auth", 58.0), ("email", 30.0)),
        ),
        Scenario(
            "memory-leak",
            "Recommendation pods leak memory and get OOM killed",
            "A memory leak fills recommendation's heap; GC pauses slow it down, then the "
            "containers are OOM killed and restart, again and again.",
            "memory_leak",
            "recommendation",
            62.0,
            None,
            herrings=(("shipping", 75.0), ("cart", 20.0)),
        ),
        Scenario(
            "network-delay",
            "Network delay on currency pods",
            "A NetworkChaos experiment delays every packet currency sends by 250 ms. "
            "currency's own request duration is unchanged; its callers slow down.",
            "network_delay",
            "currency",
            66.0,
            22.0,
            params={"delay_s": 0.25},
            herrings=(("catalog", 61.0), ("auth", 25.0)),
        ),
        Scenario(
            "packet-loss",
            "Packet loss on shipping pods",
            "A NetworkChaos experiment drops 35% of shipping's packets: retransmits make the "
            "latency tail long (200 ms, doubling per further loss), checkout sees timeouts.",
            "packet_loss",
            "shipping",
            65.0,
            20.0,
            params={"loss": 0.35},
            herrings=(("payment", 55.0), ("frontend", 15.0)),
        ),
        Scenario(
            "http-errors",
            "HTTP aborts injected into payment",
            "An HTTPChaos experiment aborts requests to half of the payment pods before they "
            "reach the application; checkout retries, but many orders fail.",
            "http_errors",
            "payment",
            67.0,
            18.0,
            params={"pod_fraction": 0.5},
            herrings=(("checkout", 50.0), ("currency", 80.0)),
        ),
        Scenario(
            "db-outage",
            "PostgreSQL down",
            "The postgres pod is down for 12 minutes: every service that queries it fails; "
            "services that only use redis stay healthy.",
            "db_outage",
            "postgres",
            70.0,
            12.0,
            herrings=(("catalog", 66.0), ("cart", 35.0)),
        ),
        Scenario(
            "conn-pool-exhaustion",
            "Payment connection pool exhausted",
            "A slow query holds payment's database connections; requests wait for the pool and "
            "time out. postgres itself is healthy.",
            "conn_pool_exhaustion",
            "payment",
            64.0,
            30.0,
            params={"err500": 0.3, "wait_s": 1.8},
            herrings=(("checkout", 58.0), ("shipping", 90.0)),
        ),
    )
}


def get_scenario(name: str) -> Scenario:
    from workbench.errors import ConfigError

    try:
        return SCENARIOS[name]
    except KeyError:
        raise ConfigError(
            f"unknown lab scenario {name!r}",
            hint=f"one of {', '.join(sorted(SCENARIOS))} (`workbench lab scenarios` lists them)",
        ) from None


def pick_root(topo: Topology, sc: Scenario) -> str:
    """The root-cause service: the scenario's own if the topology has it, else one by role."""
    if sc.root in topo.by_name:
        return sc.root
    callers = topo.callers
    if sc.fault == "db_outage":
        dbs = [s.name for s in topo.services if s.kind == "database"]
        return max(dbs or [topo.services[-1].name], key=lambda n: (len(callers[n]), n))
    cands = [s for s in topo.services if s.is_http and s.kind != "frontend" and callers[s.name]]
    if sc.fault == "conn_pool_exhaustion":
        cands = [s for s in cands if s.pool_max] or cands
    if not cands:
        cands = [s for s in topo.services if s.is_http]
    return max(cands, key=lambda s: (len(callers[s.name]), s.name)).name


def pick_herrings(topo: Topology, sc: Scenario, root: str) -> list[tuple[str, float]]:
    """Benign deploys: the scenario's own services if present, else stand-ins."""
    out = []
    others = [s.name for s in topo.services if s.is_http and s.name != root]
    for k, (svc, minute) in enumerate(sc.herrings):
        if svc in topo.by_name and svc != root:
            out.append((svc, minute))
        elif others:
            out.append((others[(7 * k + 3) % len(others)], minute))
    return out
