"""The canary plugin (tests/plugins/canary.py) finds canaries where it says it looks."""

from __future__ import annotations

import logging
import os
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
