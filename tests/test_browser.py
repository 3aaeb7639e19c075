"""The incident notebook in a real JupyterLab, in headless Chromium, with no network.

Like a user: open the notebook, Run > Run All Cells, wait for the kernel to go idle,
then look at the page: every chart drawn by vega-embed (svg or canvas), no error output,
no "Error loading script", and nothing requested from outside localhost.
A screenshot goes to $WORKBENCH_ARTIFACTS (default /tmp/workbench-artifacts).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from workbench.lab.demo import demo_path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("WORKBENCH_ARTIFACTS", "/tmp/workbench-artifacts"))

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ERROR_OUTPUTS = (
    ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
    ".jp-OutputArea-output.jp-mod-error",
)


# the fixture starts JupyterLab with expose_app_in_browser, so the page can ask the kernel
KERNEL_READY = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session
    && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""


def _expected_charts(nb_path: Path) -> int:
    """Code cells of the notebook tagged ``chart`` each draw at least one chart."""
    nb = json.loads(nb_path.read_text())
    return sum("chart" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])


def visible_code_cells(cells: list[dict]) -> int:
    """Code cells whose input JupyterLab shows (a hidden input has no prompt to read)."""
    return sum(
        c["cell_type"] == "code"
        and not c.get("metadata", {}).get("jupyter", {}).get("source_hidden")
        for c in cells
    )


def _run_all(page) -> None:  # type: ignore[no-untyped-def]
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def _wait_idle(page, n_code_cells: int, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    """Every code cell has run (a number in its prompt) and the kernel is idle."""
    deadline = time.monotonic() + timeout_s
    js = """() => {
      const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
        .map(p => p.textContent.trim());
      const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
      return {prompts, status: ind ? ind.getAttribute('data-status') : null};
    }"""
    state: dict = {}
    while time.monotonic() < deadline:
        state = page.evaluate(js)
        done = [p for p in state["prompts"] if p.startswith("[") and p[1:-2].isdigit()]
        if len(done) == n_code_cells and state["status"] in ("idle", None):
            return
        time.sleep(0.5)
    raise AssertionError(f"notebook did not finish in {timeout_s}s: {state}")


def test_incident_notebook_runs_in_jupyterlab_offline(
    tmp_path: Path, jupyterlab_factory, offline_chromium
) -> None:  # type: ignore[no-untyped-def]
    demo_path()  # the demo data exist before the kernel asks for them
    root = tmp_path / "nb"
    root.mkdir()
    nb_path = root / "incident.ipynb"
    shutil.copy(ROOT / "notebooks" / "incident.ipynb", nb_path)
    cells = json.loads(nb_path.read_text())["cells"]
    n_code = visible_code_cells(cells)
    n_charts = _expected_charts(nb_path)
    assert n_charts >= 3, "the notebook should tag its chart cells with 'chart'"

    lab = jupyterlab_factory(root)
    page = offline_chromium.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.goto(lab.url("lab/tree/incident.ipynb"), wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    page.wait_for_function(KERNEL_READY, timeout=90_000)
    _run_all(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        _wait_idle(page, n_code, timeout_s=300)
        # charts are drawn asynchronously after the cell finishes
        page.wait_for_function(
            f"() => document.querySelectorAll('.vega-embed .marks').length >= {n_charts}",
            timeout=60_000,
        )
    finally:
        page.screenshot(path=str(ARTIFACTS / "incident-notebook-end.png"))
    charts_el = page.locator(".vega-embed")
    for i in range(charts_el.count()):
        charts_el.nth(i).scroll_into_view_if_needed()
        charts_el.nth(i).screenshot(path=str(ARTIFACTS / f"incident-chart-{i + 1}.png"))

    charts = page.locator(".vega-embed .marks").count()
    assert charts >= n_charts
    # every chart has marks drawn, not an empty frame
    sizes = page.evaluate(
        "() => [...document.querySelectorAll('.vega-embed .marks')]"
        ".map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })"
    )
    assert all(w > 50 and h > 30 for w, h in sizes), sizes
    # every chart is its own vega module: its SVG ids must not collide with another
    # chart's, or a clip path resolves to the wrong chart's rectangle (the timeline drew
    # only the corner a RED panel of the explorer covered) (look9)
    dup = page.evaluate(
        "() => { const ids = [...document.querySelectorAll('.vega-embed [id]')].map(e => e.id);"
        " return [...new Set(ids.filter((x, i) => ids.indexOf(x) !== i))]; }"
    )
    assert dup == [], dup[:10]
    errors = [
        page.locator(sel).nth(i).inner_text()
        for sel in ERROR_OUTPUTS
        for i in range(page.locator(sel).count())
    ]
    assert [e for e in errors if "Traceback" in e or "Error" in e] == [], errors
    body = page.locator("body").inner_text()
    for bad in ("Error loading script", "Error displaying widget", "Javascript Error"):
        assert bad not in body
    assert offline_chromium.blocked == [], offline_chromium.blocked
    # the findings, rendered from Markdown, name the ground-truth root-cause service
    truth = json.loads((demo_path() / "truth.json").read_text())
    assert f"Top suspect: {truth['root_cause_service']}" in body
