"""Real Prometheus, VictoriaMetrics and Alertmanager instances for tests and benchmarks.

Plain functions (no pytest), so ``bench/bench_prometheus.py`` can start the same servers:

* :func:`write_openmetrics` writes OpenMetrics text with timestamps (seconds);
* :func:`start_prometheus` builds TSDB blocks from it with ``promtool tsdb
  create-blocks-from openmetrics`` and serves them (retention 100y);
* :func:`start_victoriametrics` starts VictoriaMetrics and imports the same text through
  ``/api/v1/import/prometheus``. That endpoint reads the Prometheus text format, whose
  sample timestamps are **milliseconds** (VictoriaMetrics docs: "unix timestamp in
  milliseconds" for the ``timestamp`` arg; the exposition format's own timestamps are ms),
  while OpenMetrics timestamps are seconds: :func:`openmetrics_to_prometheus_text`
  converts them;
* :func:`start_alertmanager` starts Alertmanager 0.25 with a minimal configuration.

Each returns a :class:`Server` with ``url`` and ``stop()``; start-up failures raise
``RuntimeError`` carrying the server's log tail.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.servers import Process, free_port

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
VICTORIAMETRICS = "/usr/bin/victoria-metrics"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


@dataclass
class Server:
    """A started server: its base URL, process and working directory."""

    name: str
    url: str
    port: int
    process: Process
    workdir: Path

    def stop(self) -> None:
        self.process.stop()

    def tail(self, n: int = 40) -> str:
        return self.process.tail(n)


# --- OpenMetrics text ------------------------------------------------------------------


def om_escape(value: str) -> str:
    """Escape a label value for the OpenMetrics / Prometheus text formats."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def om_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


def _om_ts(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else f"{t:.3f}"


@dataclass
class Family:
    """One metric family: its TYPE and its series ``(labels, [(ts_seconds, value)])``."""

    name: str
    type: str  # gauge | counter | histogram | unknown
    series: list[tuple[dict[str, str], Sequence[tuple[float, float]]]]


def write_openmetrics(path: Path, families: Iterable[Family]) -> Path:
    """Write families as OpenMetrics text (timestamps in seconds), ending with ``# EOF``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for fam in families:
            fh.write(f"# TYPE {fam.name} {fam.type}\n")
            for labels, samples in fam.series:
                name = labels.get("__name__", fam.name)
                lab = ",".join(
                    f'{k}="{om_escape(v)}"' for k, v in labels.items() if k != "__name__"
                )
                prefix = f"{name}{{{lab}}} " if lab else f"{name} "
                fh.write("".join(f"{prefix}{om_value(v)} {_om_ts(t)}\n" for t, v in samples))
        fh.write("# EOF\n")
    return path


_SAMPLE_TS = re.compile(r"^(?P<head>[^#].*) (?P<ts>[0-9.eE+-]+)$")


def openmetrics_to_prometheus_text(text: str) -> str:
    """OpenMetrics (timestamps in seconds) -> Prometheus text format (milliseconds)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, ts = line.rpartition(" ")
        out.append(f"{head} {round(float(ts) * 1000)}")
    return "\n".join(out) + "\n"


# --- servers -----------------------------------------------------------------------------


def _get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read()


def _wait(server: Server, check_path: str, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not server.process.alive():
            break
        try:
            _get(server.url + check_path)
            return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
            time.sleep(0.1)
    alive = server.process.alive()
    server.stop()
    raise RuntimeError(
        f"{server.name} did not start ({'still running' if alive else 'exited'}; last "
        f"error {last}). Log tail:\n{server.tail()}"
    )


def build_blocks(
    openmetrics: Sequence[Path], blocks_dir: Path, *, max_block_duration: str = "24h"
) -> Path:
    """Run ``promtool tsdb create-blocks-from openmetrics`` for each file into ``blocks_dir``.

    ``--max-block-duration`` (a hidden flag of promtool 2.42) defaults to 2 h, one block
    per 2 h of data: a day of data then takes promtool 2.5 s instead of 0.5 s with 24 h."""
    blocks_dir.mkdir(parents=True, exist_ok=True)
    for om in openmetrics:
        proc = subprocess.run(
            [
                PROMTOOL,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                f"--max-block-duration={max_block_duration}",
                "-q",
                str(om),
                str(blocks_dir),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"promtool could not build blocks from {om}:\n{proc.stdout}\n{proc.stderr}"
            )
    return blocks_dir


def start_prometheus(
    workdir: Path,
    openmetrics: Sequence[Path],
    *,
    extra_args: Sequence[str] = (),
    web_config: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    blocks_dir: Path | None = None,
    scrape_config: str = "scrape_configs: []\n",
) -> Server:
    """Prometheus over promtool-built blocks of ``openmetrics`` (no scraping unless
    ``scrape_config`` says so)."""
    workdir.mkdir(parents=True, exist_ok=True)
    blocks = blocks_dir or build_blocks(openmetrics, workdir / "data")
    cfg = workdir / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 15s\n" + scrape_config)
    port = free_port()
    args = [
        PROMETHEUS,
        f"--config.file={cfg}",
        f"--storage.tsdb.path={blocks}",
        "--storage.tsdb.retention.time=100y",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
        *extra_args,
    ]
    if web_config is not None:
        wc = workdir / "web.yml"
        wc.write_text(web_config)
        args.append(f"--web.config.file={wc}")
    proc = Process(args, log=workdir / "prometheus.log")
    srv = Server("prometheus", f"http://127.0.0.1:{port}", port, proc, workdir)
    if basic_auth is None:
        _wait(srv, "/-/ready", timeout=60)
    else:
        _wait_auth(srv, *basic_auth)
    return srv


def _wait_auth(srv: Server, user: str, password: str, timeout: float = 60) -> None:
    """Wait for a Prometheus behind basic auth to answer /-/ready."""
    import base64

    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        req = urllib.request.Request(
            srv.url + "/-/ready", headers={"Authorization": f"Basic {token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            if not srv.process.alive():
                break
            time.sleep(0.1)
    srv.stop()
    raise RuntimeError(f"prometheus (basic auth) did not start. Log tail:\n{srv.tail()}")


def start_victoriametrics(
    workdir: Path, openmetrics: Sequence[Path], *, extra_args: Sequence[str] = ()
) -> Server:
    """VictoriaMetrics with ``openmetrics`` imported through /api/v1/import/prometheus."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        VICTORIAMETRICS,
        f"-storageDataPath={workdir / 'data'}",
        "-retentionPeriod=100y",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-search.disableCache",
        "-loggerLevel=WARN",
        *extra_args,
    ]
    proc = Process(args, log=workdir / "victoria-metrics.log")
    srv = Server("victoria-metrics", f"http://127.0.0.1:{port}", port, proc, workdir)
    _wait(srv, "/health", timeout=60)
    total = 0
    for om in openmetrics:
        body = openmetrics_to_prometheus_text(om.read_text(encoding="utf-8")).encode()
        total += body.count(b"\n")
        req = urllib.request.Request(
            srv.url + "/api/v1/import/prometheus",
            data=body,
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(req, timeout=120) as resp:
            if resp.status >= 300:
                srv.stop()
                raise RuntimeError(f"import into victoria-metrics failed: HTTP {resp.status}")
    _get(srv.url + "/internal/force_flush", timeout=30)
    return srv


def vm_sample_count(srv: Server, match: str = '{__name__!=""}') -> int:
    """Number of raw samples VictoriaMetrics holds for ``match`` (via /api/v1/export)."""
    from urllib.parse import urlencode

    raw = _get(srv.url + "/api/v1/export?" + urlencode({"match[]": match}), timeout=60)
    return sum(len(json.loads(line)["values"]) for line in raw.splitlines() if line.strip())


ALERTMANAGER_CONFIG = """\
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: default
"""


def start_alertmanager(workdir: Path) -> Server:
    """Alertmanager 0.25, clustering disabled, storage in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "alertmanager.yml"
    cfg.write_text(ALERTMANAGER_CONFIG)
    port = free_port()
    args = [
        ALERTMANAGER,
        f"--config.file={cfg}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    proc = Process(args, log=workdir / "alertmanager.log")
    srv = Server("alertmanager", f"http://127.0.0.1:{port}", port, proc, workdir)
    _wait(srv, "/-/ready", timeout=60)
    return srv


def post_json(url: str, body: object, *, method: str = "POST") -> object:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw.strip() else None


def labels_text(labels: Mapping[str, str]) -> str:
    return ",".join(f'{k}="{om_escape(v)}"' for k, v in labels.items())


def post_webhook_alerts(
    srv: Server, webhook_jsonl: Path, *, during: bool = True, keep_firing_for_s: int = 86400
) -> int:
    """Post the alerts of an Alertmanager webhook log (the lab's
    ``events/alertmanager-webhook.jsonl``) to a real Alertmanager, as Prometheus would.

    ``during=True`` recreates Alertmanager as it was during the incident: the firing
    notifications only, posted with ``endsAt`` ``keep_firing_for_s`` from now so they stay
    active for the test session. ``during=False``: the latest notification per
    (fingerprint, startsAt) wins, so resolved alerts keep their past ``endsAt`` and the
    API no longer lists them. Returns the number of alerts posted as firing."""
    import datetime as _dt

    latest: dict[tuple[str, str], dict] = {}
    for line in webhook_jsonl.read_text().splitlines():
        if line.strip():
            for a in json.loads(line)["alerts"]:
                firing = a.get("status") == "firing"
                if during and not firing:
                    continue
                latest[(a.get("fingerprint", ""), a["startsAt"])] = a
    until = _dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=keep_firing_for_s)
    body, firing_n = [], 0
    for a in latest.values():
        still = a.get("status") == "firing"
        firing_n += still
        body.append(
            {
                "labels": a["labels"],
                "annotations": a.get("annotations", {}),
                "startsAt": a["startsAt"],
                "endsAt": until.strftime("%Y-%m-%dT%H:%M:%SZ") if still else a["endsAt"],
                "generatorURL": a.get("generatorURL", ""),
            }
        )
    if body:
        post_json(srv.url + "/api/v2/alerts", body)
    return firing_n
