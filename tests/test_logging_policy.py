"""Where a failure is told. A failure the result carries (a source that failed to load, a
partial result) is logged at INFO: the headline, the explorer, ``inc.status()`` and the
``workbench`` commands say it in words. In a notebook nothing sets logging up, so a
WARNING prints raw (query and all) above the headline that already says it. What nothing
else reports (credentials over plain HTTP, a plug-in that cannot load) stays a WARNING."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import free_port
from workbench.cli import main

# as a notebook kernel runs it: no logging set up, Python's last-resort handler prints
# every WARNING to stderr (in JupyterLab: red, above the cell's output)
DOWN = """
from workbench import Incident, PrometheusSource
from workbench.timewindow import Window

w = Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z")
inc = Incident("INC-1", w, sources=[PrometheusSource("http://127.0.0.1:PORT", name="prom")])
inc.load(["metrics"])
print(inc.status()["status"].to_list())
from workbench.summaries import source_problems

print(source_problems(inc))
"""


def test_a_source_that_is_down_is_said_by_the_result_not_printed_raw() -> None:
    code = DOWN.replace("PORT", str(free_port()))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    # nothing raw on stderr (before: "source prom failed to load metrics: cannot connect
    # ... | source=prom; query=sum by (service) (rate(http_server_requests_total..." and
    # two more lines, for the preset detection and the quantile batching)
    assert "cannot connect" not in out.stderr, out.stderr
    assert "query=" not in out.stderr
    # ... and the result says it, in the headline's words, without the query
    assert out.returncode == 0, out.stderr
    assert "['error']" in out.stdout
    assert "prom metrics failed (cannot connect to http://127.0.0.1:" in out.stdout
    assert "what to do: check the URL" in out.stdout and "query=" not in out.stdout


def test_what_nothing_else_reports_is_still_printed() -> None:
    code = (
        "from workbench import PrometheusSource; from workbench.sources.http import Auth; "
        "from workbench.secrets import Secret; "
        "PrometheusSource('http://prom.example.org:9090', auth=Auth(bearer=Secret.env('X')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "plain HTTP to prom.example.org" in out.stderr


def _broken_logs(tmp_path: Path) -> Path:
    d = tmp_path / "inc"
    (d / "logs").mkdir(parents=True)
    (d / "logs" / "app.jsonl").write_text(
        '{"timestamp": "2026-11-20T11:00:00Z", "service": "a", "message": "hi"}\nnot json\n'
    )
    return d


def test_bundle_save_says_which_source_failed_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _broken_logs(tmp_path)
    window = "2026-11-20T11:00:00Z..2026-11-20T12:00:00Z"
    assert main(["bundle", "save", str(tmp_path / "b"), "--dir", str(d), "--window", window]) == 0
    out = capsys.readouterr().out
    # before: only "warning: some sources failed or were partial; see the manifest"
    assert f"warning: files:{d.name} logs failed (line 2 is not JSON" in out
    assert "what to do:" in out
