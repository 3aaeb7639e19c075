"""Application logs: per-request lines tied to the sampled spans, plus background chatter.

Each service has its own message templates with variable fields (ids, amounts, durations,
IPs, paths). Failed requests log an error with a multi-line stack trace in the service's
language style (and the server span gets a matching ``exception`` event); retries log
warnings; pods log start-up and shutdown, pool stats, GC pauses and cache refreshes.

Example::

    >>> records = make_logs(ctx, traces)
    >>> records[0]["level"], records[0]["service"]
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from workbench.lab.background import background
from workbench.lab.clock import iso_ns
from workbench.lab.sim import BASE_ERROR
from workbench.lab.stacks import exception, logger_name
from workbench.lab.traces import NS, Span

__all__ = ["make_logs"]

R = random.Random
Tpl = Callable[[R, Span], str]


def _ms(s: Span) -> int:
    return max(1, (s.end - s.start) // 1_000_000)


def _amt(r: R) -> str:
    return f"{r.uniform(4, 480):.2f}"


def _ip(r: R) -> str:
    return f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


_CUR = ("USD", "EUR", "GBP", "JPY", "CAD")
TEMPLATES: dict[str, list[Tpl]] = {
    "frontend": [
        lambda r, s: (
            f"request completed method={s.attrs.get('http.request.method')} "
            f"path={s.attrs.get('url.path')} status={s.attrs.get('http.response.status_code')} "
            f"duration_ms={_ms(s)}"
        ),
        lambda r, s: (
            f"rendered {s.attrs.get('http.route')} for session {r.getrandbits(48):012x} "
            f"in {_ms(s)}ms"
        ),
    ],
    "api-gateway": [
        lambda r, s: (
            f'{_ip(r)} - - "{s.attrs.get("http.request.method")} {s.attrs.get("url.path")} '
            f'HTTP/1.1" {s.attrs.get("http.response.status_code")} {r.randint(200, 48000)} '
            f"{_ms(s) / 1000:.3f}"
        ),
    ],
    "auth": [
        lambda r, s: (
            f"token verified for user u-{r.randint(10000, 999999)} scopes=[read,cart,order] "
            f"cache={'hit' if r.random() < 0.9 else 'miss'}"
        ),
        lambda r, s: f"session refreshed for user u-{r.randint(10000, 999999)} expires_in=3600s",
    ],
    "catalog": [
        lambda r, s: (
            f"served product list page={r.randint(1, 40)} size=24 "
            f"cache={'hit' if r.random() < 0.85 else 'miss'} in {_ms(s)}ms"
        ),
        lambda r, s: (
            f"product SKU-{r.randint(10000, 99999)} loaded (stock={r.randint(0, 500)}, "
            f"price={_amt(r)} USD)"
        ),
    ],
    "currency": [
        lambda r, s: (
            f"converted {_amt(r)} USD -> {r.choice(_CUR[1:])} rate={r.uniform(0.6, 160):.4f}"
        ),
    ],
    "recommendation": [
        lambda r, s: (
            f"returned {r.randint(3, 12)} recommendations for product "
            f"SKU-{r.randint(10000, 99999)} in {_ms(s)}ms (model v7.{r.randint(0, 3)})"
        ),
    ],
    "cart": [
        lambda r, s: (
            f"added item SKU-{r.randint(10000, 99999)} qty={r.randint(1, 4)} to cart "
            f"c-{r.getrandbits(40):010x}"
        ),
        lambda r, s: f"cart c-{r.getrandbits(40):010x} loaded: {r.randint(1, 9)} items",
    ],
    "checkout": [
        lambda r, s: (
            f"order ORD-{r.randint(1000000, 9999999)} placed for user "
            f"u-{r.randint(10000, 999999)}: {r.randint(1, 7)} items, total {_amt(r)} "
            f"{r.choice(_CUR)}"
        ),
        lambda r, s: f"order ORD-{r.randint(1000000, 9999999)} state PENDING -> CONFIRMED",
    ],
    "payment": [
        lambda r, s: (
            f"charged card ****{r.randint(1000, 9999)} amount={_amt(r)} "
            f"{r.choice(_CUR)} txn=tx_{r.getrandbits(64):016x} in {_ms(s)}ms"
        ),
        lambda r, s: (
            f"3-D Secure not required for txn tx_{r.getrandbits(64):016x} "
            f"(risk score {r.uniform(0, 0.3):.2f})"
        ),
    ],
    "shipping": [
        lambda r, s: (
            f"quote Q-{r.randint(100000, 999999)} for {r.randint(10000, 99999)} "
            f"({r.choice(['DE', 'US', 'FR', 'GB', 'NL'])}): {_amt(r)} USD, {r.randint(1, 9)} days"
        ),
    ],
    "email": [
        lambda r, s: (
            f"sent order confirmation to {r.choice('abcdefghjk')}***@"
            f"{r.choice(['gmail.com', 'example.org', 'outlook.com'])} "
            f"message_id=<{r.getrandbits(64):016x}@mail.shop>"
        ),
    ],
}
GENERIC: list[Tpl] = [
    lambda r, s: (
        f"handled {s.attrs.get('http.request.method')} {s.attrs.get('url.path')} "
        f"status={s.attrs.get('http.response.status_code')} in {_ms(s)}ms"
    ),
    lambda r, s: f"processed request id={r.getrandbits(48):012x} items={r.randint(1, 50)}",
]
_ERR_MSG = {
    "npe": "unhandled exception while processing {route}",
    "pool": "could not acquire database connection for {route}",
    "oom": "out of memory while processing {route}",
    "own": "request failed: {route}",
    "db": "database error while processing {route}",
    "cache": "cache unavailable while processing {route}",
    "timeout": "call to {dep} timed out while processing {route}",
    "refused": "call to {dep} failed: connection refused",
    "reset": "call to {dep} failed: connection reset",
    "500": "upstream {dep} returned 500 while processing {route}",
    "503": "upstream {dep} unavailable (503) while processing {route}",
    "504": "upstream {dep} timed out (504) while processing {route}",
}


def _cause(ctx, s: Span) -> tuple[str, str]:
    """(cause key, dependency) of a failed server span."""
    if s.failure.startswith("dependency:"):
        _, dep, why = s.failure.split(":", 2)
        kind = ctx.topo.service(dep).kind
        if kind == "database":
            return "db", dep
        if kind == "cache":
            return "cache", dep
        return why, dep
    return _own_cause(ctx, s.pod, ctx.step(s.start)), ""


def _own_cause(ctx, pod_name: str, i: int) -> str:
    pod = ctx.pod_by_name[pod_name]
    e = ctx.eff[pod_name]
    if pod.bad:
        return "npe"
    if e.pool_busy[i] > 0.3:
        return "pool"
    if e.mem_extra[i] > 0 and e.lat_mult[i] > 1.5:
        return "oom"
    return "own"


def make_logs(ctx, traces: list[list[Span]], errors: list | None = None) -> list[dict]:
    """Log records (dicts, sorted by time): lines of the sampled traces, an error line for
    each failed request the metrics counted (``errors``, from the SeriesSet; rate-limited
    like zap's sampler: the first 10 per pod, route and scrape interval, then 1 in 100),
    and the pods' background chatter."""
    r = random.Random(ctx.seed * 7 + 11)
    out: list[dict] = []
    for spans in traces:
        for s in spans:
            svc = ctx.topo.service(s.service)
            if not svc.is_http:
                continue
            if s.kind == 3:
                if s.failure:
                    last = s.attrs.get("http.request.resend_count", 0) == 1
                    dep = s.attrs.get("server.address", "")
                    out.append(
                        _rec(
                            ctx,
                            r,
                            s,
                            s.end,
                            "error" if last else "warn",
                            f"{s.message}" + ("" if last else "; retrying (attempt 1/2)"),
                            extra={"peer.service": dep},
                        )
                    )
                continue
            if s.code == 2:
                cause, dep = _cause(ctx, s)
                typ, msg, stack = exception(
                    s.service, svc.language, cause, r, dep=dep, route=s.name
                )
                s.events.append(
                    {
                        "name": "exception",
                        "t": s.end - 1000,
                        "attributes": {
                            "exception.type": typ,
                            "exception.message": msg,
                            "exception.stacktrace": stack,
                        },
                    }
                )
                text = _ERR_MSG.get(cause, _ERR_MSG["own"]).format(route=s.name, dep=dep)
                out.append(
                    _rec(
                        ctx,
                        r,
                        s,
                        s.end - 1000,
                        "error",
                        f"{text}: {typ}: {msg}",
                        extra={
                            "exception.type": typ,
                            "http.route": s.attrs.get("http.route"),
                            "status": s.attrs.get("http.response.status_code"),
                        },
                        stack=stack,
                    )
                )
                continue
            if (s.end - s.start) > NS:
                out.append(
                    _rec(
                        ctx,
                        r,
                        s,
                        s.end,
                        "warn",
                        f"slow request {s.name} took {_ms(s)}ms (threshold 1000ms)",
                        extra={"duration_ms": _ms(s)},
                    )
                )
            if r.random() < 0.7:
                tpls = TEMPLATES.get(s.service, GENERIC)
                tpl = tpls[r.randrange(len(tpls))]
                lvl = "debug" if r.random() < 0.08 else "info"
                out.append(
                    _rec(
                        ctx,
                        r,
                        s,
                        s.end - r.randint(0, 500_000),
                        lvl,
                        tpl(r, s),
                        extra={"duration_ms": _ms(s)},
                    )
                )
    out.extend(background(ctx, r))
    out.extend(_unsampled_errors(ctx, r, errors or []))
    out.sort(key=lambda d: (d["timestamp"], d["service"], d["pod"], d["message"]))
    return out


def _rec(
    ctx,
    r: R,
    s: Span,
    t_ns: int,
    level: str,
    message: str,
    *,
    extra: dict | None = None,
    stack: str | None = None,
) -> dict:
    svc = ctx.topo.service(s.service)
    d = {
        "timestamp": iso_ns(t_ns),
        "level": level,
        "service": s.service,
        "message": message,
        "trace_id": s.trace_id,
        "span_id": s.span_id,
        "pod": s.pod,
        "logger": logger_name(s.service, svc.language, r),
        "version": s.version,
        "namespace": "shop",
        "trace_flags": "01",
    }
    if stack:
        d["stack_trace"] = stack
    if extra:
        d.update({k: v for k, v in extra.items() if v is not None})
    return d


_STATUS = {"500": 500, "503": 503, "504": 504, "timeout": 504}


def _unsampled_errors(ctx, r: R, errors: list) -> list[dict]:
    """Error lines of failed requests whose traces were not sampled (trace_flags "00")."""
    out: list[dict] = []
    g = ctx.grid
    for service, pod_name, route_name, counts in errors:
        svc = ctx.topo.service(service)
        pod = ctx.pod_by_name[pod_name]
        e = ctx.eff[pod_name]
        d = ctx.flow.dep[(service, route_name)]
        totals = counts.sum(axis=1)
        for i in np.flatnonzero(totals):
            n = int(totals[i])
            keep = n if n <= 10 else 10 + (n - 10) // 100
            weights = [BASE_ERROR + float(e.err500[i])] + [float(c[i]) for _, c, _ in d.edges]
            for _ in range(keep):
                pick = r.choices(range(len(weights)), weights)[0] if sum(weights) > 0 else 0
                if pick == 0:
                    cause, dep, status = _own_cause(ctx, pod_name, int(i)), "", 500
                else:
                    dep, _, share = d.edges[pick - 1]
                    kind = ctx.topo.service(dep).kind
                    if kind in ("database", "cache"):
                        cause, status = ("db" if kind == "database" else "cache"), 500
                    else:
                        w = [float(x) for x in share[:, i]]
                        code = r.choices(("500", "503", "504"), w)[0] if sum(w) > 0 else "500"
                        cause = "timeout" if code == "504" else code
                        status = _STATUS[cause]
                typ, msg, stack = exception(
                    service, svc.language, cause, r, dep=dep, route=route_name
                )
                text = _ERR_MSG.get(cause, _ERR_MSG["own"]).format(route=route_name, dep=dep)
                t_ns = int((g.t0 + (int(i) + r.random()) * g.step_s) * NS)
                route = next(x for x in svc.routes if x.name == route_name)
                out.append(
                    {
                        "timestamp": iso_ns(t_ns),
                        "level": "error",
                        "service": service,
                        "message": f"{text}: {typ}: {msg}",
                        "trace_id": f"{r.getrandbits(128):032x}",
                        "span_id": f"{r.getrandbits(64):016x}",
                        "trace_flags": "00",
                        "pod": pod_name,
                        "logger": logger_name(service, svc.language, r),
                        "version": pod.version,
                        "namespace": "shop",
                        "stack_trace": stack,
                        "exception.type": typ,
                        "http.route": route.path,
                        "status": status,
                    }
                )
    return out
