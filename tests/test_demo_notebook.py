"""`workbench demo --execute OUT`: the incident notebook run headless over the demo.

One run (module fixture) of the real command, then: no error output, every cell ran,
every chart is an SVG in the notebook and in the HTML, the HTML loads nothing from the
network, and the findings name the ground-truth root-cause service from truth.json.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.lab.demo import demo_path

pytestmark = pytest.mark.slow

FINDING = re.compile(r"Top suspect: `([^`]+)`")


ROOT = Path(__file__).resolve().parents[1]


def git_status() -> str:
    """``git status --porcelain`` of the checkout ("" when clean, or when not a git tree)."""
    proc = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return proc.stdout if proc.returncode == 0 else ""


@pytest.fixture(scope="module")
def demo_proc(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str], str, str]:
    """The real command, run from the checkout: its output dir, the process, and
    ``git status`` before and after."""
    out = tmp_path_factory.mktemp("demo-out")
    before = git_status()
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "demo", "--execute", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    return out, proc, before, git_status()


@pytest.fixture(scope="module")
def demo_run(
    demo_proc: tuple[Path, subprocess.CompletedProcess[str], str, str],
) -> tuple[Path, dict, str]:
    out, proc, _, _ = demo_proc
    assert proc.returncode == 0, proc.stdout + proc.stderr
    nb = json.loads((out / "incident.ipynb").read_text())
    html = (out / "incident.html").read_text()
    return out, nb, html


def error_outputs(code_cells: list[dict]) -> list[dict]:
    """The outputs of ``code_cells`` that show a failure: an error, or a traceback on stderr."""
    return [
        o
        for c in code_cells
        for o in c["outputs"]
        if o["output_type"] == "error"
        or (
            o["output_type"] == "stream"
            and o["name"] == "stderr"
            and "Traceback" in "".join(o["text"])
        )
    ]


def _tagged(nb: dict, tag: str) -> list[dict]:
    return [c for c in nb["cells"] if tag in c.get("metadata", {}).get("tags", [])]


def test_every_cell_ran_without_error(demo_run: tuple[Path, dict, str]) -> None:
    _, nb, _ = demo_run
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 10
    assert all(c["execution_count"] is not None for c in code)
    assert error_outputs(code) == []
    # papermill recorded the parameters it ran with: the demo's defaults, no secrets
    assert nb["metadata"]["papermill"]["parameters"] == {}


def test_charts_are_static_svg_and_no_widget_state_is_left(
    demo_run: tuple[Path, dict, str],
) -> None:
    _, nb, html = demo_run
    charts = _tagged(nb, "chart")
    assert len(charts) >= 4
    for cell in charts:
        svgs = [
            o["data"]["image/svg+xml"]
            for o in cell["outputs"]
            if "image/svg+xml" in o.get("data", {})
        ]
        assert len(svgs) == 1, cell["source"]
        svg = "".join(svgs[0])
        assert svg.lstrip().startswith("<svg") and 'class="marks"' in svg
    assert "widgets" not in nb["metadata"]
    assert not any(
        "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        for c in nb["cells"]
        for o in c.get("outputs", [])
    )
    # every chart is inline SVG in the HTML too
    assert html.count('data-mime-type="image/svg+xml"') >= len(charts)
    assert len(re.findall(r"<svg[^>]*class=\"marks\"", html)) >= len(charts)


def test_html_loads_nothing_from_the_network(demo_run: tuple[Path, dict, str]) -> None:
    _, _, html = demo_run
    assert re.findall(r"<script\b[^>]*\bsrc\s*=", html, re.I) == []  # no external script at all
    assert re.findall(r"""import\s*\(\s*["'](?:https?:)?//""", html) == []
    assert re.findall(r"""<link\b[^>]*href\s*=\s*["']?(?:https?:)?//""", html, re.I) == []
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "require.min.js"):
        assert cdn not in html
    # code is kept (readable, highlighted), and the section headings are there
    assert "Investigation" in html and "open_incident" in html
    assert "What is red" in html and "Findings" in html


def test_findings_name_the_ground_truth_root_cause(demo_run: tuple[Path, dict, str]) -> None:
    _, nb, html = demo_run
    truth = json.loads((demo_path() / "truth.json").read_text())
    (cell,) = _tagged(nb, "findings")
    md = "".join(
        "".join(o["data"]["text/markdown"])
        for o in cell["outputs"]
        if "text/markdown" in o.get("data", {})
    )
    named = FINDING.findall(md)
    assert named == [truth["root_cause_service"]], md
    # the rendered HTML says the same
    assert re.search(
        rf"Top suspect: <code>{re.escape(truth['root_cause_service'])}</code>", html
    ), "findings missing from the HTML"


def test_the_command_is_quiet_and_leaves_the_checkout_as_it_was(
    demo_proc: tuple[Path, subprocess.CompletedProcess[str], str, str],
) -> None:
    """No kernel transport warning (the kernel talks over IPC sockets, not TCP), nothing
    on stderr at all, and no tracked file modified by running the demo."""
    _, proc, before, after = demo_proc
    assert "without encryption" not in proc.stderr
    assert proc.stderr.strip() == ""
    assert after == before
    assert re.fullmatch(
        r"wrote \S+incident\.ipynb and \S+incident\.html \(\d+\.\ds\)\n", proc.stdout
    )
