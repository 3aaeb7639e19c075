"""Change events: Argo CD Applications, Argo Rollouts Kubernetes Events, Chaos Mesh objects.

Example::

    >>> apps = argocd_applications(ctx)          # JSON-ready list
    >>> text = chaos_yaml(ctx)                   # multi-document YAML
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import yaml

from workbench.lab.clock import iso
from workbench.lab.faults import CHAOS_KINDS, Fault
from workbench.lab.rollout import Deploy

__all__ = ["argocd_applications", "chaos_objects", "chaos_yaml", "rollout_events"]

REPO = "https://git.shop.example.com/platform/shop-deploy.git"


def _uid(*parts: object) -> str:
    h = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _sha(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()


def _older_versions(version: str, n: int) -> list[str]:
    parts = [int(x) if x.isdigit() else 0 for x in version.split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    out = []
    major, minor, patch = parts
    for _ in range(n):
        if patch > 0:
            patch -= 1
        elif minor > 0:
            minor, patch = minor - 1, 3
        else:
            break
        out.append(f"{major}.{minor}.{patch}")
    return out[::-1]


def argocd_applications(ctx) -> list[dict]:
    """One Argo CD Application per service, with deploy history (older deploys included)."""
    r = random.Random(ctx.seed * 13 + 5)
    apps = []
    t0 = ctx.grid.t0
    for svc in ctx.topo.services:
        hist: list[tuple[float, float, str]] = []  # started, deployed, version
        older = _older_versions(svc.version, r.randint(2, 4))
        t = t0 - r.uniform(2, 20) * 86400 - 86400 * 3 * len(older)
        for v in [*older, svc.version]:
            hist.append((t, t + r.uniform(40, 200), v))
            t += r.uniform(1, 4) * 86400
        if hist[-1][0] >= t0:
            hist[-1] = (t0 - 3600 * 5, t0 - 3600 * 5 + 90, svc.version)
        health = "Healthy"
        for d in (d for d in ctx.deploys if d.service == svc.name and d.recorded):
            done = d.completed_at or d.aborted_at or (d.at + 300)
            hist.append((d.at, done, d.version))
            if d.aborted_at is not None:
                health = "Degraded"
            if d.rollback_at is not None:
                prev = hist[-2][2]
                hist.append((d.rollback_at, d.rollback_at + 45, prev))
        hist.sort(key=lambda h: h[0])
        history = [
            {
                "id": i,
                "revision": _sha(svc.name, v, i),
                "deployStartedAt": iso(start),
                "deployedAt": iso(done),
                "source": {"repoURL": REPO, "path": f"apps/{svc.name}", "targetRevision": f"v{v}"},
            }
            for i, (start, done, v) in enumerate(hist)
        ]
        last: dict[str, Any] = history[-1]
        apps.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {
                    "name": svc.name,
                    "namespace": "argocd",
                    "uid": _uid("app", svc.name),
                    "labels": {"team": "shop", "tier": svc.kind},
                },
                "spec": {
                    "project": "shop",
                    "source": dict(last["source"]),
                    "destination": {
                        "server": "https://kubernetes.default.svc",
                        "namespace": "shop",
                    },
                    "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
                },
                "status": {
                    "sync": {"status": "Synced", "revision": last["revision"]},
                    "health": {"status": health},
                    "history": history,
                    "reconciledAt": iso(ctx.grid.end - 60),
                },
            }
        )
    return apps


def _event(svc: str, t: float, reason: str, message: str, typ: str = "Normal") -> dict:
    name = f"{svc}.{_sha(svc, t, reason)[:16]}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": _uid("ev", name),
            "creationTimestamp": iso(t),
        },
        "involvedObject": {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "name": svc,
            "namespace": "shop",
            "uid": _uid("rollout", svc),
        },
        "reason": reason,
        "message": message,
        "source": {"component": "rollouts-controller"},
        "reportingComponent": "rollouts-controller",
        "firstTimestamp": iso(t),
        "lastTimestamp": iso(t),
        "count": 1,
        "type": typ,
    }


def rollout_events(ctx) -> list[dict]:
    """Kubernetes Events that Argo Rollouts records for each canary rollout."""
    out: list[dict] = []
    for d in sorted(ctx.deploys, key=lambda d: (d.at, d.service)):
        if d.recorded:
            out.extend(_deploy_events(d, ctx))
    out.sort(key=lambda e: (e["firstTimestamp"], e["involvedObject"]["name"], e["reason"]))
    return out


def _deploy_events(d: Deploy, ctx) -> list[dict]:
    rev = 10 + sum(1 for x in ctx.deploys if x.service == d.service and x.at < d.at)
    prev = ctx.topo.service(d.service).version
    steps: list[str] = []
    for w in d.steps:
        steps.append(f"setWeight: {w}")
        if w < 100:
            steps.append(f"pause: {int(d.pause_s)}s")
    ev = [
        _event(
            d.service,
            d.at,
            "RolloutUpdated",
            f"Rollout updated to revision {rev} (image v{d.version}, was v{prev})",
        )
    ]
    k = 0
    for t, w in d.step_times():
        if d.aborted_at is not None and t > d.aborted_at:
            break
        k += 1
        ev.append(
            _event(
                d.service,
                t,
                "RolloutStepCompleted",
                f"Step {k}/{len(steps)} completed: setWeight: {w}",
            )
        )
        if w < 100 and (d.aborted_at is None or t + d.pause_s * 0.5 < d.aborted_at):
            k += 1
            ev.append(
                _event(
                    d.service,
                    t + d.pause_s - 1,
                    "RolloutStepCompleted",
                    f"Step {k}/{len(steps)} completed: pause: {int(d.pause_s)}s",
                )
            )
    if d.aborted_at is not None:
        ev.append(
            _event(
                d.service,
                d.aborted_at,
                "RolloutAborted",
                f'Rollout aborted update to revision {rev}: Metric "error-rate" assessed Failed '
                "due to failed (3) > failureLimit (2); rolled back to stable revision",
                "Warning",
            )
        )
    elif d.completed_at is not None:
        ev.append(
            _event(
                d.service,
                d.completed_at,
                "RolloutCompleted",
                f"Rollout completed update to revision {rev}: v{d.version} is now stable",
            )
        )
    if d.rollback_at is not None:
        ev.append(
            _event(
                d.service,
                d.rollback_at,
                "RolloutUpdated",
                f"Rollout updated to revision {rev + 1} (image v{prev}, rollback from "
                f"v{d.version})",
            )
        )
        ev.append(
            _event(
                d.service,
                d.rollback_at + 45,
                "RolloutCompleted",
                f"Rollout completed update to revision {rev + 1}: rollback window, "
                f"steps skipped; v{prev} is stable",
            )
        )
    return ev


def chaos_objects(ctx) -> list[dict]:
    """Chaos Mesh objects for the chaos-type faults."""
    out = []
    for f in ctx.faults:
        kind = CHAOS_KINDS.get(f.kind)
        if not kind or not f.recorded:
            continue
        out.append(_chaos(ctx, f, kind))
    return out


def _chaos(ctx, f: Fault, kind: str) -> dict:
    mins = max(1, round((f.end - f.start) / 60))
    name = f"{f.kind.replace('_', '-')}-{f.service}"
    selector = {"namespaces": ["shop"], "labelSelectors": {"app": f.service}}
    spec: dict = {"selector": selector, "duration": f"{mins}m"}
    targets = [p for p in ctx.pods[f.service] if p.born <= f.start < p.died]
    if f.kind == "cpu_hog":
        spec.update(mode="one", stressors={"cpu": {"workers": 2, "load": 100}})
        targets = targets[: f.params.get("pods", 1)]
    elif f.kind == "network_delay":
        ms = int(f.params.get("delay_s", 0.3) * 1000)
        spec.update(
            mode="all",
            action="delay",
            direction="to",
            delay={"latency": f"{ms}ms", "jitter": f"{ms // 6}ms", "correlation": "25"},
        )
    elif f.kind == "packet_loss":
        spec.update(
            mode="all",
            action="loss",
            direction="to",
            loss={"loss": str(int(f.params.get("loss", 0.35) * 100)), "correlation": "25"},
        )
    elif f.kind == "http_errors":
        frac = f.params.get("pod_fraction", 0.5)
        spec.update(
            mode="fixed-percent",
            value=str(int(frac * 100)),
            target="Request",
            port=8080,
            path="*",
            abort=True,
        )
        targets = targets[: max(1, round(len(targets) * frac))]
    created = f.start - 3
    records = [
        {
            "id": f"shop/{p.name}",
            "phase": "Not Injected",
            "selectorKey": ".",
            "events": [
                {"type": "Succeeded", "operation": "Apply", "timestamp": iso(f.start)},
                {"type": "Succeeded", "operation": "Recover", "timestamp": iso(f.end)},
            ],
        }
        for p in targets
    ]
    return {
        "apiVersion": "chaos-mesh.org/v1alpha1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": _uid("chaos", name, f.start),
            "creationTimestamp": iso(created),
            "annotations": {"experiment.chaos-mesh.org/pause": "false"},
        },
        "spec": spec,
        "status": {
            "conditions": [
                {"type": "AllRecovered", "status": "True"},
                {"type": "AllInjected", "status": "False"},
            ],
            "experiment": {"desiredPhase": "Stop", "containerRecords": records},
        },
    }


def chaos_yaml(ctx) -> str:
    """The Chaos Mesh objects as multi-document YAML (``---`` separated)."""
    objs = chaos_objects(ctx)
    if not objs:
        return ""
    return "---\n".join(yaml.safe_dump(o, sort_keys=True, default_flow_style=False) for o in objs)
