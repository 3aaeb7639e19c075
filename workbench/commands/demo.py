"""``workbench demo``: the embedded demo incident.

``workbench demo --prepare`` generates the demo data (deterministic, no server);
``workbench demo --execute OUT_DIR`` runs the incident notebook headless over it and
writes ``OUT_DIR/incident.ipynb`` and ``OUT_DIR/incident.html`` (charts as SVG, no
script loaded from the network).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.commands import help_text

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="prepare the demo incident, or run the incident notebook over it headless",
        description=help_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--prepare", action="store_true", help="generate the demo incident data")
    p.add_argument(
        "--execute",
        metavar="OUT_DIR",
        type=Path,
        help="run the incident notebook headless; write OUT_DIR/incident.ipynb and .html",
    )
    p.add_argument(
        "--timeout", type=float, default=600, help="seconds allowed per cell (default 600)"
    )
    p.add_argument(
        "--naming",
        default=None,
        choices=(
            "lab",
            "otel",
            "otel-legacy",
            "spanmetrics",
            "spanmetrics-legacy",
            "istio",
            "beyla",
        ),
        help="with --execute: serve the demo's metrics from a real Prometheus under this "
        "metric naming (needs prometheus and promtool); default: the embedded demo files",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not (args.prepare or args.execute):
        print("nothing to do: give --prepare and/or --execute OUT_DIR")
        return 2
    from workbench.lab.demo import demo_path

    t0 = time.perf_counter()
    path = demo_path()
    if args.prepare:
        print(f"demo incident ready at {path} ({time.perf_counter() - t0:.1f}s)")
    if args.execute:
        import threading

        from workbench import notebook, offline_html

        # each chart's SVG is drawn as soon as its cell has run, in processes of their own
        drawer = offline_html.SvgDrawer(processes=drawing_processes())
        cells_done = 0

        def warm_up() -> None:
            # once the kernel is launched (beside its launch it would delay it): the
            # first drawing process starts and warms up its engine (niceness 5: it
            # yields to the kernel's start)
            drawer.start(1)

        def cell_done(cell: Any, widget_state: Any) -> None:
            nonlocal cells_done
            cells_done += 1
            if cells_done == 1:
                # the parameters cell has run, the kernel starts on its longest cell
                # (load and rank), which leaves part of a core: the static export's
                # templates and highlighter load then rather than beside the kernel's
                # start, where they took CPU from it (median 3.79 s instead of 3.94 s,
                # 8 alternations under SCHED_FIFO, load 6.7-7.7)
                threading.Thread(target=_quietly(offline_html.warm_up), daemon=True).start()
                if len(drawer.pids) > 1:
                    # the second drawing process (for the charts that come while the
                    # first draws the RED panels) warms up then too
                    drawer.start()
            drawer.submit_outputs(cell, widget_state)

        out_dir: Path = args.execute
        out_dir.mkdir(parents=True, exist_ok=True)
        t1 = time.perf_counter()
        executed = out_dir / "incident.ipynb"
        written: list[Path | None] = []

        def finish(nb: dict[str, Any]) -> None:
            # the executed notebook goes straight to its static copy (and the HTML); if
            # that fails, execute() writes it as executed and raises
            written.append(None)
            written[-1] = offline_html.write_static(executed, nb=nb, svgs=drawer)

        run_kw: dict[str, Any] = {
            "cwd": out_dir,
            "timeout_s": args.timeout,
            "on_cell_done": cell_done,
            "on_executed": finish,
            "on_started": warm_up,
            "static": True,  # write_static: the explorer is a note, charts are SVG
        }
        try:
            if args.naming:
                from workbench.lab.prom_demo import served_demo

                with served_demo(args.naming, out_dir / f"prometheus-{args.naming}") as demo:
                    print(f"serving the demo's metrics ({args.naming} naming) at {demo.url}")
                    notebook.execute(
                        notebook.template_path(),
                        executed,
                        parameters=demo.parameters,
                        **run_kw,
                    )
            else:
                notebook.execute(notebook.template_path(), executed, **run_kw)
        finally:  # a failed run still gets its static copy and HTML, to read the traceback
            try:
                if not written and executed.exists():
                    written.append(offline_html.write_static(executed, svgs=drawer))
            finally:
                drawer.close()
        html = written[-1]
        assert html is not None  # finish() ran to its end, else execute() raised
        print(f"wrote {executed} and {html} ({time.perf_counter() - t1:.1f}s)")
    return 0


def drawing_processes() -> int:
    """How many processes draw the charts' SVGs: ``$WORKBENCH_SVG_PROCESSES`` if set (1
    or 2), else one.

    A second process draws the charts that come while the first draws the RED panels
    (0.6 s; graph, timeline and top errors 0.4 s more) and costs a second vl-convert
    engine (0.7-1.2 CPU-s more in all). Measured on a quiet two-core machine
    (``bench/bench_investigation.py --only-execute --repeat 4``, 00:34 UTC 2026-12-07,
    load 1.4-2.3) it was not faster: cold 5.02 s against 4.96 s with one, first run
    5.13 s against 5.06 s, warm 4.28 s both; so one is the default and two an opt-in
    for machines with cores to spare. The outputs are the same bytes either way.

    >>> drawing_processes()
    1
    """
    import os

    chosen = os.environ.get("WORKBENCH_SVG_PROCESSES", "")
    return int(chosen) if chosen in ("1", "2") else 1


def _quietly(fn: Callable[[], object]) -> Callable[[], None]:
    """``fn`` for a background thread: a failure is logged, never raised (the real call
    that follows raises it where it matters)."""

    def run() -> None:
        try:
            fn()
        except Exception as exc:  # a warm-up only
            log.debug("warm-up %s failed: %s", getattr(fn, "__name__", fn), exc)

    return run
