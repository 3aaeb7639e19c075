"""Free disk space, shown at the start of the run and, when it ran low, at the end.

The servers the tests start (PostgreSQL, Prometheus, VictoriaMetrics, Alertmanager) fail in
ways that do not say "disk full" when their data folder cannot grow: a fixture error, a
refused connection, a query that returns nothing. The whole suite needs about 6 GB besides
the virtual environments (measured on a clean clone: 3.0 GB under pytest's temporary folder
at its peak before passing tests' folders were removed as they end, the scratch venv of
test_min_versions 0.5 GB, the project venv 2.0 GB). So the header says how much is free,
and the summary names the lowest free space seen before any test, so that a run of errors
on a full disk explains itself.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# below this, the servers' data folders and the lab's generated cases may not fit
LOW_BYTES = 2 * 1024**3


class _Lowest:
    free: int | None = None
    where = ""
    before = ""


LOWEST = _Lowest()


def _folders() -> list[Path]:
    return [Path(tempfile.gettempdir()), ROOT]


def _free(path: Path) -> int:
    return shutil.disk_usage(path).free


def _gb(n: int) -> str:
    return f"{n / 1024**3:.1f} GB"


def pytest_report_header(config: pytest.Config) -> str:
    return "disk: " + ", ".join(f"{_gb(_free(p))} free in {p}" for p in _folders())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for p in _folders():
        with_free = _free(p)
        if LOWEST.free is None or with_free < LOWEST.free:
            LOWEST.free, LOWEST.where, LOWEST.before = with_free, os.fspath(p), item.nodeid


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if LOWEST.free is None or LOWEST.free >= LOW_BYTES:
        return
    terminalreporter.section("disk space")
    terminalreporter.write_line(
        f"free space fell to {_gb(LOWEST.free)} in {LOWEST.where} (before {LOWEST.before}); "
        "the servers' data folders need room: errors from there on may come from a full "
        "disk. Free some space (old pytest folders under the temporary folder go first) and "
        "run again.",
        red=True,
    )
