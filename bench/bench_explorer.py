"""How fast IncidentExplorer opens and answers clicks, as the system grows.

Measured in the kernel (what a click costs before the browser redraws): first, from
opening the directory with nothing loaded (``cold_first_view``, ``cold_with_suspects``:
issue 12's "first chart under 3 s, suspects under 5 s"); then the time the
sources take to load the frames (``load_frames``, not the explorer's), then, on the
loaded incident, the time until the first view shows (RED, log templates, graph, chart
JavaScript) and until the suspects are ranked, and for each interaction — focusing a service as a graph click does, brushing a
window, switching to each tab, searching logs, opening a suspect's failing trace — the
time to update the view on show. Baseline: the same on the 12-service demo.
The same steps timed in JupyterLab + Chromium (what the user sees, file loading
included): bench/bench_explorer_browser.py.

Run::

    .venv/bin/python bench/bench_explorer.py               # 300 services (about 1 GB
    .venv/bin/python bench/bench_explorer.py --services 100 #  of lab data, cached)

Prints ``name: value unit (baseline value, ratio x, target t)``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from widgets import IncidentExplorer
from workbench import Incident, Window
from workbench.lab import generate
from workbench.lab.demo import demo_path
from workbench.lab.revision import GENERATOR_REVISION

TARGET_OPEN_S = 10.0
TARGET_CLICK_S = 2.0
# issue 12, counted from opening the directory (nothing loaded yet): first chart, suspects
TARGET_COLD_FIRST_S = 3.0
TARGET_COLD_SUSPECTS_S = 5.0
CLICKS = (
    "click_service",
    "brush_window",
    "tab_overview",
    "tab_timeline",
    "tab_logs",
    "tab_traces",
    "tab_suspects",
    "search_logs",
    "open_failing_trace",
    "all_services",
)


def _scenario(services: int, cache: Path) -> Path:
    out = cache / f"lab-demo-{services}-r{GENERATOR_REVISION}-seed1"
    if not (out / "scenario.json").exists():
        generate("demo", 1, out, services=services, openmetrics=False)
    return out


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _open(ex: IncidentExplorer, t0: float) -> tuple[float, float]:
    """Seconds from ``t0`` until the explorer's first view shows, then until suspects."""
    while not ex.ready and ex.load_status == "running":
        time.sleep(0.02)
    first = time.perf_counter() - t0
    assert ex.wait() == "done", ex.task.error
    return first, time.perf_counter() - t0


def measure_cold(path: Path) -> dict[str, float]:
    """Seconds from opening the directory (nothing loaded) to the first view and to the
    ranked suspects: what a user waits for (the explorer loads, then analyses)."""
    t0 = time.perf_counter()
    ex = IncidentExplorer(Incident.from_directory(path))
    first, total = _open(ex, t0)
    return {"cold_first_view": first, "cold_with_suspects": total}


def measure(path: Path) -> dict[str, float]:
    """Seconds per step on the lab scenario in ``path``."""
    inc = Incident.from_directory(path)
    out = {"load_frames": _timed(inc.load)}  # the sources' share, before the explorer
    t0 = time.perf_counter()
    ex = IncidentExplorer(inc)
    first, total = _open(ex, t0)
    top = ex.suspects.ranking[0]
    out |= {"open_first_view": first, "open_with_suspects": total}
    ex.show_tab("graph")
    out["click_service"] = _timed(lambda: ex.focus_service(top))
    w = inc.window
    out["brush_window"] = _timed(
        lambda: ex.set_window(Window(w.start + timedelta(minutes=10), w.end))
    )
    for tab in ("overview", "timeline", "logs", "traces", "suspects"):
        out[f"tab_{tab}"] = _timed(lambda t=tab: ex.show_tab(t))
    ex.show_tab("logs")
    out["search_logs"] = _timed(lambda: setattr(ex.views["logs"].search, "value", "error"))
    ex.show_tab("suspects")
    out["open_failing_trace"] = _timed(lambda: ex.views["suspects"].open_evidence(top, "trace"))
    out["all_services"] = _timed(lambda: ex.set_services([]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=300)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "workbench-bench")
    args = ap.parse_args()
    from widgets._charts import interactive_available

    # once per kernel, whatever the size (and overlapped with loading in the explorer)
    print(f"explorer_chart_js_bundle: {_timed(interactive_available):.3f} s (once per kernel)")
    path = _scenario(args.services, args.cache)
    base = measure_cold(demo_path()) | measure(demo_path())
    big = measure_cold(path) | measure(path)
    targets = {
        "cold_first_view": TARGET_COLD_FIRST_S,
        "cold_with_suspects": TARGET_COLD_SUSPECTS_S,
    }
    for name, value in big.items():
        target = targets.get(name, TARGET_CLICK_S if name in CLICKS else TARGET_OPEN_S)
        b = base[name]
        print(
            f"explorer_{name}_{args.services}svc: {value:.3f} s "
            f"(baseline {b:.3f}, ratio {value / b if b else float('nan'):.1f}x, "
            f"target {target:g})"
        )


if __name__ == "__main__":
    main()
