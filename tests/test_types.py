"""The package code type-checks: mypy over ``workbench/`` and ``widgets/`` passes.

``py.typed`` ships, so users' type checkers read our annotations; this keeps them true.
The configuration (files, strictness, the few untyped libraries) is ``[tool.mypy]`` in
pyproject.toml; ``make typecheck`` runs the same command by hand.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # about 30 s on a cold cache, a few seconds warm


def test_mypy_passes_on_workbench_and_widgets() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "workbench", "widgets"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    report = out.stdout[-12000:] + out.stderr[-2000:]
    assert "No module named mypy" not in out.stderr, (
        "mypy is in the test extra: pip install -e '.[test]'"
    )
    assert out.returncode == 0, "mypy found type errors:\n" + report
    assert "Success: no issues found" in out.stdout, report
