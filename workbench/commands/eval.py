"""``workbench eval rca|logs``: measure the diagnosis on labelled data.

``workbench eval rca PATH`` ranks suspects for every case under PATH (a lab scenario
directory or a directory of them, the Nezha layout, the PetShop layout), prints each
case's rank of the true cause for us and for the BARO baseline, per-group figures, and
ends with one line a script can read::

    AC@1=0.xx AC@3=0.xx Avg@5=0.xx cases=N

Before it, ``verdict: clear=… weak=… none=… (fault cases, N; …)`` counts how much the top
suspect stood out (:mod:`workbench.analysis.verdict`; ``--no-verdict`` skips it), and with
``--quiet-windows`` the same for fault-free windows (PetShop ``noissue``, lab baselines).

``workbench eval rca --lab-suite [DIR] [--seeds 1,2,3]`` first generates the lab suite
(every fault kind on three topologies per seed, with fault time, root position, decoys,
change records and telemetry gaps drawn per case; reused when DIR already holds it) and
evaluates the cases of those seeds only. ``--baseline 4h`` opens every lab case (and
with ``--quiet-windows`` every fault-free window) with that baseline, exactly as the
notebook's ``baseline`` parameter does (:func:`workbench.notebook.baseline_window`);
``--history-hours 5`` generates the suite with that much healthy history before each
scenario, so a long baseline has data (into a DIR of its own).

``workbench eval logs PATH`` mines templates for every system of the loghub layout and
ends with ``GA=0.xxx PA=0.xxx systems=N``; ``--loso`` adds the leave-one-system-out GA
(the setting chosen on the other systems, measured on the one left out).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import cast

from workbench.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="measure root-cause ranking and log parsing on labelled data")
    esub = p.add_subparsers(dest="eval_command", metavar="WHAT", required=True)

    rca = esub.add_parser("rca", help="AC@1, AC@3, Avg@5 of the suspect ranking (and BARO)")
    rca.add_argument("path", nargs="?", help="lab scenario dir(s), Nezha or PetShop layout")
    rca.add_argument(
        "--lab-suite",
        nargs="?",
        const="",
        metavar="DIR",
        help="generate the lab suite into DIR (default: a cache dir) and evaluate it",
    )
    rca.add_argument(
        "--seeds",
        default=None,
        metavar="S1,S2,..",
        help="with --lab-suite: the seeds to generate and evaluate (default 1,2,3); "
        "develop on some, report others",
    )
    rca.add_argument("--quiet", action="store_true", help="only the summary lines")
    rca.add_argument(
        "--without",
        default="",
        metavar="SIGNALS",
        help="ablation: hide these signals from our ranking, e.g. events or logs,spans",
    )
    rca.add_argument(
        "--no-verdict",
        action="store_true",
        help="skip the verdict (how much the top suspect stands out; a few extra rankings)",
    )
    rca.add_argument(
        "--quiet-windows",
        action="store_true",
        help="also judge fault-free windows (PetShop noissue, lab baselines): specificity",
    )
    rca.add_argument(
        "--baseline",
        default="",
        metavar="LENGTH",
        help="lab layouts: the baseline as the notebook parameter sets it (a length before "
        "the window, e.g. 4h; default: as long as the window); with --quiet-windows, each "
        "fault-free window (as long as the case's, just before it) gets one of that length",
    )
    rca.add_argument(
        "--history-hours",
        type=float,
        default=0.0,
        metavar="HOURS",
        help="with --lab-suite: generate that much healthy history before each scenario "
        "(room for a longer --baseline; about HOURS/2 times more disk; use a DIR of its own)",
    )
    rca.add_argument(
        "--detection-delay",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="Nezha layout, and lab cases where no alert fired: the alert fires this long "
        "after the fault's start (default 60)",
    )
    rca.set_defaults(func=_rca)

    logs = esub.add_parser("logs", help="grouping and parsing accuracy on the loghub layout")
    logs.add_argument("path", help="loghub-2k folder (or one system's folder)")
    logs.add_argument(
        "--loso",
        action="store_true",
        help="also leave-one-system-out: the setting chosen on the other systems, per system",
    )
    logs.set_defaults(func=_logs)


def _fmt(summary: dict) -> str:
    return (
        f"AC@1={summary['AC@1']:.2f} AC@3={summary['AC@3']:.2f} "
        f"Avg@5={summary['Avg@5']:.2f} cases={summary['cases']}"
    )


def _rca(args: argparse.Namespace) -> int:
    from workbench.evaluation.cases import iter_cases
    from workbench.evaluation.rca import evaluate_cases, summarize

    cases = None
    if args.seeds is not None and args.lab_suite is None:
        raise ConfigError(
            "--seeds needs --lab-suite", hint="workbench eval rca --lab-suite --seeds 4,5"
        )
    if args.lab_suite is not None:
        from workbench.evaluation.suite import (
            DEFAULT_SEEDS,
            default_suite_dir,
            disk_size,
            generate_suite,
            older_suites,
            suite_cases,
            suite_spec,
        )

        seeds = DEFAULT_SEEDS if args.seeds is None else _seeds(args.seeds)
        spec = suite_spec(seeds)
        target = Path(args.lab_suite) if args.lab_suite else default_suite_dir()
        if args.history_hours and not args.lab_suite:
            raise ConfigError(
                "--history-hours writes cases unlike the cache's: give the suite a DIR of its own",
                hint="workbench eval rca --lab-suite /tmp/suite-h5 --history-hours 5 --baseline 4h",
            )
        path = generate_suite(
            target,
            spec=spec,
            progress=None if args.quiet else _progress_gen,
            history_hours=args.history_hours,
        )
        for old, size in older_suites(path):
            print(
                f"note: {old} holds the lab suite of an older generator ({disk_size(size)}); "
                "it is never read again: delete it to free the space",
                file=sys.stderr,
                flush=True,
            )
        print(_lab_alert_rule(args.detection_delay, args.baseline), flush=True)
        cases = suite_cases(
            path,
            spec,
            detection_delay=timedelta(seconds=args.detection_delay),
            baseline=args.baseline,
        )
    elif args.history_hours:
        raise ConfigError("--history-hours needs --lab-suite")
    elif args.path:
        path = Path(args.path)
    else:
        raise ConfigError(
            "give a PATH or --lab-suite", hint="workbench eval rca ../shared/data/nezha-trainticket"
        )

    problems: dict[str, int] = {}
    stand_ins: list[str] = []

    def show(row: dict) -> None:
        if row.get("alert_from", "").startswith("no alert"):
            stand_ins.append(row["case"])
            if not args.quiet:
                print(f"  alert: {row['case']}: {row['alert_from']}", flush=True)
        for note in row.get("notes") or ():
            # one line per kind of problem; repeated ones are counted at the end
            key = note.split(":")[0]
            problems[key] = problems.get(key, 0) + 1
            if problems[key] == 1 or not args.quiet:
                print(f"  partial: {row['case']}: {note}", flush=True)
        if args.quiet:
            return
        print(
            f"{row['case']:<40} truth={row['truth']:<28} rank={_r(row['rank']):>3} "
            f"baro={_r(row['rank_baro']):>3} top={row['top']} ({row['seconds']:.1f}s)"
            + (f" verdict={row['verdict']}" if row.get("verdict") else ""),
            flush=True,
        )

    without = [w.strip() for w in args.without.split(",") if w.strip()]
    bad = [w for w in without if w not in ("metrics", "logs", "spans", "events")]
    if bad:
        raise ConfigError(
            f"--without: unknown signal(s) {bad}", hint="metrics, logs, spans, events"
        )
    judge = not args.no_verdict
    if cases is None:
        from workbench.evaluation.cases import detect_layout

        layout = detect_layout(path)
        if args.baseline and layout not in ("lab", "lab-suite"):
            raise ConfigError(
                f"--baseline: the {layout} layout's cases come with their own baseline",
                hint="--baseline opens lab cases as the notebook would with that parameter",
            )
        if layout == "nezha":
            from workbench.evaluation.nezha import LOOK_AHEAD, LOOK_BACK, nezha_cases

            delay = timedelta(seconds=args.detection_delay)
            print(
                f"alert = fault injection + {args.detection_delay:g} s detection delay; window "
                f"{LOOK_BACK.total_seconds() / 60:g} min before to "
                f"{LOOK_AHEAD.total_seconds() / 60:g} min after the alert",
                flush=True,
            )
            cases = nezha_cases(path, detection_delay=delay)
        else:
            if layout == "petshop":
                print("alert = the data set's trigger time (window: the 5-min step at or after it)")
                cases = iter_cases(path)
            else:
                from workbench.evaluation.cases import lab_cases

                print(_lab_alert_rule(args.detection_delay, args.baseline), flush=True)
                cases = lab_cases(
                    path,
                    detection_delay=timedelta(seconds=args.detection_delay),
                    baseline=args.baseline,
                )
    df = evaluate_cases(cases, progress=show, without=without, verdict=judge)
    if df.height == 0:
        raise ConfigError(f"no cases found under {path}")
    quiet = None
    if args.quiet_windows:
        from workbench.evaluation.quiet import quiet_cases

        # a suite directory may hold other seeds' cases too: only the seeds asked for
        if args.baseline:
            from workbench.evaluation.suite import case_name

            dirs = (
                [Path(path) / case_name(*c) for c in spec] if args.lab_suite is not None else None
            )
            fault_free = quiet_cases(
                path,
                baseline=args.baseline,
                dirs=dirs,
                detection_delay=timedelta(seconds=args.detection_delay),
            )
        else:
            asked = suite_cases(path, spec) if args.lab_suite is not None else None
            fault_free = quiet_cases(path, asked)
        quiet = evaluate_cases(fault_free, progress=show, without=without, verdict=True)
    if not args.quiet:
        print()
        for (group,), part in sorted(df.group_by(["group"]), key=lambda g: str(g[0])):
            print(
                f"group {group}: ours {_fmt(summarize(part['rank'].to_list()))} | "
                f"BARO {_fmt(summarize(part['rank_baro'].to_list()))}"
            )
    if stand_ins:
        print(
            f"alert: {len(stand_ins)} of {df.height} case(s) had no alert at or after the "
            f"fault's start: fault start + {args.detection_delay:g} s stands in"
        )
    if problems:
        print(
            "partial data: " + "; ".join(f"{k} ({n} case(s))" for k, n in sorted(problems.items()))
        )
    if judge:
        print(_verdict_line(df, "fault cases"))
    if quiet is not None:
        print(
            _verdict_line(quiet, "fault-free windows")
            if quiet.height
            else "verdict: no fault-free windows in this layout"
        )
    print(f"BARO: {_fmt(summarize(df['rank_baro'].to_list()))}")
    print(_fmt(summarize(df["rank"].to_list())))
    return 0


def _lab_alert_rule(delay_s: float, baseline: str = "") -> str:
    from workbench.evaluation.alerting import LOOK_AHEAD

    return (
        "alert = the first Alertmanager alert at or after the fault's start (else fault start "
        f"+ {delay_s:g} s detection delay); window: the product's alert window (workbench new "
        f"--alert: 30 min before the alert) up to {LOOK_AHEAD.total_seconds() / 60:g} min "
        "after it; baseline: "
        + (
            f"{baseline} just before (the notebook's baseline parameter)"
            if baseline
            else "the same length just before"
        )
    )


def _verdict_line(df, what: str) -> str:
    from workbench.evaluation.rca import verdict_counts

    c = verdict_counts(df)
    n = df.height
    line = f"verdict: clear={c['clear']} weak={c['weak']} none={c['none']} ({what}, {n}"
    if what == "fault cases":
        prec = f"{c['clear_right'] / c['clear']:.2f}" if c["clear"] else "n/a"
        return (
            line + f"; clear with the true cause on top: {c['clear_right']}; "
            f"clear precision={prec})"
        )
    return line + f"; none={c['none'] / n:.2f} not clear={(n - c['clear']) / n:.2f})"


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(
            f"--seeds: not a list of integers: {text!r}", hint="--seeds 4,5,6"
        ) from None
    if not seeds:
        raise ConfigError("--seeds: no seed given", hint="--seeds 4,5,6")
    return seeds


def _r(rank: int | None) -> str:
    return "-" if rank is None else str(rank)


def _progress_gen(name: str) -> None:
    print(f"generated {name}", file=sys.stderr, flush=True)


def _logs(args: argparse.Namespace) -> int:
    from workbench.evaluation.loghub import evaluate_loghub

    table = evaluate_loghub(args.path)
    for r in table.iter_rows(named=True):
        print(
            f"{r['system']:<12} lines={r['lines']:>6} templates={r['true_templates']:>4} "
            f"found={r['found_templates']:>4} GA={r['GA']:.3f} PA={r['PA']:.3f}"
        )
    if args.loso:
        from workbench.evaluation.loghub import leave_one_out

        lo = leave_one_out(args.path)
        for r in lo.iter_rows(named=True):
            print(
                f"held out {r['system']:<12} setting chosen on the others: depth={r['depth']} "
                f"similarity={r['similarity']} GA={r['GA']:.3f} (best setting for it alone "
                f"{r['GA_best']:.3f})"
            )
        ga, best = cast(float, lo["GA"].mean()), cast(float, lo["GA_best"].mean())
        print(f"LOSO GA={ga:.3f} (tuned per system {best:.3f})")
    ga, pa = cast(float, table["GA"].mean()), cast(float, table["PA"].mean())
    print(f"GA={ga:.3f} PA={pa:.3f} systems={table.height}")
    return 0
