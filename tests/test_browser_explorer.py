"""IncidentExplorer in a real JupyterLab, in headless Chromium, with no network.

Like a user: run a notebook that shows the explorer over the lab demo, see the charts
drawn, brush a time range on the RED panels (the window narrows), click the root-cause
service in the graph (the Logs tab follows), then from the Suspects tab open the failing
trace of the top suspect (the waterfall marks where the error starts: two clicks from
the overview), and pick another trace from the list (the waterfall follows). Screenshots of each step go to $WORKBENCH_ARTIFACTS
(default /tmp/workbench-artifacts). Fixtures: tests/plugins/jupyterlab_browser.py.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.test_browser import KERNEL_READY, _run_all, _wait_idle

ARTIFACTS = Path(os.environ.get("WORKBENCH_ARTIFACTS", "/tmp/workbench-artifacts"))

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXPLORER = ".wb-explorer"


def _notebook(path: Path, demo_dir: Path) -> None:
    def code(src: str) -> dict:
        return {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": src,
        }

    nb = {
        "cells": [
            code(
                "from workbench import Incident\n"
                "from widgets import IncidentExplorer\n"
                f"inc = Incident.from_directory({str(demo_dir)!r})\n"
                "explorer = IncidentExplorer(inc, key='browser')\n"
                "explorer"
            )
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))


def _tab(page, title: str) -> None:  # type: ignore[no-untyped-def]
    page.locator(f"{EXPLORER} .lm-TabBar-tab", has_text=title).first.click()


def _panel(page):  # type: ignore[no-untyped-def]
    """The tab panel on show."""
    return page.locator(f"{EXPLORER} .widget-tab-contents > .lm-Widget:not(.lm-mod-hidden)")


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"explorer-{name}.png"), full_page=True)


def _state(page) -> str:  # type: ignore[no-untyped-def]
    return page.locator(f"{EXPLORER} [role=status]").first.inner_text()


def test_explorer_in_jupyterlab_offline(
    tmp_path: Path, lab_demo_dir: Path, jupyterlab_factory, offline_chromium
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "nb"
    root.mkdir()
    _notebook(root / "explore.ipynb", lab_demo_dir)
    truth = json.loads((lab_demo_dir / "truth.json").read_text())["root_cause_service"]

    lab = jupyterlab_factory(root)
    page = offline_chromium.new_page()
    page.goto(lab.url("lab/tree/explore.ipynb"), wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    page.wait_for_function(KERNEL_READY, timeout=90_000)
    _run_all(page)
    try:
        _wait_idle(page, 1, timeout_s=120)
        # the load runs in a thread: the bar shows, then the Overview chart is drawn
        page.wait_for_selector(f"{EXPLORER} .vega-embed svg.marks", timeout=180_000)
        _shot(page, "1-overview")

        # 1. brush a time range on the first RED panel: the window narrows
        svg = _panel(page).locator(".vega-embed svg").first
        box = svg.bounding_box()
        assert box is not None
        cell = page.locator(f"{EXPLORER} .vega-embed svg .mark-line path").first.bounding_box()
        assert cell is not None
        y = cell["y"] + cell["height"] / 2
        x0 = cell["x"] + cell["width"] * 0.6
        x1 = cell["x"] + cell["width"] * 0.8
        page.mouse.move(x0, y)
        page.mouse.down()
        page.mouse.move((x0 + x1) / 2, y, steps=5)
        page.mouse.move(x1, y, steps=5)
        page.mouse.up()
        page.wait_for_function(
            f"() => document.querySelector('{EXPLORER} [role=status]')"
            ".innerText.includes('narrowed')",
            timeout=30_000,
        )
        _shot(page, "2-brushed")
        page.locator(f"{EXPLORER} button", has_text="Whole window").click()
        page.wait_for_function(
            f"() => document.querySelector('{EXPLORER} [role=status]')"
            ".innerText.includes('whole incident window')",
            timeout=30_000,
        )

        # 2. click the root-cause service in the graph: the focus and the Logs tab follow
        _tab(page, "Graph")
        node = _panel(page).locator(f".mark-symbol path[aria-label*='service: {truth};']")
        node.first.wait_for(timeout=60_000)
        node.first.click(force=True)
        page.wait_for_function(
            f"() => document.querySelector('{EXPLORER} [role=status]')"
            f".innerText.includes('Services {truth},')",
            timeout=30_000,
        )
        _shot(page, "3-graph-click")
        _tab(page, "Logs")
        page.wait_for_function(
            f"() => [...document.querySelectorAll('{EXPLORER} .widget-html')]"
            f".some(e => e.innerText.includes('{truth} and its neighbours'))",
            timeout=30_000,
        )
        options = _panel(page).locator(".wb-patterns select option").all_inner_texts()
        assert options, "the Logs tab lists patterns"
        assert any(truth in o for o in options)
        _shot(page, "4-logs")

        # 3. Suspects -> "Failing trace" of the top suspect: the waterfall marks the span
        _tab(page, "Suspects")
        button = _panel(page).locator("button", has_text="Failing trace").first
        button.wait_for(timeout=120_000)
        assert truth in _panel(page).locator(".widget-html").first.inner_text() or truth in (
            _panel(page).inner_text()
        )
        # a suspect's "why" wraps at a reading line height, not a button's 28px (look11)
        spacing = page.evaluate(
            f"() => [...document.querySelectorAll('{EXPLORER} .widget-html-content > div')]"
            ".filter(e => e.innerText.includes('score')).map(e => "
            "[parseFloat(getComputedStyle(e).lineHeight), "
            "parseFloat(getComputedStyle(e).fontSize)])"
        )
        assert spacing, "the Suspects tab lists its suspects"
        assert all(lh <= 1.6 * fs for lh, fs in spacing), spacing
        cells = page.evaluate(
            f"() => [...document.querySelectorAll('{EXPLORER} .widget-html-content > table td')]"
            ".map(e => [parseFloat(getComputedStyle(e).lineHeight), "
            "parseFloat(getComputedStyle(e).fontSize)])"
        )
        assert cells and all(lh <= 1.6 * fs for lh, fs in cells), cells[:5]
        button.click()
        page.wait_for_function(
            f"() => [...document.querySelectorAll('{EXPLORER} .vega-embed svg')]"
            ".some(s => s.textContent.includes('error starts here'))",
            timeout=60_000,
        )
        _shot(page, "5-trace")
        assert "Fails at" in _panel(page).inner_text()
        assert truth in _panel(page).inner_text()
        assert "trace" in _state(page)

        # 4. pick another trace in the list (keyboard-reachable <select>): the waterfall follows
        before = _state(page)
        listing = _panel(page).locator(".wb-trace-list select").first
        values = listing.locator("option").evaluate_all("os => os.map(o => o.value)")
        assert len(values) > 2
        listing.select_option(index=2)
        page.wait_for_function(
            f"() => document.querySelector('{EXPLORER} [role=status]').innerText "
            f"!== {json.dumps(before)}",
            timeout=30_000,
        )
        page.wait_for_function(
            f"() => [...document.querySelectorAll('{EXPLORER} .vega-embed svg')]"
            ".some(s => s.textContent.includes('Trace waterfall'))",
            timeout=30_000,
        )
        _shot(page, "6-other-trace")
    finally:
        _shot(page, "last")
        (ARTIFACTS / "explorer-last.html").write_text(page.content())
    body = page.locator("body").inner_text()
    for bad in ("Error loading script", "Error displaying widget", "Javascript Error"):
        assert bad not in body
    assert offline_chromium.blocked == [], offline_chromium.blocked
    time.sleep(0)  # keep the page open until here
