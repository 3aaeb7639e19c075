"""Executed notebooks made static and readable offline: charts as SVG, HTML with no CDN.

In a live JupyterLab, altair's offline renderer shows each chart as a widget whose view
lives in the kernel's comm state. Once the notebook is saved and closed that state is a
1 MB JavaScript blob per chart, and nbconvert's HTML would fetch require.js, MathJax, the
widget manager and mermaid from CDNs. This module turns every chart output (a
JupyterChart widget, or a Vega-Lite mimebundle) into an SVG rendered by vl-convert, drops
the widget state, and exports HTML through a template that loads no script at all.

Example::

    >>> from workbench import offline_html
    >>> nb = offline_html.make_static(json.load(open("out/incident.ipynb")))
    >>> html = offline_html.to_html(nb)
    >>> offline_html.network_references(html)      # [] when it opens offline
    []
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import re
import threading
from collections.abc import Iterator
from concurrent.futures import Future, wait
from pathlib import Path
from typing import Any

from workbench.chart_svg import SvgProcess, SvgProcessGone, draw_svg
from workbench.errors import BadData

__all__ = [
    "SvgDrawer",
    "SvgIdNumbering",
    "chart_count",
    "make_static",
    "network_references",
    "scope_svg_ids",
    "tidy_markdown",
    "to_html",
    "to_markdown",
    "warm_up",
    "write_static",
]

#: what a static export shows in place of an interactive widget (the explorer)
WIDGET_NOTE = (
    "_Interactive explorer: it needs a live kernel. In JupyterLab, run this cell (or Run "
    "All) to start it; from an exported copy, open the notebook in JupyterLab._"
)
log = logging.getLogger(__name__)

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_VEGALITE = re.compile(r"^application/vnd\.vegalite\.v\d+\+json$")
_VEGA = re.compile(r"^application/vnd\.vega\.v\d+\+json$")

# The lab template without its CDN scripts (require.js, MathJax, widget manager, mermaid).
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_svg scoped -%}
<div class="jp-RenderedSVG jp-OutputArea-output {{ extra_class }}" data-mime-type="image/svg+xml">
{{ output.data['image/svg+xml'] }}
</div>
{%- endblock data_svg -%}
{%- block extra_css -%}
<style>
  .jp-RenderedSVG svg { max-width: 100%; height: auto; }
  .wb-chart-note { color: #666; font-size: 0.85em; }
</style>
{%- endblock extra_css -%}
"""

# ``import(?<=\bimport)`` is ``\bimport``, written so the regex engine can look for the
# word first (twice as fast over a page of inline SVG)
_NETWORK = [
    re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^\"'\s>]+", re.I),
    re.compile(r"import(?<=\bimport)\s*\(\s*[\"'](?:https?:)?//[^\"']+", re.I),
    re.compile(r"import(?<=\bimport)\b[^;\n]*\bfrom\s*[\"'](?:https?:)?//[^\"']+", re.I),
    re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^\"'\s>]+", re.I),
    re.compile(r"@import\s+(?:url\()?[\"']?(?:https?:)?//[^\"')\s]+", re.I),
]


class SvgDrawer:
    """Draws chart SVGs as their specs become known (while a notebook still executes),
    for :func:`make_static` to pick up; a spec it was not given is drawn when asked, as
    without it. Errors surface when the SVG is asked for.

    The drawing happens in ``processes`` child processes
    (:class:`~workbench.chart_svg.SvgProcess`), each chart in the first one free:
    vl-convert keeps the GIL while it draws, and in this process it would stall the
    notebook run's cell loop; with two, the charts that come after a big one (the demo's
    RED panels) are drawn beside it rather than after it. Which process drew a chart does
    not show: :func:`make_static` numbers the SVGs' ids (:class:`SvgIdNumbering`). If a
    process is gone, its charts are drawn here.

    >>> drawer = SvgDrawer()
    >>> drawer.start()                           # optional: warms the processes up early
    >>> drawer.submit(spec)                      # returns at once
    >>> make_static(nb, svgs=drawer)             # finds it drawn
    >>> drawer.close()
    """

    def __init__(self, processes: int = 2) -> None:
        import queue
        from concurrent.futures import ThreadPoolExecutor

        # a thread per process keys each spec and waits for it (GIL released meanwhile)
        self._pool = ThreadPoolExecutor(max_workers=processes, thread_name_prefix="svg")
        self._processes = [SvgProcess() for _ in range(processes)]
        self._idle: queue.SimpleQueue[SvgProcess] = queue.SimpleQueue()
        for process in self._processes:
            self._idle.put(process)
        self._futures: dict[tuple[str, bool], Any] = {}
        self._submitted: list[Any] = []
        self._lock = threading.Lock()
        #: how many SVGs were drawn in this process (a child process was gone)
        self.drawn_here = 0

    @property
    def drawn_apart(self) -> int:
        """How many SVGs the child processes drew (or found in the SVG cache)."""
        return sum(p.drawn for p in self._processes)

    @property
    def pids(self) -> list[int | None]:
        """The child processes' ids (None: not launched, or closed)."""
        return [p.pid for p in self._processes]

    def start(self, processes: int | None = None) -> None:
        """Launch the drawing processes now (they warm up while the caller goes on); only
        the first ``processes`` of them if given (the others: at a later ``start()``, or
        when a chart finds every launched one busy)."""
        for process in self._processes[:processes]:
            try:
                process.start()
            except SvgProcessGone as exc:  # its charts are drawn here, when asked
                log.warning("%s; charts are drawn in this process", exc)

    @staticmethod
    def _key(spec: dict[str, Any], vega: bool) -> tuple[str, bool]:
        return json.dumps(spec, sort_keys=True, default=str), vega

    def submit(self, spec: dict[str, Any], *, vega: bool = False) -> None:
        """Draw ``spec``'s SVG in the background. Returns at once: the spec is keyed in
        the background thread too (the caller, a notebook run's cell loop, starts the
        next cell sooner); ``spec`` must not be modified in place afterwards (a kernel's
        widget state replaces a spec, it does not edit it)."""
        with self._lock:
            self._submitted.append(self._pool.submit(self._draw, spec, vega))

    def _draw(self, spec: dict[str, Any], vega: bool) -> None:
        key = self._key(spec, vega)
        with self._lock:
            if key in self._futures:
                return
            done: Any = Future()
            self._futures[key] = done
        try:
            done.set_result(self._draw_key(key, spec))
        except BaseException as exc:  # raised when the SVG is asked for
            done.set_exception(exc)

    def _draw_key(self, key: tuple[str, bool], spec: dict[str, Any]) -> str:
        # the first process free; if it is gone, the next one free (a gone one goes back
        # in the queue and fails at once), at most one try per process: then draw here
        for _ in self._processes:
            process = self._idle.get()  # one is free: as many threads as processes
            try:
                return process.draw(key[0], vega=key[1])
            except SvgProcessGone as exc:
                log.warning("%s; drawing the chart elsewhere", exc)
            finally:
                self._idle.put(process)
        log.warning("no SVG process left; drawing the chart in this process")
        with self._lock:
            self.drawn_here += 1
        return draw_svg(spec, vega=key[1])

    def submit_outputs(self, cell: Any, widget_state: Any) -> None:
        """Submit every chart among ``cell``'s outputs (a widget's spec is looked up in
        ``widget_state``): fit for :func:`workbench.notebook.execute`'s ``on_cell_done``."""
        for o in cell.get("outputs", []):
            data = o.get("data") or {}
            if "image/svg+xml" in data or "image/png" in data:
                continue
            for mime, value in data.items():
                if _VEGALITE.match(mime) or _VEGA.match(mime):
                    self.submit(value, vega=bool(_VEGA.match(mime)))
            view = data.get(_WIDGET_VIEW)
            if isinstance(view, dict):
                spec = (widget_state.get(view.get("model_id", "")) or {}).get("spec")
                if spec:
                    self.submit(spec)

    def svg(self, spec: dict[str, Any], *, vega: bool = False) -> str:
        key = self._key(spec, vega)
        with self._lock:
            submitted = list(self._submitted)
        wait(submitted)  # each keyed (and drawn) by the background threads
        with self._lock:
            future = self._futures.get(key)
        return future.result() if future is not None else self._draw_key(key, spec)

    def close(self) -> None:
        """Stop drawing: pending charts are dropped, the child processes exit."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in self._processes:
            process.close()


def _static_output(
    data: dict[str, Any],
    widgets: dict[str, Any],
    svgs: SvgDrawer | _PendingSvgs | None,
    ids: SvgIdNumbering,
) -> dict[str, Any] | None:
    """SVG data for one chart output (its ids numbered by ``ids``), or None if it is not
    a chart. A :class:`_PendingSvgs` gives a placeholder: it numbers the SVG later."""
    if "image/svg+xml" in data or "image/png" in data:
        return None
    spec: dict[str, Any] | None = None
    vega = False
    for mime, value in data.items():
        if _VEGALITE.match(mime):
            spec = value
        elif _VEGA.match(mime):
            spec, vega = value, True
    if spec is None and _WIDGET_VIEW in data:
        model = widgets.get(data[_WIDGET_VIEW].get("model_id", ""), {})
        spec = model.get("state", {}).get("spec")
    if not spec:
        return None
    if isinstance(svgs, _PendingSvgs):
        svg = svgs.svg(spec, vega=vega)
    else:
        svg = ids.number(
            svgs.svg(spec, vega=vega) if svgs is not None else draw_svg(spec, vega=vega)
        )
    return {"image/svg+xml": svg, "text/plain": "<chart>"}


def make_static(
    nb: dict[str, Any], *, svgs: SvgDrawer | _PendingSvgs | None = None
) -> dict[str, Any]:
    """A copy of notebook ``nb`` (dict) whose charts are SVG and that holds no widget state.

    Widget outputs that are not charts become a short note, not a broken widget.
    ``svgs``: a :class:`SvgDrawer` that may have drawn some charts already. The charts'
    clip paths and gradients are numbered in order over the notebook
    (:class:`SvgIdNumbering`): the same bytes whichever process drew them.
    """
    # the widget state (megabytes of JavaScript per chart) is read, never copied
    meta = dict(nb.get("metadata") or {})
    widgets = meta.pop("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})
    # nor is a chart's spec (half a megabyte for the RED panels, replaced by its SVG)
    specs = {
        id(value): value
        for cell in nb.get("cells", [])
        for o in cell.get("outputs", [])
        for mime, value in (o.get("data") or {}).items()
        if _VEGALITE.match(mime) or _VEGA.match(mime)
    }
    out = copy.deepcopy({**nb, "metadata": meta}, specs)
    ids = SvgIdNumbering()
    for cell in out.get("cells", []):
        for o in cell.get("outputs", []):
            data = o.get("data")
            if not data:
                continue
            static = _static_output(data, widgets, svgs, ids)
            if static is not None:
                o["data"] = static
                o["metadata"] = {}
            elif _WIDGET_VIEW in data:
                # its text/plain is a repr ("IncidentExplorer(...)"), not for readers
                o["data"] = {"text/markdown": WIDGET_NOTE, "text/plain": WIDGET_NOTE}
                o["metadata"] = {}
    return out


def _as_file(nb: Any) -> Any:
    """``nb`` (an nbformat ``NotebookNode``, modified in place) as nbformat writes it to a
    file, but for the order of keys: multi-line strings split into lines, transient
    fields dropped; so that a notebook written from memory reads as one written by
    nbformat and read back."""
    from nbformat.v4.rwbase import split_lines, strip_transient

    return strip_transient(split_lines(nb))


def _sorted_keys(value: Any) -> Any:
    """``value`` with every dict's keys in sorted order (as nbformat writes them)."""
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def chart_count(nb: dict[str, Any]) -> int:
    """How many outputs of ``nb`` are SVG charts."""
    return sum(
        "image/svg+xml" in o.get("data", {})
        for c in nb.get("cells", [])
        for o in c.get("outputs", [])
    )


def _hide_code(exporter: Any) -> None:
    """Make an nbconvert exporter leave out code cells' input and the In/Out prompts."""
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True


_SVG_SLOT = "<!--workbench-svg-{}-->"


def _svg_slots(nb: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A shallow copy of ``nb`` whose SVG outputs are short placeholders, and the SVGs.

    nbconvert's HTML exporter parses its whole output again with BeautifulSoup (to add
    alt texts and tab stops); the charts are most of the bytes and need neither, so they
    are put back after it, as they are."""
    svgs: list[str] = []
    cells = []
    for cell in nb.get("cells", []):
        outputs = cell.get("outputs")
        if not outputs or not any("image/svg+xml" in o.get("data", {}) for o in outputs):
            cells.append(cell)
            continue
        new_outputs = []
        for o in outputs:
            data = o.get("data", {})
            if "image/svg+xml" in data:
                svg = data["image/svg+xml"]
                svgs.append("".join(svg) if isinstance(svg, list) else str(svg))
                o = {**o, "data": {**data, "image/svg+xml": _SVG_SLOT.format(len(svgs) - 1)}}
            new_outputs.append(o)
        cells.append({**cell, "outputs": new_outputs})
    return {**nb, "cells": cells}, svgs


_SVG_ID = re.compile(r'\bid="([^"]+)"')


def scope_svg_ids(svg: str, prefix: str) -> str:
    """``svg`` with every id it defines (clip paths, gradients) and every reference to
    one (``url(#id)``, ``href="#id"``) prefixed: SVGs drawn by different vl-convert
    processes (the SVG cache) number them from 1 each, and one page must not hold two
    elements with the same id (a chart would clip to another chart's rectangle).

    >>> scope_svg_ids('<clipPath id="clip1"/><g clip-path="url(#clip1)"/>', "wb0-")
    '<clipPath id="wb0-clip1"/><g clip-path="url(#wb0-clip1)"/>'
    """
    ids = set(_SVG_ID.findall(svg))
    if not ids:
        return svg
    names = "|".join(re.escape(x) for x in sorted(ids, key=len, reverse=True))
    ref = re.compile(rf'(\bid="|="url\(#|href="#)({names})(?=["\)])')  # attributes only
    return ref.sub(lambda m: f"{m.group(1)}{prefix}{m.group(2)}", svg)


# the ids vl-convert (Vega's SVG renderer) numbers: clip paths from 1, gradients from 0
# (a radial gradient's pattern is ``p_`` + its gradient's id, same number)
_NUMBERED_ID = re.compile(r"(?:(clip)|(?:p_)?(gradient_))(\d+)")
_FIRST_NUMBER = {"clip": 1, "gradient_": 0}


class SvgIdNumbering:
    """Numbers the clip paths and gradients of chart SVGs in sequence over a notebook, as
    one vl-convert process drawing its charts in order numbers them: the first chart's
    clip paths ``clip1``..``clipN``, the next chart's from ``clipN+1``, and so on
    (gradients ``gradient_0``.. likewise). vl-convert counts per process, so a chart's ids
    otherwise depend on which process drew it and what that process drew before (the
    SVG cache, a second drawing process): numbered here, a notebook's SVGs are the same
    bytes however they were drawn, and its ids are unique in it.

    >>> ids = SvgIdNumbering()
    >>> ids.number('<clipPath id="clip7"/><g clip-path="url(#clip7)"/>')
    '<clipPath id="clip1"/><g clip-path="url(#clip1)"/>'
    >>> ids.number('<clipPath id="clip1"/><g clip-path="url(#clip1)"/>')
    '<clipPath id="clip2"/><g clip-path="url(#clip2)"/>'
    """

    def __init__(self) -> None:
        self._next = dict(_FIRST_NUMBER)

    def number(self, svg: str) -> str:
        """``svg`` with its numbered ids (defined with ``id="..."``) renumbered from where
        the previous SVG's left off, in their order (lowest first); every reference to
        them (``url(#id)``, ``href="#id"``) follows. Other ids and text are untouched."""
        found: dict[str, set[int]] = {family: set() for family in self._next}
        for name in _SVG_ID.findall(svg):
            m = _NUMBERED_ID.fullmatch(name)
            if m:
                found[m.group(1) or m.group(2)].add(int(m.group(3)))
        new: dict[tuple[str, int], int] = {}
        for family, numbers in found.items():
            for k, old in enumerate(sorted(numbers)):
                new[family, old] = self._next[family] + k
            self._next[family] += len(numbers)
        if all(old == to for (_, old), to in new.items()):
            return svg

        def renumber(m: re.Match[str]) -> str:
            family = m.group(2) or m.group(4)
            to = new.get((family, int(m.group(5))))
            if to is None:  # referenced but not defined here: not ours to change
                return m.group(0)
            return f"{m.group(1)}{m.group(3) or ''}{family}{to}"

        return _NUMBERED_REF.sub(renumber, svg)


# a numbered id where an attribute defines or references it (not in text)
_NUMBERED_REF = re.compile(r'(\bid="|="url\(#|href="#)(?:(clip)|(p_)?(gradient_))(\d+)(?=["\)])')


def to_html(nb: dict[str, Any], *, title: str | None = None, exclude_input: bool = False) -> str:
    """HTML of a (static) notebook that loads nothing from the network; charts are inline
    SVG. Code is kept and highlighted, unless ``exclude_input=True`` (a report: outputs
    and text only)."""
    body = _to_html_unchecked(nb, title=title, exclude_input=exclude_input)
    _check_offline(body)
    return body


def _to_html_unchecked(
    nb: dict[str, Any], *, title: str | None = None, exclude_input: bool = False
) -> str:
    import nbformat

    with _exporter(exclude_input) as exporter:
        return _export(exporter, nb, title, nbformat)


def _check_offline(body: str) -> None:
    bad = network_references(body)
    if bad:
        raise BadData(f"the HTML export would load from the network: {bad[:3]}")


_EXPORTERS: dict[bool, Any] = {}
_EXPORTERS_LOCK = threading.Lock()


@contextlib.contextmanager
def _exporter(exclude_input: bool) -> Iterator[Any]:
    """The HTML exporter, made once per process (its Jinja templates compile once: a
    fresh exporter compiles them again), used by one thread at a time."""
    with _EXPORTERS_LOCK:
        exporter = _EXPORTERS.get(exclude_input)
        if exporter is None:
            import jinja2
            from nbconvert import HTMLExporter

            exporter = HTMLExporter(
                extra_loaders=[jinja2.DictLoader({"workbench_offline.html.j2": _TEMPLATE})],
                template_file="workbench_offline.html.j2",
            )
            if exclude_input:
                _hide_code(exporter)
            _EXPORTERS[exclude_input] = exporter
        yield exporter


def _export(exporter: Any, nb: dict[str, Any], title: str | None, nbformat: Any) -> str:
    slotted, svgs = _svg_slots(nb)
    node = nbformat.reads(json.dumps(slotted), as_version=4)  # small: no SVGs in it
    if title:
        node.metadata["title"] = title
    body, _ = exporter.from_notebook_node(node)
    parts = body.split("<!--workbench-svg-")
    if len(parts) != len(svgs) + 1:  # a placeholder went missing: export as it was
        node = nbformat.reads(json.dumps(nb), as_version=4)
        if title:
            node.metadata["title"] = title
        body, _ = exporter.from_notebook_node(node)
    else:
        out = [parts[0]]
        for part in parts[1:]:
            i, _, rest = part.partition("-->")
            out += [scope_svg_ids(svgs[int(i)], f"wb{i}-"), rest]
        body = "".join(out)
    return body


def warm_up() -> None:
    """Import nbconvert and export a one-cell notebook, so that the first real
    :func:`to_html` finds its templates compiled and its highlighter loaded (run it in a
    thread while a notebook executes). The SVG renderer is not imported: a
    :class:`SvgDrawer` draws in a process of its own.

    >>> threading.Thread(target=offline_html.warm_up, daemon=True).start()
    """
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"language_info": {"name": "python", "pygments_lexer": "ipython3"}},
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# *warm* `up`"},
            {
                "cell_type": "code",
                "id": "b",
                "metadata": {},
                "execution_count": 1,
                "source": "import polars as pl\nx = {'a': 1}  # warm",
                "outputs": [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"image/svg+xml": "<svg></svg>", "text/plain": "<chart>"},
                    },
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "metadata": {},
                        "data": {"text/html": "<table><tr><td>1</td></tr></table>"},
                    },
                ],
            },
        ],
    }
    to_html(nb)


def to_markdown(
    nb: dict[str, Any], *, files_dir: str = "files", exclude_input: bool = True
) -> tuple[str, dict[str, bytes]]:
    """Markdown of a (static) notebook for a Git repository or a wiki, and its images.

    Returns ``(markdown, files)``: ``files`` maps relative paths under ``files_dir``
    (``"INC-123_files/output_8_0.svg"``) to their bytes; write them next to the Markdown
    file. Markdown outputs stay Markdown, charts become image links, code is left out
    unless ``exclude_input=False``.

    >>> md, files = to_markdown(make_static(nb), files_dir="INC-123_files")
    """
    import nbformat
    from nbconvert import MarkdownExporter

    exporter = MarkdownExporter()
    if exclude_input:
        _hide_code(exporter)
    node = nbformat.reads(json.dumps(nb), as_version=4)
    body, res = exporter.from_notebook_node(
        node, resources={"output_files_dir": files_dir, "unique_key": "output"}
    )
    files: dict[str, bytes] = {}
    for name, data in (res.get("outputs") or {}).items():
        files[name] = data if isinstance(data, bytes) else str(data).encode("utf-8")
    return tidy_markdown(body), files


_FENCE = re.compile(r"^\s*(```|~~~)")
_IMAGE_ALT = re.compile(r"!\[(svg|png)\]\(")


def tidy_markdown(text: str) -> str:
    """CommonMark that reads the same on GitHub and in a wiki: at most one blank line in a
    row outside fenced code, images described as charts (nbconvert writes ``![svg](...)``),
    no trailing spaces, one newline at the end.

    >>> tidy_markdown("# A\\n\\n\\n\\ntext  \\n![svg](a.svg)")
    '# A\\n\\ntext\\n![chart](a.svg)\\n'
    """
    out: list[str] = []
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced:
            line = _IMAGE_ALT.sub("![chart](", line.rstrip())
            if not line and (not out or not out[-1]):
                continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def network_references(html: str) -> list[str]:
    """Every script, module import, stylesheet or CSS import in ``html`` that loads from
    the network (``http(s)://`` or protocol-relative)."""
    found: list[str] = []
    for pat in _NETWORK:
        found += [m.group(0)[:200] for m in pat.finditer(html)]
    return found


class _PendingSvgs:
    """Stands in for a :class:`SvgDrawer` in :func:`make_static`: each chart gets a
    placeholder at once (its SVG may still be drawing), :meth:`resolve` waits for them."""

    def __init__(self, drawer: SvgDrawer) -> None:
        self._drawer = drawer
        self.charts: list[tuple[str, dict[str, Any], bool]] = []

    def svg(self, spec: dict[str, Any], *, vega: bool = False) -> str:
        token = f"<!--workbench-pending-svg-{len(self.charts)}-->"
        self.charts.append((token, spec, vega))
        return token

    def resolve(self) -> dict[str, str]:
        """Each placeholder's SVG, as the drawer draws it, its ids numbered in the
        placeholders' order (:class:`SvgIdNumbering`), as :func:`make_static` numbers them."""
        ids = SvgIdNumbering()
        return {
            token: ids.number(self._drawer.svg(spec, vega=vega))
            for token, spec, vega in self.charts
        }


def _fill_svgs(nb: dict[str, Any], drawn: dict[str, str]) -> None:
    """Put each drawn SVG in place of its placeholder in ``nb``'s outputs (in place)."""
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            data = o.get("data") or {}
            svg = data.get("image/svg+xml")
            if isinstance(svg, str) and svg in drawn:
                data["image/svg+xml"] = drawn[svg]


def write_static(
    executed: str | Path,
    *,
    html: str | Path | None = None,
    svgs: SvgDrawer | None = None,
    nb: dict[str, Any] | None = None,
) -> Path:
    """Make the executed notebook at ``executed`` static in place, and write its HTML to
    ``html`` (default: same name, ``.html``). Returns the HTML path. ``nb``: the executed
    notebook itself, if at hand (then it is written to ``executed``, static, and not read).

    >>> write_static("out/incident.ipynb")            # also writes out/incident.html
    PosixPath('out/incident.html')
    """
    src = Path(executed)
    raw = json.loads(src.read_text(encoding="utf-8")) if nb is None else _as_file(nb)
    pending = _PendingSvgs(svgs) if svgs is not None else None
    static = make_static(raw, svgs=pending)
    if nb is not None:
        static = _sorted_keys(static)
    # exported around the charts' places while the drawer may still be drawing them
    body = _to_html_unchecked(static, title=static.get("metadata", {}).get("title"))
    if pending is not None and pending.charts:
        _, slots = _svg_slots(static)
        drawn = pending.resolve()  # waits for the drawer; raises what it raised
        for i, slot in enumerate(slots):
            if slot in drawn:
                body = body.replace(slot, scope_svg_ids(drawn[slot], f"wb{i}-"), 1)
        _fill_svgs(static, drawn)
    src.write_text(json.dumps(static, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _check_offline(body)
    target = Path(html) if html else src.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target
