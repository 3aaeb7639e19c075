"""The demo incident served by a real Prometheus under a chosen metric naming.

``workbench demo --execute OUT --naming otel`` runs the incident notebook against a
Prometheus holding the demo's metrics as OpenTelemetry instrumentation would name them
(or ``spanmetrics``, ``istio``, ``beyla``, ... see :mod:`workbench.lab.naming`), with the
demo's logs, traces and events from files. The notebook finds the naming on its own
(:mod:`workbench.sources.prometheus.presets`), as it would on a team's server.

Needs ``promtool`` and ``prometheus`` on ``PATH`` (Debian: ``prometheus``). Everything is
written under ``workdir``; the server listens on 127.0.0.1 and stops on exit.

Example::

    >>> with served_demo("otel", Path("out/prom")) as demo:
    ...     notebook.execute(template, out, parameters=demo.parameters)
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, SourceUnavailable

__all__ = ["ServedDemo", "served_demo"]


@dataclass(frozen=True)
class ServedDemo:
    """A running demo: the Prometheus URL, the ``workbench.toml`` naming both sources,
    and the notebook parameters that open the demo incident through them."""

    url: str
    config: Path
    parameters: dict[str, Any]


def _binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        raise ConfigError(
            f"--naming needs {name} on PATH to serve the demo's metrics",
            hint="install Prometheus (Debian: apt-get install prometheus), or drop --naming "
            "to use the embedded demo files",
        )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise SourceUnavailable(
        f"Prometheus for the demo did not become ready in {timeout_s:g}s", source="demo",
        detail=tail,
    )  # fmt: skip


@contextmanager
def served_demo(naming: str, workdir: Path, *, seed: int = 1) -> Iterator[ServedDemo]:
    """Serve the demo's metrics under ``naming`` from a fresh Prometheus in ``workdir``."""
    from workbench.lab.demo import demo_path
    from workbench.lab.naming import check_naming, rename
    from workbench.lab.runner import lab_series
    from workbench.lab.write_metrics import write_openmetrics

    check_naming(naming)  # before any work
    promtool, prometheus = _binary("promtool"), _binary("prometheus")
    demo = demo_path(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    files = workdir / "files"
    if files.exists():
        shutil.rmtree(files)
    for sub in ("logs", "traces", "events"):  # metrics come from Prometheus only
        shutil.copytree(demo / sub, files / sub)
    ss, _ = lab_series("demo", seed)
    om = workdir / f"metrics-{naming}.om"
    write_openmetrics(rename(ss, naming), om)
    blocks = workdir / "tsdb"
    if blocks.exists():
        shutil.rmtree(blocks)
    proc_b = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h",
         "-q", str(om), str(blocks)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if proc_b.returncode != 0:
        raise SourceUnavailable(
            "promtool could not build blocks from the demo metrics",
            source="demo",
            detail=(proc_b.stdout + proc_b.stderr)[-2000:],
        )
    cfg = workdir / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 30s\nscrape_configs: []\n")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / "prometheus.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [prometheus, f"--config.file={cfg}", f"--storage.tsdb.path={blocks}",
             "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}",
             "--log.level=warn"],
            stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_ready(url, proc, log, 90)
        config = workdir / "workbench.toml"
        config.write_text(
            f'[sources.prometheus]\nurl = "prometheus+{url}"\n\n'
            f'[sources.files]\ntype = "files"\npath = {json.dumps(str(files))}\n'
        )
        meta = json.loads((demo / "scenario.json").read_text())
        iw = meta["incident_window"]
        params = {
            "incident_id": f"demo-{naming}",
            "window": f"{iw['start']}..{iw['end']}",
            "sources_config": str(config),
        }
        yield ServedDemo(url, config, params)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
