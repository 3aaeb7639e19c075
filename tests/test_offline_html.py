"""Static notebooks and offline HTML: chart outputs become SVG, no CDN script survives."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import nbformat
import pytest

from workbench import offline_html
from workbench.errors import BadData

SPEC = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "data": {"values": [{"a": 1, "b": 3}, {"a": 2, "b": 1}, {"a": 3, "b": 2}]},
    "mark": "line",
    "encoding": {
        "x": {"field": "a", "type": "quantitative"},
        "y": {"field": "b", "type": "quantitative"},
    },
}
WIDGET = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"


def _nb() -> dict:
    def out(data: dict) -> dict:
        return {"output_type": "display_data", "data": data, "metadata": {}}

    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "widgets": {
                STATE: {
                    "version_major": 2,
                    "version_minor": 0,
                    "state": {
                        "m1": {
                            "model_name": "AnyModel",
                            "state": {"spec": SPEC, "_esm": "x" * 1000},
                        },
                        "m2": {"model_name": "IntSliderModel", "state": {"value": 3}},
                    },
                }
            },
        },
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# Title $x^2$"},
            {
                "cell_type": "code",
                "id": "b",
                "metadata": {},
                "execution_count": 1,
                "source": "chart",
                "outputs": [
                    out(
                        {
                            WIDGET: {"model_id": "m1", "version_major": 2, "version_minor": 1},
                            "text/plain": "JupyterChart(...)",
                        }
                    ),
                    out({"application/vnd.vegalite.v6+json": SPEC, "text/plain": "<VegaLite>"}),
                    out(
                        {
                            WIDGET: {"model_id": "m2", "version_major": 2, "version_minor": 0},
                            "text/plain": "IntSlider(value=3)",
                        }
                    ),
                    out({"text/plain": "42"}),
                ],
            },
        ],
    }


def test_make_static_turns_chart_outputs_into_svg_and_drops_widget_state() -> None:
    nb = _nb()
    static = offline_html.make_static(nb)
    assert "widgets" in nb["metadata"], "the input is not modified"
    assert "widgets" not in static["metadata"]
    outs = static["cells"][1]["outputs"]
    for o in outs[:2]:
        assert set(o["data"]) == {"image/svg+xml", "text/plain"}
        assert (
            o["data"]["image/svg+xml"].startswith("<svg")
            and 'class="marks"' in o["data"]["image/svg+xml"]
        )
    # not a chart: a note for the reader, not the widget's repr
    note = offline_html.WIDGET_NOTE
    assert outs[2]["data"] == {"text/markdown": note, "text/plain": note}
    assert outs[3]["data"] == {"text/plain": "42"}
    assert offline_html.chart_count(static) == 2
    nbformat.validate(nbformat.from_dict(static))


def test_html_has_inline_charts_and_no_network_script() -> None:
    html = offline_html.to_html(offline_html.make_static(_nb()), title="t")
    assert offline_html.network_references(html) == []
    assert len(re.findall(r'<svg[^>]*class="marks"', html)) == 2
    assert "<script src=" not in html


def test_the_detector_catches_what_nbconvert_loads_by_default() -> None:
    """Plain nbconvert HTML fetches require.js and MathJax from CDNs: the check must see it."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.from_dict(offline_html.make_static(_nb())))
    found = offline_html.network_references(body)
    assert any("require" in f for f in found) and any("mathjax" in f.lower() for f in found)
    for bad in (
        '<script src="https://cdn.example/x.js">',
        "<script src=//cdn.example/x.js>",
        'import("https://esm.sh/vega")',
        '<link rel="stylesheet" href="https://f/x.css">',
        'IMPORT ( "//esm.sh/vega")',
        'x;import {a} from "https://esm.sh/vega"',
    ):
        assert offline_html.network_references(bad), bad
    # "import" only as a word; the match is the text as written
    assert offline_html.network_references('reimport("//x") _import("//y")') == []
    assert offline_html.network_references('(Import("//x/a.js"))') == ['Import("//x/a.js']


def test_a_spec_vl_convert_cannot_render_is_bad_data() -> None:
    nb = _nb()
    nb["cells"][1]["outputs"] = [
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"application/vnd.vegalite.v6+json": {"mark": "no-such-mark"}},
        }
    ]
    with pytest.raises(BadData, match="SVG"):
        offline_html.make_static(nb)


def test_tidy_markdown_keeps_one_blank_line_and_names_images_as_charts() -> None:
    md = "# A\n\n\n\ntext  \n![svg](x_files/a.svg)\n\n\n```\ncode\n\n\nmore\n```\n\n\n"
    assert offline_html.tidy_markdown(md) == (
        "# A\n\ntext\n![chart](x_files/a.svg)\n\n```\ncode\n\n\nmore\n```\n"
    )


def test_svgs_reach_the_html_verbatim_and_in_order() -> None:
    """The charts skip nbconvert's HTML re-parse (placeholders) and come back byte for
    byte, each in its own output, in order (the re-parse lower-cased ``viewBox``)."""
    static = offline_html.make_static(_nb())
    svgs = [
        o["data"]["image/svg+xml"]
        for c in static["cells"]
        for o in c.get("outputs", [])
        if "image/svg+xml" in o.get("data", {})
    ]
    assert len(svgs) == 2 and all("viewBox" in s for s in svgs)
    html = offline_html.to_html(static, title="t")
    positions = [html.index(offline_html.scope_svg_ids(s, f"wb{i}-")) for i, s in enumerate(svgs)]
    assert positions == sorted(positions)
    assert "workbench-svg-" not in html
    # the same page again from the process's one exporter (templates compiled once)
    assert offline_html.to_html(static, title="t") == html


def test_svg_ids_are_unique_in_a_page() -> None:
    """Two SVGs drawn by different vl-convert processes both define ``clip1``: in the page
    each keeps its own (scoped) ids and references, text is untouched."""
    svg = (
        '<svg><defs><clipPath id="clip1"><rect/></clipPath><linearGradient id="gradient_0"/>'
        '</defs><g clip-path="url(#clip1)" fill="url(#gradient_0)"><use href="#clip1"/>'
        "<text>id=clip1 url(#clip1)</text></g></svg>"
    )
    a, b = offline_html.scope_svg_ids(svg, "wb0-"), offline_html.scope_svg_ids(svg, "wb1-")
    assert 'id="wb0-clip1"' in a and "url(#wb0-clip1)" in a and 'href="#wb0-clip1"' in a
    assert 'fill="url(#wb0-gradient_0)"' in a and "<text>id=clip1 url(#clip1)</text>" in a
    ids = re.findall(r'\bid="([^"]+)"', a + b)
    assert len(ids) == len(set(ids)) == 4


def test_svg_ids_are_numbered_over_the_notebook_as_one_process_numbers_them() -> None:
    """vl-convert numbers clip paths (from 1) and gradients (from 0) per process, on
    from its previous chart: the numbering continues from SVG to SVG whatever numbers
    each came with, references follow their ids, text and other ids stay."""
    ids = offline_html.SvgIdNumbering()
    a = (
        '<svg><defs><clipPath id="clip7"/><clipPath id="clip9"/></defs>'
        '<g clip-path="url(#clip9)"><g clip-path="url(#clip7)"/></g>'
        '<text>id=clip7 url(#clip7)</text><path id="other3"/></svg>'
    )
    assert ids.number(a) == (
        '<svg><defs><clipPath id="clip1"/><clipPath id="clip2"/></defs>'
        '<g clip-path="url(#clip2)"><g clip-path="url(#clip1)"/></g>'
        '<text>id=clip7 url(#clip7)</text><path id="other3"/></svg>'
    )
    b = (
        '<svg><linearGradient id="gradient_4"/><radialGradient id="gradient_5"/>'
        '<pattern id="p_gradient_5"><rect fill="url(#gradient_5)"/></pattern>'
        '<clipPath id="clip1"/><g clip-path="url(#clip1)" fill="url(#p_gradient_5)"/>'
        '<use href="#gradient_4"/></svg>'
    )
    assert ids.number(b) == (
        '<svg><linearGradient id="gradient_0"/><radialGradient id="gradient_1"/>'
        '<pattern id="p_gradient_1"><rect fill="url(#gradient_1)"/></pattern>'
        '<clipPath id="clip3"/><g clip-path="url(#clip3)" fill="url(#p_gradient_1)"/>'
        '<use href="#gradient_0"/></svg>'
    )
    assert ids.number("<svg><rect/></svg>") == "<svg><rect/></svg>"
    assert ids.number('<svg><clipPath id="clip1"/></svg>') == '<svg><clipPath id="clip4"/></svg>'
    # numbered as one process numbers them already: the same text
    fresh, serial = offline_html.SvgIdNumbering(), offline_html.SvgIdNumbering()
    first, second = fresh.number(a), fresh.number(b)
    assert [serial.number(first), serial.number(second)] == [first, second]


def test_charts_drawn_by_two_processes_are_the_bytes_one_process_draws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A notebook of clipped charts (clip paths are numbered per vl-convert process)
    drawn by a drawer's two processes, out of order, is the same static notebook as one
    drawn serially in a fresh process: the first chart's clip path is clip1, and each
    next chart's goes on from the previous one's."""
    import json
    import subprocess
    import sys

    monkeypatch.setenv("WORKBENCH_SVG_CACHE", "0")
    nb = _nb()
    charts = [
        {**SPEC, "mark": {"type": "line", "clip": True}},
        {**SPEC, "mark": {"type": "point", "clip": True}},
        {**SPEC, "mark": {"type": "bar", "clip": True}},
    ]
    nb["cells"] += [
        {
            **nb["cells"][1],
            "id": f"c{i}",
            "outputs": [
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"application/vnd.vegalite.v6+json": chart},
                }
            ],
        }
        for i, chart in enumerate(charts)
    ]
    state = nb["metadata"]["widgets"][STATE]["state"]
    drawer = offline_html.SvgDrawer(processes=2)
    try:
        for cell in reversed(nb["cells"]):  # the last chart first: another numbering
            drawer.submit_outputs(cell, state)
        apart = offline_html.make_static(nb, svgs=drawer)
    finally:
        drawer.close()
    assert drawer.drawn_apart == 4 and drawer.drawn_here == 0
    serial = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; from workbench import offline_html; "
            "print(json.dumps(offline_html.make_static(json.loads(sys.stdin.read()))))",
        ],
        input=json.dumps(nb),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.dumps(apart) == serial.stdout.strip()
    svgs = [
        o["data"]["image/svg+xml"]
        for c in apart["cells"]
        for o in c.get("outputs", [])
        if "image/svg+xml" in o.get("data", {})
    ]
    assert [re.findall(r'id="(clip\d+)"', s) for s in svgs] == [
        [],
        [],
        ["clip1"],
        ["clip2"],
        ["clip3"],
    ]


def test_warm_up_leaves_the_export_unchanged() -> None:
    static = offline_html.make_static(_nb())
    before = offline_html.to_html(static, title="t", exclude_input=True)
    offline_html.warm_up()
    assert offline_html.to_html(static, title="t", exclude_input=True) == before


def _svg_ids_masked(svg: str) -> str:
    # each vl-convert process numbers its clip paths and gradients from its first chart
    return re.sub(r"\b(clip|gradient_?)\d+", r"\1N", svg)


def test_svg_drawer_draws_ahead_in_a_process_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Charts submitted while a notebook runs are drawn once, ahead, by the drawer's
    child process, never in this one (vl-convert keeps the GIL while it draws: here it
    would stall a notebook run's cell loop); make_static takes them from there, and they
    are the SVGs this process would have drawn."""
    monkeypatch.setenv("WORKBENCH_SVG_CACHE", "0")
    here: list[str] = []
    real = offline_html.draw_svg

    def counting(spec: dict, *, vega: bool = False) -> str:
        here.append("drawn")
        return real(spec, vega=vega)

    monkeypatch.setattr(offline_html, "draw_svg", counting)
    nb = _nb()
    state = nb["metadata"]["widgets"][STATE]["state"]
    drawer = offline_html.SvgDrawer()
    try:
        drawer.start()
        assert len(drawer.pids) == 2 and all(p not in (None, os.getpid()) for p in drawer.pids)
        drawer.submit_outputs(nb["cells"][1], state)  # the widget chart and the mimebundle
        static = offline_html.make_static(nb, svgs=drawer)
    finally:
        drawer.close()
    assert here == [] and drawer.drawn_here == 0
    assert drawer.drawn_apart == 1  # one spec (two outputs), drawn once
    assert offline_html.chart_count(static) == 2
    plain = offline_html.make_static(nb)  # drawn here
    assert len(here) == 2

    def svgs(book: dict) -> list[str]:
        return [
            _svg_ids_masked(o["data"]["image/svg+xml"])
            for c in book["cells"]
            for o in c.get("outputs", [])
            if "image/svg+xml" in o.get("data", {})
        ]

    assert svgs(static) == svgs(plain)
    assert [c.get("outputs") and len(c["outputs"]) for c in static["cells"]] == [
        c.get("outputs") and len(c["outputs"]) for c in plain["cells"]
    ]


def test_svg_drawer_draws_here_when_its_process_is_gone(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing lost when the drawing processes die: a chart goes to the other process
    while one is left, then it is drawn in this process, with a warning saying so."""
    monkeypatch.setenv("WORKBENCH_SVG_CACHE", "0")
    nb = _nb()
    state = nb["metadata"]["widgets"][STATE]["state"]
    drawer = offline_html.SvgDrawer()
    try:
        drawer.start()
        first, second = drawer.pids
        assert first is not None and second is not None
        os.kill(first, signal.SIGKILL)
        with caplog.at_level("WARNING", logger="workbench.offline_html"):
            drawer.submit_outputs(nb["cells"][1], state)
            static = offline_html.make_static(nb, svgs=drawer)
            assert drawer.drawn_here == 0 and drawer.drawn_apart == 1  # by the second
            os.kill(second, signal.SIGKILL)
            drawer.submit({**SPEC, "mark": "point"})
            assert drawer.svg({**SPEC, "mark": "point"}).startswith("<svg")
    finally:
        drawer.close()
    assert offline_html.chart_count(static) == 2
    assert drawer.drawn_here == 1 and drawer.drawn_apart == 1
    assert "SVG process exited" in caplog.text and "no SVG process left" in caplog.text


def test_a_spec_the_drawing_process_cannot_render_is_bad_data() -> None:
    """vl-convert's error comes back from the child process as the BadData this process
    would raise; the process goes on drawing the next chart."""
    bad = {"mark": "no-such-mark"}
    with pytest.raises(BadData, match="SVG") as here:
        offline_html.draw_svg(bad)
    drawer = offline_html.SvgDrawer()
    try:
        drawer.submit(bad)
        drawer.submit(SPEC)
        with pytest.raises(BadData, match="SVG") as apart:
            drawer.svg(bad)
        assert drawer.svg(SPEC).startswith("<svg")
    finally:
        drawer.close()
    assert str(apart.value) == str(here.value)
    assert drawer.drawn_here == 0 and drawer.drawn_apart == 1


def test_write_static_from_memory_writes_what_it_writes_from_the_file(tmp_path: Path) -> None:
    """``workbench demo`` hands the executed notebook over in memory (a NotebookNode,
    strings joined) instead of papermill writing it first: the static notebook and the
    HTML are the same bytes as from the file nbformat would have written."""
    nb = _nb()
    nb["metadata"]["orig_nbformat"] = 4  # transient: nbformat drops it on write
    nb["cells"][1]["outputs"].append(
        {"output_type": "stream", "name": "stdout", "text": "two\nlines\n"}
    )
    on_disk = tmp_path / "file.ipynb"
    on_disk.write_text(nbformat.writes(nbformat.from_dict(nb)), encoding="utf-8")
    from_file = offline_html.write_static(on_disk)
    in_memory = tmp_path / "memory.ipynb"
    from_memory = offline_html.write_static(in_memory, nb=nbformat.from_dict(nb))
    assert in_memory.read_bytes() == on_disk.read_bytes()
    assert from_memory.read_bytes() == from_file.read_bytes()
    assert '"two\\n",' in in_memory.read_text(encoding="utf-8")  # lines split, as nbformat does


def test_write_static_with_a_drawer_writes_what_it_writes_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a drawer, ``write_static`` exports the HTML around the charts' places while
    they are drawn, then puts them in: the same notebook and HTML bytes as drawing each
    chart first (the SVG cache makes both runs' SVGs the same bytes)."""
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("WORKBENCH_SVG_CACHE", raising=False)
    nb = _nb()
    clipped = {**SPEC, "mark": {"type": "line", "clip": True}}  # its SVG defines an id
    nb["cells"].append(
        {
            **nb["cells"][1],
            "id": "c",
            "outputs": [
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"application/vnd.vegalite.v6+json": clipped},
                }
            ],
        }
    )
    plain = tmp_path / "plain.ipynb"
    plain_html = offline_html.write_static(plain, nb=nbformat.from_dict(nb))
    drawn = tmp_path / "drawn.ipynb"
    drawer = offline_html.SvgDrawer()
    try:
        for cell in nb["cells"]:
            drawer.submit_outputs(cell, nb["metadata"]["widgets"][STATE]["state"])
        drawn_html = offline_html.write_static(drawn, nb=nbformat.from_dict(nb), svgs=drawer)
    finally:
        drawer.close()
    assert drawn.read_bytes() == plain.read_bytes()
    assert drawn_html.read_bytes() == plain_html.read_bytes()
    page = drawn_html.read_text()
    # each SVG's ids numbered over the notebook (the first clip path is clip1 however
    # many this process's vl-convert drew before), and scoped in the page
    assert page.count("<svg") == 3 and 'id="wb2-clip1"' in page
    assert "workbench-pending" not in page + drawn.read_text()
    assert drawer.drawn_apart == 2 and drawer.drawn_here == 0


def test_write_static_with_a_drawer_writes_nothing_when_a_chart_fails(tmp_path: Path) -> None:
    """A chart the drawer cannot draw fails the static copy before anything is written
    (``workbench demo`` then writes the notebook as executed)."""
    nb = _nb()
    nb["cells"][1]["outputs"] = [
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"application/vnd.vegalite.v6+json": {"mark": "no-such-mark"}},
        }
    ]
    drawer = offline_html.SvgDrawer()
    try:
        with pytest.raises(BadData, match="SVG"):
            offline_html.write_static(tmp_path / "x.ipynb", nb=nbformat.from_dict(nb), svgs=drawer)
    finally:
        drawer.close()
    assert list(tmp_path.iterdir()) == []
