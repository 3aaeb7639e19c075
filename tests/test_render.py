"""`workbench render` on a small executed notebook, no kernel: code hidden, charts as SVG
inline (HTML) or as files beside the Markdown, Markdown outputs kept, errors named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workbench import offline_html
from workbench.cli import main

SPEC = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "data": {"values": [{"a": 1, "b": 3}, {"a": 2, "b": 1}]},
    "mark": "bar",
    "encoding": {
        "x": {"field": "a", "type": "ordinal"},
        "y": {"field": "b", "type": "quantitative"},
    },
}


def _notebook(path: Path) -> Path:
    def code(n: int, src: str, data: dict) -> dict:
        out = {"output_type": "execute_result", "execution_count": n, "data": data, "metadata": {}}
        return {"cell_type": "code", "id": f"c{n}", "metadata": {}, "execution_count": n,
                "source": src, "outputs": [out]}  # fmt: skip

    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            {"cell_type": "markdown", "id": "m0", "metadata": {}, "source": "# Report\n\n**TODO**: fill in"},
            code(1, "secret_helper_call()", {"text/markdown": "| a | b |\n|---|---|\n| 1 | 2 |",
                                             "text/plain": "md"}),
            code(2, "chart_helper_call()", {"application/vnd.vegalite.v5+json": SPEC,
                                            "text/plain": "<VegaLite 5 object>"}),
        ],
    }  # fmt: skip
    path.write_text(json.dumps(nb))
    return path


def test_html_and_markdown_without_code(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "report.ipynb")
    assert main(["render", str(nb), "--to", "html"]) == 0
    html = (tmp_path / "report.html").read_text()
    assert "secret_helper_call" not in html and "chart_helper_call" not in html
    assert "TODO" in html and "<table" in html
    assert len(re.findall(r"<svg[^>]*class=\"marks\"", html)) == 1
    assert offline_html.network_references(html) == []

    out = tmp_path / "docs" / "r.md"
    assert main(["render", str(nb), "--to", "md", "--out", str(out)]) == 0
    md = out.read_text()
    assert "secret_helper_call" not in md and "**TODO**: fill in" in md
    assert "| a | b |" in md
    (link,) = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert link.startswith("r_files/") and (out.parent / link).read_text().startswith("<svg")
    # the notebook itself is left alone
    assert json.loads(nb.read_text())["cells"][2]["outputs"][0]["data"].get("image/svg+xml") is None


def test_render_refuses_what_it_cannot_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = _notebook(tmp_path / "report.ipynb")
    assert main(["render", str(tmp_path / "nope.ipynb")]) == 1
    assert "no notebook" in capsys.readouterr().err
    # parameters only with --execute, and only the notebook's own (it has none)
    assert (
        main(["render", "postmortem", "-p", "bundle", "x", "--out", str(tmp_path / "a.html")]) == 1
    )
    assert "--execute" in capsys.readouterr().err
    assert main(["render", str(nb), "--execute", "-p", "token", "x"]) == 1
    assert "parameters" in capsys.readouterr().err
