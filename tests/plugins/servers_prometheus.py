"""Session fixtures: one real Prometheus, one VictoriaMetrics and one Alertmanager.

Prometheus serves blocks that ``promtool`` built from the synthetic data set in
``tests/promdata.py`` (known answers) plus, when the lab plugin provides ``lab_demo_dir``,
the lab demo scenario's ``metrics/metrics.om``. VictoriaMetrics imports the same text.
Servers run on free ports in temporary directories and stop at the end of the session; a
server that does not start fails the test with its log tail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import promdata, promservers
from tests.servers import require_binary


def _lab_metrics(request: pytest.FixtureRequest) -> list[Path]:
    """The lab demo's metrics.om, if the lab fixture exists."""
    try:
        demo = request.getfixturevalue("lab_demo_dir")
    except pytest.FixtureLookupError:
        return []
    om = Path(demo) / "metrics" / "metrics.om"
    return [om] if om.exists() else []


@pytest.fixture(scope="session")
def prom_test_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic OpenMetrics file (see tests/promdata.py)."""
    return promdata.write_test_data(tmp_path_factory.mktemp("promdata") / "test.om")


@pytest.fixture(scope="session")
def prom_openmetrics(prom_test_data: Path, request: pytest.FixtureRequest) -> list[Path]:
    """Every OpenMetrics file the metric servers load: synthetic data + lab demo."""
    return [prom_test_data, *_lab_metrics(request)]


def _start(what: str, fn, *args, **kwargs) -> promservers.Server:  # type: ignore[no-untyped-def]
    try:
        return fn(*args, **kwargs)
    except RuntimeError as exc:
        pytest.fail(f"{what} did not start: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def prometheus_server(
    tmp_path_factory: pytest.TempPathFactory, prom_openmetrics: list[Path]
) -> Iterator[promservers.Server]:
    """A real Prometheus 2.42 over promtool-built blocks (retention 100y)."""
    require_binary(promservers.PROMETHEUS)
    require_binary(promservers.PROMTOOL)
    srv = _start(
        "prometheus",
        promservers.start_prometheus,
        tmp_path_factory.mktemp("prometheus"),
        prom_openmetrics,
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def victoriametrics_server(
    tmp_path_factory: pytest.TempPathFactory, prom_openmetrics: list[Path]
) -> Iterator[promservers.Server]:
    """A real VictoriaMetrics with the same data imported (retention 100y)."""
    require_binary(promservers.VICTORIAMETRICS)
    srv = _start(
        "victoria-metrics",
        promservers.start_victoriametrics,
        tmp_path_factory.mktemp("victoriametrics"),
        prom_openmetrics,
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def alertmanager_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[promservers.Server]:
    """A real Alertmanager 0.25 with clustering disabled and no alerts yet."""
    require_binary(promservers.ALERTMANAGER)
    srv = _start(
        "alertmanager", promservers.start_alertmanager, tmp_path_factory.mktemp("alertmanager")
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="session", params=["prometheus", "victoriametrics"])
def prom_backend(request: pytest.FixtureRequest) -> tuple[str, promservers.Server]:
    """Each server that speaks the Prometheus HTTP API: ``(flavor, server)``."""
    name = "prometheus_server" if request.param == "prometheus" else "victoriametrics_server"
    return request.param, request.getfixturevalue(name)


# --- extra instances for failure tests (small data: the wb_long series only) ---------------

#: bcrypt hash of the password "test" (the example in Prometheus's basic-auth guide)
BASIC_AUTH_HASH = "$2b$12$hNf2lSsxfm0.i4a.1kVpSOVyBCfIB51VRjgBUyv6kdnyTlgWj81Ay"
BASIC_AUTH = ("admin", "test")


@pytest.fixture(scope="session")
def prom_small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("promsmall") / "small.om"
    return promservers.write_openmetrics(path, [promdata.long_family()])


@pytest.fixture(scope="session")
def prometheus_limited_server(
    tmp_path_factory: pytest.TempPathFactory, prom_small_data: Path
) -> Iterator[promservers.Server]:
    """Prometheus with ``--query.max-samples=100``: most range queries exceed it."""
    srv = _start(
        "prometheus (max-samples)",
        promservers.start_prometheus,
        tmp_path_factory.mktemp("prom-limited"),
        [prom_small_data],
        extra_args=["--query.max-samples=100"],
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def prometheus_auth_server(
    tmp_path_factory: pytest.TempPathFactory, prom_small_data: Path
) -> Iterator[promservers.Server]:
    """Prometheus behind its own basic auth (``--web.config.file``): admin / test."""
    srv = _start(
        "prometheus (basic auth)",
        promservers.start_prometheus,
        tmp_path_factory.mktemp("prom-auth"),
        [prom_small_data],
        web_config=f"basic_auth_users:\n  {BASIC_AUTH[0]}: {BASIC_AUTH_HASH}\n",
        basic_auth=BASIC_AUTH,
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def victoriametrics_limited_server(
    tmp_path_factory: pytest.TempPathFactory, prom_small_data: Path
) -> Iterator[promservers.Server]:
    """VictoriaMetrics with ``-search.maxPointsPerTimeseries=100``."""
    srv = _start(
        "victoria-metrics (limited)",
        promservers.start_victoriametrics,
        tmp_path_factory.mktemp("vm-limited"),
        [prom_small_data],
        extra_args=["-search.maxPointsPerTimeseries=100"],
    )
    yield srv
    srv.stop()


EXEMPLAR_EXPOSITION = b"""\
# TYPE wb_requests counter
wb_requests_total{service="cart",route="/pay"} 5 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"} 0.25
wb_requests_total{service="search",route="/q"} 7 # {traceID="0af7651916cd43dd8448eb211c80319c"} 1.5
# EOF
"""


@pytest.fixture(scope="session")
def prometheus_exemplar_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[promservers.Server]:
    """Prometheus with exemplar storage, scraping (every 1 s) a tiny OpenMetrics target
    whose counters carry exemplars. Yields once the first exemplars are queryable."""
    import json
    import threading
    import time
    import urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Target(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header(
                "Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8"
            )
            self.send_header("Content-Length", str(len(EXEMPLAR_EXPOSITION)))
            self.end_headers()
            self.wfile.write(EXEMPLAR_EXPOSITION)

        def log_message(self, *args: object) -> None:
            pass

    target = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    thread = threading.Thread(target=target.serve_forever, daemon=True)
    thread.start()
    work = tmp_path_factory.mktemp("prom-exemplars")
    port = target.server_address[1]
    srv = _start(
        "prometheus (exemplars)",
        promservers.start_prometheus,
        work,
        [],
        blocks_dir=work / "data",
        extra_args=["--enable-feature=exemplar-storage"],
        scrape_config=(
            "scrape_configs:\n  - job_name: exemplars\n    scrape_interval: 1s\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    deadline = time.monotonic() + 30
    url = srv.url + "/api/v1/query_exemplars?query=wb_requests_total&start=0&end=9999999999"
    while True:
        with urllib.request.urlopen(url, timeout=5) as resp:
            if json.loads(resp.read())["data"]:
                break
        if time.monotonic() > deadline:
            srv.stop()
            pytest.fail(f"no exemplars scraped in 30 s. Log tail:\n{srv.tail()}")
        time.sleep(0.2)
    yield srv
    srv.stop()
    target.shutdown()
    target.server_close()


@pytest.fixture(scope="session")
def alertmanager_demo(alertmanager_server: promservers.Server, lab_demo_dir: Path) -> dict:
    """The session's Alertmanager as it was during the lab demo's incident: the demo's
    firing alerts posted and kept active (``promservers.post_webhook_alerts``).
    ``{"server", "firing", "scenario"}``."""
    webhook = Path(lab_demo_dir) / "events" / "alertmanager-webhook.jsonl"
    firing = promservers.post_webhook_alerts(alertmanager_server, webhook)
    return {"server": alertmanager_server, "firing": firing, "scenario": Path(lab_demo_dir)}
