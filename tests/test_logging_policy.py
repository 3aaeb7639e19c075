"""The package logs; the application decides where to. In a notebook (no logging set up)
a failed source's warning is not printed raw above the headline, which says it in words;
the ``workbench`` command, which sets logging up, still prints it."""

from __future__ import annotations

import subprocess
import sys

WARN = (
    "import logging, workbench; "
    "logging.getLogger('workbench.sources.prometheus').warning('prom failed: marker-query')"
)


def test_a_library_warning_is_not_printed_when_nothing_set_logging_up() -> None:
    out = subprocess.run([sys.executable, "-c", WARN], capture_output=True, text=True, check=True)
    assert "marker-query" not in out.stderr


def test_an_application_that_sets_logging_up_still_sees_it() -> None:
    code = "import logging; logging.basicConfig(); " + WARN
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "prom failed: marker-query" in out.stderr
