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
