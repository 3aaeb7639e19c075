"""The declared minimum versions work: install exactly them and run unit tests on them.

A scratch virtual environment gets every core dependency pinned to its declared minimum
(``polars>=1.36.1`` becomes ``polars==1.36.1`` in a pip constraints file) plus the test
runner's minimums, then runs a set of pure unit tests against this checkout (on
``PYTHONPATH``, so no build is involved). The environment is kept under
``.venv-min/<hash of the constraints>`` and reused while the constraints are unchanged;
a fresh one takes about 30 s to install from pip's cache, the tests about a minute.

What it found when it was written: ``polars>=1.20`` lacked ``List(Struct).hash`` (1.36),
polars before 2.0 explodes an empty list into a null row (fixed in promjson),
``altair`` 5.4 warns on every chart with current narwhals (5.5), ``networkx`` 3.2-3.3
warn when pandas is missing (3.4), ``vl-convert-python`` 1.6 lacks
``get_vegalite_versions`` (1.7).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.minversions, pytest.mark.slow]

# Pure unit tests that exercise the core dependencies (polars, pyarrow, altair,
# vl-convert, networkx, httpx, pyyaml, numpy, zstandard, msgspec) and need no extra and no server.
UNIT_TESTS = (
    "tests/test_frames.py",
    "tests/test_window.py",
    "tests/test_analysis_red.py",
    "tests/test_analysis_templates.py",
    "tests/test_analysis_suspects.py",
    "tests/test_analysis_graph.py",
    "tests/test_files_directory.py",
    "tests/test_files_compressed.py",
    "tests/test_files_otlp_fast.py",
    "tests/test_charts.py",
    "tests/test_promql_escaping.py",
    "tests/test_metric_presets.py",
)
# needs the notebook extra (anywidget), not a core dependency
DESELECT = ("tests/test_charts.py::test_enable_offline_switches_to_the_offline_jupyter_renderer",)
TEST_RUNNER = ("pytest", "hypothesis")


def _minimum(req: str) -> tuple[str, str]:
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*>=\s*([^,;\s]+)\s*", req)
    assert m, f"{req!r}: every dependency needs a plain '>=' minimum"
    return m.group(1).lower().replace("_", "-"), m.group(3)


def constraints() -> dict[str, str]:
    """``{name: minimum}`` for the core dependencies and the test runner."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = dict(_minimum(r) for r in meta["dependencies"])
    tests = dict(_minimum(r) for r in meta["optional-dependencies"]["test"])
    out.update({k: tests[k] for k in TEST_RUNNER})
    return out


def _venv(pins: dict[str, str]) -> Path:
    text = "".join(f"{k}=={v}\n" for k, v in sorted(pins.items()))
    home = ROOT / ".venv-min" / hashlib.sha256(text.encode()).hexdigest()[:12]
    python = home / "bin" / "python"
    if (home / ".complete").exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True)
    (home / "constraints.txt").write_text(text)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-c",
            str(home / "constraints.txt"),
            *sorted(pins),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (home / ".complete").write_text(text)
    return python


def test_constraints_pin_every_core_dependency() -> None:
    pins = constraints()
    assert pins["polars"] == "1.36.1"  # List(Struct).hash; 1.36.0 was yanked
    assert pins["vl-convert-python"] == "1.7"  # get_vegalite_versions
    assert {"pyarrow", "altair", "networkx", "httpx", "pyyaml", "numpy", "zstandard"} <= set(pins)


def test_unit_tests_pass_on_the_declared_minimum_versions() -> None:
    pins = constraints()
    python = _venv(pins)
    freeze = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {
        k.lower().replace("_", "-"): v
        for k, v in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)$", freeze, re.M)
    }
    for name, version in pins.items():
        got = installed.get(name)
        assert got is not None and Version(got) == Version(version), (name, version, got)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [str(python), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
    cmd += ["-m", "not service and not browser and not minversions and not slow", *UNIT_TESTS]
    cmd += [f"--deselect={d}" for d in DESELECT]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    tail = "\n".join(out.stdout.splitlines()[-40:])
    assert out.returncode == 0, f"unit tests on the minimum versions failed:\n{tail}"
    assert re.search(r"\b\d+ passed\b", out.stdout) and " failed" not in out.stdout
