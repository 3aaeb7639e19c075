"""Generate a lab scenario into a directory (the layout in docs/LAB_FORMAT.md).

The same scenario, seed and options give byte-identical files: every random draw comes
from generators seeded by (seed, scenario), times are fixed, JSON keys are sorted and
Parquet writer settings are fixed.

Example::

    >>> from workbench.lab import generate
    >>> path = generate("demo", seed=1, out=Path("/tmp/demo"))
    >>> sorted(p.name for p in path.iterdir())
    ['events', 'logs', 'metrics', 'scenario.json', 'topology.json', 'traces', 'truth.json']
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from workbench.lab import alerts as alerts_mod
from workbench.lab import changes
from workbench.lab.clock import Grid, iso
from workbench.lab.faults import CHAOS_KINDS, Effects, Fault, apply_faults
from workbench.lab.logs import make_logs
from workbench.lab.metrics import SeriesSet, build_series, family_of
from workbench.lab.otlp import write_otlp
from workbench.lab.revision import GENERATOR_REVISION
from workbench.lab.rollout import Deploy, Pod, plan_pods
from workbench.lab.scenarios import Scenario, get_scenario, pick_herrings, pick_root
from workbench.lab.sim import Flow, simulate
from workbench.lab.topology import Topology, generated, shop
from workbench.lab.traces import NS, Span, TraceGen
from workbench.lab.variation import Variation
from workbench.lab.write_metrics import (
    write_family_parquets,
    write_openmetrics,
    write_series_parquet,
)

__all__ = ["LabRun", "build", "build_topology", "generate", "lab_series"]

log = logging.getLogger(__name__)


def _version() -> str:
    from workbench import __version__

    return __version__


@dataclass
class LabRun:
    """Everything one generation run computed (kept for tests and for the writers)."""

    scenario: Scenario
    seed: int
    topo: Topology
    grid: Grid
    root: str
    faults: list[Fault]
    deploys: list[Deploy]
    pods: dict[str, list[Pod]]
    eff: dict[str, Effects]
    flow: Flow
    truth_start: float
    truth_end: float
    pod_by_name: dict[str, Pod] = field(default_factory=dict)
    #: the scenario's own start (epoch seconds): ``grid.t0`` unless healthy history was
    #: generated before it (``history_hours``)
    start: float | None = None

    @property
    def scenario_start(self) -> float:
        """Where the scenario's hours begin (its baseline's start): after any history."""
        return self.grid.t0 if self.start is None else self.start

    def step(self, t_ns: int) -> int:
        i = int((t_ns / NS - self.grid.t0) // self.grid.step_s)
        return min(max(i, 0), self.grid.n - 1)


def _bump(version: str, k: int) -> str:
    parts = ([*version.split("."), "0", "0"])[:3]
    nums = [int(p) if p.isdigit() else 0 for p in parts]
    nums[2] += k
    return ".".join(map(str, nums))


def _minor(version: str) -> str:
    parts = ([*version.split("."), "0", "0"])[:3]
    nums = [int(p) if p.isdigit() else 0 for p in parts]
    return f"{nums[0]}.{nums[1] + 1}.0"


def build_topology(services: int | None, seed: int) -> Topology:
    """The shop (``services=None``) or a generated topology of that many services."""
    return shop() if services is None else generated(services, seed=seed)


def build(
    scenario: str = "demo",
    seed: int = 1,
    *,
    start: str | None = None,
    services: int | None = None,
    step_s: float = 30.0,
    variation: Variation | None = None,
    history_hours: float = 0.0,
) -> LabRun:
    """Run the model (no files written). ``variation`` (see :mod:`workbench.lab.variation`)
    replaces the scenario's root, fault time, decoys and change records;
    ``history_hours`` of healthy operation run before the scenario's start (the same
    traffic, pods and noise, continued; nothing of the scenario happens in them)."""
    sc = get_scenario(scenario)
    rng = np.random.default_rng([seed, zlib.crc32(sc.name.encode()), services or 0])
    topo = build_topology(services, seed)
    if history_hours < 0:
        raise ValueError(f"history_hours must be >= 0, not {history_hours}")
    grid = Grid.from_iso(start or sc.start, hours=sc.hours, step_s=step_s)
    t0 = grid.t0  # the scenario's start: its faults and deploys are placed from here
    if history_hours:
        extra = round(history_hours * 3600 / step_s)
        grid = Grid(t0 - extra * step_s, step_s, grid.n + extra)
    v = variation
    root = pick_root(topo, sc) if v is None else v.root
    f_start = t0 + (sc.fault_at_min if v is None else v.fault_at_min) * 60
    minutes = sc.fault_minutes if v is None else v.fault_minutes
    f_end = grid.end if minutes is None else min(f_start + minutes * 60, grid.end)
    recorded = True if v is None else v.announced
    herrings = pick_herrings(topo, sc, root) if v is None else list(v.decoys)
    deploys: list[Deploy] = []
    for k, (svc, minute) in enumerate(herrings):
        version = _bump(topo.service(svc).version, 1 + k)
        deploys.append(Deploy(svc, t0 + minute * 60, version, pause_s=60.0))
    faults: list[Fault] = []
    truth_start, truth_end = f_start, f_end
    if sc.fault == "bad_deploy":
        d = sc.deploy
        rb = d.get("rollback_after_min")
        bad = Deploy(
            root,
            f_start,
            d.get("version", _minor(topo.service(root).version))
            if sc.root == root
            else _minor(topo.service(root).version),
            pause_s=d.get("pause_s", 120.0),
            abort_after_step=d.get("abort_after_step"),
            rollback_at=None if rb is None else f_start + rb * 60,
            bad=dict(d.get("bad", {"err500": 0.3})),
            recorded=recorded,
        )
        deploys.append(bad)
        truth_start = bad.step_times()[0][0]
        truth_end = min(bad.ended_at, grid.end)
    else:
        faults.append(Fault(sc.fault, root, f_start, f_end, dict(sc.params), recorded=recorded))
    deploys.sort(key=lambda d: (d.at, d.service))
    pods = plan_pods(topo, grid, deploys, rng)
    eff = apply_faults(topo, grid, pods, faults, rng)
    flow = simulate(topo, grid, pods, eff, rng)
    run = LabRun(
        sc, seed, topo, grid, root, faults, deploys, pods, eff, flow, truth_start, truth_end
    )
    if history_hours:
        run.start = t0
    run.pod_by_name = {p.name: p for ps in pods.values() for p in ps}
    return run


def _dump(obj: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _without_services(traces: list[list[Span]], services: set[str]) -> list[list[Span]]:
    """Traces without the spans of ``services`` (not instrumented); a trace whose spans
    were all theirs is gone. Children keep their parent ids, as a real gap leaves them."""
    if not services:
        return traces
    kept = [[s for s in tr if s.service not in services] for tr in traces]
    return [tr for tr in kept if tr]


def _without_family(ss: SeriesSet, service: str, family: str) -> SeriesSet:
    """``ss`` without the series of metric ``family`` for ``service`` (never exported)."""
    keep = [
        i
        for i, (m, lab) in enumerate(zip(ss.metric, ss.labels, strict=True))
        if not (lab.get("service") == service and family_of(m) == family)
    ]
    return replace(
        ss,
        metric=[ss.metric[i] for i in keep],
        labels=[ss.labels[i] for i in keep],
        offset_ms=[ss.offset_ms[i] for i in keep],
        values=ss.values[keep],
        is_int=[ss.is_int[i] for i in keep],
    )


def _victims(run: LabRun) -> list[str]:
    """Services whose error ratio or latency rose during the fault (besides the root)."""
    g = run.grid
    during = g.mask(run.truth_start + 120, run.truth_end)
    before = g.mask(run.scenario_start, run.truth_start)
    out = []
    for svc in run.topo.services:
        if svc.name == run.root or not svc.is_http:
            continue
        for r in svc.routes:
            st = run.flow.stats[(svc.name, r.name)]
            err = st.q500 + st.q503 + st.q504
            if not during.any() or not before.any():
                continue
            de, be = err[during].mean(), err[before].mean()
            dm, bm = st.mean[during].mean(), st.mean[before].mean()
            burst = float(np.quantile(err[during], 0.95))  # OOM restarts, flaps
            if de > be + 0.02 or burst > be + 0.05 or dm > bm * 1.3 + 0.02:
                out.append(svc.name)
                break
    return sorted(out)


#: sampled traces per service in a generated topology, so a 1,000-service system keeps
#: enough spans per service to be diagnosable (the shop keeps its fixed volume)
TRACES_PER_SERVICE = 4


def trace_target(n_services: int, *, generated: bool) -> int:
    """How many traces to sample: the shop's fixed volume (2,500 at 13 services); a
    generated topology of ``n`` services at least :data:`TRACES_PER_SERVICE` per service.

    >>> trace_target(13, generated=False), trace_target(1000, generated=True)
    (2500, 4000)
    """
    base = int(max(300, 2500 * min(1.0, 13 / max(n_services, 13))))
    return max(base, TRACES_PER_SERVICE * n_services) if generated else base


def _sampling(s: dict, target: int, kept: int, n_services: int) -> dict:
    return {
        "rule": "tail sampling: entry requests become candidates with "
        "candidate_probability; a candidate trace is kept if it failed, if it took "
        "longer than slow_s, or else with keep_probability",
        "candidate_probability": round(s["candidate_probability"], 9),
        "keep_probability": s["keep_probability"],
        "slow_s": s["slow_s"],
        "target_traces": target,
        "kept_traces": kept,
        "traces_per_service": round(kept / max(n_services, 1), 3),
    }


def _series(run: LabRun, seed: int, services: int | None) -> SeriesSet:
    rng = np.random.default_rng([seed, zlib.crc32(run.scenario.name.encode()), services or 0, 2])
    return build_series(run.topo, run.grid, run.pods, run.eff, run.flow, rng)


def lab_series(
    scenario: str = "demo", seed: int = 1, *, services: int | None = None, step_s: float = 30.0
) -> tuple[SeriesSet, LabRun]:
    """The metric series :func:`generate` writes for ``scenario`` and ``seed`` (the same
    samples), without writing anything: for writing them under other namings."""
    run = build(scenario, seed, services=services, step_s=step_s)
    return _series(run, seed, services), run


def generate(
    scenario: str = "demo",
    seed: int = 1,
    out: Path | str = "lab-out",
    *,
    start: str | None = None,
    services: int | None = None,
    step_s: float = 30.0,
    target_traces: int | None = None,
    openmetrics: bool = True,
    variation: Variation | None = None,
    naming: str = "lab",
    history_hours: float = 0.0,
) -> Path:
    """Generate ``scenario`` with ``seed`` into directory ``out`` and return its path.

    ``start`` moves the window (RFC 3339); ``services`` swaps the shop for a generated
    topology of that many services (2..1000): its metrics are then written one Parquet
    file per metric family (``metrics/metrics.<family>.parquet``) and its trace volume
    grows with the topology (:func:`trace_target`). ``openmetrics=False`` skips the
    OpenMetrics text (gigabytes at 1,000 services; only Prometheus loading needs it).
    The trace sampling applied is stated in ``scenario.json`` (``sampling``).
    ``variation`` draws root, time, decoys, change records and telemetry gaps per case
    (:mod:`workbench.lab.variation`, used by the lab suite); without it the scenario is
    generated as it always was. ``naming`` writes ``metrics.om`` under another
    metric-naming convention (:mod:`workbench.lab.naming`: ``otel``, ``spanmetrics``,
    ``istio``, ``beyla``...); the Parquet copy keeps the lab's names.

    ``history_hours`` adds that much healthy operation before the scenario's start (the
    same traffic with its daily swing, pods, background lines, metrics, logs and traces,
    sampled as the scenario's hours are), for a baseline longer than the scenario's own
    hour (``open_incident(baseline="8h")``). ``scenario.json``'s ``window`` then spans the
    history too; its ``incident_window`` and ``baseline_window`` stay the scenario's.
    Without it the output is what it always was, byte for byte.

    >>> generate("cpu-hog", 1, "/tmp/cpu-hog-long", history_hours=5)  # doctest: +SKIP
    """
    out = Path(out)
    run = build(
        scenario,
        seed,
        start=start,
        services=services,
        step_s=step_s,
        variation=variation,
        history_hours=history_hours,
    )
    sc, g = run.scenario, run.grid
    out.mkdir(parents=True, exist_ok=True)

    ss = _series(run, seed, services)
    if variation is not None and variation.missing_metric is not None:
        ss = _without_family(ss, *variation.missing_metric)
    from workbench.lab.naming import rename

    if openmetrics:
        n_samples = write_openmetrics(rename(ss, naming), out / "metrics" / "metrics.om")
    if services is None:
        rows = write_series_parquet(ss, out / "metrics" / "metrics.parquet")
    else:  # a generated topology: one file per metric family, scanned lazily
        rows = write_family_parquets(ss, out / "metrics")
    if not openmetrics:
        n_samples = rows

    n_svc = len(run.topo.services)
    target = target_traces or trace_target(n_svc, generated=services is not None)
    tracegen = TraceGen(run.topo, g, run.pods, run.eff, run.flow, seed=seed * 1000 + 17)
    # the target holds for the scenario's hours: history is sampled at the same rate
    traces = tracegen.run(
        target_traces=target,
        over=None if run.start is None else g.times >= run.start,
    )
    logs = make_logs(run, traces, ss.errors)
    if variation is not None:  # telemetry gaps: an uninstrumented service, a lost metric
        traces = _without_services(traces, set(variation.no_traces))
    n_spans = write_otlp(run, traces, out / "traces" / "traces.otlp.jsonl")
    (out / "logs").mkdir(parents=True, exist_ok=True)
    with open(out / "logs" / "logs.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for rec in logs:
            fh.write(json.dumps(rec, sort_keys=True, separators=(",", ":")))
            fh.write("\n")

    ev = out / "events"
    _dump(changes.argocd_applications(run), ev / "argocd-applications.json")
    _dump(changes.rollout_events(run), ev / "rollouts-events.json")
    fired = alerts_mod.evaluate(run, ss)
    with open(ev / "alertmanager-webhook.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for p in alerts_mod.webhook_payloads(run, fired):
            fh.write(json.dumps(p, sort_keys=True, separators=(",", ":")))
            fh.write("\n")
    (ev / "chaos-mesh.yaml").write_text(changes.chaos_yaml(run), encoding="utf-8")

    _dump(
        {
            "services": [
                {
                    "name": s.name,
                    "kind": s.kind,
                    "pods": [p.name for p in run.pods[s.name]],
                    "calls": run.topo.service_calls(s.name),
                }
                for s in run.topo.services
            ]
        },
        out / "topology.json",
    )
    s0 = run.scenario_start
    half = s0 + (g.end - s0) / 2
    _dump(
        {
            "name": sc.name,
            "seed": seed,
            "title": sc.title,
            "incident_id": f"LAB-{sc.name.upper()}-{seed}",
            "description": sc.description,
            "window": {"start": iso(g.t0), "end": iso(g.end)},
            "incident_window": {"start": iso(half), "end": iso(g.end)},
            "baseline_window": {"start": iso(s0), "end": iso(half)},
            "services": sorted(run.topo.names),
            "generator": f"workbench.lab {_version()}",
            "generator_revision": GENERATOR_REVISION,
            "metric_naming": naming,
            "counts": {
                "samples": n_samples,
                "series": len(ss.metric),
                "spans": n_spans,
                "traces": len(traces),
                "logs": len(logs),
                "alerts": len(fired),
            },
            "options": {
                "step_s": step_s,
                "services": services,
                "start": start,
                **({"history_hours": history_hours} if history_hours else {}),
            },
            "sampling": _sampling(tracegen.sampling, target, len(traces), n_svc),
            **({} if variation is None else {"variation": variation.describe()}),
        },
        out / "scenario.json",
    )
    details: dict = {"description": sc.description, "victims": _victims(run)}
    if sc.fault == "bad_deploy":
        d = next(d for d in run.deploys if d.bad)
        details.update(
            version=d.version,
            previous_version=run.topo.service(run.root).version,
            rollback="automatic" if d.aborted_at else ("manual" if d.rollback_at else "none"),
            bad_pods=[p.name for p in run.pods[run.root] if p.bad],
        )
    else:
        f = run.faults[0]
        details.update({k: v for k, v in f.params.items()})
        if f.kind in CHAOS_KINDS:
            details["chaos_kind"] = CHAOS_KINDS[f.kind]
    if variation is not None:
        details["variation"] = variation.describe()
    details["red_herrings"] = [
        {"service": d.service, "version": d.version, "at": iso(d.at)}
        for d in run.deploys
        if not d.bad
    ]
    _dump(
        {
            "root_cause_service": run.root,
            "fault": sc.fault,
            "start": iso(run.truth_start),
            "end": iso(run.truth_end),
            "details": details,
        },
        out / "truth.json",
    )
    log.info(
        "lab %s seed %s: %d samples, %d spans, %d logs -> %s",
        sc.name,
        seed,
        n_samples,
        n_spans,
        len(logs),
        out,
    )
    return out
