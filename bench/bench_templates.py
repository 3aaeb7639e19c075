"""Log template mining: throughput on ~1M realistic lab log lines, ours vs drain3.

Lines: the messages of lab scenarios (``workbench lab generate``; the suite directory
``$WORKBENCH_CACHE/lab-suite`` when present, else a few scenarios generated into a temp
dir), repeated across scenarios up to ``--lines``. drain3 (optional, ``pip install
drain3``) runs its default ``TemplateMiner`` line by line on the first ``--drain3-lines``
(its per-line throughput is steady, so the ratio is of lines per second). Grouping quality
is compared on loghub-2k (grouping accuracy, same inputs, each with its defaults).

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


def drain3_ids(msgs: list[str]) -> list[int]:
    tm = drain3_miner()
    return [tm.add_log_message(m)["cluster_id"] for m in msgs]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--drain3-lines", type=int, default=100_000)
    a = ap.parse_args()
    msgs = lab_messages(a.lines)
    df = pl.DataFrame({"message": msgs})
    t = time.perf_counter()
    mined = mine_templates(df)
    ours_s = time.perf_counter() - t
    ours_rate = df.height / ours_s
    try:
        sub = msgs.head(a.drain3_lines).str.split("\n").list.first().to_list()
        t = time.perf_counter()
        d3 = drain3_ids(sub)
        d3_s = time.perf_counter() - t
        d3_rate = len(sub) / d3_s
    except ImportError:
        d3_rate, d3 = float("nan"), None
    small = df.head(a.drain3_lines)
    t = time.perf_counter()
    mine_templates(small)
    same_rate = small.height / (time.perf_counter() - t)
    print(
        f"templates_throughput_same_{small.height}: {same_rate:,.0f} lines/s "
        f"(baseline drain3 {d3_rate:,.0f} lines/s, ratio {same_rate / d3_rate:.1f} x, target 5 x)"
    )
    print(
        f"templates_throughput_{df.height}: {ours_rate:,.0f} lines/s "
        f"(baseline drain3 {d3_rate:,.0f} lines/s, ratio {ours_rate / d3_rate:.1f} x, target 5 x)"
    )
    print(
        f"templates_found_lab: {mined['template_id'].n_unique()} templates "
        f"(baseline drain3 {len(set(d3)) if d3 else 'n/a'} on {a.drain3_lines} lines, ratio n/a, target n/a)"
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
                    pl.Series(drain3_ids(gt["Content"].fill_null("").to_list())),
                )
            )
        o, d = sum(ga_ours) / len(ga_ours), sum(ga_d3) / len(ga_d3)
        print(
            f"templates_grouping_accuracy_loghub2k: {o:.3f} GA (baseline drain3 {d:.3f} GA, ratio {o / d:.2f} x, target >= 1.00 x)"
        )


if __name__ == "__main__":
    main()
