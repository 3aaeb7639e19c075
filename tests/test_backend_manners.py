"""Backends treated as they expect (issue 15, part 5): 429/503 with Retry-After waited
out within the deadline, retries with jitter; secrets read at first connect (one unset
variable fails that source only); risky TLS/credential settings warned about and shown
in ``describe()``; PostgreSQL verifies TLS when a non-local server offers it."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.hostile_http import HostileHttp
from workbench import ConfigError, Incident, SourceUnavailable, Window
from workbench.config import load_config
from workbench.sources.http import Auth, HttpClient, Timeout
from workbench.sources.prometheus import PrometheusSource

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
W = Window(T0, T0 + timedelta(minutes=30))


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(status: int) -> None:
    with HostileHttp("busy") as srv:
        srv.busy_left, srv.busy_status = 2, status
        src = PrometheusSource(srv.url, timeout=Timeout(read=5), retries=3)
        t = time.monotonic()
        res = src.metrics("up", W)
        took = time.monotonic() - t
        gaps = [b - a for a, b in zip(srv.busy_times_at, srv.busy_times_at[1:], strict=False)]
    assert res.frame.height == 0 and srv.busy_left == 0
    assert 2.0 <= took < 6.0, took  # two waits of Retry-After: 1 s (+ jitter)
    assert all(g >= 1.0 for g in gaps)


def test_retry_after_beyond_the_deadline_fails_fast_and_says_busy() -> None:
    with HostileHttp("busy") as srv:
        srv.busy_left, srv.retry_after = 5, "30"
        src = PrometheusSource(srv.url, timeout=Timeout(read=1, total=2), retries=3)
        t = time.monotonic()
        with pytest.raises(SourceUnavailable, match="busy") as ei:
            src.metrics("up", W)
        took = time.monotonic() - t
    assert ei.value.status == 429 and took < 1.5  # no point waiting 30 s for a 2 s budget


def test_backoff_has_jitter() -> None:
    http = HttpClient("x", "http://127.0.0.1:9", backoff_s=0.2)
    waits = {round(http._retry_wait(1, None), 6) for _ in range(20)}
    assert len(waits) > 10 and all(0.1 <= w <= 0.3 for w in waits)


def test_unset_secret_fails_only_its_source(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("WB_TEST_UNSET_TOKEN", raising=False)
    with HostileHttp("ok") as srv:
        cfg = tmp_path / "workbench.toml"
        cfg.write_text(
            f'[sources.prom_a]\ntype = "prometheus"\nurl = "{srv.url}"\n'
            f'bearer = {{ env = "WB_TEST_UNSET_TOKEN" }}\n'
            f'[sources.am]\ntype = "alertmanager"\nurl = "{srv.url}"\n'
            f'bearer = {{ env = "WB_TEST_UNSET_TOKEN" }}\n'
            f'[sources.prom_b]\ntype = "prometheus"\nurl = "{srv.url}"\n'
        )
        sources = load_config(cfg, env=False)  # reads no secret
        assert set(sources) == {"prom_a", "am", "prom_b"}
        inc = Incident("INC-S", W, sources=list(sources.values()))
        inc.load(["metrics"])
    err = inc.outcomes[("prom_a", "metrics")].error
    assert isinstance(err, ConfigError) and "WB_TEST_UNSET_TOKEN" in str(err)
    assert inc.outcomes[("prom_b", "metrics")].error is None


def test_risky_settings_are_warned_about_and_described(caplog) -> None:
    caplog.set_level(logging.WARNING)
    from workbench.secrets import Secret

    src = PrometheusSource(
        "http://prom.example.org:9090",
        auth=Auth(bearer=Secret.env("WB_CANARY_TOKEN"), verify=False),
    )
    warnings = src.describe()["warnings"]
    assert any("verify = false" in w for w in warnings)
    assert any("plain HTTP to prom.example.org" in w for w in warnings)
    assert sum("plain HTTP" in r.getMessage() for r in caplog.records) == 1
    local = PrometheusSource("http://127.0.0.1:9090", auth=Auth(bearer=Secret.env("X")))
    assert "warnings" not in local.describe()
    from workbench.sources.loki import LokiSource

    loki = LokiSource("http://loki.example.org:3100", auth=Auth(username="u",
                      password=Secret.env("X")))  # fmt: skip
    assert any("plain HTTP" in w for w in loki.describe()["warnings"])


@pytest.mark.service
def test_postgres_verifies_tls_when_a_remote_server_offers_it(postgres_server, caplog) -> None:
    from workbench.secrets import Secret
    from workbench.sources.postgres import PostgresSource

    caplog.set_level(logging.WARNING)
    # a non-local host name (what a certificate would be checked against), reached on
    # loopback: the test server offers no TLS, so the source falls back and says so
    url = postgres_server.url.replace("127.0.0.1", "pg.test") + "?hostaddr=127.0.0.1"
    src = PostgresSource(url, password=Secret.value(postgres_server.password))
    assert src.describe()["tls"] == "verify-full when offered"
    src.query("SELECT 1")
    d = src.describe()
    assert d["tls"] == "none" and "not encrypted" in d["warnings"][0]
    assert any("offers no TLS" in r.getMessage() for r in caplog.records)
    src.close()
    local = PostgresSource(postgres_server.url, password=Secret.value(postgres_server.password))
    assert local.describe()["tls"] == "libpq default"
    opted = PostgresSource(url + "&sslmode=prefer", password=Secret.value("x"))
    assert opted.describe()["tls"] == "prefer"
