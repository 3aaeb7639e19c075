"""Log template mining: throughput on ~1M realistic lab log lines, ours vs drain3.

Lines: the messages of lab scenarios (``workbench lab generate``; the suite directory
``$WORKBENCH_CACHE/lab-suite`` when present, else a few scenarios generated into a temp
dir), repeated across scenarios up to ``--lines``. drain3 (optional, ``pip install
drain3``) runs its default ``TemplateMiner`` line by line on the same lines (all of them
unless ``--drain3-lines`` is smaller), measured in the same run; its time on the first
``--small`` lines is read at that point of the same pass, so both sizes compare the very
same lines. Ours is the median of ``--repeat`` runs (all printed, the first included).
Grouping quality is compared on loghub-2k (grouping accuracy, same inputs, each with its
defaults; the lab lines carry no true templates).

Run: ``.venv/bin/python bench/bench_templates.py [--lines 1000000]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl

from workbench.analysis.templates import mine_templates
from workbench.evaluation.loghub import grouping_accuracy, systems
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


def drain3_ids(msgs: list[str], mark: int = 0) -> tuple[list[int], float, float]:
    """drain3 cluster ids of ``msgs``, total seconds, and seconds for the first ``mark``."""
    tm = drain3_miner()
    add = tm.add_log_message
    t0 = time.perf_counter()
    ids = [add(m)["cluster_id"] for m in msgs[:mark]]
    at_mark = time.perf_counter() - t0
    ids += [add(m)["cluster_id"] for m in msgs[mark:]]
    return ids, time.perf_counter() - t0, at_mark


def median_seconds(df: pl.DataFrame, repeat: int) -> tuple[float, list[float]]:
    """Median wall time of ``repeat`` runs of ours (and all runs, first one included)."""
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        mine_templates(df)
        runs.append(time.perf_counter() - t)
    return sorted(runs)[len(runs) // 2], runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--drain3-lines", type=int, default=None, help="default: all --lines")
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    msgs = lab_messages(a.lines)
    df = pl.DataFrame({"message": msgs})
    small = df.head(a.small)
    ours_s, runs = median_seconds(df, a.repeat)
    small_s, small_runs = median_seconds(small, a.repeat)
    mined = mine_templates(df)
    n3 = min(a.drain3_lines or df.height, df.height)
    try:
        sub = msgs.head(n3).str.split("\n").list.first().to_list()
        d3, d3_s, d3_small_s = drain3_ids(sub, mark=small.height)
        d3_rate, d3_small_rate = len(sub) / d3_s, small.height / d3_small_s
    except ImportError:
        d3, d3_rate, d3_small_rate = None, float("nan"), float("nan")
    for n, s, rs, base in (
        (small.height, small_s, small_runs, d3_small_rate),
        (df.height, ours_s, runs, d3_rate),
    ):
        rate = n / s
        print(
            f"templates_throughput_{n}: {rate:,.0f} lines/s (baseline drain3 {base:,.0f} "
            f"lines/s on the same {n} lines, ratio {rate / base:.1f} x, target 5 x)"
            f"  runs {', '.join(f'{x:.3f}' for x in rs)} s"
        )
    print(
        f"templates_found_lab: {mined['template_id'].n_unique()} templates "
        f"(baseline drain3 {len(set(d3)) if d3 else 'n/a'} on {n3} lines, ratio n/a, target n/a)"
    )
    if d3 is not None:
        ga_ours, ga_d3 = [], []
        for _name, f in systems(
            Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "loghub-2k"
        ):
            gt = pl.read_csv(f, infer_schema=False)
            ours = mine_templates(gt.select(message=pl.col("Content").fill_null("")))["template_id"]
            ga_ours.append(grouping_accuracy(gt["EventTemplate"], ours))
            ga_d3.append(
                grouping_accuracy(
                    gt["EventTemplate"],
                    pl.Series(drain3_ids(gt["Content"].fill_null("").to_list())[0]),
                )
            )
        o, d = sum(ga_ours) / len(ga_ours), sum(ga_d3) / len(ga_d3)
        print(
            f"templates_grouping_accuracy_loghub2k: {o:.3f} GA (baseline drain3 {d:.3f} GA, ratio {o / d:.2f} x, target >= 1.00 x)"
        )


if __name__ == "__main__":
    main()
