"""Topologies of the simulated system: services, their routes, and who calls whom.

A topology is a DAG of *routes*: each service serves a few routes (``GET /cart``), and
each route calls routes of other services (``weight`` calls per request on average).
:func:`shop` is the default online shop (12 services plus PostgreSQL and Redis);
:func:`generated` builds a layered DAG of any size up to 1,000 services from a seed.

Example::

    >>> from workbench.lab.topology import shop, generated
    >>> shop().names[:3]
    ('frontend', 'api-gateway', 'auth')
    >>> len(generated(200, seed=7).services)
    200
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

__all__ = ["Call", "Route", "Service", "Topology", "generated", "shop"]

MAX_SERVICES = 1000


@dataclass(frozen=True)
class Call:
    """One downstream call made while serving a route."""

    to: str  # callee service
    operation: str  # callee route name, e.g. "GET /cart" or "SELECT"
    weight: float = 1.0  # calls per request, on average
    timeout_s: float = 2.0
    critical: bool = True  # a failed non-critical call is swallowed (fallback)


@dataclass(frozen=True)
class Route:
    """An operation a service serves: ``"GET /cart/{id}"``, or ``"SELECT"`` for a database."""

    name: str
    share: float  # share of the service's *external* traffic (entry services only)
    latency_s: float  # median own processing time
    calls: tuple[Call, ...] = ()

    @property
    def method(self) -> str:
        return self.name.split(" ", 1)[0] if " " in self.name else "POST"

    @property
    def path(self) -> str:
        return self.name.split(" ", 1)[1] if " " in self.name else "/" + self.name.lower()


@dataclass(frozen=True)
class Service:
    name: str
    kind: str  # frontend | api | worker | database | cache
    routes: tuple[Route, ...]
    replicas: int = 2
    language: str = "go"  # go | java | python | node (stack trace style)
    cpu_limit: float = 1.0  # cores per pod
    memory_limit: float = 512 * 2**20  # bytes per pod
    memory_base: float = 180 * 2**20
    cpu_per_request: float = 0.002  # CPU seconds per request
    pool_max: int = 0  # DB connection pool size per pod (0 = no pool)
    version: str = "1.0.0"

    @property
    def is_http(self) -> bool:
        return self.kind not in ("database", "cache")

    @property
    def db_system(self) -> str | None:
        if self.kind == "database":
            return "postgresql"
        if self.kind == "cache":
            return "redis"
        return None


@dataclass(frozen=True)
class Topology:
    services: tuple[Service, ...]
    external_rps: float = 60.0  # peak requests/s arriving at the entry services
    meta: dict = field(default_factory=dict, compare=False)

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    @cached_property
    def by_name(self) -> dict[str, Service]:
        return {s.name: s for s in self.services}

    def service(self, name: str) -> Service:
        return self.by_name[name]

    @cached_property
    def nodes(self) -> tuple[tuple[str, str], ...]:
        """Every (service, route) pair, callers before callees (topological order)."""
        order = self.order
        return tuple((s, r.name) for s in order for r in self.by_name[s].routes)

    @cached_property
    def order(self) -> tuple[str, ...]:
        """Service names, callers before callees."""
        deps = {s.name: {c.to for r in s.routes for c in r.calls} for s in self.services}
        indeg = {n: 0 for n in deps}
        for ds in deps.values():
            for d in ds:
                indeg[d] += 1
        ready = [n for n in self.names if indeg[n] == 0]
        out: list[str] = []
        while ready:
            n = ready.pop(0)
            out.append(n)
            for d in sorted(deps[n], key=self.names.index):
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
        if len(out) != len(deps):
            raise ValueError("topology has a call cycle")
        return tuple(out)

    @cached_property
    def callers(self) -> dict[str, tuple[str, ...]]:
        """Service -> services that call it (sorted)."""
        out: dict[str, set[str]] = {n: set() for n in self.names}
        for s in self.services:
            for r in s.routes:
                for c in r.calls:
                    out[c.to].add(s.name)
        return {k: tuple(sorted(v)) for k, v in out.items()}

    @cached_property
    def served(self) -> frozenset[str]:
        """Services some request reaches: the entries' routes with a share of the external
        traffic and the routes they call, transitively (a route no caller uses, and what
        only it calls, serve nothing: a fault there shows nowhere)."""
        todo = [
            (s.name, r.name)
            for s in self.services
            if s.kind == "frontend"
            for r in s.routes
            if r.share > 0
        ]
        seen = set(todo)
        while todo:
            sname, rname = todo.pop()
            route = next(r for r in self.by_name[sname].routes if r.name == rname)
            for c in route.calls:
                if c.weight > 0 and (c.to, c.operation) not in seen:
                    seen.add((c.to, c.operation))
                    todo.append((c.to, c.operation))
        return frozenset(s for s, _ in seen)

    @property
    def entries(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services if s.kind == "frontend")

    def service_calls(self, name: str) -> list[dict]:
        """Calls of a service aggregated over its routes (for topology.json)."""
        svc = self.by_name[name]
        agg: dict[tuple[str, str], float] = {}
        for r in svc.routes:
            for c in r.calls:
                agg[(c.to, c.operation)] = agg.get((c.to, c.operation), 0.0) + c.weight
        return [
            {"to": to, "operation": op, "weight": round(w / max(len(svc.routes), 1), 3)}
            for (to, op), w in sorted(agg.items())
        ]


def _r(name: str, share: float, lat_ms: float, *calls: Call) -> Route:
    return Route(name, share, lat_ms / 1000.0, tuple(calls))


def shop() -> Topology:
    """The default online shop: 12 services, a PostgreSQL database and a Redis cache."""
    gw_auth = Call("auth", "POST /auth/verify", 1.0, 1.0)
    S = Service
    services = (
        S(
            "frontend",
            "frontend",
            (
                _r(
                    "GET /",
                    0.45,
                    12,
                    Call("api-gateway", "GET /api/products", 1.0, 3.0),
                    Call("api-gateway", "GET /api/recommendations", 1.0, 1.0, critical=False),
                ),
                _r(
                    "GET /product/{id}",
                    0.35,
                    10,
                    Call("api-gateway", "GET /api/products/{id}", 1.0, 3.0),
                    Call("api-gateway", "GET /api/recommendations", 1.0, 1.0, critical=False),
                ),
                _r("POST /cart", 0.14, 8, Call("api-gateway", "POST /api/cart", 1.0, 3.0)),
                _r("POST /checkout", 0.06, 15, Call("api-gateway", "POST /api/checkout", 1.0, 8.0)),
            ),
            replicas=3,
            language="node",
            cpu_per_request=0.004,
            memory_base=220 * 2**20,
            version="3.4.1",
        ),
        S(
            "api-gateway",
            "api",
            (
                _r(
                    "GET /api/products",
                    0,
                    3,
                    gw_auth,
                    Call("catalog", "GET /products", 1.0, 2.0),
                    Call("currency", "GET /convert", 1.0, 1.0),
                ),
                _r(
                    "GET /api/products/{id}",
                    0,
                    3,
                    gw_auth,
                    Call("catalog", "GET /products/{id}", 1.0, 2.0),
                    Call("currency", "GET /convert", 1.0, 1.0),
                ),
                _r(
                    "GET /api/recommendations",
                    0,
                    2,
                    gw_auth,
                    Call("recommendation", "GET /recommendations", 1.0, 0.8),
                ),
                _r("POST /api/cart", 0, 3, gw_auth, Call("cart", "POST /cart/items", 1.0, 2.0)),
                _r(
                    "POST /api/checkout",
                    0,
                    4,
                    gw_auth,
                    Call("checkout", "POST /checkout", 1.0, 7.0),
                ),
            ),
            replicas=3,
            cpu_per_request=0.001,
            version="2.9.0",
        ),
        S(
            "auth",
            "api",
            (
                _r(
                    "POST /auth/verify",
                    0,
                    4,
                    Call("redis", "GET", 1.0, 0.2),
                    Call("postgres", "SELECT", 0.1, 1.0),
                ),
            ),
            language="java",
            pool_max=20,
            memory_base=380 * 2**20,
            memory_limit=768 * 2**20,
            version="1.12.3",
        ),
        S(
            "catalog",
            "api",
            (
                _r(
                    "GET /products",
                    0,
                    18,
                    Call("redis", "GET", 1.0, 0.2),
                    Call("postgres", "SELECT", 0.4, 1.0),
                ),
                _r(
                    "GET /products/{id}",
                    0,
                    8,
                    Call("redis", "GET", 1.0, 0.2),
                    Call("postgres", "SELECT", 0.2, 1.0),
                ),
            ),
            language="java",
            pool_max=30,
            memory_base=420 * 2**20,
            memory_limit=1024 * 2**20,
            cpu_per_request=0.003,
            version="4.2.0",
        ),
        S("currency", "api", (_r("GET /convert", 0, 2),), cpu_per_request=0.0005, version="1.3.7"),
        S(
            "recommendation",
            "api",
            (_r("GET /recommendations", 0, 35, Call("catalog", "GET /products", 1.0, 0.6)),),
            language="python",
            cpu_per_request=0.01,
            memory_base=300 * 2**20,
            version="0.9.4",
        ),
        S(
            "cart",
            "api",
            (
                _r("POST /cart/items", 0, 5, Call("redis", "SET", 2.0, 0.2)),
                _r("GET /cart", 0, 3, Call("redis", "GET", 1.0, 0.2)),
            ),
            language="go",
            version="2.1.0",
        ),
        S(
            "checkout",
            "api",
            (
                _r(
                    "POST /checkout",
                    0,
                    25,
                    Call("cart", "GET /cart", 1.0, 1.0),
                    Call("currency", "GET /convert", 2.0, 1.0),
                    Call("shipping", "POST /quote", 1.0, 2.0),
                    Call("payment", "POST /charge", 1.0, 4.0),
                    Call("postgres", "INSERT", 2.0, 1.0),
                    Call("email", "POST /send", 1.0, 1.0, critical=False),
                ),
            ),
            language="java",
            pool_max=20,
            memory_base=450 * 2**20,
            memory_limit=1024 * 2**20,
            cpu_per_request=0.008,
            version="2.13.4",
        ),
        S(
            "payment",
            "api",
            (
                _r(
                    "POST /charge",
                    0,
                    120,
                    Call("postgres", "INSERT", 1.0, 1.0),
                    Call("postgres", "SELECT", 1.0, 1.0),
                ),
            ),
            language="java",
            pool_max=10,
            memory_base=400 * 2**20,
            memory_limit=1024 * 2**20,
            cpu_per_request=0.006,
            version="5.0.2",
        ),
        S(
            "shipping",
            "api",
            (_r("POST /quote", 0, 15, Call("currency", "GET /convert", 1.0, 1.0)),),
            language="go",
            version="1.8.0",
        ),
        S(
            "email",
            "worker",
            (_r("POST /send", 0, 40),),
            language="python",
            replicas=1,
            version="0.4.2",
        ),
        S(
            "postgres",
            "database",
            (_r("SELECT", 0, 1.5), _r("INSERT", 0, 2.5)),
            replicas=1,
            cpu_limit=2.0,
            memory_limit=4096 * 2**20,
            memory_base=1500 * 2**20,
            cpu_per_request=0.0004,
            version="15.8",
        ),
        S(
            "redis",
            "cache",
            (_r("GET", 0, 0.3), _r("SET", 0, 0.4)),
            replicas=1,
            memory_limit=1024 * 2**20,
            memory_base=250 * 2**20,
            cpu_per_request=0.00005,
            version="7.2.5",
        ),
    )
    return Topology(services, external_rps=60.0, meta={"name": "shop"})


_WORDS = tuple(
    (  # noqa: SIM905 - a word list reads better as text
        "orders inventory pricing search profile billing invoice ledger fraud risk tax "
        "quote stock review rating wishlist coupon promo loyalty session media image "
        "video upload geo route dispatch fleet notify sms push audit report export "
        "import sync index feed chat support ticket refund claim policy rules score "
        "match rank ads bid tracking metrics config flags tenant account wallet card "
        "bank payout settle ship label"
    ).split()
)


def generated(n: int, *, seed: int = 0, external_rps: float = 200.0) -> Topology:
    """A layered DAG of ``n`` services (2 <= n <= 1000), the same for the same seed.

    Layer 0 holds frontends, the last layer databases and caches; every other service
    calls 1-3 routes in deeper layers, so traffic fans out and latency adds up.
    """
    if not 2 <= n <= MAX_SERVICES:
        raise ValueError(f"a generated topology has 2..{MAX_SERVICES} services, not {n}")
    rng = np.random.default_rng([seed, n, 1009])
    n_front = max(1, round(n * 0.02))
    n_store = max(1, round(n * 0.08)) if n > 3 else 1
    n_mid = n - n_front - n_store
    if n_mid < 0:
        n_front, n_store, n_mid = 1, n - 1, 0
    depth = max(1, min(5, int(np.ceil(np.log2(max(n_mid, 1) + 1) / 1.5))))
    layers: list[list[str]] = []
    names: list[str] = []
    used: dict[str, int] = {}

    def fresh(base: str) -> str:
        used[base] = used.get(base, 0) + 1
        return base if used[base] == 1 else f"{base}-{used[base]}"

    layers.append([fresh("web" if i == 0 else "web-edge") for i in range(n_front)])
    mid = [fresh(str(rng.choice(_WORDS))) for _ in range(n_mid)]
    cuts = (
        np.sort(
            rng.choice(
                np.arange(1, max(n_mid, 2)), size=min(depth - 1, max(n_mid - 1, 0)), replace=False
            )
        )
        if n_mid > 1
        else np.array([], dtype=int)
    )
    for part in np.split(np.array(mid, dtype=object), cuts):
        if len(part):
            layers.append([str(x) for x in part])
    stores = [fresh("postgres" if i % 2 == 0 else "redis") for i in range(n_store)]
    layers.append(stores)
    for layer in layers:
        names.extend(layer)

    routes_of: dict[str, list[str]] = {}
    for li, layer in enumerate(layers):
        for name in layer:
            if name in stores:
                routes_of[name] = (
                    ["SELECT", "INSERT"] if name.startswith("postgres") else ["GET", "SET"]
                )
            elif li == 0:
                routes_of[name] = ["GET /", "GET /item/{id}", "POST /order"]
            else:
                word = name.split("-")[0]
                routes_of[name] = [f"GET /{word}/{{id}}"] + (
                    [f"POST /{word}"] if rng.random() < 0.5 else []
                )

    layer_of = {name: li for li, layer in enumerate(layers) for name in layer}
    calls_of: dict[tuple[str, str], list[Call]] = {}
    lat_of: dict[tuple[str, str], float] = {}
    for li, layer in enumerate(layers):
        deeper = [s for lay in layers[li + 1 :] for s in lay]
        for name in layer:
            is_store = name in stores
            for rname in routes_of[name]:
                calls: list[Call] = []
                if not is_store and deeper:
                    k = int(rng.integers(1, 4)) if li == 0 else int(rng.integers(0, 4))
                    nxt = layers[li + 1] if li + 1 < len(layers) else deeper
                    pool = nxt if rng.random() < 0.7 else deeper
                    picks = rng.choice(len(pool), size=min(k, len(pool)), replace=False)
                    for callee in sorted({pool[int(i)] for i in picks}):
                        calls.append(_gen_call(rng, callee, routes_of, stores))
                calls_of[(name, rname)] = calls
                lat = float(rng.lognormal(np.log(0.4 if is_store else 8.0), 0.6))
                lat_of[(name, rname)] = round(lat / 1000, 5)
    # every non-entry service gets at least one caller from a shallower layer
    called = {c.to for cs in calls_of.values() for c in cs}
    for name in names:
        li = layer_of[name]
        if li == 0 or name in called:
            continue
        shallower = [s for lay in layers[:li] for s in lay if s not in stores]
        caller = shallower[int(rng.integers(0, len(shallower)))]
        rname = routes_of[caller][int(rng.integers(0, len(routes_of[caller])))]
        calls_of[(caller, rname)].append(_gen_call(rng, name, routes_of, stores))
        called.add(name)

    services: list[Service] = []
    for li, layer in enumerate(layers):
        for name in layer:
            is_store = name in stores
            if is_store:
                kind = "database" if name.startswith("postgres") else "cache"
            else:
                kind = "frontend" if li == 0 else ("worker" if rng.random() < 0.1 else "api")
            rnames = routes_of[name]
            shares = rng.dirichlet(np.ones(len(rnames)) * 3)
            routes = tuple(
                Route(
                    rname,
                    float(shares[ri]) if li == 0 else 0.0,
                    lat_of[(name, rname)],
                    tuple(sorted(calls_of[(name, rname)], key=lambda c: (c.to, c.operation))),
                )
                for ri, rname in enumerate(rnames)
            )
            uses_db = any(c.to.startswith("postgres") for r in routes for c in r.calls)
            version = ".".join(str(int(x)) for x in rng.integers(0, [6, 20, 10]))
            services.append(
                Service(
                    name,
                    kind,
                    routes,
                    replicas=1 if is_store else int(rng.choice([1, 2, 2, 3])),
                    language=str(rng.choice(["go", "java", "python", "node"])),
                    pool_max=20 if uses_db else 0,
                    version=version,
                    cpu_limit=4.0 if is_store else 1.0,
                    cpu_per_request=(0.0002 if kind == "database" else 0.00005)
                    if is_store
                    else 0.002,
                    memory_limit=(4096 if is_store else 512) * 2**20,
                    memory_base=(1500 if is_store else 180) * 2**20,
                )
            )
    meta = {"name": f"generated-{n}", "seed": seed}
    return Topology(tuple(services), external_rps=external_rps, meta=meta)


def _gen_call(
    rng: np.random.Generator, callee: str, routes_of: dict[str, list[str]], stores: list[str]
) -> Call:
    ops = routes_of[callee]
    op = ops[int(rng.integers(0, len(ops)))]
    is_db = callee in stores
    weight = round(float(rng.uniform(0.3, 1.5 if is_db else 1.0)), 2)
    timeout = 0.5 if is_db else float(rng.choice([1.0, 2.0, 3.0]))
    return Call(callee, op, weight, timeout, critical=bool(rng.random() < 0.85))
