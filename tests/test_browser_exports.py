"""The three static exports, looked at in Chromium as a reader would: the incident page
(`workbench demo --execute`), the postmortem (HTML and Markdown, rendered from an
evidence bundle whose incident id is not the demo's) and the capacity report.

In each, every text element of every chart must lie inside its SVG's box (a label cut
at the edge reads "heckout: unhandled..."), no chart caption may ask the reader to hover,
and the outputs must end in words, not in a Python repr. Screenshots of the full pages go
to $WORKBENCH_ARTIFACTS (default /tmp/workbench-artifacts).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_demo_notebook import git_status
from workbench import Incident

ARTIFACTS = Path(os.environ.get("WORKBENCH_ARTIFACTS", "/tmp/workbench-artifacts"))
BUNDLE_ID = "INC-4242"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# every <text> of every top-level <svg>, with its box and the SVG's (CSS pixels)
MEASURE = """() => {
  const out = [];
  [...document.querySelectorAll('svg')].filter(s => !s.parentElement.closest('svg'))
    .forEach((svg, i) => {
      const box = svg.getBoundingClientRect();
      svg.querySelectorAll('text').forEach(t => {
        const r = t.getBoundingClientRect();
        if (!t.textContent.trim() || r.width === 0) return;
        out.push({svg: i, text: t.textContent,
                  left: r.left - box.left, right: box.right - r.right,
                  top: r.top - box.top, bottom: box.bottom - r.bottom});
      });
    });
  return out;
}"""


def _run(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=cwd)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("exports")
    before = git_status()
    demo = Incident.demo()
    inc = Incident(
        BUNDLE_ID,
        demo.window,
        baseline=demo.baseline,
        sources=demo.sources,
        title="Checkout failing for shoppers",
    )
    bundle = inc.load().save_bundle(out / f"{BUNDLE_ID}.bundle")
    cli = [sys.executable, "-m", "workbench.cli"]
    pm = out / "pm"
    _run([*cli, "demo", "--execute", str(out / "incident")], out)
    _run([*cli, "render", "postmortem", "--execute", "-p", "bundle", str(bundle),
          "--to", "html", "--out", str(pm / "postmortem.html")], out)  # fmt: skip
    _run([*cli, "render", str(pm / "postmortem.ipynb"), "--to", "md",
          "--out", str(pm / "md" / f"{BUNDLE_ID}.md")], out)  # fmt: skip
    _run([*cli, "render", "capacity", "--execute", "--to", "html",
          "--out", str(out / "capacity" / "capacity.html")], out)  # fmt: skip
    md = pm / "md" / f"{BUNDLE_ID}.md"
    svgs = sorted((md.parent / f"{BUNDLE_ID}_files").glob("*.svg"))
    md_page = "<html><body>" + "".join(p.read_text() for p in svgs) + "</body></html>"
    return {
        "pages": {
            "incident": (out / "incident" / "incident.html").read_text(),
            "postmortem": (pm / "postmortem.html").read_text(),
            "postmortem-md-images": md_page,
            "capacity": (out / "capacity" / "capacity.html").read_text(),
        },
        "markdown": md,
        "git": (before, git_status()),
    }


@pytest.mark.parametrize("name", ["incident", "postmortem", "postmortem-md-images", "capacity"])
def test_no_chart_text_is_clipped_and_no_caption_asks_to_hover(
    exports: dict[str, Any], offline_chromium: Any, name: str
) -> None:
    page = offline_chromium.new_page()
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.set_content(exports["pages"][name], wait_until="load")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"export-{name}.png"), full_page=True)
    texts = page.evaluate(MEASURE)
    charts = {t["svg"] for t in texts}
    assert len(charts) >= 3 and len(texts) >= 60, (len(charts), len(texts))
    clipped = [t for t in texts if min(t["left"], t["right"], t["top"], t["bottom"]) < -0.5]
    assert clipped == [], clipped[:5]
    assert [t["text"] for t in texts if "hover" in t["text"].lower()] == []
    assert offline_chromium.blocked == []


def test_html_exports_end_with_words_not_a_repr(
    exports: dict[str, Any], offline_chromium: Any
) -> None:
    page = offline_chromium.new_page()
    for name in ("incident", "postmortem", "capacity"):
        page.set_content(exports["pages"][name], wait_until="load")
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        assert outputs, name
        assert not re.fullmatch(r"[A-Za-z_.]+\(.*\)", outputs[-1].strip(), re.S), outputs[-1]
        assert "IncidentExplorer(" not in "\n".join(outputs)
    assert BUNDLE_ID in exports["pages"]["postmortem"]
    assert "LAB-DEMO-1" not in exports["pages"]["postmortem"]


def test_markdown_postmortem_is_clean_commonmark_with_relative_images(
    exports: dict[str, Any],
) -> None:
    md_path: Path = exports["markdown"]
    md = md_path.read_text()
    assert f"| Incident | {BUNDLE_ID} |" in md  # the bundle's id, not the demo's
    assert "LAB-DEMO-1" not in md
    for noise in ("-\\>", "\\<\\*\\>", "http\\_server", "\\#"):
        assert noise not in md, noise
    assert "→ " in md and "http_server_requests_total" in md  # the same text, unescaped
    assert "\n\n\n" not in md and md.endswith("\n") and not md.endswith("\n\n")
    images = re.findall(r"!\[([^\]]*)\]\(([^)]+)\)", md)
    assert len(images) >= 3
    for alt, ref in images:
        assert alt == "chart"
        assert not ref.startswith(("/", "http")) and (md_path.parent / ref).is_file()


def test_exports_leave_the_checkout_as_it_was(exports: dict[str, Any]) -> None:
    before, after = exports["git"]
    assert after == before
