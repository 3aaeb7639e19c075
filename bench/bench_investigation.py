"""Time to the first answer on the demo incident (issue 12).

1. ``otlp_spans_per_s``: the demo's OTLP JSON traces file into the spans frame, end to
   end (bytes on disk to frame), against the careful per-span path it replaces; beside
   it, ``otlp_decode_floor_spans_per_s``: the floor, JSON decoding alone of the same
   bytes with the fastest decoder installed: msgspec's typed decode of every field the
   frame keeps (attributes into structs), pyarrow's strict columnar reader, and the generic
   decoders (orjson, msgspec, json) to dicts, line by line; otlp_fast's own first pass
   (span attributes left raw, decoded once per distinct array) is printed beside it. No reader can beat the fastest of them, since each must
   decode before it maps. Target 250,000 spans/s.
2. ``notebook_findings_s``: what the incident notebook computes before its findings cell,
   in process: open the demo incident, load it, ``Investigation``, then RED summary,
   graph, graph diff, timeline, top errors, surges, origins, blame, suspects (with the
   verdict the suspects cell shows) and findings; against the same cells as they were
   (each analysis function called on its own, the verdict's placebo rankings sharing
   nothing). Target 5 s on a quiet 2-core machine. ``--execute`` also times
   ``workbench demo --execute`` (kernel start-up and chart rendering included).
3. ``verdict_over_ranking``: the verdict's cost over the ranking's, in an investigation
   (placebo rankings share the window-free work) against plain ``assess(rank_suspects())``.
   Target 0.5.

Each figure is the best of ``--repeat`` runs. The machine is shared: the load average is
printed with the figures; compare ratios, not absolute seconds, under load.

``--otlp-rss [FILE ...]`` prints ``otlp_peak_rss_mib`` instead: peak RSS of reading each OTLP
traces file (the demo's by default), fast against careful path, each in a fresh process.

Run: ``.venv/bin/python bench/bench_investigation.py [--repeat 3] [--execute | --only-execute]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SPANS_PER_S = 250_000
TARGET_NOTEBOOK_S = 5.0
TARGET_VERDICT_RATIO = 0.5


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    out, t_best = None, math.inf
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t0)
    return t_best, out


def best_cpu(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall seconds, best CPU seconds of this process (all its threads) and the
    result: on a shared machine the CPU figure moves less with the load."""
    out, t_best, c_best = None, math.inf, math.inf
    for _ in range(repeat):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t0)
        c_best = min(c_best, time.process_time() - c0)
    return t_best, c_best, out


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def otlp(repeat: int) -> None:
    import pytest

    from workbench.lab.demo import demo_path
    from workbench.sources.files import otlp as reader
    from workbench.sources.files import otlp_fast

    path = demo_path() / "traces" / "traces.otlp.jsonl"
    t_new, c_new, frame = best_cpu(lambda: reader.read_file(path).frame, repeat)
    n = frame.height
    with pytest.MonkeyPatch.context() as m:
        m.setattr(otlp_fast, "fast_spans_file", lambda path, **_kw: None)
        t_old, c_old, old = best_cpu(lambda: reader.read_file(path).frame, repeat)
    assert old.height == n
    new, base = n / t_new, n / t_old
    print(
        f"otlp_spans_per_s: {new:,.0f} spans/s (baseline careful path {base:,.0f} spans/s, "
        f"ratio {new / base:.1f}x, target {TARGET_SPANS_PER_S:,}) [{n:,} spans; per CPU "
        f"second {n / c_new:,.0f} vs {n / c_old:,.0f}; {load()}]"
    )
    # the floor: decoding the same bytes and nothing else, with every decoder installed;
    # the typed and columnar decoders stop at the span level, the generic ones build dicts
    data = path.read_bytes()
    lines = [x for x in data.splitlines() if x]
    timed = {
        "msgspec typed decode to structs (every field the frame keeps)": best_cpu(
            lambda: _msgspec_full(lines), repeat
        ),
        "pyarrow strict columnar decode (both cores)": best_cpu(
            lambda: _pyarrow_decode(data), repeat
        ),
    }
    for name, f in _decoders():
        timed[f"{name} generic decode to dicts"] = best_cpu(
            lambda f=f: [f(x) for x in lines], repeat
        )
    # otlp_fast's own first pass leaves each span's attribute array raw (decoded once per
    # distinct array later): less than a full decode, so not the floor; shown beside it
    t_raw, c_raw, _ = best_cpu(lambda: otlp_fast._decode(data), repeat)
    decoder = min(timed, key=lambda k: timed[k][0])
    floor = n / timed[decoder][0]
    others = "; ".join(
        f"{k} {n / v[0]:,.0f}"
        for k, v in sorted(timed.items(), key=lambda kv: kv[1][0])
        if k != decoder
    )
    cpu = "; ".join(
        f"{k.split(' decode')[0]} {n / v[1]:,.0f}"
        for k, v in sorted(timed.items(), key=lambda kv: kv[1][1])
    )
    print(
        f"otlp_decode_floor_spans_per_s: {floor:,.0f} spans/s (baseline fast path end to end "
        f"{new:,.0f} spans/s, ratio {new / floor:.2f}x of the floor, target "
        f"{TARGET_SPANS_PER_S:,}) [floor: {decoder}, nothing mapped; slower: {others}; per "
        f"CPU second: fast path {n / c_new:,.0f}, decode only {cpu}; otlp_fast's first pass "
        f"(attributes left raw) {n / t_raw:,.0f} spans/s, {n / c_raw:,.0f} per CPU second; "
        f"{load()}]"
    )


def _msgspec_full(lines: list[bytes]) -> int:
    """msgspec's typed decode of every field the spans frame keeps, each span's attribute
    array included (into otlp_fast's key/value structs): the number of spans."""
    import msgspec

    from workbench.sources.files import otlp_fast as f

    def struct(name: str, fields: list[tuple[str, Any, Any]]) -> Any:
        return msgspec.defstruct(name, fields, gc=False, rename="camel")

    opt = None
    span = struct(
        "Span",
        [("trace_id", str | None, opt), ("span_id", str | None, opt),
         ("parent_span_id", str | None, opt), ("name", str, ""), ("kind", int | None, opt),
         ("start_time_unix_nano", str | int | None, opt),
         ("end_time_unix_nano", str | int | None, opt),
         ("attributes", list[f._KeyValue] | None, opt), ("status", f._Status | None, opt),
         ("events", list[f._Event] | None, opt)],
    )  # fmt: skip
    scope_spans = struct(
        "ScopeSpans", [("scope", f._Scope | None, opt), ("spans", list[span] | None, opt)]
    )
    resource_spans = struct(
        "ResourceSpans",
        [("resource", f._Resource | None, opt), ("scope_spans", list[scope_spans] | None, opt)],
    )
    request = struct("Request", [("resource_spans", list[resource_spans] | None, opt)])
    dec = msgspec.json.Decoder(request)
    n = 0
    for line in lines:
        for rs in dec.decode(line).resource_spans or ():
            for ss in rs.scope_spans or ():
                n += len(ss.spans or ())
    return n


_RSS_CHILD = """
import resource, sys, time
from pathlib import Path
from workbench.sources.files import otlp, otlp_fast
if sys.argv[2] == "careful":
    otlp_fast.fast_spans_file = lambda path: None
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
c0 = time.process_time()
n = otlp.read_file(Path(sys.argv[1])).frame.height
print(n, time.process_time() - c0, base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def otlp_rss(paths: list[Path]) -> None:
    """Peak RSS of ``read_file`` on each OTLP file, fast and careful path, each in a fresh
    process (issue 18: the 1,000-service lab's 173 MB traces file)."""
    for path in paths:
        out = {}
        for how in ("fast", "careful"):
            res = subprocess.run(
                [sys.executable, "-c", _RSS_CHILD, str(path), how],
                capture_output=True, text=True, check=True, cwd=ROOT,
            )  # fmt: skip
            n, cpu, base, peak = res.stdout.split()
            out[how] = (int(n), float(cpu), int(base) / 1024, int(peak) / 1024)
        n, cpu, base, peak = out["fast"]
        _, c_cpu, _, c_peak = out["careful"]
        print(
            f"otlp_peak_rss_mib: {peak:,.0f} MiB (baseline careful path {c_peak:,.0f} MiB, "
            f"ratio {peak / c_peak:.2f}x, target < 2,048 for the whole process, issue 18) "
            f"[{path.stat().st_size / 1e6:,.0f} MB, {n:,} spans; after imports {base:,.0f} MiB; "
            f"CPU-s {cpu:.2f} vs {c_cpu:.2f}; {load()}]"
        )


def _pyarrow_decode(data: bytes) -> Any:
    """pyarrow's JSON reader against a strict OTLP schema (what otlp_fast ran before it
    moved to msgspec; multi-threaded): decode alone, into an Arrow table."""
    import io

    import pyarrow as pa
    import pyarrow.json as pj

    kvs = pa.list_(
        pa.struct(
            [
                ("key", pa.string()),
                (
                    "value",
                    pa.struct(
                        [
                            ("stringValue", pa.string()),
                            ("intValue", pa.string()),
                            ("doubleValue", pa.float64()),
                            ("boolValue", pa.bool_()),
                            ("bytesValue", pa.string()),
                            ("arrayValue", pa.struct([("values", pa.list_(pa.struct([])))])),
                            ("kvlistValue", pa.struct([("values", pa.list_(pa.struct([])))])),
                        ]
                    ),
                ),
            ]
        )
    )
    dropped = ("droppedAttributesCount", pa.int64())
    event = pa.struct(
        [("timeUnixNano", pa.string()), ("name", pa.string()), ("attributes", kvs), dropped]
    )
    link = pa.struct(
        [("traceId", pa.string()), ("spanId", pa.string()), ("traceState", pa.string()),
         ("attributes", kvs), dropped, ("flags", pa.int64())]
    )  # fmt: skip
    span = pa.struct(
        [("traceId", pa.string()), ("spanId", pa.string()), ("traceState", pa.string()),
         ("parentSpanId", pa.string()), ("flags", pa.int64()), ("name", pa.string()),
         ("kind", pa.int64()), ("startTimeUnixNano", pa.string()),
         ("endTimeUnixNano", pa.string()), ("attributes", kvs), dropped,
         ("events", pa.list_(event)), ("droppedEventsCount", pa.int64()),
         ("links", pa.list_(link)), ("droppedLinksCount", pa.int64()),
         ("status", pa.struct([("code", pa.int64()), ("message", pa.string())]))]
    )  # fmt: skip
    scope = pa.struct(
        [("name", pa.string()), ("version", pa.string()), ("attributes", kvs), dropped]
    )
    scope_spans = pa.struct(
        [("scope", scope), ("spans", pa.list_(span)), ("schemaUrl", pa.string())]
    )
    resource = pa.struct(
        [("resource", pa.struct([("attributes", kvs), dropped])),
         ("scopeSpans", pa.list_(scope_spans)), ("schemaUrl", pa.string())]
    )  # fmt: skip
    return pj.read_json(
        io.BytesIO(data),
        read_options=pj.ReadOptions(block_size=1 << 22),
        parse_options=pj.ParseOptions(
            explicit_schema=pa.schema([("resourceSpans", pa.list_(resource))]),
            unexpected_field_behavior="error",
        ),
    )


def _decoders() -> list[tuple[str, Callable[[bytes], Any]]]:
    """Every generic JSON decoder installed (to dicts), the standard library's last."""
    out: list[tuple[str, Callable[[bytes], Any]]] = []
    try:
        import orjson

        out.append(("orjson", orjson.loads))
    except ImportError:
        pass
    try:
        import msgspec

        out.append(("msgspec", msgspec.json.Decoder().decode))
    except ImportError:
        pass
    out.append(("json", json.loads))
    return out


def _old_cells(inc: Any) -> Any:
    """The incident notebook's cells before the investigation: every function on its own."""
    from workbench.analysis.graph import graph_diff, service_graph
    from workbench.analysis.logs import top_error_messages
    from workbench.analysis.red import red, red_summary
    from workbench.analysis.suspects import errors_from_logs, rank_suspects
    from workbench.analysis.templates import template_surges
    from workbench.analysis.timeline import build_timeline
    from workbench.analysis.traces import error_origins, latency_blame
    from workbench.report import findings

    r = red(inc.metrics, inc.spans)
    summary = red_summary(r, window=inc.window, baseline=inc.baseline)
    graph = service_graph(inc.spans, window=inc.window)
    graph_diff(service_graph(inc.spans, window=inc.baseline), graph)
    tl = build_timeline(inc.events, r, window=inc.window, baseline=inc.baseline)
    top_error_messages(inc.logs, window=inc.window, baseline=inc.baseline)
    surges = template_surges(inc.logs, inc.window, inc.baseline)
    spans = errors_from_logs(inc.spans, inc.logs)
    origins = error_origins(spans, window=inc.window)
    latency_blame(spans, window=inc.window, baseline=inc.baseline)
    sus = rank_suspects(inc)
    sus.verdict  # noqa: B018 - the suspects cell shows it
    return findings(inc, suspects=sus, red_summary=summary, timeline=tl, surges=surges,
                    origins=origins)  # fmt: skip


def _new_cells(inc: Any) -> Any:
    from workbench import Investigation

    inv = Investigation(inc)
    for name in ("red_summary", "graph", "graph_diff", "timeline", "top_errors", "surges",
                 "origins", "blame", "suspects", "verdict"):  # fmt: skip
        getattr(inv, name)
    return inv.findings.value


def notebook(repeat: int) -> None:
    from workbench import Incident

    def run(cells: Callable[[Any], Any]) -> Any:
        inc = Incident.demo()
        inc.load()
        return cells(inc)

    t_new, f_new = best(lambda: run(_new_cells), repeat)
    t_old, f_old = best(lambda: run(_old_cells), repeat)
    assert f_new.top_suspect == f_old.top_suspect
    print(
        f"notebook_findings_s: {t_new:.2f} s (baseline cells before the investigation "
        f"{t_old:.2f} s, ratio {t_new / t_old:.2f}x, target {TARGET_NOTEBOOK_S:g}) [{load()}]"
    )


def _run_demo(workbench: str, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (the command and its kernel) and the cells' seconds of
    one ``workbench demo --execute``."""
    import resource

    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(
            [workbench, "demo", "--execute", tmp],
            check=True,
            capture_output=True,
            env={**os.environ, **env},
        )
        took = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        book = json.loads((Path(tmp) / "incident.ipynb").read_text(encoding="utf-8"))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu, book["metadata"].get("papermill", {}).get("duration") or 0.0


def execute_demo(baseline: str | None = None, repeat: int = 1) -> None:
    """``workbench demo --execute`` end to end (kernel start-up, cells, static HTML): once
    as a new user's first run (``first_run``: an empty chart cache, ``WORKBENCH_CACHE_DIR``
    a new folder each time: no SVG, no JupyterChart bundle but the one ``make venv``
    put in the installation), once with every chart drawn (``cold_svg``:
    ``WORKBENCH_SVG_CACHE=0``, the other caches kept) and once with the SVG cache warm.
    ``baseline``: another checkout's ``workbench`` command (e.g. main's venv), run
    alternately with this one, for a same-load ratio; else the issue's 15 s."""
    ours = str(Path(sys.executable).with_name("workbench"))
    modes: list[tuple[str, Callable[[str], dict[str, str]]]] = [
        ("first_run", lambda tmp: {"WORKBENCH_CACHE_DIR": tmp}),
        ("cold_svg", lambda tmp: {"WORKBENCH_SVG_CACHE": "0"}),
        ("warm_svg", lambda tmp: {}),
    ]
    for name, env in modes:
        runs: dict[str, list[tuple[float, float, float]]] = {"ours": [], "base": []}
        for _ in range(repeat):
            for who, cmd in (("base", baseline), ("ours", ours)):
                if cmd is None:
                    continue
                with tempfile.TemporaryDirectory() as cache:
                    runs[who].append(_run_demo(cmd, env(cache)))
        took, cpu, cells = min(runs["ours"])
        if baseline:
            b_took, b_cpu, _ = min(runs["base"])
            base = f"baseline {baseline} {b_took:.2f} s (cpu {b_cpu:.1f} s) same run"
            ratio = took / b_took
        else:
            base, ratio = "baseline 15 s on a quiet machine per issue 12", took / 15
        print(
            f"notebook_execute_{name}_s: {took:.2f} s ({base}, ratio {ratio:.2f}x, target "
            f"{TARGET_NOTEBOOK_S:g}) [cpu {cpu:.1f} s; cells {cells:.1f} s; {load()}]",
            flush=True,
        )


def verdict(repeat: int) -> None:
    from workbench import Incident, Investigation
    from workbench.analysis.suspects import rank_suspects
    from workbench.analysis.verdict import assess

    inc = Incident.demo()
    inc.load()
    rank_suspects(inc)  # warm-up: imports, compiled regexes

    def plain() -> tuple[float, float]:
        t0 = time.perf_counter()
        sus = rank_suspects(inc)
        t1 = time.perf_counter()
        assess(sus)
        return t1 - t0, time.perf_counter() - t1

    cpu = {"ranking": math.inf, "verdict": math.inf}

    def shared() -> tuple[float, float]:
        inv = Investigation(inc)
        c0, t0 = time.process_time(), time.perf_counter()
        inv.suspects  # noqa: B018
        c1, t1 = time.process_time(), time.perf_counter()
        inv.verdict  # noqa: B018
        cpu["ranking"] = min(cpu["ranking"], c1 - c0)
        cpu["verdict"] = min(cpu["verdict"], time.process_time() - c1)
        return t1 - t0, time.perf_counter() - t1

    ratios = {"plain": math.inf, "shared": math.inf}
    for _ in range(repeat):
        for name, fn in (("plain", plain), ("shared", shared)):
            rank_s, verdict_s = fn()
            ratios[name] = min(ratios[name], verdict_s / rank_s)
    # on a loaded machine the ranking's wall time (partly multi-threaded) swells more than
    # the verdict's (mostly single-threaded): the CPU seconds, best of each, say more there
    print(
        f"verdict_over_ranking: {ratios['shared']:.2f} x (baseline plain assess "
        f"{ratios['plain']:.2f} x, ratio {ratios['shared'] / ratios['plain']:.2f}x, target "
        f"<= {TARGET_VERDICT_RATIO}) [cpu: ranking {cpu['ranking']:.3f} s, verdict "
        f"{cpu['verdict']:.3f} s, {cpu['verdict'] / cpu['ranking']:.2f} x; {load()}]"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--execute", action="store_true", help="also time `workbench demo --execute`")
    ap.add_argument(
        "--only-execute", action="store_true", help="only time `workbench demo --execute`"
    )
    ap.add_argument("--only-otlp", action="store_true", help="only the OTLP lines")
    ap.add_argument(
        "--otlp-rss",
        metavar="FILE",
        nargs="*",
        help="peak RSS of reading OTLP traces files (default: the demo's), fast vs careful "
        "path, each in a fresh process; e.g. the 1,000-service lab's traces.otlp.jsonl",
    )
    ap.add_argument(
        "--baseline-workbench",
        metavar="PATH",
        help="another checkout's `workbench` command to time `demo --execute` against "
        "(e.g. /work/main/.venv/bin/workbench), alternately, at the same load",
    )
    args = ap.parse_args()
    if args.only_execute:
        execute_demo(args.baseline_workbench, repeat=max(1, args.repeat // 2))
        return
    if args.otlp_rss is not None:
        from workbench.lab.demo import demo_path

        otlp_rss([Path(p) for p in args.otlp_rss] or [demo_path() / "traces/traces.otlp.jsonl"])
        return
    otlp(args.repeat)
    if args.only_otlp:
        return
    verdict(args.repeat)
    notebook(args.repeat)
    if args.execute:
        execute_demo(args.baseline_workbench)


if __name__ == "__main__":
    main()
