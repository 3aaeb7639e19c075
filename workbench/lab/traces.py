"""Sampled traces: one request walked down the call graph at a time.

Requests start at the entry routes at the modelled rate. Each hop picks a pod by its
traffic share, samples its own processing time, makes its calls in sequence (network
delay, packet loss, timeouts and one retry on 503/504/timeouts included), and fails if
its own code fails or a critical call fails. Sampling mimics the Collector's tail
sampler: every error or slow trace among the candidates is kept, others with a fixed
probability.

Example::

    >>> spans = TraceGen(topo, grid, pods, effects, flow, seed=1).run(target_traces=3000)
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from workbench.lab.clock import Grid
from workbench.lab.faults import Effects
from workbench.lab.rollout import Pod
from workbench.lab.sim import BASE_ERROR, RTO_MIN_S, SIGMA, Flow
from workbench.lab.topology import Call, Route, Service, Topology

__all__ = ["Span", "TraceGen", "retransmit_wait"]

NS = 1_000_000_000
MAX_SPANS = 400
SLOW_S = 2.0

_TABLES = {
    "SELECT": ("orders", "products", "users", "payments", "sessions"),
    "INSERT": ("orders", "payments", "order_items", "audit_log"),
}


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent: str  # "" for a root span
    service: str
    pod: str
    version: str
    name: str
    kind: int  # OTLP: 2 server, 3 client
    start: int  # ns
    end: int
    code: int  # OTLP status code: 0 unset, 1 ok, 2 error
    attrs: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    message: str = ""  # status message
    failure: str = ""  # why it failed (used for logs): own, dependency, timeout, ...
    build: tuple = ()  # what the attributes are made from (filled in for kept traces)


class TraceGen:
    def __init__(
        self,
        topo: Topology,
        grid: Grid,
        pods: dict[str, list[Pod]],
        eff: dict[str, Effects],
        flow: Flow,
        seed: int,
    ) -> None:
        self.topo = topo
        self.grid = grid
        self.pods = pods
        self.eff = eff
        self.flow = flow
        self.r = random.Random(seed)
        self._routes = {(s.name, r.name): (s, r) for s in topo.services for r in s.routes}
        self._cum: dict[tuple[str, int], tuple[list[Pod], list[float]]] = {}
        self._ceff: dict[tuple[str, int], tuple[float, float]] = {}
        fields = ("drop", "lat_mult", "lat_add", "err500", "net_delay", "loss")
        # plain lists: indexing them per span is much cheaper than numpy scalars
        self._e = {
            name: SimpleNamespace(**{f: getattr(e, f).tolist() for f in fields})
            for name, e in eff.items()
        }

    # ids ----------------------------------------------------------------------------------
    def _tid(self) -> str:
        return f"{self.r.getrandbits(128):032x}"

    def _sid(self) -> str:
        return f"{self.r.getrandbits(64) or 1:016x}"

    def _pod(self, service: str, i: int) -> Pod | None:
        key = (service, i)
        if key not in self._cum:
            ps = [p for p in self.pods[service] if p.share[i] > 0]
            acc, cum = 0.0, []
            for p in ps:
                acc += float(p.share[i])
                cum.append(acc)
            self._cum[key] = (ps, cum)
        ps, cum = self._cum[key]
        if not ps:
            return None
        x = self.r.random() * cum[-1]
        for p, c in zip(ps, cum, strict=True):
            if x <= c:
                return p
        return ps[-1]

    # one request --------------------------------------------------------------------------
    def run(
        self, *, target_traces: int = 3000, keep: float = 0.35, over: np.ndarray | None = None
    ) -> list[list[Span]]:
        """Traces (lists of spans, root first) in start-time order. ``target_traces`` is
        about how many are kept over the grid's steps ``over`` (a boolean mask; default
        all): the steps outside it are sampled at the same rate."""
        grid = self.grid
        entries = [(s, r) for s in self.topo.services if s.kind == "frontend" for r in s.routes]
        if over is None:
            total = sum(float(self.flow.rate[(s.name, r.name)].sum()) for s, r in entries)
        else:
            total = sum(float(self.flow.rate[(s.name, r.name)][over].sum()) for s, r in entries)
        total *= grid.step_s
        p_cand = min(1.0, target_traces / max(total * keep, 1.0))
        #: the sampling applied (the lab states it in scenario.json)
        self.sampling = {"candidate_probability": p_cand, "keep_probability": keep,
                         "slow_s": SLOW_S, "entry_requests": total}  # fmt: skip
        nrng = np.random.default_rng(self.r.getrandbits(63))
        starts: list[tuple[int, Service, Route]] = []
        for s, r in entries:
            lam = self.flow.rate[(s.name, r.name)] * grid.step_s * p_cand
            counts = nrng.poisson(lam)
            for i in np.flatnonzero(counts):
                for _ in range(int(counts[i])):
                    t = grid.t0 + (i + float(nrng.random())) * grid.step_s
                    starts.append((int(t * 1e9), s, r))
        starts.sort(key=lambda x: (x[0], x[1].name, x[2].name))
        out: list[list[Span]] = []
        for t_ns, s, r in starts:
            spans: list[Span] = []
            tid = self._tid()
            res = self._serve(s, r, t_ns, tid, "", spans, client_attrs=True)
            if res is None:
                continue
            root = spans[0]
            slow = (root.end - root.start) > SLOW_S * NS
            if root.code == 2 or slow or self.r.random() < keep:
                for sp in spans:
                    self._finish(sp)
                out.append(spans)
        return out

    def _finish(self, span: Span) -> None:
        r = self.r
        if span.kind == 2:
            route, code, entry = span.build
            a = {
                "http.request.method": route.method,
                "http.route": route.path,
                "url.path": _fill(route.path, r),
                "url.scheme": "http",
                "server.address": span.service,
                "server.port": 8080,
                "http.response.status_code": code,
            }
            if entry:
                a["client.address"] = (
                    f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
                )
                a["user_agent.original"] = r.choice(_AGENTS)
            span.attrs = a
        else:
            callee, call, route, status, why, attempt = span.build
            span.attrs = _client_attrs(callee, call, route, status, why, r)
            if callee.kind == "database":  # semconv: "{db.operation.name} {db.collection.name}"
                span.name = f"{call.operation} shop.{span.attrs['db.collection.name']}"
            if attempt:
                span.attrs["http.request.resend_count"] = attempt
        span.build = ()

    def _step(self, t_ns: int) -> int:
        i = int((t_ns / NS - self.grid.t0) // self.grid.step_s)
        return min(max(i, 0), self.grid.n - 1)

    def _serve(
        self,
        svc: Service,
        route: Route,
        start: int,
        tid: str,
        parent: str,
        spans: list[Span],
        client_attrs: bool = False,
    ) -> tuple[int, int, str] | None:
        """Serve one request; append spans; return (end_ns, http code, failure) or None
        if the request never reached a pod (refused/aborted)."""
        r = self.r
        i = self._step(start)
        pod = self._pod(svc.name, i)
        if pod is None:
            return None
        e = self._e[pod.name]
        if r.random() < e.drop[i]:
            return None
        med = route.latency_s * e.lat_mult[i] + e.lat_add[i]
        own = r.lognormvariate(math.log(max(med, 1e-6)), SIGMA)
        sid = self._sid()
        span = Span(tid, sid, parent, svc.name, pod.name, pod.version, route.name, 2, start, 0, 0)
        spans.append(span)
        cursor = start + int(own * 0.4 * NS)
        failure, code = "", 200
        if len(spans) < MAX_SPANS:
            for call in route.calls:
                n = int(call.weight) + (1 if r.random() < call.weight % 1 else 0)
                for _ in range(n):
                    cursor, ok, why = self._call(svc, pod, e, i, call, cursor, tid, sid, spans)
                    if not ok and call.critical:
                        failure = why
                        break
                if failure:
                    break
        if failure:
            callee = self.topo.service(call.to)
            code = (
                500
                if not callee.is_http or failure == "500"
                else (504 if failure == "timeout" or failure == "504" else 503)
            )
            span.failure = "dependency:" + call.to + ":" + failure
        elif r.random() < BASE_ERROR + e.err500[i]:
            code, span.failure = 500, "own"
        end = cursor + int(own * 0.6 * NS)
        span.end = end
        span.code = 2 if code >= 500 else 0
        span.build = (route, code, client_attrs)
        if code >= 500:
            span.message = f"HTTP {code}"
        return end, code, span.failure

    def _call(
        self,
        svc: Service,
        pod: Pod,
        e: SimpleNamespace,  # the pod's effects as plain lists (self._e)
        i: int,
        call: Call,
        cursor: int,
        tid: str,
        parent: str,
        spans: list[Span],
    ) -> tuple[int, bool, str]:
        r = self.r
        callee = self.topo.service(call.to)
        route = self._routes[(call.to, call.operation)][1]
        why = ""
        for attempt in range(2):
            cid = self._sid()
            cstart = cursor
            ce = self._callee_effects(callee, i)
            # each side's egress: the request leaves the caller's pods, the reply the
            # callee's (a NetworkChaos on a pod delays and drops what the pod sends)
            out = 0.00015 + e.net_delay[i] + retransmit_wait(r, e.loss[i], call.timeout_s)
            back = 0.00015 + ce[0] + retransmit_wait(r, ce[1], call.timeout_s)
            res = None
            late = out >= call.timeout_s  # the request itself never got through in time
            if not late and len(spans) < MAX_SPANS:
                res = self._serve(callee, route, cstart + int(out * NS), tid, cid, spans)
            status = None
            if late:  # the caller gives up waiting (the server never saw the request)
                cend, why = cstart + int(call.timeout_s * NS), "timeout"
            elif res is None:
                cend = cstart + int(r.uniform(0.0005, 0.003) * NS)
                why = "refused"
            else:
                cend = res[0] + int(back * NS)
                status = res[1]
                why = "" if status < 500 else str(status)
            if cend - cstart > call.timeout_s * NS:
                cend = cstart + int(call.timeout_s * NS)
                why, status = "timeout", None
            span = Span(
                tid,
                cid,
                parent,
                svc.name,
                pod.name,
                pod.version,
                _client_name(callee, call),
                3,
                cstart,
                cend,
                2 if why else 0,
            )
            span.build = (callee, call, route, status, why, attempt)
            if why:
                span.failure = why
                span.message = _client_error(why, callee, call)
            spans.append(span)
            cursor = cend
            if not why:
                return cursor, True, ""
            if why == "500":
                break
            if not callee.is_http and why not in ("timeout",):
                break
        return cursor, False, why

    def _callee_effects(self, callee: Service, i: int) -> tuple[float, float]:
        key = (callee.name, i)
        hit = self._ceff.get(key)
        if hit is None:
            hit = self._ceff[key] = self._callee_effects_calc(callee, i)
        return hit

    def _callee_effects_calc(self, callee: Service, i: int) -> tuple[float, float]:
        ps = self.pods[callee.name]
        delay = sum(float(p.share[i]) * float(self.eff[p.name].net_delay[i]) for p in ps)
        loss = sum(float(p.share[i]) * float(self.eff[p.name].loss[i]) for p in ps)
        return delay, loss


def retransmit_wait(r: random.Random, loss: float, give_up_s: float) -> float:
    """Seconds a TCP segment waits in retransmissions when each transmission is lost with
    probability ``loss``: nothing when the first one gets through; else the retransmission
    timeout (200 ms), doubled for every further loss (200, 600, 1400 ms, ... in all).
    Draws once when nothing is lost (as many draws as before for a healthy link). Stops
    once the wait passes ``give_up_s`` (the caller has given up by then).

    Example::

        >>> retransmit_wait(random.Random(1), 0.0, 2.0)
        0.0
    """
    wait, rto = 0.0, RTO_MIN_S
    while r.random() < loss and wait <= give_up_s:
        wait += rto
        rto *= 2
    return wait


_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "shop-android/5.12.0 (Pixel 8; Android 15)",
)


def _fill(path: str, r: random.Random) -> str:
    return path.replace("{id}", str(r.randint(1000, 99999)))


def _client_name(callee: Service, call: Call) -> str:
    if callee.kind == "database":
        return f"{call.operation} shop.{_TABLES.get(call.operation, ('orders',))[0]}"
    if callee.kind == "cache":
        return call.operation
    return call.operation.split(" ", 1)[0]


def _client_attrs(
    callee: Service, call: Call, route: Route, status: int | None, why: str, r: random.Random
) -> dict:
    if callee.db_system:
        a: dict = {
            "db.system": callee.db_system,
            "db.operation.name": call.operation,
            "server.address": callee.name,
            "server.port": 5432 if callee.kind == "database" else 6379,
        }
        if callee.kind == "database":
            table = r.choice(_TABLES.get(call.operation, ("orders",)))
            a["db.namespace"] = "shop"
            a["db.collection.name"] = table
            a["db.query.text"] = (
                f"SELECT * FROM {table} WHERE id = $1"
                if call.operation == "SELECT"
                else f"INSERT INTO {table} VALUES ($1, $2, $3)"
            )
        if why:
            a["error.type"] = why if why != "500" else "db_error"
        return a
    a = {
        "http.request.method": route.method,
        "server.address": callee.name,
        "server.port": 8080,
        "url.full": f"http://{callee.name}:8080{_fill(route.path, r)}",
    }
    if status is not None:
        a["http.response.status_code"] = status
    if why:
        a["error.type"] = {
            "timeout": "timeout",
            "refused": "connection_refused",
            "reset": "connection_reset",
        }.get(why, why)
    return a


def _client_error(why: str, callee: Service, call: Call) -> str:
    port = 5432 if callee.kind == "database" else (6379 if callee.kind == "cache" else 8080)
    if why == "timeout":
        return f"context deadline exceeded after {call.timeout_s:g}s calling {callee.name}"
    if why == "refused":
        return f"dial tcp {callee.name}:{port}: connect: connection refused"
    if why == "reset":
        return f"read tcp {callee.name}:{port}: connection reset by peer"
    return f"{callee.name} returned HTTP {why}"
