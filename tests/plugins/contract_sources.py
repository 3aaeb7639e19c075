"""One fixture per backend for the source contract suite (tests/test_source_contract.py).

``contract_case`` is parametrised over :data:`CASES`; each builder returns a
:class:`Case`: a live source over data it knows is there (a real Prometheus,
VictoriaMetrics, PostgreSQL and Alertmanager; Loki, Tempo and Jaeger's recorded responses
over real HTTP, as their own tests do; the real ClickHouse engine, chdb, behind ClickHouse's
HTTP interface; a lab directory), plus how to make the same
backend over a dead address, with a small budget, and with a canary secret.

A new backend passes the contract by adding one builder here and its name to ``CASES``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.servers import free_port
from workbench.errors import BadData, SourceUnavailable, WorkbenchError
from workbench.secrets import Secret
from workbench.sources.base import Result, Source
from workbench.sources.http import Auth, Timeout
from workbench.timewindow import Window

__all__ = ["CASES", "Case", "contract_case"]


@dataclass
class Case:
    """A backend under the contract.

    ``load(source, window)`` runs the case's query for its ``signal``. ``exact``: the
    server honours the window, so a narrowed window is checked row for row against the
    wide one. ``whole_traces``: spans come as whole traces (Tempo, Jaeger): the window
    selects traces, not spans. ``budgeted()``: the backend with a budget below what the
    window holds, and that budget; ``count(result)`` measures a result in budget units.
    ``dead()``: the backend where nothing answers; ``dead_error``: the error it must raise.
    ``with_secret(canary)``: the backend holding ``canary`` as a credential.
    """

    name: str
    source: Source
    signal: str
    window: Window
    load: Callable[[Source, Window], Result]
    exact: bool = True
    whole_traces: bool = False
    budgeted: Callable[[], tuple[Source, int]] | None = None
    count: Callable[[Result], int] = lambda r: r.rows
    dead: Callable[[], Source] | None = None
    dead_error: type[WorkbenchError] = SourceUnavailable
    with_secret: Callable[[str], Source] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def time_column(self) -> str:
        return "start" if self.signal == "spans" else "ts"


_QUICK = Timeout(connect=2, read=2)


def _dead_http() -> str:
    return f"http://127.0.0.1:{free_port()}"


def _canary_auth(canary: str) -> Auth:
    return Auth(bearer=Secret.value(canary), headers={"X-Api-Key": Secret.value(canary)})


# --------------------------------------------------------------------------- real servers
def _prometheus_like(flavor: str, server: Any) -> Case:
    from tests import promdata
    from workbench.sources.prometheus import PrometheusSource

    def load(src: Source, w: Window) -> Result:
        return src.metrics("wb_long", w, step=60)  # type: ignore[call-arg]

    def make(**kw: Any) -> PrometheusSource:
        return PrometheusSource(kw.pop("url", server.url), name=flavor, flavor=flavor, **kw)  # type: ignore[arg-type]

    start = promdata.LONG_START
    return Case(
        flavor, make(), "metrics", Window(start, start + timedelta(hours=1)), load,
        budgeted=lambda: (make(max_rows=50), 50),
        dead=lambda: make(url=_dead_http(), timeout=_QUICK),
        with_secret=lambda c: make(auth=_canary_auth(c)),
    )  # fmt: skip


def _prometheus(request: pytest.FixtureRequest) -> Case:
    return _prometheus_like("prometheus", request.getfixturevalue("prometheus_server"))


def _victoriametrics(request: pytest.FixtureRequest) -> Case:
    return _prometheus_like("victoriametrics", request.getfixturevalue("victoriametrics_server"))


def _alertmanager(request: pytest.FixtureRequest) -> Case:
    from tests.promservers import post_json
    from workbench.sources.alertmanager import AlertmanagerSource

    server = request.getfixturevalue("alertmanager_server")
    svc = f"contract-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    iso = "%Y-%m-%dT%H:%M:%S.%fZ"
    post_json(
        server.url + "/api/v2/alerts",
        [{"labels": {"alertname": f"A{i}", "service": svc},
          "startsAt": (now - timedelta(minutes=50 - 10 * i)).strftime(iso),
          "endsAt": (now + timedelta(hours=1)).strftime(iso)} for i in range(4)],
    )  # fmt: skip
    window = Window(now - timedelta(hours=1), now + timedelta(minutes=1))

    def load(src: Source, w: Window) -> Result:
        return src.events(w, services=[svc])

    def make(**kw: Any) -> AlertmanagerSource:
        return AlertmanagerSource(kw.pop("url", server.url), **kw)

    src = make()
    import time

    deadline = time.monotonic() + 10
    while load(src, window).rows < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    return Case(
        "alertmanager", src, "events", window, load, exact=False,
        dead=lambda: make(url=_dead_http(), timeout=_QUICK),
        with_secret=lambda c: make(auth=_canary_auth(c)),
    )  # fmt: skip


def _postgres(request: pytest.FixtureRequest) -> Case:
    from tests.pg_server import scratch_schema
    from workbench.sources.postgres import PostgresSource

    server = request.getfixturevalue("postgres_server")
    ctx = scratch_schema(server, "contract", timeout=5)
    src = ctx.__enter__()
    request.addfinalizer(lambda: ctx.__exit__(None, None, None))
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    n = 60
    metrics = pl.DataFrame(
        {
            "ts": [t0 + timedelta(minutes=i) for i in range(n) for _ in range(2)],
            "metric": ["up"] * (2 * n),
            "service": ["a", "b"] * n,
            "value": [float(i) for i in range(2 * n)],
            "labels": [[{"key": "pod", "value": "p0"}]] * (2 * n),
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )
    src.ingest("metrics", metrics)

    def load(s: Source, w: Window) -> Result:
        return s.metrics(None, w)

    def make(**kw: Any) -> PostgresSource:
        password = kw.pop("password", None) or Secret.value(server.password)
        return PostgresSource(server.url, schema=src.schema, password=password, **kw)

    return Case(
        "postgres", src, "metrics", Window(t0, t0 + timedelta(hours=1)), load,
        budgeted=lambda: (make(max_rows=30), 30),
        dead=lambda: PostgresSource(f"postgres://wb@127.0.0.1:{free_port()}/x", timeout=2),
        with_secret=lambda c: make(password=Secret.value(c)),
    )  # fmt: skip


# -------------------------------------------------------------- recorded responses (HTTP)
def _loki(request: pytest.FixtureRequest) -> Case:
    from tests.test_loki_source import RANGE_PATH, _sample_entries, emulate_loki
    from workbench.sources.loki import LokiSource

    http = request.getfixturevalue("recorded_http")
    shared = request.getfixturevalue("shared_data")
    base = _sample_entries(shared / "api-samples" / "loki" / "grafana-loki-testdata")
    t0 = 1645030244000000000
    entries = [(lab, t0 + k * 1_000_000_000 + i, f"{line} #{k}")
               for k in range(20) for i, (lab, _, line) in enumerate(base)]  # fmt: skip
    http.route(RANGE_PATH, handler=emulate_loki(entries))
    start = datetime.fromtimestamp(t0 // 10**9, UTC)

    def load(s: Source, w: Window) -> Result:
        return s.logs('{job="x"}', w)

    def make(**kw: Any) -> LokiSource:
        return LokiSource(kw.pop("url", http.url), **kw)

    return Case(
        "loki", make(), "logs", Window(start, start + timedelta(minutes=1)), load,
        budgeted=lambda: (make(limit=10, max_pages=2), 20),
        dead=lambda: make(url=_dead_http(), timeout=_QUICK),
        with_secret=lambda c: make(auth=_canary_auth(c)),
    )  # fmt: skip


def _kubernetes(request: pytest.FixtureRequest) -> Case:
    from tests.test_kubernetes_source import EVENTS, W
    from workbench.sources.kubernetes import KubernetesSource

    http = request.getfixturevalue("recorded_http")
    body = json.loads(EVENTS.read_text())
    pages = [body["items"][:4], body["items"][4:7], body["items"][7:]]
    for i, items in enumerate(pages):  # the API's limit/continue paging, three pages
        meta = {"continue": f"p{i + 1}"} if i < len(pages) - 1 else {}
        http.route("/api/v1/events", query={"continue": f"p{i}"} if i else None,
                   body=json.dumps({**body, "items": items, "metadata": meta}))  # fmt: skip
    http.routes.reverse()  # the continued pages match before the first

    def load(s: Source, w: Window) -> Result:
        return s.events(w)

    def make(**kw: Any) -> KubernetesSource:
        return KubernetesSource(kw.pop("url", http.url), **kw)

    return Case(
        "kubernetes", make(limit=4), "events", W, load, exact=False,
        budgeted=lambda: (make(limit=4, max_pages=1), 2),
        dead=lambda: make(url=_dead_http(), timeout=_QUICK),
        with_secret=lambda c: make(auth=_canary_auth(c)),
    )  # fmt: skip


def _argocd(request: pytest.FixtureRequest) -> Case:
    from tests.test_argocd_source import APP, W
    from workbench.sources.argocd import ArgoCDSource

    http = request.getfixturevalue("recorded_http")
    http.route("/api/v1/applications/nginx", file=APP)

    def load(s: Source, w: Window) -> Result:
        return s.events(w)

    def make(**kw: Any) -> ArgoCDSource:
        return ArgoCDSource(kw.pop("url", http.url), applications=["nginx"], **kw)

    return Case(
        "argocd", make(), "events", W, load, exact=False,
        dead=lambda: make(url=_dead_http(), timeout=_QUICK),
        with_secret=lambda c: make(auth=_canary_auth(c)),
    )  # fmt: skip


def _grafana(request: pytest.FixtureRequest) -> Case:
    from tests.test_grafana_source import FIND, W
    from workbench.sources.grafana import GrafanaSource

    http = request.getfixturevalue("recorded_http")
    http.route("/api/annotations", file=FIND)

    def load(s: Source, w: Window) -> Result:
        return s.events(w)

    def make(**kw: Any) -> GrafanaSource:
        return GrafanaSource(kw.pop("url", http.url), **kw)

    return Case(
        "grafana", make(), "events", W, load, exact=False,
        budgeted=lambda: (make(limit=1), 1),
        dead=lambda: make(url=_dead_http(), timeout=_QUICK),
        with_secret=lambda c: make(auth=_canary_auth(c)),
    )  # fmt: skip


def _traces(r: Result) -> int:
    return r.frame["trace_id"].n_unique()


def _tempo(request: pytest.FixtureRequest) -> Case:
    from tests.test_tempo_source import SAMPLES, _search_body
    from workbench.sources.tempo import TempoSource

    http = request.getfixturevalue("recorded_http")
    tempo_dir = request.getfixturevalue("shared_data") / "trace-samples" / "tempo"
    http.route("/api/search", body=_search_body(sorted(SAMPLES)))
    for tid, name in SAMPLES.items():
        http.route(f"/api/traces/{tid}", file=tempo_dir / name)

    def load(s: Source, w: Window) -> Result:
        return s.spans(None, w)

    def make(**kw: Any) -> TempoSource:
        return TempoSource(kw.pop("url", http.url), **kw)

    return Case(
        "tempo", make(), "spans", Window.parse("2018-01-01T00:00:00Z..2024-01-01T00:00:00Z"), load, exact=False, whole_traces=True,
        budgeted=lambda: (make(limit=2), 2), count=_traces,
        dead=lambda: make(url=_dead_http(), timeout=_QUICK),
        with_secret=lambda c: make(auth=_canary_auth(c)),
    )  # fmt: skip


def _jaeger(request: pytest.FixtureRequest) -> Case:
    from tests.test_jaeger_source import W, _envelope
    from workbench.sources.jaeger import JaegerSource

    http = request.getfixturevalue("recorded_http")
    jaeger_dir = request.getfixturevalue("shared_data") / "trace-samples" / "jaeger"
    tr = json.loads((jaeger_dir / "ui-model" / "ui_01.json").read_text())
    services = sorted({p["serviceName"] for p in tr["processes"].values()})
    http.route("/api/services", body=json.dumps({"data": services, "total": len(services)}))
    http.route("/api/traces", body=_envelope([tr]))

    def load(s: Source, w: Window) -> Result:
        return s.spans(None, w)

    def make(**kw: Any) -> JaegerSource:
        return JaegerSource(kw.pop("url", http.url), **kw)

    return Case(
        "jaeger", make(), "spans", W, load, exact=False, whole_traces=True, count=_traces,
        dead=lambda: make(url=_dead_http(), timeout=_QUICK),
        with_secret=lambda c: make(auth=_canary_auth(c)),
    )  # fmt: skip


def _clickhouse(signal: str) -> Callable[[pytest.FixtureRequest], Case]:
    def build(request: pytest.FixtureRequest) -> Case:
        from tests.plugins.clickhouse_chdb import LOGS_T0
        from workbench.sources.clickhouse import ClickHouseSource

        http = request.getfixturevalue("clickhouse_http")

        def load(s: Source, w: Window) -> Result:
            return s.logs(None, w) if signal == "logs" else s.spans(None, w)

        def make(**kw: Any) -> ClickHouseSource:
            return ClickHouseSource(kw.pop("url", http.url), **kw)

        return Case(
            f"clickhouse-{signal}", make(), signal, Window(LOGS_T0, LOGS_T0 + timedelta(hours=1)),
            load, budgeted=lambda: (make(max_rows=10), 10),
            dead=lambda: make(url=_dead_http(), timeout=_QUICK),
            with_secret=lambda c: make(auth=_canary_auth(c)),
        )  # fmt: skip

    return build


# --------------------------------------------------------------------------------- files
def _files(request: pytest.FixtureRequest) -> Case:
    from workbench.sources.files import DirectorySource

    lab: Path = request.getfixturevalue("lab_demo_dir")
    src = DirectorySource(lab)
    everything = Window.parse("2000-01-01T00:00:00Z..2100-01-01T00:00:00Z")
    logs = src.logs(None, everything).frame
    lo, hi = logs["ts"].min(), logs["ts"].max()
    window = Window(lo, hi + timedelta(seconds=1))  # type: ignore[operator]

    def load(s: Source, w: Window) -> Result:
        return s.logs(None, w)

    def gone() -> Source:
        tmp = request.getfixturevalue("tmp_path") / f"gone-{uuid.uuid4().hex[:6]}"
        tmp.mkdir()
        (tmp / "logs.jsonl").write_text(
            (lab / "logs" / "logs.jsonl").read_text()
            if (lab / "logs" / "logs.jsonl").exists()
            else ""
        )
        s = DirectorySource(tmp)
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
        return s

    return Case(
        "files", src, "logs", window, load,
        budgeted=lambda: (DirectorySource(lab, max_rows=100), 100),
        dead=gone, dead_error=BadData,  # the file it found is gone: which file, typed
    )  # fmt: skip


CASES: dict[str, Callable[[pytest.FixtureRequest], Case]] = {
    "prometheus": _prometheus,
    "victoriametrics": _victoriametrics,
    "alertmanager": _alertmanager,
    "kubernetes": _kubernetes,
    "argocd": _argocd,
    "grafana": _grafana,
    "postgres": _postgres,
    "loki": _loki,
    "tempo": _tempo,
    "jaeger": _jaeger,
    "files": _files,
    "clickhouse-logs": _clickhouse("logs"),
    "clickhouse-spans": _clickhouse("spans"),
}


@pytest.fixture(params=sorted(CASES))
def contract_case(request: pytest.FixtureRequest) -> Case:
    """Each backend under the contract (see :class:`Case`)."""
    return CASES[request.param](request)
