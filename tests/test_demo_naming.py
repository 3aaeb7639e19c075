"""``workbench demo --execute OUT --naming N``: the incident notebook over a real
Prometheus holding the demo's metrics under naming N finds the ground-truth service.

Two namings run here (OpenTelemetry semantic conventions in seconds, Istio in
milliseconds with a reporter label); every naming's RED panels and top suspect are
compared with the lab's in tests/test_naming_prometheus.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import require_binary
from tests.test_demo_notebook import FINDING, _tagged, error_outputs
from workbench.lab.demo import demo_path

pytestmark = [pytest.mark.service, pytest.mark.slow]


@pytest.mark.parametrize("naming", ["otel", "istio"])
def test_demo_notebook_over_prometheus_names_the_ground_truth(naming: str, tmp_path: Path) -> None:
    require_binary("/usr/bin/prometheus")
    require_binary("/usr/bin/promtool")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "demo", "--execute", str(out), "--naming", naming],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"({naming} naming) at http://127.0.0.1:" in proc.stdout
    nb = json.loads((out / "incident.ipynb").read_text())
    assert error_outputs([c for c in nb["cells"] if c["cell_type"] == "code"]) == []
    (cell,) = _tagged(nb, "findings")
    md = "".join(
        "".join(o["data"]["text/markdown"])
        for o in cell["outputs"]
        if "text/markdown" in o.get("data", {})
    )
    truth = json.loads((demo_path() / "truth.json").read_text())
    assert FINDING.findall(md) == [truth["root_cause_service"]], md
    html = (out / "incident.html").read_text()
    # the source status in the notebook says which naming was detected and why
    assert f"metric names: preset {naming} (detected: the server has" in html
    # the server was stopped: its port no longer answers
    url = re.search(r"at (http://127\.0\.0\.1:\d+)", proc.stdout).group(1)  # type: ignore[union-attr]
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/-/ready", timeout=2)
