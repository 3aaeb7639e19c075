"""Scale: one incident over 100, 300 and 1,000 services (two hours, incident in the second).

For each size, a lab ``cpu-hog`` scenario (generated topology, seed 11, metrics written one
Parquet file per family, no OpenMetrics) is opened from files in a fresh process with
per-service metric aggregates (``Incident.from_directory(path, metric_grain="service")``)
and investigated to its findings (suspects, verdict, findings text). Measured per size:

* ``time_to_findings``: from opening the incident to ``inv.findings`` (load included);
* ``peak_rss``: the process's peak resident memory;
* ``rows_per_service``: rows fetched from the source (all signals) per service, and the
  metric rows alone;
* whether the top suspect is the injected root cause.

Each line: ``name: value unit (baseline value, ratio x, target t)``; the baseline is the
100-service figure. Targets: 1,000 services findings < 60 s, peak RSS < 2 GiB, rows per
service flat (ratio near 1). ``--grain series`` measures the raw-sample path instead;
``--ac SIZE`` reports AC@1 over the 8 fault kinds at an unseen seed (23) at SIZE services.

Run::

    .venv/bin/python bench/bench_scale.py                    # 100, 300, 1000
    .venv/bin/python bench/bench_scale.py --sizes 100 300    # smaller
    .venv/bin/python bench/bench_scale.py --ac 100 --sizes   # AC@1 only
    .venv/bin/python bench/bench_scale.py --reuse            # print saved results again

The scenarios (and each size's result, with its time and load average) are cached under
``--cache`` (default: the system temp directory).
Quote ``uptime``'s load average with the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: one scenario per fault kind (bad_deploy: the canary scenario, not the demo)
FAULT_SCENARIOS = (
    "bad-deploy-canary",
    "conn-pool-exhaustion",
    "cpu-hog",
    "db-outage",
    "http-errors",
    "memory-leak",
    "network-delay",
    "packet-loss",
)

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from workbench import Incident, Investigation
path, grain = sys.argv[1], sys.argv[2]
inc = Incident.from_directory(path, metric_grain=grain, max_rows=None)
inv = Investigation(inc)
inc.load()
t_load = time.perf_counter() - t0
sus = inv.suspects.value
verdict = inv.verdict.value
findings = inv.findings.value
t_all = time.perf_counter() - t0
truth = json.load(open(path + "/truth.json"))["root_cause_service"]
n = len(json.load(open(path + "/scenario.json"))["services"])
st = inc.status()
rows = {r["signal"]: r["rows"] for r in st.iter_rows(named=True)}
secs = {r["signal"]: r["elapsed_s"] for r in st.iter_rows(named=True)}
print(json.dumps({
    "services": n, "load_s": t_load, "findings_s": t_all,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rows": rows, "load_by_signal_s": secs, "top": sus.ranking[0], "truth": truth, "rank_of_truth": sus.rank_of(truth),
    "verdict": verdict.level, "missing": inv.missing.frame.height,
}))
"""


def scenario(name: str, seed: int, services: int, cache: Path) -> Path:
    out = cache / f"scale-{name}-{services}-seed{seed}"
    if not (out / "scenario.json").exists():
        from workbench.lab import generate

        generate(name, seed, out, services=services, openmetrics=False)
    return out


def investigate(path: Path, grain: str) -> dict:
    """Open and investigate ``path`` in a fresh process (its own peak RSS)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    got = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), grain],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if got.returncode != 0:
        raise RuntimeError(f"investigating {path} failed:\n{got.stderr[-2000:]}")
    return json.loads(got.stdout.strip().splitlines()[-1])


def measured(path: Path, grain: str, cache: Path, reuse: bool) -> dict:
    """``investigate`` once; with ``reuse``, the result saved by an earlier run (its
    time and load average are printed with it)."""
    saved = cache / f"scale-result-{path.name}-{grain}.json"
    if reuse and saved.exists():
        return json.loads(saved.read_text())
    r = investigate(path, grain)
    r["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    r["load_average"] = load_average()
    saved.write_text(json.dumps(r))
    return r


def line(name: str, value: float, unit: str, base: float, target: str) -> None:
    ratio = value / base if base else float("nan")
    print(
        f"{name}: {value:.3f} {unit} (baseline {base:.3f} {unit}, ratio {ratio:.2f} x, target {target})"
    )


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[100, 300, 1000])
    ap.add_argument("--grain", choices=("service", "series"), default="service")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--ac", type=int, default=None, help="AC@1 over the 8 fault kinds at SIZE")
    ap.add_argument("--ac-seed", type=int, default=23)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--reuse", action="store_true", help="reuse results saved by an earlier run")
    args = ap.parse_args(argv)

    results: dict[int, dict] = {}
    for n in args.sizes:
        path = scenario("cpu-hog", args.seed, n, args.cache)
        r = measured(path, args.grain, args.cache, args.reuse)
        results[n] = r
        print(
            f"# {n} services: top {r['top']} (truth {r['truth']}, rank {r['rank_of_truth']}), "
            f"verdict {r['verdict']}, rows {r['rows']}, load by signal (s) "
            f"{r['load_by_signal_s']}; measured {r['measured_at']}, {r['load_average']}",
            flush=True,
        )
    if results:
        base = results[min(results)]
        bn = base["services"]
        for n, r in results.items():
            tgt_t = "< 60 s at 1000 services" if n >= 1000 else "near-linear growth"
            line(f"scale_{n}_time_to_findings", r["findings_s"], "s", base["findings_s"], tgt_t)
            line(f"scale_{n}_load", r["load_s"], "s", base["load_s"], "part of the above")
            line(
                f"scale_{n}_peak_rss", r["peak_rss_mib"], "MiB", base["peak_rss_mib"], "< 2048 MiB"
            )
            per = sum(r["rows"].values()) / r["services"]
            bper = sum(base["rows"].values()) / bn
            line(f"scale_{n}_rows_per_service", per, "rows", bper, "flat (ratio ~1)")
            mper = r["rows"].get("metrics", 0) / r["services"]
            bm = base["rows"].get("metrics", 0) / bn
            line(f"scale_{n}_metric_rows_per_service", mper, "rows", bm, "flat (ratio ~1)")
            line(f"scale_{n}_top_is_root", float(r["top"] == r["truth"]), "bool", 1.0, "1")
        print(f"# {load_average()}")
    if args.ac:
        hits = 0
        for name in FAULT_SCENARIOS:
            path = scenario(name, args.ac_seed, args.ac, args.cache)
            r = measured(path, args.grain, args.cache, args.reuse)
            hits += r["top"] == r["truth"]
            print(
                f"# {name} at {args.ac} services, seed {args.ac_seed}: top {r['top']}, "
                f"truth {r['truth']} (rank {r['rank_of_truth']}), verdict {r['verdict']}",
                flush=True,
            )
        ac = hits / len(FAULT_SCENARIOS)
        print(
            f"scale_ac1_{args.ac}: {ac:.3f} ratio (baseline 1.000 ratio, ratio {ac:.2f} x, target 1.0)"
        )
        print(f"# {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
