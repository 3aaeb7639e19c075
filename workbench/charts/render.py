"""Offline rendering: charts that show with no network, in JupyterLab and in files.

altair's default renderer loads vega from a CDN, so on an offline or firewalled machine
a notebook shows "Error loading script". Here nothing is fetched:

* :func:`enable_offline` switches altair to its ``jupyter`` renderer in offline mode
  (an anywidget ``JupyterChart`` whose JavaScript comes bundled from vl-convert), or to
  static SVG when anywidget is missing or ``mode="svg"`` (for papermill and exports);
* :func:`to_svg` / :func:`to_png` render with vl-convert (no browser, no network),
  through :func:`static_spec`: the font the labels were measured in is the one the
  reader's browser draws them in (no clipped text), with room to spare, and captions
  that only hold for a live chart ("hover ...") are left out;
* :func:`to_html` writes a self-contained page with the vega, vega-lite and vega-embed
  JavaScript inlined once, whatever the number of charts.

Example::

    >>> from workbench.charts import render
    >>> render.enable_offline()                 # in a notebook, once
    'jupyter'
    >>> svg = render.to_svg(chart)              # for a postmortem
    >>> render.save(chart, "graph.html")        # opens anywhere, offline
"""

from __future__ import annotations

import functools
import hashlib
import html
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

import altair as alt

from workbench.chart_svg import (
    STATIC_PADDING,
    cache_dir,
    cached_svg,
    lib_versions,
    static_spec,
    vl_version,
)
from workbench.errors import ConfigError

__all__ = [
    "STATIC_PADDING",
    "cache_dir",
    "cached_svg",
    "enable_offline",
    "javascript_bundle",
    "jupyterchart_offline",
    "save",
    "ship_jupyterchart_bundle",
    "shipped_bundle_path",
    "static_spec",
    "to_html",
    "to_png",
    "to_svg",
    "vl_version",
]

log = logging.getLogger(__name__)

Mode = Literal["auto", "jupyter", "svg", "png", "spec"]


def _spec(chart: alt.TopLevelMixin | dict[str, Any]) -> dict[str, Any]:
    if isinstance(chart, dict):
        return chart
    if not hasattr(chart, "to_dict"):
        raise ConfigError(
            f"expected an altair chart or a Vega-Lite dict, got {type(chart).__name__}"
        )
    return chart.to_dict()


def to_svg(chart: alt.TopLevelMixin | dict[str, Any]) -> str:
    """The chart as an SVG document, rendered by vl-convert (no browser, no network),
    fit for a static page (:func:`static_spec`). Cached by content (:func:`cached_svg`)."""
    import vl_convert as vlc

    spec = static_spec(_spec(chart))
    return cached_svg(spec, lambda: vlc.vegalite_to_svg(spec, vl_version=vl_version()))


def to_png(chart: alt.TopLevelMixin | dict[str, Any], *, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes (``scale`` 2 gives crisp images on high-DPI screens), fit
    for a static page (:func:`static_spec`)."""
    import vl_convert as vlc

    return vlc.vegalite_to_png(static_spec(_spec(chart)), vl_version=vl_version(), scale=scale)


def _static_renderer(fmt: Literal["svg", "png"]) -> Any:
    """An altair renderer drawing static images through :func:`to_svg` / :func:`to_png`."""
    import base64

    def render(spec: dict[str, Any], **_: Any) -> dict[str, Any]:
        if fmt == "svg":
            return {"image/svg+xml": to_svg(spec), "text/plain": "<chart>"}
        png = base64.b64encode(to_png(spec)).decode("ascii")
        return {"image/png": png, "text/plain": "<chart>"}

    return render


@functools.cache
def javascript_bundle() -> str:
    """vega + vega-lite + vega-embed as one JavaScript bundle defining ``vegaEmbed``,
    taken from vl-convert (no download). Safe to place inside a ``<script>`` element."""
    import vl_convert as vlc

    # the stub makes `snippet` required; vl-convert's default snippet is the one we want
    js = vlc.javascript_bundle(vl_version=vl_version())  # type: ignore[call-arg]
    return js.replace("</script", "<\\/script")


def to_html(
    charts: alt.TopLevelMixin | dict[str, Any] | Sequence[alt.TopLevelMixin | dict[str, Any]],
    *,
    title: str = "Charts",
    renderer: Literal["svg", "canvas"] = "svg",
) -> str:
    """A self-contained HTML page showing one or more charts, loading nothing from the
    network: the JavaScript is inlined once, the data is in the specs.

    Example::

        >>> page = to_html([graph_chart, red_chart], title="INC-123")
        >>> Path("charts.html").write_text(page)
    """
    one = isinstance(charts, dict) or hasattr(charts, "to_dict")
    chart_like = alt.TopLevelMixin | dict[str, Any]
    items = [cast(chart_like, charts)] if one else list(cast(Sequence[chart_like], charts))
    specs = [_spec(c) for c in items]
    divs = "\n".join(f'<div class="wb-chart" id="wb-chart-{i}"></div>' for i in range(len(specs)))
    payload = json.dumps(specs).replace("</", "<\\/")
    opts = json.dumps({"renderer": renderer, "actions": False})
    return f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; }}
.wb-chart {{ margin: 1em 0; }}
</style>
<script type="text/javascript">
{javascript_bundle()}
</script>
</head>
<body>
<h1>{html.escape(title)}</h1>
{divs}
<script type="text/javascript">
const wbSpecs = {payload};
wbSpecs.forEach((spec, i) => {{
  vegaEmbed("#wb-chart-" + i, spec, {opts}).catch((err) => {{
    document.getElementById("wb-chart-" + i).textContent = "chart failed: " + err;
  }});
}});
</script>
</body>
</html>
"""


def save(chart: alt.TopLevelMixin | dict[str, Any], path: str | Path) -> Path:
    """Write the chart to ``path`` as ``.svg``, ``.png``, ``.html`` or ``.json``
    (Vega-Lite spec), offline. Returns the path."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext == ".svg":
        p.write_text(to_svg(chart), encoding="utf-8")
    elif ext == ".png":
        p.write_bytes(to_png(chart))
    elif ext == ".html":
        p.write_text(to_html(chart, title=p.stem), encoding="utf-8")
    elif ext == ".json":
        p.write_text(json.dumps(_spec(chart), indent=1), encoding="utf-8")
    else:
        raise ConfigError(
            f"cannot save a chart as {ext or 'a file without extension'}",
            hint="use a path ending in .svg, .png, .html or .json",
        )
    return p


def _jupyterchart_bundle_name() -> str:
    """The file name of JupyterChart's offline JavaScript for this altair + vl-convert +
    widget source (any change: a new name)."""
    from altair.jupyter.jupyter_chart import load_js_src
    from altair.utils._importers import vl_version_for_vl_convert

    versions = lib_versions()
    key = "|".join((*versions, vl_version_for_vl_convert(), load_js_src()))
    return f"jupyterchart-{hashlib.sha256(key.encode()).hexdigest()[:16]}.js"


def _jupyterchart_bundle_path() -> Path:
    """The cache file of JupyterChart's offline JavaScript (see :func:`cache_dir`)."""
    return cache_dir() / _jupyterchart_bundle_name()


def shipped_bundle_path() -> Path:
    """Where the installation keeps JupyterChart's offline JavaScript, built once when it
    was installed (``make venv`` runs :func:`ship_jupyterchart_bundle`): under the
    interpreter's prefix (the virtual environment), named after the versions it is for.

    >>> shipped_bundle_path().parent
    PosixPath('.../.venv/share/workbench')
    """
    return Path(sys.prefix) / "share" / "workbench" / _jupyterchart_bundle_name()


def ship_jupyterchart_bundle() -> Path | None:
    """Build JupyterChart's offline JavaScript (vl-convert bundles it: seconds) into
    :func:`shipped_bundle_path`, so that a new installation's first notebook run does
    not bundle it in its kernel; returns the path, or None without anywidget. It holds
    no data: the same file for every notebook of this installation.

    >>> ship_jupyterchart_bundle()                  # make venv does this
    PosixPath('.../.venv/share/workbench/jupyterchart-....js')
    """
    if importlib.util.find_spec("anywidget") is None:
        return None
    path = shipped_bundle_path()
    cls = alt.JupyterChart
    saved = cls._esm, cls._is_offline
    try:  # altair's own bundling, the very bytes a kernel would build
        cls._is_offline = False
        cls.enable_offline()
        bundle = cls._esm
    finally:
        cls._esm, cls._is_offline = saved
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(bundle, encoding="utf-8")
    tmp.replace(path)
    return path


#: vega numbers the SVG ids of clip paths and gradients from 1 per copy of its module,
#: and anywidget imports each chart's JavaScript as its own module: two charts on one
#: page both define ``clip1``, and a chart's ``url(#clip1)`` resolves to the first in the
#: document, another chart's rectangle (the notebook's timeline drew only the corner a
#: RED panel of the explorer covered). See vega/vega#3987.
_SVG_ID_COUNTERS = re.compile(r'((?:clip_id|\.id)=")(clip|gradient_)("\+)([\w$]+\+\+)')
_SVG_ID_PREFIX = (
    "const __wbSvgIds = Math.random().toString(36).slice(2, 10) + '-';"
    " // workbench: page-unique vega SVG ids\n"
)


def unique_svg_ids(esm: str) -> str:
    """``esm`` (the JupyterChart JavaScript) with vega's clip-path and gradient ids made
    unique on the page: each copy of the module prefixes them with a random tag.

    >>> "__wbSvgIds" in unique_svg_ids(alt.JupyterChart._esm)
    True
    """
    if esm.startswith(_SVG_ID_PREFIX):
        return esm
    patched, n = _SVG_ID_COUNTERS.subn(r"\1\2\3__wbSvgIds+\4", esm)
    if not n:  # another vega: nothing to patch (its ids may already be unique)
        log.debug("no vega SVG id counter found in the JupyterChart bundle")
        return esm
    return _SVG_ID_PREFIX + patched


def jupyterchart_offline() -> None:
    """Make altair's ``JupyterChart`` offline, its JavaScript taken from the
    installation's copy (:func:`shipped_bundle_path`) or from :func:`cache_dir`, else
    bundled by vl-convert once and kept in :func:`cache_dir` (bundling takes seconds;
    later kernels read the file).

    >>> jupyterchart_offline(); alt.JupyterChart._is_offline
    True
    """
    cls = alt.JupyterChart
    if cls._is_offline:
        cls._esm = unique_svg_ids(cls._esm)
        return
    path = _jupyterchart_bundle_path()
    for candidate in (shipped_bundle_path(), path):
        try:
            cls._esm = unique_svg_ids(candidate.read_text(encoding="utf-8"))
            cls._is_offline = True
            return
        except OSError:
            pass
    cls.enable_offline()  # JS bundled from vl-convert: no CDN
    bundle = cls._esm
    cls._esm = unique_svg_ids(bundle)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(bundle, encoding="utf-8")
        tmp.replace(path)  # atomic: a concurrent kernel reads the old file or the new
    except OSError as exc:  # a read-only home: bundle again next time
        log.debug("cannot cache the chart bundle in %s: %s", path, exc)


#: the altair chart class for a top-level Vega-Lite spec, by the key that marks it
_TOP_LEVEL = (
    ("layer", "LayerChart"),
    ("facet", "FacetChart"),
    ("repeat", "RepeatChart"),
    ("hconcat", "HConcatChart"),
    ("vconcat", "VConcatChart"),
    ("concat", "ConcatChart"),
)


def _jupyter_renderer(
    spec: dict[str, Any], **metadata: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """altair's ``jupyter`` renderer, offline, without validating ``spec`` again.

    altair's own renderer rebuilds the chart with ``Chart.from_dict(spec)``, which tries
    each top-level chart class in turn and validates the whole spec (data included) for
    each: ~20 s for the demo's RED panels. ``spec`` comes from ``chart.to_dict()``, which
    has already validated it, so the widget gets the spec as it is; a spec with
    top-level ``params`` (selections that reach Python) is rebuilt into its own chart
    class, unvalidated, so JupyterChart can wire the selections.
    """
    jupyterchart_offline()
    embed = metadata.get("embed_options")
    if spec.get("params"):
        name = next((cls for key, cls in _TOP_LEVEL if key in spec), "Chart")
        chart = getattr(alt, name).from_dict(spec, validate=False)
        widget = alt.JupyterChart(chart=chart, embed_options=embed)
    else:
        # the stub wants a chart; the widget's `chart` trait allows None (spec set below)
        widget = alt.JupyterChart(chart=None, embed_options=embed)  # type: ignore[arg-type]
        widget.spec = spec
    # anywidget returns None only for a widget without a view, which a JupyterChart has
    return cast(tuple[dict[str, Any], dict[str, Any]], widget._repr_mimebundle_())


def _spec_renderer(spec: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The chart as its Vega-Lite spec, for whoever draws it later (``mode="spec"``)."""
    major = str(alt.SCHEMA_VERSION).lstrip("v").split(".")[0]
    return {f"application/vnd.vegalite.v{major}+json": spec, "text/plain": "<chart>"}


def enable_offline(mode: Mode = "auto") -> str:
    """Make altair render without the network; returns the renderer now active.

    ``"jupyter"``: interactive charts as offline ``JupyterChart`` widgets (needs the
    ``anywidget`` package; selections and brushing reach Python). ``"svg"`` / ``"png"``:
    static images rendered in the kernel by vl-convert through :func:`static_spec`
    (altair renderers ``workbench-svg`` / ``workbench-png``); best for papermill runs and
    exported notebooks, whose HTML cannot hold live widgets. ``"spec"``: each chart as
    its Vega-Lite spec (a mimebundle), drawn by whoever makes the outputs static.
    ``"auto"``: ``spec`` in a headless run whose outputs are made static afterwards
    (:func:`workbench.notebook.static_run`: ``workbench demo``, which draws the specs in
    processes of its own; a live widget there is 1.5 MB of state per chart that nobody
    sees), else ``jupyter`` when anywidget is installed, else ``svg``. Row limits stay
    on: aggregate before plotting.
    """
    if mode == "auto":
        from workbench.notebook import static_run

        if static_run():
            mode = "spec"
        else:
            mode = "jupyter" if importlib.util.find_spec("anywidget") is not None else "svg"
    if mode == "jupyter":
        if importlib.util.find_spec("anywidget") is None:
            raise ConfigError(
                "altair's offline Jupyter renderer needs the anywidget package",
                hint="pip install anywidget (it is in the 'notebook' extra), or use mode='svg'",
            )
        if "workbench-jupyter" not in alt.renderers.names():
            alt.renderers.register("workbench-jupyter", _jupyter_renderer)
        alt.renderers.enable("workbench-jupyter")
    elif mode == "spec":
        if "workbench-spec" not in alt.renderers.names():
            alt.renderers.register("workbench-spec", _spec_renderer)
        alt.renderers.enable("workbench-spec")
    elif mode in ("svg", "png"):
        name = f"workbench-{mode}"
        if name not in alt.renderers.names():
            alt.renderers.register(name, _static_renderer(mode))
        alt.renderers.enable(name)
    else:
        raise ConfigError(
            f"unknown mode {mode!r}", hint="one of 'auto', 'jupyter', 'svg', 'png', 'spec'"
        )
    return mode
