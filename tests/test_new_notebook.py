"""`workbench new`: the incident notebook created from the template with parameters filled;
the template and notebooks/incident.ipynb stay the same notebook."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import promservers
from tests.servers import require_binary
from workbench import notebook
from workbench.cli import main
from workbench.errors import ConfigError
from workbench.timewindow import Window, duration_literal

ROOT = Path(__file__).resolve().parents[1]


def _cells(path: Path) -> list[tuple[str, str, list[str]]]:
    nb = json.loads(path.read_text())
    return [
        (c["cell_type"], "".join(c["source"]), c.get("metadata", {}).get("tags", []))
        for c in nb["cells"]
    ]


def test_repository_notebook_is_the_packaged_template() -> None:
    """One notebook, two paths: edit both together or this fails."""
    assert _cells(ROOT / "notebooks" / "incident.ipynb") == _cells(notebook.template_path()), (
        "notebooks/incident.ipynb and workbench/templates/incident.ipynb differ: after editing "
        "one, run `jupyter nbconvert --clear-output --inplace notebooks/incident.ipynb` and "
        "copy it over the other"
    )


def test_packaged_template_is_clean_and_has_default_parameters() -> None:
    nb = json.loads(notebook.template_path().read_text())
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    assert notebook.read_parameters(nb) == notebook.PARAMETERS
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_papermill_sees_the_parameters() -> None:
    """papermill skips a parameter line holding a second ``=`` (even in its comment): it
    would warn "Passed unknown parameter" and ``--help-notebook`` would list nothing."""
    import papermill as pm

    for nb in (notebook.template_path(), ROOT / "notebooks" / "incident.ipynb"):
        assert list(pm.inspect_notebook(str(nb))) == list(notebook.PARAMETERS)
    filled = notebook.fill_parameters(json.loads(notebook.template_path().read_text()))
    src = "".join(notebook._parameters_cell(filled)["source"])
    assert all(line.count("=") <= 1 for line in src.splitlines())


def test_new_with_since_and_services(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = datetime.now(UTC)
    rc = main(
        [
            "new",
            "INC-123",
            "--since",
            "45m",
            "--service",
            "checkout",
            "--service",
            "payments",
            "--demo",
            "--out",
            str(tmp_path),
        ]
    )
    after = datetime.now(UTC)
    assert rc == 0
    out = tmp_path / "INC-123.ipynb"
    assert str(out) in capsys.readouterr().out
    params = notebook.read_parameters(out)
    assert params["incident_id"] == "INC-123"
    assert params["services"] == ["checkout", "payments"]
    assert params["sources_config"] == ""
    w = Window.parse(params["window"])
    assert w.duration == timedelta(minutes=45)
    assert before - timedelta(seconds=1) <= w.end <= after + timedelta(seconds=1)
    nb = json.loads(out.read_text())
    # one parameters cell, still tagged for papermill, and nothing executed
    tagged = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1
    assert all(c.get("execution_count") is None for c in nb["cells"] if c["cell_type"] == "code")
    # every other cell is the template's
    assert _cells(out)[2:] == _cells(notebook.template_path())[2:]


def test_new_with_window_and_config_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.lab.demo import demo_path

    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "workbench.toml").write_text(
        f'[sources.lab]\ntype = "files"\npath = "{demo_path()}"\n'
    )
    monkeypatch.chdir(tmp_path)
    args = [
        "new",
        "INC-9",
        "--window",
        "2026-11-20T11:00:00Z..2026-11-20T12:00:00Z",
        "--config",
        "ops/workbench.toml",
        "--out",
        "notebooks",
    ]
    assert main(args) == 0
    params = notebook.read_parameters(tmp_path / "notebooks" / "INC-9.ipynb")
    assert params == {
        "incident_id": "INC-9",
        "window": "2026-11-20T11:00:00Z..2026-11-20T12:00:00Z",
        "baseline": "",
        "services": [],
        # absolute: the notebook runs from its own folder
        "sources_config": str(tmp_path / "ops" / "workbench.toml"),
    }
    assert main(args) == 1  # exists: a ConfigError, reported, file untouched
    assert main([*args, "--force"]) == 0
    assert main([*args[:-2], "--config", "missing.toml", "--force"]) == 1


def test_new_without_sources_stops_and_says_how_to_configure_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No config: no notebook that silently reads the demo over an empty window."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_CONFIG", raising=False)
    assert main(["new", "INC-1", "--since", "45m"]) == 1
    err = capsys.readouterr().err
    assert "no sources configured" in err
    assert "--config workbench.toml" in err and "--demo" in err and "[sources.prom]" in err
    assert not list(tmp_path.glob("*.ipynb"))
    # --demo: the demo incident over its own window (no --since needed)
    assert main(["new", "INC-1", "--demo"]) == 0
    params = notebook.read_parameters(tmp_path / "INC-1.ipynb")
    assert (params["window"], params["sources_config"]) == ("", "")


def test_new_with_unreachable_sources_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    from workbench.lab.demo import demo_path

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "workbench.toml"
    cfg.write_text(
        f'[sources.prom]\ntype = "prometheus"\nurl = "http://127.0.0.1:{port}"\n'
        f'[sources.lab]\ntype = "files"\npath = "{demo_path()}"\n'
    )
    args = ["new", "INC-2", "--since", "45m", "--config", str(cfg), "--out", str(tmp_path)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"1 of 2 source(s) in {cfg} cannot be reached: prom: nothing answers at " in err
    assert f"127.0.0.1:{port}" in err and "--no-check" in err
    assert not (tmp_path / "INC-2.ipynb").exists()
    assert main([*args, "--no-check"]) == 0
    w = Window.parse(notebook.read_parameters(tmp_path / "INC-2.ipynb")["window"])
    assert w.end.microsecond == 0 and not re.search(r"\d\.\d", str(w))  # whole seconds


def test_open_incident_from_a_workbench_toml(tmp_path: Path) -> None:
    """The non-demo path of the notebook: sources from a config file, window and services
    from the parameters (a files source over the demo data; events only, to stay fast)."""
    from workbench.lab.demo import demo_path

    cfg = tmp_path / "workbench.toml"
    cfg.write_text(f'[sources.lab]\ntype = "files"\npath = "{demo_path()}"\n')
    inc = notebook.open_incident(
        "INC-9",
        window="2026-11-20T11:00:00Z..2026-11-20T12:00:00Z",
        services=["checkout"],
        sources_config=str(cfg),
    )
    assert (inc.id, str(inc.window), inc.services) == (
        "INC-9",
        "2026-11-20T11:00:00Z..2026-11-20T12:00:00Z",
        ["checkout"],
    )
    assert [s.name for s in inc.sources] == ["lab"]
    inc.load(["events"])
    assert inc.status()["status"].to_list() == ["ok"]
    assert inc.events.height > 0
    with pytest.raises(ConfigError, match="window"):
        notebook.open_incident("INC-9", window="", sources_config=str(cfg))


def test_fill_parameters_rejects_unknown_names_and_bad_services() -> None:
    nb = json.loads(notebook.template_path().read_text())
    with pytest.raises(ConfigError, match="unknown notebook parameter"):
        notebook.fill_parameters(nb, token="x")
    with pytest.raises(ConfigError, match="services"):
        notebook.fill_parameters(nb, services="checkout")


def test_new_from_a_real_alertmanager_alert(tmp_path: Path) -> None:
    require_binary(promservers.ALERTMANAGER)
    srv = promservers.start_alertmanager(tmp_path / "am")
    try:
        starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        promservers.post_json(
            f"{srv.url}/api/v2/alerts",
            [
                {
                    "labels": {
                        "alertname": "HighErrorRate",
                        "service": "checkout",
                        "severity": "page",
                    },
                    "annotations": {"summary": "checkout 5xx above 5%"},
                    "startsAt": starts.isoformat().replace("+00:00", "Z"),
                }
            ],
        )
        with urllib.request.urlopen(f"{srv.url}/api/v2/alerts", timeout=10) as resp:
            alerts = json.loads(resp.read())
        fp = alerts[0]["fingerprint"]
        assert (
            main(
                [
                    "new",
                    "INC-7",
                    "--alert",
                    fp[:8],
                    "--alertmanager",
                    srv.url,
                    "--demo",
                    "--out",
                    str(tmp_path),
                ]
            )
            == 0
        )
        params = notebook.read_parameters(tmp_path / "INC-7.ipynb")
        w = Window.parse(params["window"])
        assert w.start == starts - timedelta(minutes=30)
        assert params["services"] == ["checkout"]
        # an unknown fingerprint is a clear error, not an empty notebook
        assert (
            main(
                [
                    "new",
                    "INC-8",
                    "--alert",
                    "ffffffffffff",
                    "--alertmanager",
                    srv.url,
                    "--out",
                    str(tmp_path),
                ]
            )
            == 1
        )
        assert not (tmp_path / "INC-8.ipynb").exists()
    finally:
        srv.stop()


@pytest.mark.slow
def test_a_notebook_over_an_empty_window_runs_and_says_what_is_missing(tmp_path: Path) -> None:
    """Sources that answer with nothing for the window: every cell runs, no error output,
    and the headline says in words which sources had no rows."""
    from tests.test_demo_notebook import error_outputs
    from workbench.lab.demo import demo_path

    cfg = tmp_path / "workbench.toml"
    cfg.write_text(f'[sources.lab]\ntype = "files"\npath = "{demo_path()}"\n')
    w = "2026-12-20T11:00:00Z..2026-12-20T11:45:00Z"  # a month after the demo's data
    assert main(["new", "INC-E", "--window", w, "--config", str(cfg), "--out", str(tmp_path)]) == 0
    out = notebook.execute(tmp_path / "INC-E.ipynb", tmp_path / "out.ipynb", cwd=tmp_path)
    nb = json.loads(out.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code)
    assert error_outputs(code) == []
    head = next(c for c in code if "headline" in c["metadata"].get("tags", []))
    shown = "".join("".join(o.get("data", {}).get("text/html", "")) for o in head["outputs"])
    for signal in ("metrics", "logs", "spans", "events"):
        assert f"lab {signal} had no rows" in shown
    assert "Verdict: <span style='color:#57606a'>none</span>" in shown


def test_baseline_parameter_from_the_command_to_the_incident(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A longer baseline in one step: `workbench new --baseline 8h` writes it into the
    parameters cell and the notebook's open_incident gives the incident that baseline; a
    baseline that cannot be read, or that reaches into the window, stops the command and
    writes no notebook."""
    from workbench.lab.demo import demo_path

    cfg = tmp_path / "workbench.toml"
    cfg.write_text(f'[sources.lab]\ntype = "files"\npath = "{demo_path()}"\n')
    w = "2026-11-20T11:00:00Z..2026-11-20T12:00:00Z"
    args = ["new", "INC-8", "--window", w, "--config", str(cfg), "--out", str(tmp_path)]
    assert main([*args, "--baseline", "8x"]) == 1
    assert "baseline '8x'" in capsys.readouterr().err
    assert main([*args, "--baseline", "2026-11-20T10:00:00Z..2026-11-20T11:30:00Z"]) == 1
    assert "ends after the window starts" in capsys.readouterr().err
    assert not (tmp_path / "INC-8.ipynb").exists()
    assert main([*args, "--baseline", "8h"]) == 0
    params = notebook.read_parameters(tmp_path / "INC-8.ipynb")
    assert params["baseline"] == "8h"
    inc = notebook.open_incident(
        "INC-8", window=w, baseline=params["baseline"], sources_config=str(cfg)
    )
    assert str(inc.baseline) == "2026-11-20T03:00:00Z..2026-11-20T11:00:00Z"
    absolute = notebook.open_incident(
        "INC-8", window=w, baseline="2026-11-19T11:00:00Z..2026-11-19T12:00:00Z",
        sources_config=str(cfg),
    )  # fmt: skip
    assert str(absolute.baseline) == "2026-11-19T11:00:00Z..2026-11-19T12:00:00Z"
    # "": as long as the window, just before it
    default = notebook.open_incident("INC-8", window=w, sources_config=str(cfg))
    assert str(default.baseline) == "2026-11-20T10:00:00Z..2026-11-20T11:00:00Z"
    # the demo too (its window is its own)
    assert main(["new", "DEMO-8", "--demo", "--baseline", "3h", "--out", str(tmp_path)]) == 0
    demo = notebook.open_incident("DEMO-8", baseline="3h")
    assert demo.baseline.end == demo.window.start
    assert demo.baseline.end - demo.baseline.start == timedelta(hours=3)


def test_a_baseline_reaching_before_the_data_is_reported_in_the_headline() -> None:
    """Asked for 8 h over the demo, which holds 1 h before its window: the headline says
    which telemetry the baseline lacks and on how much of it everything rests (not a
    quietly shorter baseline). The demo's own baseline has no such gap."""
    from workbench import Investigation
    from workbench.display import format_duration
    from workbench.summaries import headline

    inc = notebook.open_incident("", baseline="8h")
    inv = Investigation(inc)
    inc.load()
    missing = headline(inv).missing
    gap = [m for m in missing if m.startswith("the baseline")]
    assert len(gap) == 1, missing
    assert "holds no metrics, logs, spans before 10:00:01 (7 h of it)" in gap[0]
    assert "rest on the last 1 h" in gap[0]
    own = notebook.open_incident("")
    inv = Investigation(own)
    own.load()
    first = headline(inv)
    assert not [m for m in first.missing if m.startswith("the baseline")]
    # a "weak" for want of separate baseline windows says which parameter would settle it,
    # from the verdict's own figure (the demo's: 1 h of baseline, two witnesses ~2-3x chance)
    v = inv.verdict.value
    assert v.settle_baseline is not None, v.reason
    length = duration_literal(v.settle_baseline)
    assert first.next_step is not None and f'baseline = "{length}"' in first.next_step
    assert "<b>Next:</b>" in first._repr_html_() and "**Next:**" in first._repr_markdown_()
    # the demo says how far back it holds data (its scenario.json): the advice does not
    # send the user to a baseline the demo cannot give
    assert own.data_start is not None and own.data_start == own.baseline.start
    assert "these sources hold data only from 2026-11-20 10:00:00 UTC (1 h before" in (
        first.next_step
    )
    # sources that do not say how far back they reach (a server): the plain advice
    own.data_start = None
    assert headline(inv).next_step == (
        f'to try to settle it, set baseline = "{length}" in the parameters cell and run all (the '
        f"sources must keep {format_duration(v.settle_baseline)} of data before the window)"
    )


def test_an_unnamed_incident_gets_a_title_every_view_shares(tmp_path: Path) -> None:
    """look22: with sources_config and no incident_id, the headline, findings, postmortem
    and bundle all read "incident". The title now says the window (and the services the
    parameters name); a directory that describes its incident (scenario.json) names it."""
    from workbench import Investigation
    from workbench.incident import Incident
    from workbench.lab.demo import demo_path
    from workbench.postmortem import draft
    from workbench.summaries import headline

    d = tmp_path / "export"
    (d / "logs").mkdir(parents=True)
    (d / "logs" / "app.jsonl").write_text(
        '{"timestamp": "2026-11-20T11:10:00Z", "service": "checkout", "level": "error", '
        '"message": "boom"}\n'
    )
    cfg = tmp_path / "workbench.toml"
    cfg.write_text(f'[sources.files]\ntype = "files"\npath = "{d}"\n')
    w = "2026-11-20T11:00:00Z..2026-11-20T12:00:00Z"
    inc = notebook.open_incident("", window=w, services=["checkout"], sources_config=str(cfg))
    title = "Incident 2026-11-20 11:00–12:00 UTC: checkout"
    assert (inc.id, inc.title) == ("incident-2026-11-20T1100Z", title)
    inv = Investigation(inc)
    assert headline(inv).title == title and headline(inv).incident_id == inc.id
    assert draft(inc).title == title
    saved = Incident.from_bundle(inc.save_bundle(tmp_path / "b"))
    assert (saved.id, saved.title) == (inc.id, title)
    assert draft(saved).title == title
    # a parameter still wins; a lab/demo directory names the incident it holds
    named = notebook.open_incident("INC-7", window=w, sources_config=str(cfg))
    assert (named.id, named.title) == ("INC-7", "INC-7")
    cfg.write_text(f'[sources.lab]\ntype = "files"\npath = "{demo_path()}"\n')
    demo = notebook.open_incident("", window=w, sources_config=str(cfg))
    assert demo.id == "LAB-DEMO-1" and demo.title == Incident.demo().title != demo.id
