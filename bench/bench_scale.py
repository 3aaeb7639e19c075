"""Scale: one incident over 100, 300 and 1,000 services (two hours, incident in the second).

For each size, a lab ``cpu-hog`` scenario (generated topology, seed 11, metrics written one
Parquet file per family, no OpenMetrics) is opened in a fresh process and investigated to
its findings (suspects, verdict, findings text):

* ``files``: ``Incident.from_directory(path)`` with the default ``metric_grain="auto"``:
  above a million raw samples in the window the files source answers with RED and
  saturation per service (the Prometheus source's signals, computed from the Parquet
  files in bounded pieces), raw series on drill-down;
* ``prom`` (``--prom``): the same samples served by a real Prometheus (the lab's
  OpenMetrics of the same scenario, ``promtool tsdb create-blocks-from``, built once and
  cached as ``<scenario>-prom``), opened as the notebook opens it: a ``workbench.toml``
  naming the Prometheus URL (scrape interval 30 s, read timeout 300 s) and the files of
  the spans, logs and events, through ``open_incident``. The same signals (``sum by
  (service)``, ``histogram_quantile``) at the source's default step (30 s over the two
  hours; the timing sizes keep a 60 s step). Building the blocks is not timed.

Measured per size and path:

* ``time_to_findings``: from opening the incident to ``inv.findings`` (load included);
* ``peak_rss``: the process's peak resident memory;
* ``rows_per_service``: rows fetched from the source (all signals) per service, and the
  metric rows alone;
* ``spans_held_per_service`` / ``logs_held_per_service``: the spans' and logs' frames
  held after the load, per service (above ``AUTO_ALL_BYTES`` of spans and logs files the
  files source holds only the attributes the investigation reads,
  :mod:`workbench.sources.files.detail`);
* whether the top suspect is the injected root cause.

Each line: ``name: value unit (baseline value, ratio x, target t)``; the baseline is the
100-service figure. Targets: 1,000 services findings < 60 s, peak RSS < 2 GiB, rows per
service flat (ratio near 1). ``--grain series|service|signals`` forces a grain on the
files path; ``--ac SIZE`` reports AC@1 over the 8 fault kinds at an unseen seed (23) at
SIZE services, with ``--prom`` from Prometheus too (``scale_ac1_<n>_prom``, the files
figure its baseline). Each result's suspects table and signal outputs are saved beside it
(``*.suspects.parquet``, ``*.signals.parquet``) to compare the two paths.

Run::

    .venv/bin/python bench/bench_scale.py                    # 100, 300, 1000
    .venv/bin/python bench/bench_scale.py --sizes 100 300    # smaller
    .venv/bin/python bench/bench_scale.py --sizes 100 300 --prom   # also from Prometheus
    .venv/bin/python bench/bench_scale.py --ac 100 --sizes   # AC@1 only
    .venv/bin/python bench/bench_scale.py --ac 100 --prom --sizes   # AC@1 from both
    .venv/bin/python bench/bench_scale.py --reuse            # print saved results again

The scenarios (and each size's result, with its time and load average) are cached under
``--cache`` (default: the system temp directory).
Quote ``uptime``'s load average with the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.evaluation.suite import FAULT_SCENARIOS, case_variation
from workbench.lab.revision import GENERATOR_REVISION
from workbench.lab.variation import POSITIONS

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
from workbench import Incident, Investigation, Window
from workbench.investigation.missing import missing_sentence
path, grain, config, out = sys.argv[1:5]
meta = json.load(open(path + "/scenario.json"))
if config == "-":
    inc = Incident.from_directory(path, metric_grain=grain, max_rows=None)
else:  # what the notebook does with a workbench.toml naming a Prometheus URL
    from workbench.notebook import open_incident
    iw, bw = meta["incident_window"], meta["baseline_window"]
    inc = open_incident(meta["incident_id"], window=f"{iw['start']}..{iw['end']}",
                        sources_config=config)
    assert inc.baseline == Window(bw["start"], bw["end"]), (inc.baseline, bw)
inv = Investigation(inc)
inc.load()
t_load = time.perf_counter() - t0
sus = inv.suspects.value
verdict = inv.verdict.value
findings = inv.findings.value
t_all = time.perf_counter() - t0
truth = json.load(open(path + "/truth.json"))["root_cause_service"]
n = len(meta["services"])
st = inc.status()
rows, secs = {}, {}
for r in st.iter_rows(named=True):
    rows[r["signal"]] = rows.get(r["signal"], 0) + (r["rows"] or 0)
    secs[r["signal"]] = r["elapsed_s"]
if out != "-":  # the ranking and every signal's output, to compare two paths
    sus.table.write_parquet(out + ".suspects.parquet")
    sus.signals.write_parquet(out + ".signals.parquet")
held = {sig: inc.frame(sig).estimated_size() / 2**10 for sig in ("metrics", "logs", "spans", "events")}
attrs = {sig: inc.frame(sig)["attributes"].estimated_size() / 2**10 for sig in ("logs", "spans")}
cols = {sig: inc.frame(sig).width for sig in ("metrics", "logs", "spans", "events")}
print(json.dumps({
    "held_kib": held, "attributes_kib": attrs, "columns": cols,
    "attributes_held": inv.attributes_held() if hasattr(inv, "attributes_held") else None,
    "services": n, "load_s": t_load, "findings_s": t_all,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rows": rows, "load_by_signal_s": secs, "top": sus.ranking[0], "truth": truth, "rank_of_truth": sus.rank_of(truth),
    "verdict": verdict.level, "missing": inv.missing.frame.height, "grain": inv.metric_grain(),
    "missing_what": missing_sentence(inv.missing.frame), "verdict_detail": verdict.as_dict(),
}))
"""


def scenario(name: str, seed: int, services: int, cache: Path, position: str | None = None) -> Path:
    """The scenario's directory under ``cache`` (generated once per lab generator
    revision: a scenario of an older generator is not reused). With ``position``
    (entry, middle, leaf), the lab suite's drawn variation: the root at that place in the
    graph, a drawn fault time, decoys, telemetry gaps, no change record naming the root."""
    tag = f"-{position}" if position else ""
    out = cache / f"scale-{name}-{services}-r{GENERATOR_REVISION}-seed{seed}{tag}"
    variation = (
        case_variation(name, services, seed, position=position, announced=False)
        if position
        else None
    )
    meta = out / "scenario.json"
    if meta.exists() and variation is not None:
        held = json.loads(meta.read_text()).get("variation")
        if held != json.loads(json.dumps(variation.describe())):
            # drawn by an older generator (a root no request reaches): generated again
            shutil.rmtree(out)
    if not meta.exists():
        from workbench.lab import generate

        generate(name, seed, out, services=services, openmetrics=False, variation=variation)
    return out


def investigate(path: Path, grain: str, config: str = "-", out: str = "-") -> dict:
    """Open and investigate ``path`` in a fresh process (its own peak RSS); with
    ``config`` (a ``workbench.toml``), the incident the notebook opens from it
    (:func:`workbench.notebook.open_incident`) instead of the directory. With ``out``, the
    suspects table and every signal's output are saved as ``out.suspects.parquet`` and
    ``out.signals.parquet``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    got = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), grain, config, out],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if got.returncode != 0:
        raise RuntimeError(f"investigating {path} failed:\n{got.stderr[-2000:]}")
    return json.loads(got.stdout.strip().splitlines()[-1])


def measured(
    path: Path,
    grain: str,
    cache: Path,
    reuse: bool,
    prom: bool = False,
    prom_options: dict[str, int] | None = None,
) -> dict:
    """``investigate`` once; with ``reuse``, the result saved by an earlier run (its
    time and load average are printed with it). ``prom``: metrics from a real
    Prometheus over the same samples (:func:`served`), opened as the notebook opens a
    ``workbench.toml`` naming its URL; ``prom_options`` are more keys of that source's
    table (``target_points``)."""
    tag = "prom" if prom else grain
    saved = cache / f"scale-result-{path.name}-{tag}.json"
    if reuse and saved.exists():
        return json.loads(saved.read_text())
    out = str(saved.with_suffix(""))
    if prom:
        with served(path, cache) as (url, files):
            config = sources_config(blocks_dir(path, cache), url, files, prom_options or {})
            r = investigate(path, grain, str(config), out)
    else:
        r = investigate(path, grain, "-", out)
    r["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    r["load_average"] = load_average()
    saved.write_text(json.dumps(r))
    return r


def sources_config(work: Path, url: str, files: Path, options: dict[str, int]) -> Path:
    """A ``workbench.toml`` naming the Prometheus at ``url`` and the files of the other
    signals, as a user writes one: the servers' scrape interval (the lab scrapes every
    30 s; a Grafana datasource says it as ``timeInterval``) and a 300 s read timeout (the
    latency quantiles of 1,000 services take a loaded 2-core machine more than the
    default 30 s)."""
    extra = "".join(f"{k} = {v}\n" for k, v in options.items())
    cfg = work / "workbench.toml"
    cfg.write_text(
        f'[sources.prom]\nurl = "prometheus+{url}"\nscrape_interval = "30s"\n'
        f"timeout = 300\n{extra}\n"
        f'[sources.files]\ntype = "files"\npath = "{files}"\n'
    )
    return cfg


def blocks_dir(path: Path, cache: Path) -> Path:
    """Where :func:`prom_blocks` keeps the scenario's blocks and files."""
    return cache / f"{path.name}-prom"


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def prom_blocks(path: Path, cache: Path) -> tuple[Path, Path]:
    """The scenario's metrics as Prometheus TSDB blocks and a directory of its other
    signals (hard links), built once under ``cache`` as ``<scenario>-prom``: the lab's
    series of the same scenario and seed written as OpenMetrics, then ``promtool tsdb
    create-blocks-from openmetrics``; the OpenMetrics file (gigabytes at 1,000 services)
    is deleted as soon as the blocks exist."""
    meta = json.loads((path / "scenario.json").read_text())
    if meta.get("variation"):
        raise SystemExit(f"{path.name}: blocks of a varied scenario are not built (lab_series)")
    work = blocks_dir(path, cache)
    blocks, files = work / "tsdb", work / "files"
    work.mkdir(parents=True, exist_ok=True)
    with open(work / ".lock", "w") as lock:  # one builder at a time (two bench runs)
        fcntl.flock(lock, fcntl.LOCK_EX)
        _build_blocks(meta, work, blocks, files, path)
    return blocks, files


def _build_blocks(meta: dict, work: Path, blocks: Path, files: Path, path: Path) -> None:
    from workbench.lab.prom_demo import _binary
    from workbench.lab.runner import lab_series
    from workbench.lab.write_metrics import write_openmetrics

    if not (work / "blocks.done").exists():
        om = work / "metrics.om"
        ss, _ = lab_series(meta["name"], meta["seed"], services=len(meta["services"]))
        write_openmetrics(ss, om)
        del ss
        shutil.rmtree(blocks, ignore_errors=True)
        try:
            subprocess.run(
                [_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics",
                 "--max-block-duration=24h", "-q", str(om), str(blocks)],
                check=True, capture_output=True, timeout=3600,
            )  # fmt: skip
        finally:
            om.unlink(missing_ok=True)
        (work / "blocks.done").write_text("ok")
    if not (work / "files.done").exists():
        shutil.rmtree(files, ignore_errors=True)
        for sub in ("logs", "traces", "events"):  # hard links (the source skips symlinks)
            shutil.copytree(path / sub, files / sub, copy_function=_link)
        (work / "files.done").write_text("ok")


@contextmanager
def served(path: Path, cache: Path) -> Iterator[tuple[str, Path]]:
    """A Prometheus over the scenario's blocks (:func:`prom_blocks`) and the directory of
    its other signals, for the ``prom`` path."""
    from workbench.lab.prom_demo import _binary, _free_port, _wait_ready

    blocks, files = prom_blocks(path, cache)
    work = blocks.parent
    cfg = work / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 30s\nscrape_configs: []\n")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "prometheus.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [_binary("prometheus"), f"--config.file={cfg}", f"--storage.tsdb.path={blocks}",
             "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}",
             "--log.level=warn", "--query.max-samples=200000000"],
            stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_ready(url, proc, log, 300)
        yield url, files
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def line(name: str, value: float, unit: str, base: float, target: str) -> None:
    ratio = value / base if base else float("nan")
    print(
        f"{name}: {value:.3f} {unit} (baseline {base:.3f} {unit}, ratio {ratio:.2f} x, target {target})"
    )


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def report(tag: str, results: dict[int, dict]) -> None:
    """The figure lines of one path (``files`` or ``prom``), baseline its smallest size."""
    if not results:
        return
    base = results[min(results)]
    bn = base["services"]
    pre = "scale" if tag == "files" else f"scale_{tag}"
    for n, r in results.items():
        tgt_t = "< 60 s at 1000 services" if n >= 1000 else "near-linear growth"
        line(f"{pre}_{n}_time_to_findings", r["findings_s"], "s", base["findings_s"], tgt_t)
        line(f"{pre}_{n}_load", r["load_s"], "s", base["load_s"], "part of the above")
        line(f"{pre}_{n}_peak_rss", r["peak_rss_mib"], "MiB", base["peak_rss_mib"], "< 2048 MiB")
        per = sum(r["rows"].values()) / r["services"]
        bper = sum(base["rows"].values()) / bn
        line(f"{pre}_{n}_rows_per_service", per, "rows", bper, "flat (ratio ~1)")
        mper = r["rows"].get("metrics", 0) / r["services"]
        bm = base["rows"].get("metrics", 0) / bn
        line(f"{pre}_{n}_metric_rows_per_service", mper, "rows", bm, "flat (ratio ~1)")
        if "held_kib" in r and "held_kib" in base:  # frames held after the load, per service
            for sig in ("spans", "logs"):
                h, bh = r["held_kib"][sig] / r["services"], base["held_kib"][sig] / bn
                line(f"{pre}_{n}_{sig}_held_per_service", h, "KiB", bh, "flat (ratio ~1)")
        line(f"{pre}_{n}_top_is_root", float(r["top"] == r["truth"]), "bool", 1.0, "1")
    print(f"# {load_average()}")


def accuracy(args: argparse.Namespace) -> None:
    """AC@1 over the 8 fault kinds at ``args.ac`` services, from files and, with
    ``--prom``, from Prometheus (the files figure its baseline): one line per kind and
    path, then ``scale_ac1_<n>`` and ``scale_ac1_<n>_prom``."""
    paths = [("files", False)] + ([("prom", True)] if args.prom else [])
    hits = dict.fromkeys((tag for tag, _ in paths), 0)
    for i, name in enumerate(FAULT_SCENARIOS):
        position = POSITIONS[i % 3] if args.varied else None
        path = scenario(name, args.ac_seed, args.ac, args.cache, position)
        for tag, prom in paths:
            r = measured(path, args.grain, args.cache, args.reuse, prom)
            hits[tag] += r["top"] == r["truth"]
            missing = f", missing: {r['missing_what']}" if r.get("missing_what") else ""
            print(
                f"# {tag}: {name} at {args.ac} services, seed {args.ac_seed}"
                f"{f', root at {position}' if position else ''}: top {r['top']}, "
                f"truth {r['truth']} (rank {r['rank_of_truth']}), verdict {r['verdict']}; "
                f"{r['findings_s']:.1f} s, {r['peak_rss_mib']:.0f} MiB, metric rows "
                f"{r['rows'].get('metrics', 0)}{missing}; measured {r['measured_at']}, "
                f"{r['load_average']}",
                flush=True,
            )
    kind = "_varied" if args.varied else ""
    files = hits["files"] / len(FAULT_SCENARIOS)
    for tag, _ in paths:
        ac = hits[tag] / len(FAULT_SCENARIOS)
        base = 1.0 if tag == "files" else files
        suffix = "" if tag == "files" else f"_{tag}"
        ratio = ac / base if base else float("nan")
        print(
            f"scale_ac1_{args.ac}{kind}{suffix}: {ac:.3f} ratio (baseline {base:.3f} ratio, "
            f"ratio {ratio:.2f} x, target 1.0)"
        )
    print(f"# {load_average()}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[100, 300, 1000])
    ap.add_argument("--grain", choices=("auto", "signals", "service", "series"), default="auto")
    ap.add_argument("--prom", action="store_true", help="also from a real Prometheus")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--ac", type=int, default=None, help="AC@1 over the 8 fault kinds at SIZE")
    ap.add_argument("--ac-seed", type=int, default=23)
    ap.add_argument(
        "--varied",
        action="store_true",
        help="with --ac: the lab suite's drawn variation (roots at entry/middle/leaf in turn)",
    )
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--reuse", action="store_true", help="reuse results saved by an earlier run")
    args = ap.parse_args(argv)

    paths = [("files", False)] + ([("prom", True)] if args.prom else [])
    for tag, prom in paths:
        results: dict[int, dict] = {}
        for n in args.sizes:
            path = scenario("cpu-hog", args.seed, n, args.cache)
            # the timing sizes keep their 60 s step (2 h / 120 points) from Prometheus
            r = measured(path, args.grain, args.cache, args.reuse, prom, {"target_points": 120})
            results[n] = r
            print(
                f"# {tag}, {n} services: top {r['top']} (truth {r['truth']}, rank "
                f"{r['rank_of_truth']}), verdict {r['verdict']}, metrics grain "
                f"{r.get('grain', '?')}, rows {r['rows']}, load by signal (s) "
                f"{r['load_by_signal_s']}, attributes held {r.get('attributes_held')}, "
                f"columns {r.get('columns')}, attributes KiB {r.get('attributes_kib')}; "
                f"measured {r['measured_at']}, {r['load_average']}",
                flush=True,
            )
        report(tag, results)
    if args.ac:
        accuracy(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
