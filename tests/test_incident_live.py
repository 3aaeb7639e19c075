"""The incident over live backends finds the same things as over the files.

The lab demo scenario is split across the backends a team would run: its metrics in a
real Prometheus (promtool blocks, ``prometheus_server``), its logs, spans and change
events (deploys, rollbacks, canary steps) COPY-loaded into a private PostgreSQL, and its
alerts in a real Alertmanager. A ``workbench.toml`` points at the three (the PostgreSQL
password as an ``{env = ...}`` reference), and then:

(a) the Incident built through that configuration is compared with the files incident:
    same services, same top suspect and error-origin service, RED error ratios close,
    the same deploy/rollback events and the same alerts;
(b) the unchanged incident notebook, run headless with papermill with
    ``sources_config`` pointing at the toml, has no error output and its findings name
    the ground-truth root cause, as over the files (``tests/test_demo_notebook.py``).

Alerts. Alertmanager keeps an alert only while it is active (its v2 API drops resolved
ones once ``endsAt`` passes), and the demo's alerts are a week old. The
``alertmanager_demo`` fixture recreates Alertmanager *as it was during the incident*: it
posts the demo's firing notifications with their real ``startsAt`` and an ``endsAt`` a day
from now, the way Prometheus keeps re-sending a firing alert. So the live incident sees
them as still firing (``end`` null) where the webhook log knows when they resolved; the
test compares what Alertmanager can know (which alerts, on which service, since when)
and checks the end is open. The demo's OpenMetrics has no ``ALERTS`` series, so
Prometheus cannot serve alert history here.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import workbench as wb
from tests.pg_server import scratch_schema
from tests.test_demo_notebook import FINDING, _tagged, error_outputs
from workbench import notebook
from workbench.analysis.red import red, red_summary
from workbench.analysis.suspects import rank_suspects
from workbench.analysis.traces import error_origins
from workbench.sources.prometheus.signals import SIGNALS as PROM_SIGNALS

pytestmark = [pytest.mark.service, pytest.mark.slow]

PASSWORD_ENV = "WB_LIVE_PG_PASSWORD"
EVENT_COLUMNS = ["ts", "end", "kind", "service", "title", "source"]


@pytest.fixture(scope="module")
def demo_meta(lab_demo_dir: Path) -> dict[str, Any]:
    return json.loads((lab_demo_dir / "scenario.json").read_text())


@pytest.fixture(scope="module")
def demo_pg(postgres_server: Any, lab_demo_dir: Path, demo_meta: dict) -> Iterator[str]:
    """A schema holding the demo's logs, spans and non-alert events; yields its name.

    Metrics stay in Prometheus and alerts in Alertmanager, so nothing is counted twice."""
    from workbench.sources.files import DirectorySource

    whole = wb.Window(demo_meta["window"]["start"], demo_meta["window"]["end"])
    files = DirectorySource(lab_demo_dir)
    with scratch_schema(postgres_server, "live") as pg:
        for signal in ("logs", "spans", "events"):
            res = files.load(signal, whole)
            assert not res.partial, res.reasons
            frame = res.frame
            if signal == "events":
                frame = frame.filter(pl.col("kind") != "alert")
            assert pg.ingest(signal, frame) == frame.height > 0
        yield pg.schema


@pytest.fixture(scope="module")
def live_toml(
    tmp_path_factory: pytest.TempPathFactory,
    prometheus_server: Any,
    postgres_server: Any,
    alertmanager_demo: dict,
    demo_pg: str,
    demo_meta: dict,
) -> Iterator[Path]:
    """workbench.toml pointing at the three backends; the password env var is set."""
    path = tmp_path_factory.mktemp("live-config") / "workbench.toml"
    path.write_text(
        f"""\
[sources.prom]
type = "prometheus"
url = "{prometheus_server.url}"
scrape_interval = "30s"            # the lab scrapes every 30 s

[sources.pg]
type = "postgres"
url = "{postgres_server.url}"
password = {{ env = "{PASSWORD_ENV}" }}
schema = "{demo_pg}"

[sources.alerts]
type = "alertmanager"
url = "{alertmanager_demo["server"].url}"
"""
    )
    assert postgres_server.password not in path.read_text()
    _wait_for_alerts(alertmanager_demo, demo_meta)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PASSWORD_ENV, postgres_server.password)
        yield path


@pytest.fixture(scope="module")
def incidents(live_toml: Path, lab_demo_dir: Path, demo_meta: dict) -> tuple[Any, Any]:
    """``(files, live)``: the demo incident over the files and over the backends, loaded."""
    files = wb.Incident.from_directory(lab_demo_dir).load()
    iw = demo_meta["incident_window"]
    live = notebook.open_incident(
        demo_meta["incident_id"],
        window=f"{iw['start']}..{iw['end']}",
        sources_config=live_toml,
    ).load()
    return files, live


def _wait_for_alerts(am: dict, meta: dict) -> None:
    """Alertmanager takes posted alerts asynchronously: wait until all are listed."""
    from workbench.sources.alertmanager.source import AlertmanagerSource

    src = AlertmanagerSource(am["server"].url)
    whole = wb.Window(meta["window"]["start"], meta["window"]["end"])
    deadline = time.monotonic() + 10
    while src.alerts(whole).height < am["firing"]:
        assert time.monotonic() < deadline, "the demo's alerts never showed in Alertmanager"
        time.sleep(0.1)


def _truth(lab_demo_dir: Path) -> dict[str, Any]:
    return json.loads((lab_demo_dir / "truth.json").read_text())


def test_every_backend_serves_its_signals(incidents: tuple[Any, Any]) -> None:
    files, live = incidents
    assert live.window == files.window and live.baseline == files.baseline
    status = live.status()
    # pg answers for metrics with nothing (they live in Prometheus): shown as empty, not ok
    states = {(r["source"], r["signal"]): r["status"] for r in status.iter_rows(named=True)}
    assert states.pop(("pg", "metrics")) == "empty"
    assert set(states.values()) == {"ok"}, status
    rows = {(r["source"], r["signal"]): r["rows"] for r in status.iter_rows(named=True)}
    assert rows[("pg", "logs")] == files.logs.height
    assert rows[("pg", "spans")] == files.spans.height
    assert rows[("pg", "metrics")] == 0  # metrics live in Prometheus only
    assert rows[("prom", "metrics")] > 0 and rows[("alerts", "events")] > 0
    # Prometheus aggregated server-side: one RED/saturation series per service, at the
    # scrape interval (a finer automatic step would only repeat samples)
    prom = live.outcomes[("prom", "metrics")].result
    assert prom.extra["step_s"] == 30
    assert set(live.metrics["metric"]) <= set(PROM_SIGNALS)
    assert live.services_seen == files.services_seen


def test_same_suspect_onset_and_error_origin(
    incidents: tuple[Any, Any], lab_demo_dir: Path
) -> None:
    files, live = incidents
    truth = _truth(lab_demo_dir)
    got = {name: rank_suspects(inc) for name, inc in (("files", files), ("live", live))}
    assert got["files"].ranking[0] == got["live"].ranking[0] == truth["root_cause_service"]
    # the onset comes from different series (raw per-pod counters vs per-service PromQL
    # aggregates), so it may differ a little; both must sit close to the real start
    start = wb.Window(truth["start"], truth["end"]).start
    for name, sus in got.items():
        assert sus.onset is not None, name
        assert abs((sus.onset - start).total_seconds()) <= 3 * 60, (name, sus.onset)
    # where the errors start in the traces: spans round-tripped through PostgreSQL
    o_files = error_origins(files.spans, window=files.window)
    o_live = error_origins(live.spans, window=live.window)
    assert o_live.equals(o_files)
    assert o_live["service"][0] == truth["root_cause_service"]


def test_same_findings(incidents: tuple[Any, Any]) -> None:
    """The notebook's findings (its analysis cells, in process) say the same things: top
    suspect, the service where errors rose first, the changes just before, the alerts
    and the rollback."""
    from workbench.analysis.templates import template_surges
    from workbench.analysis.timeline import build_timeline
    from workbench.report import findings

    def draft(inc: Any) -> Any:
        r = red(inc.metrics, inc.spans)
        return findings(
            inc,
            suspects=rank_suspects(inc),
            red_summary=red_summary(r, window=inc.window, baseline=inc.baseline),
            timeline=build_timeline(inc.events, r, window=inc.window, baseline=inc.baseline),
            surges=template_surges(inc.logs, inc.window, inc.baseline),
            origins=error_origins(inc.spans, window=inc.window),
        )

    f_files, f_live = (draft(inc) for inc in incidents)
    assert f_live.top_suspect == f_files.top_suspect == "checkout"
    first = re.compile(r"`([^`]+)`")
    assert first.match(f_live.onsets[0])[1] == first.match(f_files.onsets[0])[1] == "checkout"
    assert f_live.changes == f_files.changes and "deploy checkout" in f_live.changes[0]
    assert f_live.alerts == f_files.alerts and len(f_live.alerts) == 3
    assert f_live.rollbacks == f_files.rollbacks and len(f_live.rollbacks) == 1
    assert f_live.patterns == f_files.patterns and f_live.origins == f_files.origins
    assert f_live.caveats == []


def test_red_error_ratios_match_the_files(incidents: tuple[Any, Any]) -> None:
    """Per service, baseline and incident error ratios and request rates from PromQL are
    close to those computed from the raw samples. Not equal: ``rate()`` extrapolates to
    the edges of each 2-minute range and is evaluated every 30 s, where the files give
    exact per-scrape increases; error *ratios* cancel most of that, rates less."""
    files, live = incidents
    cols = ["error_ratio_base", "error_ratio_inc", "rate_base", "rate_inc"]

    def summary(inc: Any) -> pl.DataFrame:
        r = red(inc.metrics, inc.spans)
        return red_summary(r, window=inc.window, baseline=inc.baseline).select("service", *cols)

    both = summary(files).join(summary(live), on="service", how="full", suffix="_live")
    assert both["service"].null_count() == 0 and both["service_live"].null_count() == 0
    for row in both.iter_rows(named=True):
        for c in ("error_ratio_base", "error_ratio_inc"):
            want, have = row[c], row[f"{c}_live"]
            assert abs(have - want) <= 0.001 + 0.05 * want, (row["service"], c, want, have)
        for c in ("rate_base", "rate_inc"):
            want, have = row[c], row[f"{c}_live"]
            assert abs(have - want) <= 0.05 * want, (row["service"], c, want, have)
    # and the incident stands out the same way: checkout's error ratio rose ~20x
    top = both.sort("error_ratio_inc", descending=True).row(0, named=True)
    assert top["service"] == "checkout" and top["error_ratio_inc_live"] > 0.15


def test_same_changes_and_alerts(incidents: tuple[Any, Any]) -> None:
    files, live = incidents

    def changes(inc: Any) -> pl.DataFrame:
        return (
            inc.events.filter(pl.col("kind") != "alert")
            .select(EVENT_COLUMNS)
            .sort(EVENT_COLUMNS, nulls_last=True)
        )

    assert changes(live).equals(changes(files))
    assert {"deploy", "rollback"} <= set(changes(live)["kind"])
    rb = changes(live).filter(pl.col("kind") == "rollback")
    assert rb["service"].to_list() == ["checkout"]

    def alerts(inc: Any) -> set[tuple]:
        a = inc.events.filter(pl.col("kind") == "alert")
        return {
            (r["ts"], r["service"], r["title"].split(":", 1)[0]) for r in a.iter_rows(named=True)
        }

    assert alerts(live) == alerts(files) and len(alerts(live)) == 3
    live_alerts = live.events.filter(pl.col("kind") == "alert")
    assert live_alerts["end"].null_count() == live_alerts.height  # still firing in AM
    assert set(live_alerts["source"]) == {"alerts"}


def test_notebook_over_live_backends(
    live_toml: Path,
    demo_meta: dict,
    lab_demo_dir: Path,
    postgres_server: Any,
    tmp_path: Path,
) -> None:
    iw = demo_meta["incident_window"]
    params = {
        "incident_id": demo_meta["incident_id"],
        "window": f"{iw['start']}..{iw['end']}",
        "sources_config": str(live_toml),
    }
    out = notebook.execute(
        notebook.template_path(), tmp_path / "incident.ipynb", parameters=params, cwd=tmp_path
    )
    nb = json.loads(out.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code)
    assert error_outputs(code) == []
    text = json.dumps(nb)
    assert "Some data is missing or partial" not in text  # every source loaded whole
    assert postgres_server.password not in text
    truth = _truth(lab_demo_dir)
    (cell,) = _tagged(nb, "findings")
    md = "".join(
        "".join(o["data"]["text/markdown"])
        for o in cell["outputs"]
        if "text/markdown" in o.get("data", {})
    )
    assert FINDING.findall(md) == [truth["root_cause_service"]], md
    assert re.search(r"What changed just before\*\*: deploy checkout", md), md
    assert "Rolled back" in md and "HighErrorRate" in md


def test_a_baseline_before_the_backends_data_is_reported(live_toml: Path, demo_meta: dict) -> None:
    """The notebook's baseline parameter over real backends that hold the demo's two hours:
    asked for 3 h before the window, Prometheus and PostgreSQL answer with what they have,
    and the headline's missing-data list says the baseline's first 2 h hold nothing (not a
    quietly shorter baseline)."""
    iw = demo_meta["incident_window"]
    live = notebook.open_incident(
        demo_meta["incident_id"],
        window=f"{iw['start']}..{iw['end']}",
        baseline="3h",
        sources_config=live_toml,
    ).load(["metrics", "logs", "spans"])
    assert live.baseline.end - live.baseline.start == timedelta(hours=3)
    (gap,) = live.baseline_gaps()
    assert "holds no metrics, logs, spans before" in gap and "(2 h of it)" in gap, gap
