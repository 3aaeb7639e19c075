"""The offline chart JavaScript bundle: built at install time (``make venv``) into the
installation, else cached on disk by the first kernel and reused by later kernels."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("anywidget")


def test_bundle_cached_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import altair as alt

    from widgets import _charts
    from workbench.charts import render

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    # an installation without the copy `make venv` builds (a plain pip install)
    monkeypatch.setattr(render, "shipped_bundle_path", lambda: tmp_path / "none" / "x.js")
    cls = alt.JupyterChart
    saved = (cls._esm, cls._is_offline)
    try:
        cls._is_offline = False
        assert _charts.interactive_available.__wrapped__() is True  # bundles, then caches
        path = _charts._bundle_path()
        assert path.parent == tmp_path / "cache"
        bundle = path.read_text()
        assert cls._esm == render.unique_svg_ids(bundle) and len(bundle) > 100_000
        assert "cdn.jsdelivr" not in bundle  # the offline bundle, not the CDN loader

        # a new kernel: read from the file (a marker proves it is not re-bundled)
        path.write_text(bundle + "\n// cached")
        cls._is_offline = False
        assert _charts.interactive_available.__wrapped__() is True
        assert cls._esm.endswith("// cached") and cls._is_offline
    finally:
        cls._esm, cls._is_offline = saved


def test_the_installation_ships_the_bundle_a_kernel_would_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ship_jupyterchart_bundle`` (``make venv``) writes the very bytes a kernel bundles,
    under the versions' name; a kernel with an empty cache reads it instead of bundling."""
    import altair as alt

    from workbench.charts import render

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    shipped = tmp_path / "prefix" / render._jupyterchart_bundle_name()
    monkeypatch.setattr(render, "shipped_bundle_path", lambda: shipped)
    cls = alt.JupyterChart
    saved = (cls._esm, cls._is_offline)
    try:
        assert render.ship_jupyterchart_bundle() == shipped
        assert (cls._esm, cls._is_offline) == saved  # the class is left as it was
        cls._is_offline = False
        cls.enable_offline()  # what a kernel without any copy builds
        assert shipped.read_text() == cls._esm

        shipped.write_text(cls._esm + "\n// shipped")
        cls._is_offline = False
        render.jupyterchart_offline()
        assert cls._esm.endswith("// shipped") and cls._is_offline
        assert not (tmp_path / "cache").exists()  # nothing bundled, nothing cached
    finally:
        cls._esm, cls._is_offline = saved


def test_make_venv_ships_the_bundle_into_this_installation() -> None:
    """The venv the tests run in was made by ``make venv``: its copy is there, for these
    versions (a stale name would be ignored and the first kernel would bundle again)."""
    from workbench.charts import render

    path = render.shipped_bundle_path()
    assert path.is_file() and path.stat().st_size > 100_000, (
        f"{path} is missing: `make venv` builds it (or run ship_jupyterchart_bundle())"
    )


def test_each_chart_module_numbers_its_svg_ids_apart() -> None:
    """vega numbers clip paths ``clip1, clip2, ...`` per copy of its module, and each
    JupyterChart is its own copy: the notebook's timeline resolved ``url(#clip1)`` to a
    RED panel's clip rectangle in the explorer above it and drew only that corner
    (look9). The offline bundle prefixes every clip and gradient id with a per-module
    random tag."""
    import re

    import altair as alt

    from workbench.charts import render

    cls = alt.JupyterChart
    saved = (cls._esm, cls._is_offline)
    try:
        cls._is_offline = False
        render.jupyterchart_offline()
        esm = cls._esm
        assert esm.startswith("const __wbSvgIds = Math.random()")
        assert re.search(r'clip_id="clip"\+__wbSvgIds\+[\w$]+\+\+', esm)
        assert re.search(r'"gradient_"\+__wbSvgIds\+[\w$]+\+\+', esm)
        assert not re.search(r'"(?:clip|gradient_)"\+(?!__wbSvgIds)[\w$]+\+\+', esm)
        assert render.unique_svg_ids(esm) == esm  # once only
    finally:
        cls._esm, cls._is_offline = saved
