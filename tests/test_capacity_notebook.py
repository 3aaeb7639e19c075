"""The capacity notebook, run headless (papermill) and rendered to HTML with static charts:
on the embedded lab history (no server), and against a real Prometheus and PostgreSQL
holding the same history. Each run must name checkout's CPU as what runs out first."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workbench import notebook, offline_html

pytestmark = pytest.mark.slow

FIRST = re.compile(r"\*\*Runs out first:\*\* `([^`]+)` (\w+) crosses 80%")


def _outputs(nb: dict, tag: str) -> list[dict]:
    return [
        o
        for c in nb["cells"]
        if tag in c.get("metadata", {}).get("tags", [])
        for o in c.get("outputs", [])
    ]


def _check(nb: dict, html: str) -> None:
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors == []
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code)
    static = offline_html.make_static(nb)
    charts = _outputs(static, "chart")
    assert len(charts) == 3
    for o in charts:
        svg = "".join(o["data"]["image/svg+xml"])
        assert svg.lstrip().startswith("<svg") and 'class="marks"' in svg
    md = "".join("".join(o["data"]["text/markdown"]) for o in _outputs(nb, "findings"))
    assert FIRST.findall(md) == [("checkout", "cpu")], md
    assert offline_html.network_references(html) == []
    assert len(re.findall(r"<svg[^>]*class=\"marks\"", html)) >= 3
    assert "Runs out first" in html and "checkout" in html


def test_embedded_history_runs_and_renders_with_workbench_render(tmp_path: Path) -> None:
    out = tmp_path / "capacity.html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "render",
            "capacity",
            "--execute",
            "--to",
            "html",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 chart(s) inline" in proc.stdout
    nb = json.loads((tmp_path / "capacity.ipynb").read_text())
    assert nb["metadata"]["papermill"]["parameters"] == {}
    _check(nb, out.read_text())
    assert "def " not in out.read_text().split("<body", 1)[1][:2000]  # a report: no code


def _run(tmp_path: Path, params: dict[str, Any]) -> tuple[dict, str]:
    executed = notebook.execute(
        notebook.template_path("capacity"),
        tmp_path / "out.ipynb",
        parameters=params,
        cwd=tmp_path,
    )
    nb = json.loads(executed.read_text())
    html = offline_html.to_html(offline_html.make_static(nb), title="capacity")
    return nb, html


@pytest.mark.service
def test_against_real_prometheus(
    tmp_path: Path, capacity_prometheus: Any, capacity_history: Path
) -> None:
    cfg = tmp_path / "workbench.toml"
    cfg.write_text(f'[sources.prom]\ntype = "prometheus"\nurl = "{capacity_prometheus.url}"\n')
    w = json.loads((capacity_history / "scenario.json").read_text())["window"]
    nb, html = _run(
        tmp_path,
        {"sources_config": str(cfg), "source": "prom", "window": f"{w['start']}..{w['end']}"},
    )
    _check(nb, html)
    assert "prometheus, recorded metrics" in html


@pytest.mark.service
def test_against_real_postgres(
    tmp_path: Path,
    capacity_pg: Any,
    capacity_history: Path,
    postgres_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WB_CAPACITY_PGPASSWORD", postgres_server.password)
    cfg = tmp_path / "workbench.toml"
    cfg.write_text(
        "[sources.pg]\n"
        'type = "postgres"\n'
        f'url = "{postgres_server.url}"\n'
        'password = { env = "WB_CAPACITY_PGPASSWORD" }\n'
        f'schema = "{capacity_pg.schema}"\n'
    )
    w = json.loads((capacity_history / "scenario.json").read_text())["window"]
    nb, html = _run(tmp_path, {"sources_config": str(cfg), "window": f"{w['start']}..{w['end']}"})
    _check(nb, html)
    assert "postgres, recorded metrics" in html
    assert postgres_server.password not in json.dumps(nb) and postgres_server.password not in html
