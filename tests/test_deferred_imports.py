"""``import workbench`` defers jsonschema's ``rfc3987_syntax`` (Lark grammars built at
import, seconds) until an IRI is checked; the format checks behave as before."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import notebook

PROBE = """
import json, sys
import workbench, altair, jsonschema, nbformat
from workbench._deferred import _DeferredModule
mod = sys.modules.get("rfc3987_syntax")
deferred = isinstance(mod, _DeferredModule)
checker = jsonschema.Draft7Validator.FORMAT_CHECKER
v = jsonschema.Draft7Validator({"format": "iri"}, format_checker=checker)
bad = [e.message for e in v.iter_errors("http://ex ample.com/")]
good = [e.message for e in v.iter_errors("http://example.com/\\u00e4")]
print(json.dumps({"deferred": deferred, "bad": bad, "good": good,
                  "loaded": not isinstance(sys.modules.get("rfc3987_syntax"), _DeferredModule),
                  "iri": "iri" in checker.checkers}))
"""


def test_rfc3987_syntax_loads_only_when_an_iri_is_checked() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=300
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    installed = importlib.util.find_spec("rfc3987_syntax") is not None
    # altair, jsonschema and nbformat imported, and the grammar not built yet
    assert got["deferred"] is installed
    if installed:
        # the iri format is still checked, with the real parser, loaded on first use
        assert got["iri"] is True
        assert got["bad"] and "is not a 'iri'" in got["bad"][0]
        assert got["good"] == []
        assert got["loaded"] is True


def test_import_lines_are_the_notebooks_top_level_imports() -> None:
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": "import nothing"},
            {"cell_type": "code", "source": "%matplotlib inline\nimport os"},
            {
                "cell_type": "code",
                "source": [
                    "from __future__ import annotations\n",
                    "import polars as pl\n",
                    "from .local import x\n",
                    "def f():\n",
                    "    import json\n",
                    "from workbench import (\n    Incident,\n)\n",
                ],
            },
            {"cell_type": "code", "source": "import polars as pl"},
        ]
    }
    assert notebook.import_lines(nb) == [
        "import polars as pl",
        "from workbench import (\n    Incident,\n)",
    ]
    # the template's: what its first cell and the explorer cell import
    lines = notebook.import_lines(notebook.template_path())
    assert "from workbench import Investigation" in lines
    assert any(line.startswith("from widgets import") for line in lines)


def test_the_demo_command_starts_its_kernel_before_importing_polars() -> None:
    """``workbench demo --execute`` imports ``workbench.notebook``, asks for the kernel
    name and launches the kernel: none of it needs polars (half a second), nor IPython
    (a tenth: the kernel imports its own; the kernel manager's own kernelspec lookup
    used to import it)."""
    probe = (
        "import sys\n"
        "import workbench.commands.demo, workbench.notebook as n, workbench.offline_html\n"
        "from jupyter_core.utils import run_sync\n"
        "km, _ = n._early_kernel(n.kernel_name(), preload=n.import_lines(n.template_path()),"
        " cwd=None)\n"
        "loaded = sorted(m for m in ('polars', 'pyarrow', 'altair', 'IPython') if m in sys.modules)\n"
        "run_sync(km.shutdown_kernel)(now=True); run_sync(km.reap)()\n"
        "run_sync(km.cleanup_resources)()\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def _probe(tmp_path: Path, source: str) -> Path:
    """A one-cell notebook running ``source`` on the python3 kernel."""
    cell = {"cell_type": "code", "id": "probe", "metadata": {}, "execution_count": None,
            "outputs": [], "source": source}  # fmt: skip
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": [cell],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}}}  # fmt: skip
    src = tmp_path / "probe.ipynb"
    src.write_text(json.dumps(nb))
    return src


def test_a_headless_run_starts_ipykernel_without_its_debugger(tmp_path: Path) -> None:
    """``notebook.execute`` runs the kernelspec's ipykernel through
    ``workbench.headless_kernel``: debugpy is never imported (nobody attaches a debugger
    to a headless run), the cells run as before; ``on_started`` is called once, after the
    kernel's launch and before the first cell ran."""
    src = _probe(
        tmp_path,
        "import sys\n"
        "print(sys.argv[0].endswith('headless_kernel.py'),"
        " 'debugpy' in sys.modules and sys.modules['debugpy'] is None,"
        " 6 * 7)",
    )
    events: list[str] = []
    out = notebook.execute(
        src,
        tmp_path / "out.ipynb",
        cwd=tmp_path,
        on_started=lambda: events.append("started"),
        on_cell_done=lambda cell, state: events.append("cell"),
    )
    cell = json.loads(out.read_text())["cells"][0]
    assert "".join(cell["outputs"][0]["text"]).split() == ["True", "True", "42"]
    assert events == ["started", "cell"]


def test_a_headless_run_does_not_import_pyarrow_for_papermill(tmp_path: Path) -> None:
    """papermill imports ``pyarrow.fs`` (so pyarrow and numpy: 0.12 CPU-s beside the
    kernel's start) only for ``hdfs://`` notebooks, which ``notebook.execute`` never gives
    it: a headless run leaves both unimported in the calling process, the cells run, and
    ``pyarrow.fs`` imports normally afterwards."""
    src = _probe(tmp_path, "print(6 * 7)")
    out = tmp_path / "out.ipynb"
    probe = (
        "import json, sys\n"
        "from workbench import notebook\n"
        f"notebook.execute({str(src)!r}, {str(out)!r}, cwd={str(tmp_path)!r})\n"
        "loaded = sorted(m for m in ('numpy', 'pyarrow') if m in sys.modules)\n"
        "import pyarrow.fs\n"
        "print(json.dumps([loaded, 'papermill.iorw' in sys.modules, pyarrow.fs.__name__]))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [[], True, "pyarrow.fs"]
    cell = json.loads(out.read_text())["cells"][0]
    assert "".join(cell["outputs"][0]["text"]).strip() == "42"


def test_a_headless_run_writes_no_ipython_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A headless run's kernel keeps its cells out of the user's IPython history (each
    write an SQLite commit synced to disk, four of them as the kernel starts): no history
    file appears in the IPython directory, and ``In`` still holds the cells, in memory."""
    ipython_dir = tmp_path / "ipython"
    monkeypatch.setenv("IPYTHONDIR", str(ipython_dir))
    src = _probe(
        tmp_path,
        "ip = get_ipython()\n"
        "print(ip.history_manager.enabled, ip.history_manager.save_thread, In[-1].split()[:2])",
    )
    out = notebook.execute(src, tmp_path / "out.ipynb", cwd=tmp_path)
    cell = json.loads(out.read_text())["cells"][0]
    assert "".join(cell["outputs"][0]["text"]).strip() == "False None ['ip', '=']"
    assert ipython_dir.is_dir()  # the kernel used this IPython directory
    assert not list(ipython_dir.rglob("history.sqlite*"))


def test_a_run_made_static_tells_its_kernel_and_no_other_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``execute(static=True)`` (``workbench demo``, which makes the outputs static)
    starts its kernel with ``WORKBENCH_STATIC_RUN=1`` (``notebook.static_run()`` there);
    a plain run's kernel does not get it, even from this process's environment."""
    src = _probe(tmp_path, "from workbench.notebook import static_run\nprint(static_run())")

    def printed(out: Path) -> str:
        return "".join(json.loads(out.read_text())["cells"][0]["outputs"][0]["text"]).strip()

    assert printed(notebook.execute(src, tmp_path / "s.ipynb", cwd=tmp_path, static=True)) == "True"
    monkeypatch.setenv(notebook.STATIC_RUN_ENV, "1")
    assert printed(notebook.execute(src, tmp_path / "p.ipynb", cwd=tmp_path)) == "False"


SVG_PROBE = """
import json, sys
from workbench.chart_svg import draw_svg, vl_version
spec = {"mark": "bar", "data": {"values": [{"a": "x", "b": 2}]},
        "encoding": {"x": {"field": "a", "type": "nominal"},
                     "y": {"field": "b", "type": "quantitative"}}}
svg = draw_svg(spec)
print(json.dumps({"altair": "altair" in sys.modules, "polars": "polars" in sys.modules,
                  "vl": vl_version(), "svg": svg}))
"""


def test_the_svg_process_draws_without_importing_altair_or_polars(tmp_path: Path) -> None:
    """The SVG process (``workbench.chart_svg``) imports neither altair nor polars (0.6
    CPU-s together), not even on a new user's first run (an empty cache directory):
    altair's schema version is read from altair's installed source. Same version as
    altair states, same SVG."""
    from workbench.charts import render

    env = {
        **os.environ,
        "WORKBENCH_CACHE_DIR": str(tmp_path / "new-user-cache"),
        "WORKBENCH_SVG_CACHE": "0",
    }

    def probe() -> dict:
        out = subprocess.run(
            [sys.executable, "-c", SVG_PROBE],
            capture_output=True, text=True, check=True, timeout=300, env=env,
        )  # fmt: skip
        return json.loads(out.stdout.strip().splitlines()[-1])

    first, second = probe(), probe()
    assert first["altair"] is False and first["polars"] is False  # a first run too
    assert second["altair"] is False and second["polars"] is False
    import altair

    want = ".".join(altair.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    assert first["vl"] == second["vl"] == render.vl_version()
    assert want in first["vl"] or first["vl"].split(".")[0] == want.split(".")[0]
    assert first["svg"] == second["svg"] and first["svg"].startswith("<svg")


def test_altairs_schema_version_is_read_from_its_source_as_altair_states_it() -> None:
    """The version read from altair's source is the one altair exports."""
    import altair

    from workbench.chart_svg import _schema_version_in_source

    assert _schema_version_in_source() == altair.SCHEMA_VERSION


def test_an_altair_source_laid_out_otherwise_falls_back_to_importing_altair(
    tmp_path: Path,
) -> None:
    """A layout the reader does not know gives None (then altair is imported and its
    answer kept), never a guess: no export line, two exports, no version line, an
    unreadable file."""
    from workbench.chart_svg import _schema_version_in_source

    def layout(exports: str, schema: str | None) -> Path:
        root = tmp_path / f"altair{len(list(tmp_path.iterdir()))}"
        (root / "vegalite" / "v7" / "schema").mkdir(parents=True)
        (root / "vegalite" / "__init__.py").write_text(exports)
        if schema is not None:
            (root / "vegalite" / "v7" / "schema" / "__init__.py").write_text(schema)
        return root

    ok = 'SCHEMA_VERSION = "v7.0.2"\nSCHEMA_URL = "x"\n'
    assert _schema_version_in_source(layout("from .v7 import *\n", ok)) == "v7.0.2"
    assert _schema_version_in_source(layout("from .v7.api import *\n", ok)) is None
    assert _schema_version_in_source(layout("from .v6 import *\nfrom .v7 import *\n", ok)) is None
    assert _schema_version_in_source(layout("from .v7 import *\n", "SCHEMA_VERSION = V\n")) is None
    assert _schema_version_in_source(layout("from .v7 import *\n", None)) is None
    assert _schema_version_in_source(tmp_path / "nowhere") is None
