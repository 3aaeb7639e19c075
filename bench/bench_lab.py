"""Benchmarks for workbench.lab: how long scenarios take to generate and how big they are.

1. ``demo`` generation (target: well under 30 s on 2 cores, aim < 10 s) and its sizes
   (OpenMetrics file within tens of MB).
2. The vectorised OpenMetrics writer vs a naive per-sample Python loop over the same
   demo series (outputs compared byte for byte).
3. A 300-service generated topology (2 h at 120 s scrapes) and the 28-day capacity
   history (5-minute resolution).

Run: ``.venv/bin/python bench/bench_lab.py`` (about a minute on 2 idle cores).
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from workbench.lab import generate  # noqa: E402
from workbench.lab.history import generate_history  # noqa: E402
from workbench.lab.metrics import build_series, family_of  # noqa: E402
from workbench.lab.runner import build  # noqa: E402
from workbench.lab.write_metrics import write_openmetrics  # noqa: E402


def line(name: str, value: float, unit: str, baseline: float, what: str, target: str) -> None:
    print(
        f"{name}: {value:.3f} {unit} (baseline {what} {baseline:.3f} {unit}, "
        f"ratio {value / baseline:.2f} x, target {target})"
    )


def naive_openmetrics(ss, path: Path) -> None:
    """Per-sample loop writing the same text as write_openmetrics."""
    with open(path, "w") as fh:
        for name, typ, help_ in ss.families:
            rows = [i for i, m in enumerate(ss.metric) if family_of(m) == name]
            if not rows:
                continue
            fh.write(f"# HELP {name} {help_}\n# TYPE {name} {typ}\n")
            for i in rows:
                lab = ",".join(f'{k}="{v}"' for k, v in ss.labels[i].items())
                for step in range(ss.grid.n):
                    v = ss.values[i, step]
                    if math.isnan(v):
                        continue
                    ts_ms = round(ss.grid.t0 * 1000) + step * round(ss.grid.step_s * 1000)
                    ts_ms += ss.offset_ms[i]
                    val = str(int(v)) if ss.is_int[i] else str(round(float(v), 6))
                    fh.write(f"{ss.metric[i]}{{{lab}}} {val} {ts_ms // 1000}.{ts_ms % 1000:03d}\n")
        fh.write("# EOF\n")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t = time.perf_counter()
        demo = generate("demo", 1, out / "demo")
        dt = time.perf_counter() - t
        line("lab_demo_generate", dt, "s", 30.0, "budget", "< 10 s")
        c = json.loads((demo / "scenario.json").read_text())["counts"]
        om_mb = (demo / "metrics/metrics.om").stat().st_size / 2**20
        line("lab_demo_openmetrics_size", om_mb, "MiB", 100.0, "ceiling", "< 100 MiB")
        print(
            f"lab_demo_counts: {c['samples']} samples, {c['series']} series, {c['spans']} "
            f"spans, {c['traces']} traces, {c['logs']} log lines, {c['alerts']} alerts"
        )

        run = build("demo", 1)
        ss = build_series(run.topo, run.grid, run.pods, run.eff, run.flow, np.random.default_rng(0))
        t = time.perf_counter()
        write_openmetrics(ss, out / "fast.om")
        fast = time.perf_counter() - t
        t = time.perf_counter()
        naive_openmetrics(ss, out / "naive.om")
        slow = time.perf_counter() - t
        same = (out / "fast.om").read_bytes() == (out / "naive.om").read_bytes()
        line("lab_openmetrics_writer", fast, "s", slow, "per-sample loop", "faster than loop")
        print(f"lab_openmetrics_writer_identical: {same}")

        t = time.perf_counter()
        generate("cpu-hog", 1, out / "big", services=300, step_s=120)
        big = time.perf_counter() - t
        line("lab_300_services_generate", big, "s", 60.0, "budget", "< 60 s")

        t = time.perf_counter()
        hist = generate_history(1, out / "hist")
        ht = time.perf_counter() - t
        hc = json.loads((hist / "scenario.json").read_text())["counts"]
        line("lab_history_28d_generate", ht, "s", 30.0, "budget", "< 30 s")
        print(f"lab_history_counts: {hc['samples']} samples, {hc['series']} series")


if __name__ == "__main__":
    main()
