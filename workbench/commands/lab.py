"""``workbench lab``: list and generate simulated incident scenarios.

Example::

    $ workbench lab scenarios
    $ workbench lab generate --scenario demo --seed 1 --out /tmp/demo
"""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lab", help="simulated microservice system: list or generate scenarios")
    lsub = p.add_subparsers(dest="lab_command", metavar="ACTION")
    s = lsub.add_parser("scenarios", help="list the scenarios")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(func=_scenarios)
    g = lsub.add_parser("generate", help="write one scenario's telemetry into a directory")
    g.add_argument("--scenario", default="demo", help="scenario name (default: demo)")
    g.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    g.add_argument("--out", required=True, help="output directory")
    g.add_argument("--start", default=None, help="window start, RFC 3339 (default: scenario's)")
    g.add_argument(
        "--services",
        type=int,
        default=None,
        help="use a generated topology of N services (2..1000) instead of the shop",
    )
    g.add_argument(
        "--step", type=float, default=30.0, help="scrape interval in seconds (default 30)"
    )
    g.add_argument(
        "--naming",
        default="lab",
        metavar="NAMING",
        help="metric names in metrics.om: lab, otel, otel-legacy, spanmetrics, "
        "spanmetrics-legacy, istio or beyla, optionally +kubernetes for cAdvisor / "
        "kube-state-metrics CPU and memory (default: lab)",
    )
    g.add_argument(
        "--history-hours",
        type=float,
        default=0.0,
        metavar="HOURS",
        help="healthy operation before the scenario's start, for a longer baseline "
        "(default 0; the scenario's windows stay as they are)",
    )
    g.set_defaults(func=_generate)
    h = lsub.add_parser("history", help="write weeks of per-service usage for capacity analysis")
    h.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    h.add_argument("--out", required=True, help="output directory")
    h.add_argument("--days", type=float, default=28.0, help="length of the history (default 28)")
    h.add_argument("--step", type=float, default=300.0, help="resolution in seconds (default 300)")
    h.add_argument(
        "--end",
        default="2026-11-20T00:00:00Z",
        help="end of the history, RFC 3339 (default 2026-11-20T00:00:00Z)",
    )
    h.add_argument(
        "--services",
        type=int,
        default=None,
        help="use a generated topology of N services instead of the shop",
    )
    h.set_defaults(func=_history)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _scenarios(args: argparse.Namespace) -> int:
    from workbench.lab import scenario_info

    info = scenario_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    # a header names the columns (the fault kind and the service it hits read alike
    # without it); widths fit the longest value
    head = {"name": "scenario", "fault": "fault", "root": "root cause", "title": "title"}
    rows = [head, *info]
    width = {k: max(len(str(r[k])) for r in rows) for k in ("name", "fault", "root")}
    for r in rows:
        cells = [f"{r[k]!s:<{width[k]}}" for k in ("name", "fault", "root")]
        print("  ".join([*cells, str(r["title"])]))
    return 0


def _generate(args: argparse.Namespace) -> int:
    from workbench.errors import ConfigError
    from workbench.lab import generate
    from workbench.lab.naming import check_naming
    from workbench.lab.scenarios import get_scenario
    from workbench.timewindow import parse_time

    get_scenario(args.scenario)
    check_naming(args.naming)
    start = None
    if args.start:
        start = parse_time(args.start).strftime("%Y-%m-%dT%H:%M:%SZ")
    if args.services is not None and not 2 <= args.services <= 1000:
        raise ConfigError(f"--services must be between 2 and 1000, not {args.services}")
    if args.step <= 0:
        raise ConfigError("--step must be positive")
    if args.history_hours < 0:
        raise ConfigError("--history-hours must be 0 or more")
    path = generate(
        args.scenario,
        args.seed,
        args.out,
        start=start,
        services=args.services,
        step_s=args.step,
        naming=args.naming,
        history_hours=args.history_hours,
    )
    meta = json.loads((path / "scenario.json").read_text())
    c = meta["counts"]
    print(
        f"wrote {args.scenario} (seed {args.seed}) to {path}: {c['series']} series, "
        f"{c['samples']} samples, {c['spans']} spans, {c['logs']} log lines, "
        f"{c['alerts']} alerts"
    )
    return 0


def _history(args: argparse.Namespace) -> int:
    from workbench.errors import ConfigError
    from workbench.lab.history import generate_history
    from workbench.timewindow import parse_time

    if args.days <= 0 or args.step <= 0:
        raise ConfigError("--days and --step must be positive")
    if args.services is not None and not 2 <= args.services <= 1000:
        raise ConfigError(f"--services must be between 2 and 1000, not {args.services}")
    end = parse_time(args.end).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = generate_history(
        args.seed, args.out, days=args.days, step_s=args.step, end=end, services=args.services
    )
    meta = json.loads((path / "scenario.json").read_text())
    truth = json.loads((path / "truth.json").read_text())
    first = truth["first_to_saturate"] or {}
    print(
        f"wrote {args.days:g} days of history to {path}: {meta['counts']['series']} series, "
        f"{meta['counts']['samples']} samples; first to saturate: "
        f"{first.get('service')} {first.get('resource')} on {first.get('saturation_date')}"
    )
    return 0
