"""Lab metrics load into a real Prometheus: promtool builds blocks, Prometheus serves them."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.servers import Process, free_port, require_binary, wait_until
from workbench import frames

pytestmark = pytest.mark.service

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"


@pytest.fixture(scope="module")
def demo_blocks(lab_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    promtool = require_binary(PROMTOOL)
    out = tmp_path_factory.mktemp("lab-tsdb")
    proc = subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(lab_demo_dir / "metrics" / "metrics.om"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="module")
def lab_prometheus(demo_blocks: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = require_binary(PROMETHEUS)
    work = tmp_path_factory.mktemp("lab-prom")
    (work / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\n")
    port = free_port()
    proc = Process(
        [
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={demo_blocks}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        log=work / "prometheus.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: urllib.request.urlopen(url + "/-/ready", timeout=1).status == 200,
            timeout=60,
            what="prometheus",
        )
    except TimeoutError:
        proc.stop()
        pytest.fail(f"prometheus did not start:\n{proc.tail()}")
    yield url
    proc.stop()


def _query(url: str, expr: str, at: datetime) -> list[dict]:
    q = urllib.parse.urlencode({"query": expr, "time": f"{at.timestamp():.3f}"})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=30) as resp:
        body = json.loads(resp.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_promtool_builds_blocks_with_every_sample(demo_blocks: Path, lab_demo_dir: Path) -> None:
    metas = [json.loads(p.read_text()) for p in demo_blocks.glob("*/meta.json")]
    assert metas, "promtool created no blocks"
    meta = json.loads((lab_demo_dir / "scenario.json").read_text())
    assert sum(m["stats"]["numSamples"] for m in metas) == meta["counts"]["samples"]
    assert max(m["stats"]["numSeries"] for m in metas) <= meta["counts"]["series"]


def test_prometheus_serves_the_same_values_as_the_parquet(
    lab_prometheus: str, lab_demo_dir: Path
) -> None:
    df = pl.read_parquet(lab_demo_dir / "metrics" / "metrics.parquet")
    one = (
        df.filter(pl.col("metric") == "http_server_requests_total", pl.col("service") == "checkout")
        .with_columns(pod=frames.attr("labels", "pod"), code=frames.attr("labels", "code"))
        .filter(pl.col("code") == "500")
        .sort("ts")
    )
    pod = one["pod"][0]
    rows = one.filter(pl.col("pod") == pod)
    for row in rows.gather([0, rows.height // 2, rows.height - 1]).iter_rows(named=True):
        res = _query(
            lab_prometheus,
            f'http_server_requests_total{{pod="{pod}",code="500",route="/checkout"}}',
            row["ts"],
        )
        assert len(res) == 1, res
        assert float(res[0]["value"][1]) == row["value"]
        assert res[0]["metric"]["service"] == "checkout"
        assert res[0]["metric"]["namespace"] == "shop"


def test_checkout_error_ratio_through_promql_rises_during_the_incident(lab_prometheus: str) -> None:
    expr = (
        'sum(rate(http_server_requests_total{service="checkout",code=~"5.."}[5m]))'
        ' / sum(rate(http_server_requests_total{service="checkout"}[5m]))'
    )
    before = _query(lab_prometheus, expr, datetime(2026, 11, 20, 10, 45, tzinfo=UTC))
    during = _query(lab_prometheus, expr, datetime(2026, 11, 20, 11, 25, tzinfo=UTC))
    after = _query(lab_prometheus, expr, datetime(2026, 11, 20, 11, 58, tzinfo=UTC))
    assert float(before[0]["value"][1]) < 0.05
    assert float(during[0]["value"][1]) > 0.15
    assert float(after[0]["value"][1]) < 0.05
    p99 = _query(
        lab_prometheus,
        "histogram_quantile(0.99, sum by (le) (rate("
        'http_server_request_duration_seconds_bucket{service="checkout"}[5m])))',
        datetime(2026, 11, 20, 10, 45, tzinfo=UTC),
    )
    assert 0.1 < float(p99[0]["value"][1]) < 5
