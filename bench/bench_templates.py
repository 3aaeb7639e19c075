"""Log template mining: throughput on ~1M realistic lab log lines, ours vs drain3.

Lines: the messages of lab scenarios (``workbench lab generate``; the suite directory
``$WORKBENCH_CACHE/lab-suite-v<revision>`` when present, else a few scenarios generated into a temp
dir), repeated across scenarios up to ``--lines``. drain3 (optional, ``pip install
drain3``) runs its default ``TemplateMiner`` line by line on the same lines (all of them
unless ``--drain3-lines`` is smaller), measured in the same run; its time on the first
``--small`` lines is read at that point of the same pass, so both sizes compare the very
same lines. Ours is the median of ``--repeat`` runs (``--small-repeat`` for the short
``--small`` runs, where one scheduler hiccup on a shared machine would otherwise decide
the median); all are printed, the first included.
Wall-clock and CPU time are both reported: the machine may be shared, and CPU time (all
polars threads counted) is the steadier measure of work done.
Grouping quality is compared on loghub-2k (grouping and parsing accuracy, same inputs,
each with its defaults; the lab lines carry no true templates).

Run: ``.venv/bin/python bench/bench_templates.py [--lines 1000000]``; ``--loghub-only``
prints just the loghub-2k accuracy (per system and means, ours vs drain3).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl

from workbench.analysis.templates import mine_templates
from workbench.evaluation.loghub import grouping_accuracy, parsing_accuracy, systems
from workbench.evaluation.suite import default_suite_dir


def lab_messages(n: int) -> pl.Series:
    dirs = sorted(p.parent.parent for p in default_suite_dir().glob("*/logs/logs.jsonl"))
    if not dirs:
        from workbench.lab import generate

        tmp = Path(tempfile.mkdtemp())
        dirs = [generate(s, 1, tmp / s) for s in ("demo", "db-outage", "cpu-hog")]
    parts, total = [], 0
    while total < n:
        for d in dirs:
            msgs = pl.read_ndjson(d / "logs" / "logs.jsonl", infer_schema_length=1000)["message"]
            parts.append(msgs)
            total += msgs.len()
            if total >= n:
                break
    return pl.concat(parts).head(n)


def drain3_miner():
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    cfg = TemplateMinerConfig()
    cfg.profiling_enabled = False
    return TemplateMiner(config=cfg)


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(t0: tuple[float, float]) -> tuple[float, float]:
    w, c = _clock()
    return w - t0[0], c - t0[1]


def drain3_ids(
    msgs: list[str], mark: int = 0
) -> tuple[list[int], tuple[float, float], tuple[float, float]]:
    """drain3 cluster ids of ``msgs``, (wall, CPU) seconds in all and for the first ``mark``."""
    tm = drain3_miner()
    add = tm.add_log_message
    t0 = _clock()
    ids = [add(m)["cluster_id"] for m in msgs[:mark]]
    at_mark = _since(t0)
    ids += [add(m)["cluster_id"] for m in msgs[mark:]]
    return ids, _since(t0), at_mark


def drain3_templates(msgs: list[str]) -> tuple[list[int], list[str]]:
    """drain3 cluster id of every line and its cluster's final template."""
    tm = drain3_miner()
    ids = [tm.add_log_message(m)["cluster_id"] for m in msgs]
    final = {c.cluster_id: c.get_template() for c in tm.drain.clusters}
    return ids, [final[i] for i in ids]


def median_seconds(df: pl.DataFrame, repeat: int) -> tuple[float, float, list[float]]:
    """Median wall and CPU seconds of ``repeat`` runs of ours, and all wall times (the
    first run included). CPU time counts every polars thread."""
    runs = []
    for _ in range(repeat):
        t0 = _clock()
        mine_templates(df)
        runs.append(_since(t0))
    mid = len(runs) // 2
    walls, cpus = sorted(r[0] for r in runs), sorted(r[1] for r in runs)
    return walls[mid], cpus[mid], [r[0] for r in runs]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--drain3-lines", type=int, default=None, help="default: all --lines")
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--small-repeat", type=int, default=15, help="runs are short: more of them")
    ap.add_argument("--loghub-only", action="store_true", help="only the loghub-2k accuracy")
    a = ap.parse_args()
    if a.loghub_only:
        loghub_accuracy()
        return
    msgs = lab_messages(a.lines)
    df = pl.DataFrame({"message": msgs})
    small = df.head(a.small)
    ours_w, ours_c, runs = median_seconds(df, a.repeat)
    small_w, small_c, small_runs = median_seconds(small, a.small_repeat)
    mined = mine_templates(df)
    n3 = min(a.drain3_lines or df.height, df.height)
    nan = (float("nan"), float("nan"))
    try:
        sub = msgs.head(n3).str.split("\n").list.first().to_list()
        d3, d3_t, d3_small_t = drain3_ids(sub, mark=small.height)
    except ImportError:
        d3, d3_t, d3_small_t = None, nan, nan
    n3_small = min(small.height, n3)
    for n, ours, rs, n_d3, d3_time in (
        (small.height, (small_w, small_c), small_runs, n3_small, d3_small_t),
        (df.height, (ours_w, ours_c), runs, n3, d3_t),
    ):
        wall, cpu = n / ours[0], n / ours[1]
        base_wall, base_cpu = n_d3 / d3_time[0], n_d3 / d3_time[1]
        same = "the same" if n_d3 == n else f"the first {n_d3} of the"
        print(
            f"templates_throughput_{n}: {wall:,.0f} lines/s (baseline drain3 {base_wall:,.0f} "
            f"lines/s on {same} {n} lines, ratio {wall / base_wall:.1f} x, target 5 x)"
            f"  wall runs {', '.join(f'{x:.3f}' for x in rs)} s"
        )
        print(
            f"templates_cpu_throughput_{n}: {cpu:,.0f} lines/cpu-s (baseline drain3 "
            f"{base_cpu:,.0f} lines/cpu-s on {same} {n} lines, ratio {cpu / base_cpu:.1f} x, "
            "target 5 x)"
        )
    print(
        f"templates_found_lab: {mined['template_id'].n_unique()} templates "
        f"(baseline drain3 {len(set(d3)) if d3 else 'n/a'} on {n3} lines, ratio n/a, target n/a)"
    )
    if d3 is not None:
        loghub_accuracy()


def loghub_accuracy() -> None:
    """GA per loghub-2k system and GA/PA means, ours (one global setting) vs drain3."""
    ga_o, ga_d, pa_o, pa_d = [], [], [], []
    for name, f in systems(
        Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "loghub-2k"
    ):
        gt = pl.read_csv(f, infer_schema=False)
        truth = gt["EventTemplate"]
        ours = mine_templates(gt.select(message=pl.col("Content").fill_null("")))
        ids, templates = drain3_templates(gt["Content"].fill_null("").to_list())
        ga_o.append(grouping_accuracy(truth, ours["template_id"]))
        ga_d.append(grouping_accuracy(truth, pl.Series(ids)))
        pa_o.append(parsing_accuracy(truth, ours["template"]))
        pa_d.append(parsing_accuracy(truth, pl.Series(templates, dtype=pl.String)))
        print(
            f"templates_grouping_accuracy_{name}: {ga_o[-1]:.3f} GA (baseline drain3 "
            f"{ga_d[-1]:.3f} GA, ratio {ga_o[-1] / max(ga_d[-1], 1e-9):.2f} x, target >= 1.00 x)"
        )
    for name, o_, d_ in (("grouping", ga_o, ga_d), ("parsing", pa_o, pa_d)):
        o, d = sum(o_) / len(o_), sum(d_) / len(d_)
        tag = name[0].upper() + "A"
        print(
            f"templates_{name}_accuracy_loghub2k: {o:.3f} {tag} (baseline drain3 {d:.3f} "
            f"{tag}, ratio {o / d:.2f} x, target >= 1.00 x)"
        )


if __name__ == "__main__":
    main()
