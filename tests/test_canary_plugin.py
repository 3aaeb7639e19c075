"""The canary plugin (tests/plugins/canary.py) finds canaries where it says it looks."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from tests.plugins.canary import PASSWORD_ENV, TOKEN_ENV, Canaries, CanaryHandler


def test_canaries_are_in_the_environment(canaries) -> None:
    assert os.environ[TOKEN_ENV].startswith("canary-tok-")
    assert os.environ[PASSWORD_ENV].startswith("canary-pw-")
    assert canaries.token in canaries.values and canaries.password in canaries.values


def test_a_fresh_registry_finds_values_the_family_files_and_log_records(
    canaries, tmp_path: Path
) -> None:
    c = Canaries()
    c.check("nothing here, canary.step=2", "text")
    assert c.findings == []
    c.check(f"Bearer {canaries.token}", "an error")
    c.check("token canary-prom-7a1 echoed", "another test's canary")
    assert len(c.findings) == 2 and canaries.token not in " ".join(c.findings)
    leak = tmp_path / "out.html"
    leak.write_text(f"<p>{canaries.password}</p>")
    canaries.allow(leak)  # this file leaks on purpose: keep the session green
    c.scan_tree(tmp_path)
    assert any(str(leak) in f for f in c.findings)
    log = logging.getLogger("tests.canary.selftest")
    handler = CanaryHandler(c)
    log.addHandler(handler)
    log.propagate = False  # this record leaks on purpose: keep it from the session's scan
    try:
        log.warning("connecting with %s", "canary-pw-abc123")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    assert any("log record tests.canary.selftest" in f for f in c.findings)


def test_a_passing_tests_folder_is_scanned_before_pytest_removes_it(tmp_path: Path) -> None:
    # tmp_path_retention_policy = "failed" removes a passing test's folder as it ends: the
    # plugin must have read it by then, or a bundle that leaks would go unseen
    (tmp_path / "test_leaky.py").write_text(
        "import os\n"
        "from tests.plugins.canary import PASSWORD_ENV\n\n"
        "def test_writes_a_report(tmp_path):\n"
        "    (tmp_path / 'report.html').write_text('pw=' + os.environ[PASSWORD_ENV])\n"
    )
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.plugins.canary",
         "-c", os.devnull, "--rootdir", str(tmp_path), "--basetemp", str(tmp_path / "base"),
         "-o", "tmp_path_retention_policy=failed", str(tmp_path / "test_leaky.py")],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "1 passed" in run.stdout, run.stdout + run.stderr
    assert "LEAK file" in run.stdout and "report.html" in run.stdout, run.stdout
    assert run.returncode == 1  # a leak fails the session even though every test passed
    assert not list((tmp_path / "base").rglob("report.html"))  # and the folder was removed
