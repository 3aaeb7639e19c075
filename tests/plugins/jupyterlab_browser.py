"""Fixtures for browser tests: a real JupyterLab on a free port, and Debian's Chromium
driven by playwright with every non-localhost request blocked (no browser download).

Usage::

    def test_x(jupyterlab_factory, offline_chromium, tmp_path):
        lab = jupyterlab_factory(root_dir)           # JupyterLab serving root_dir
        page = offline_chromium.new_page()
        page.goto(lab.url("lab/tree/incident.ipynb"))
        ...
        assert offline_chromium.blocked == []        # nothing tried the network? (or did)
"""

from __future__ import annotations

import json
import secrets
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.servers import Process, free_port, require_binary, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


@dataclass
class JupyterLab:
    """A running JupyterLab: ``url(path)`` adds the token."""

    port: int
    token: str
    root_dir: Path
    process: Process

    def url(self, path: str = "lab") -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}?token={self.token}"

    def api(self, path: str) -> Any:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/{path.lstrip('/')}",
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())


def start_jupyterlab(root_dir: Path, home: Path) -> JupyterLab:
    """JupyterLab on a free port with its config, data, runtime and settings in ``home``
    (nothing read from or written to the user's own Jupyter directories)."""
    port = free_port()
    token = secrets.token_hex(16)
    env: dict[str, str] = {}
    for name in ("config", "data", "runtime", "ipython", "settings", "workspaces"):
        (home / name).mkdir(parents=True, exist_ok=True)
    env["JUPYTER_CONFIG_DIR"] = str(home / "config")
    env["JUPYTER_DATA_DIR"] = str(home / "data")
    env["JUPYTER_RUNTIME_DIR"] = str(home / "runtime")
    env["IPYTHONDIR"] = str(home / "ipython")
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # no news / update pop-ups over the notebook, no kernel-less "select kernel" dialog
    notif = home / "settings" / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True, exist_ok=True)
    (notif / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # render every cell (no windowing), so off-screen outputs are real DOM to inspect
    nbset = home / "settings" / "@jupyterlab" / "notebook-extension"
    nbset.mkdir(parents=True, exist_ok=True)
    (nbset / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True})
    )
    args = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=",
        "--LabApp.expose_app_in_browser=True",
    ]
    proc = Process(args, log=home / "jupyterlab.log", env=env, cwd=root_dir)
    lab = JupyterLab(port, token, root_dir, proc)

    def ready() -> bool:
        if not proc.alive():
            raise RuntimeError(f"JupyterLab exited:\n{proc.tail()}")
        return bool(lab.api("api/status"))

    try:
        wait_until(ready, timeout=90, what="JupyterLab")
    except Exception:
        proc.stop()
        raise
    return lab


@pytest.fixture
def jupyterlab_factory(tmp_path: Path) -> Iterator[Callable[[Path], JupyterLab]]:
    """Start JupyterLab servers on a root dir; all stopped at teardown."""
    started: list[JupyterLab] = []

    def start(root_dir: Path) -> JupyterLab:
        lab = start_jupyterlab(root_dir, tmp_path / f"jupyter-home-{len(started)}")
        started.append(lab)
        return lab

    yield start
    for lab in started:
        lab.process.stop()


@dataclass
class OfflineBrowser:
    """A playwright browser context in which only localhost answers."""

    context: Any
    blocked: list[str] = field(default_factory=list)

    def new_page(self) -> Any:
        return self.context.new_page()


@pytest.fixture
def offline_chromium() -> Iterator[OfflineBrowser]:
    """Debian's Chromium, headless, every non-localhost request aborted and recorded."""
    require_binary(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        ob = OfflineBrowser(context)

        def guard(route: Any) -> None:
            url = route.request.url
            host = urlparse(url).hostname or ""
            if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
                route.continue_()
            else:
                ob.blocked.append(url)
                route.abort()

        context.route("**/*", guard)
        try:
            yield ob
        finally:
            context.close()
            browser.close()
