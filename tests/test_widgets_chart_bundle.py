"""The offline chart JavaScript bundle is cached on disk and reused by later kernels."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("anywidget")


def test_bundle_cached_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import altair as alt

    from widgets import _charts

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    cls = alt.JupyterChart
    saved = (cls._esm, cls._is_offline)
    try:
        cls._is_offline = False
        assert _charts.interactive_available.__wrapped__() is True  # bundles, then caches
        path = _charts._bundle_path()
        assert path.parent == tmp_path / "cache"
        bundle = path.read_text()
        assert cls._esm == bundle and len(bundle) > 100_000
        assert "cdn.jsdelivr" not in bundle  # the offline bundle, not the CDN loader

        # a new kernel: read from the file (a marker proves it is not re-bundled)
        path.write_text(bundle + "\n// cached")
        cls._is_offline = False
        assert _charts.interactive_available.__wrapped__() is True
        assert cls._esm.endswith("// cached") and cls._is_offline
    finally:
        cls._esm, cls._is_offline = saved
