"""Acceptance: a postmortem from an evidence bundle alone, rendered to HTML and Markdown.

One module fixture does what a user would: loads the demo incident from a
``workbench.toml`` naming the lab telemetry (a copy) and an Alertmanager whose bearer token
is a canary from the environment (the server answers 500 and echoes the token back), notes
the rollback in the annotation log, saves a bundle, then removes the telemetry copy and
stops the server. ``workbench render postmortem --execute`` then runs in a subprocess
with proxies pointing at a dead port and a network guard (tests/netguard) that refuses
and records any non-loopback connection or lookup, in the CLI and in the kernel; a second
``workbench render`` makes the Markdown from the executed notebook.

Checks: the notebook ran without errors, charts are inline SVG in the HTML (no network
reference) and image files next to the Markdown; the drafted timeline has the deploy,
the onset at the ground-truth service, the first alert and the rollback, in order; the
root cause section names truth.json's service; the impact numbers equal ones computed
here straight from the bundle's Parquet files; no file holds the canary.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.plugins.recorded_http import RecordedServer, Reply
from tests.servers import free_port
from workbench import ConfigError, Incident, Window, offline_html
from workbench.bundle import verify_bundle
from workbench.commands.render import parameters
from workbench.config import load_config
from workbench.display import format_percent
from workbench.notebook import template_path
from workbench.postmortem import Postmortem, draft

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CANARY_ENV = "WB_PM_ALERTS_TOKEN"


@pytest.fixture(scope="module")
def run(lab_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("postmortem")
    canary = f"canary-pm-{secrets.token_hex(8)}"
    telemetry = tmp / "telemetry"
    shutil.copytree(lab_demo_dir, telemetry)
    server = RecordedServer()
    server.route(
        r"/.*",
        handler=lambda req: Reply(
            body=f"no: {req.headers.get('Authorization')}".encode(),
            status=500,
            content_type="text/plain",
        ),
    )
    (tmp / "workbench.toml").write_text(
        f'[sources.lab]\ntype = "files"\npath = "{telemetry}"\n\n'
        f'[sources.alerts]\ntype = "alertmanager"\nurl = "{server.url}"\n'
        f'bearer = {{ env = "{CANARY_ENV}" }}\n'
    )
    scenario = json.loads((lab_demo_dir / "scenario.json").read_text())
    truth = json.loads((lab_demo_dir / "truth.json").read_text())
    iw, bw = scenario["incident_window"], scenario["baseline_window"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CANARY_ENV, canary)
        sources = load_config(tmp / "workbench.toml", env=False)
        inc = Incident(
            scenario["incident_id"],
            Window(iw["start"], iw["end"]),
            baseline=Window(bw["start"], bw["end"]),
            sources=list(sources.values()),
            title=scenario["title"],
        )
        inc.note(
            "rolled back checkout to v2.13.4 in Argo CD",
            at="2026-11-20T11:42:00Z",
            kind="action",
            author="alice",
        )
        bundle = inc.save_bundle(tmp / "INC.bundle")
    for s in inc.sources:
        s.close()
    server.close()
    used = [r.headers.get("Authorization") for r in server.requests]
    shutil.rmtree(telemetry)  # the bundle is all that is left

    out = tmp / "out"
    out.mkdir()
    net_log = tmp / "net.log"
    dead = f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "tests" / "netguard"),
        "WB_NETGUARD_LOG": str(net_log),
        **{k: dead for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")},
        **{k.lower(): dead for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")},
        "NO_PROXY": "",
        "no_proxy": "",
    }
    env.pop(CANARY_ENV, None)
    cli = [sys.executable, "-m", "workbench.cli", "render"]
    html_run = subprocess.run(
        [*cli, "postmortem", "--execute", "-p", "bundle", str(bundle), "-p", "authors",
         "alice,bob", "-p", "slo_target", "0.999", "-p", "slo_window_days", "30",
         "--to", "html", "--out", str(out / "postmortem.html")],
        capture_output=True, text=True, env=env, cwd=tmp, timeout=900,
    )  # fmt: skip
    md_run = subprocess.run(
        [*cli, str(out / "postmortem.ipynb"), "--to", "md", "--out", str(out / "md" / "pm.md")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=300,
    )
    yield {
        "tmp": tmp,
        "bundle": bundle,
        "out": out,
        "canary": canary,
        "auth_sent": used,
        "truth": truth,
        "runs": (html_run, md_run),
        "net_log": net_log.read_text() if net_log.exists() else "",
    }


def test_runs_from_the_bundle_alone_with_the_network_blocked(run: dict[str, Any]) -> None:
    for proc in run["runs"]:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert verify_bundle(run["bundle"]) == []
    log = run["net_log"]
    armed = [line for line in log.splitlines() if line.startswith("armed")]
    # the guard was live in both CLI runs and in the kernel papermill started (headless
    # runs start ipykernel through workbench.headless_kernel, without its debugger)
    kernel = ("ipykernel", "workbench.headless_kernel")
    assert len(armed) >= 3 and any(k in line for line in armed for k in kernel), log
    assert "BLOCKED" not in log, log
    nb = json.loads((run["out"] / "postmortem.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code)
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert nb["metadata"]["papermill"]["parameters"]["bundle"] == str(run["bundle"])
    assert nb["metadata"]["papermill"]["parameters"]["authors"] == ["alice", "bob"]


def test_html_has_svg_charts_no_code_and_no_network_reference(run: dict[str, Any]) -> None:
    html = (run["out"] / "postmortem.html").read_text()
    assert offline_html.network_references(html) == []
    assert re.findall(r"<script\b[^>]*\bsrc\s*=", html, re.I) == []
    assert len(re.findall(r"<svg[^>]*class=\"marks\"", html)) >= 3
    assert "open_postmortem" not in html and "rank_suspects" not in html  # code hidden
    for heading in ("Summary", "Impact", "Detection", "Response", "Timeline",
                    "Root cause and contributing factors", "What went well",
                    "What went badly", "Where we got lucky", "Action items"):  # fmt: skip
        assert heading in html
    assert html.count("TODO") >= 8  # the author's placeholders stay visible
    assert "<table" in html  # the drafted tables render as tables


def test_markdown_images_exist_next_to_it(run: dict[str, Any]) -> None:
    md_file = run["out"] / "md" / "pm.md"
    md = md_file.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) >= 3
    for link in links:
        assert link.startswith("pm_files/") and link.endswith(".svg")
        img = md_file.parent / link
        assert img.exists() and img.read_text().lstrip().startswith("<svg")
    assert "open_postmortem" not in md and "```python" not in md
    assert "**TODO**" in md and "## Where we got lucky" in md


@pytest.fixture(scope="module")
def pm(run: dict[str, Any]) -> Postmortem:
    """The same draft through the API, in this process, from the bundle."""
    return draft(Incident.from_bundle(run["bundle"]), slo_target=0.999, slo_window_days=30)


def _rows(md: str) -> list[str]:
    section = md.split("## Timeline", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ")]


def test_timeline_has_deploy_onset_alert_rollback_in_order(
    run: dict[str, Any], pm: Postmortem
) -> None:
    root = run["truth"]["root_cause_service"]
    md = (run["out"] / "md" / "pm.md").read_text()
    rows = _rows(md)

    def first(pattern: str) -> int:
        hits = [i for i, r in enumerate(rows) if re.search(pattern, r)]
        assert hits, f"no timeline row matches {pattern!r}:\n" + "\n".join(rows)
        return hits[0]

    deploy = first(rf"\| deploy \| `{root}` \| .*{re.escape(run['truth']['details']['version'])}")
    onset = first(rf"\| errors rise \| `{root}` \|")
    alert = first(r"\| alert fired \| `[^`]+` \| HighErrorRate")
    rollback = first(rf"\| rollback \| `{root}` \|")
    note = first(r"\| note \| .*rolled back checkout")
    assert deploy < onset < alert < rollback and note >= 0
    # every row cites its evidence
    assert rows[0].startswith("| time (UTC) |") and len(rows) >= 6
    assert all(re.search(r"(events/|metrics/|spans/|logs/|annotations \\?#)", r) for r in rows[1:])
    # the same from the API, with times against truth.json
    tl = pm.timeline
    t_onset = tl.filter((pl.col("kind") == "error_spike") & (pl.col("service") == root))["ts"][0]
    truth_start = datetime.fromisoformat(run["truth"]["start"].replace("Z", "+00:00"))
    assert abs((t_onset - truth_start).total_seconds()) <= 120


def test_root_cause_names_the_ground_truth_service(run: dict[str, Any]) -> None:
    root = run["truth"]["root_cause_service"]
    for text in (
        (run["out"] / "md" / "pm.md").read_text(),
        (run["out"] / "postmortem.html").read_text(),
    ):
        section = text.split("Root cause and contributing factors", 1)[1]
        assert re.search(rf"the ranked suspects name (`|<code>){root}(`|</code>) first", section)


def _increase(m: pl.DataFrame, start: datetime, end: datetime) -> tuple[float, float, float]:
    """Requests, failed (5xx) and seconds covered over the samples in [start, end): per
    series, its last value before ``end`` minus its last value before ``start`` (or its
    first value, for a series that starts later); the test checks there is no reset."""
    keyed = m.filter(pl.col("ts") < end).with_columns(
        pl.col("labels").list.eval(pl.element().struct.field("key") + "=" +
                                   pl.element().struct.field("value")).list.sort()
        .list.join(",").alias("series"),
        pl.col("labels").list.eval(pl.element().filter(pl.element().struct.field("key") == "code")
                                   .struct.field("value")).list.first().alias("code"),
    ).sort("ts")  # fmt: skip
    per = keyed.group_by("series").agg(
        pl.col("value").filter(pl.col("ts") < start).last().alias("v0"),
        pl.col("value").filter(pl.col("ts") >= start).first().alias("v_first"),
        pl.col("value").last().alias("v1"),
        pl.col("value").filter(pl.col("ts") >= start).diff().min().alias("min_step"),
        pl.col("code").first(),
    )
    assert (per["min_step"].fill_null(0) >= 0).all(), "a counter reset: compute differently"
    per = per.with_columns((pl.col("v1") - pl.coalesce("v0", "v_first")).fill_null(0).alias("inc"))
    failed = per.filter(pl.col("code").str.starts_with("5"))["inc"].sum()
    inside = keyed.filter(pl.col("ts") >= start)["ts"]
    before = keyed.filter(pl.col("ts") < start)["ts"]
    first = before.max() if before.len() else inside.min()
    secs = (inside.max() - first).total_seconds()  # type: ignore[operator]
    return float(per["inc"].sum()), float(failed), secs


def test_impact_numbers_match_an_independent_count(run: dict[str, Any], pm: Postmortem) -> None:
    bundle: Path = run["bundle"]
    spans = pl.read_parquet(bundle / "frames" / "spans.parquet")
    entry = spans.filter(pl.col("parent_span_id").is_null())["service"].unique().to_list()
    assert entry == ["frontend"]
    metrics = pl.read_parquet(bundle / "frames" / "metrics.parquet").filter(
        (pl.col("metric") == "http_server_requests_total") & (pl.col("service") == "frontend")
    )
    imp = pm.impact
    # the period: close to the ground truth (onset and recovery are found in 1-min steps)
    truth = run["truth"]
    for got, want in ((imp.start, truth["start"]), (imp.end, truth["end"])):
        want_t = datetime.fromisoformat(want.replace("Z", "+00:00"))
        assert abs((got - want_t).total_seconds()) <= 120, (got, want)
    requests, failed, _ = _increase(metrics, imp.start, imp.end)
    assert imp.entry_services == ["frontend"]
    assert imp.requests == pytest.approx(requests, rel=1e-12)
    assert imp.failed == pytest.approx(failed, rel=1e-12)
    assert failed > 100  # the incident really failed requests
    manifest = json.loads((bundle / "manifest.json").read_text())
    base = Window.parse(manifest["incident"]["baseline"])
    b_req, b_failed, b_secs = _increase(metrics, base.start, base.end)
    rate = b_req / b_secs
    assert imp.baseline_rate == pytest.approx(rate, rel=1e-12)
    burned = failed / ((1 - 0.999) * rate * 30 * 86400)
    assert imp.budget_burned == pytest.approx(burned, rel=1e-12)
    # and the rendered postmortem shows those numbers
    md = (run["out"] / "md" / "pm.md").read_text()
    span = f"{imp.start:%H:%M}–{imp.end:%H:%M} UTC"  # every count names its window
    assert f"| Requests | {requests:,.0f} in {span} |" in md
    assert f"| Failed requests | {failed:,.0f} in {span} ({failed / requests:.1%}" in md
    assert f"| Error budget burned | **{burned:.1%}** |" in md
    # as every view writes it, named by its window
    label = f"baseline {base.start:%H:%M}–{base.end:%H:%M} UTC"
    assert f"{label}: {format_percent(b_failed / b_req)}" in md


def test_no_file_holds_the_canary_credential(run: dict[str, Any]) -> None:
    canary = run["canary"]
    # the credential really went out, and the server echoed it in its error body
    assert run["auth_sent"] and all(a == f"Bearer {canary}" for a in run["auth_sent"])
    files = [p for d in (run["bundle"], run["out"]) for p in d.rglob("*") if p.is_file()]
    assert len(files) >= 10
    leaks = [str(p) for p in files if canary.encode() in p.read_bytes()]
    assert leaks == []
    # the failing source is reported in the postmortem, not silently dropped
    md = (run["out"] / "md" / "pm.md").read_text()
    assert "alerts events: error" in md or "when saved, alerts events was error" in md


def test_parameters_refuse_unknown_names_and_secret_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nb = template_path("postmortem")
    got = parameters(nb, [["authors", "alice, bob"], ["slo_window_days", "28"],
                          ["slo_target", "0.995"], ["bundle", "x.bundle"]])  # fmt: skip
    assert got == {"authors": ["alice", "bob"], "slo_window_days": 28, "slo_target": 0.995,
                   "bundle": "x.bundle"}  # fmt: skip
    with pytest.raises(ConfigError, match="no parameter 'token'"):
        parameters(nb, [["token", "abc"]])
    monkeypatch.setenv("MY_PROM_TOKEN", "canary-param-7f3e")
    with pytest.raises(ConfigError, match="never carry secrets") as ei:
        parameters(nb, [["title", "canary-param-7f3e"]])
    assert "canary-param-7f3e" not in str(ei.value)
