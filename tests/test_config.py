"""Configuration: URLs, workbench.toml, environment variables, Grafana provisioning YAML;
secret references resolved at connect time and never shown; literal secrets refused."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import certifi
import pytest
from hypothesis import given
from hypothesis import strategies as st

import workbench as wb
from tests.plugins.hostile import HostileCounter
from tests.plugins.recorded_http import RecordedServer
from workbench import AuthError, ConfigError, Secret, Window
from workbench.config import read_specs, spec_from_mapping
from workbench.config_grafana import read_grafana
from workbench.sources.jaeger.source import JaegerSource
from workbench.sources.loki.source import LokiSource
from workbench.sources.tempo.source import TempoSource

GRAFANA = Path(__file__).resolve().parent / "data" / "grafana" / "datasources.yaml"
W = Window.parse("2022-02-16T16:50:00Z..2022-02-16T16:51:00Z")
CANARIES = {
    "PROM_TOKEN": "canary-prom-7a1",
    "PROM_PASSWORD": "canary-pw-0b2",
    "LOKI_TOKEN": "canary-loki-9c3",
    "PG_PASSWORD": "canary-pg-4d4",
    "JAEGER_PASSWORD": "canary-jg-5e5",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for k in list(__import__("os").environ):
        if k.startswith("WORKBENCH_"):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for k, v in CANARIES.items():
        monkeypatch.setenv(k, v)
    return CANARIES


def _no_canary(*texts: Any) -> None:
    for t in texts:
        for c in CANARIES.values():
            assert c not in str(t), f"secret leaked into: {str(t)[:200]}"


TOML = """
[sources.prom]
type = "prometheus"
url = "https://prom.example:9090"
bearer = { env = "PROM_TOKEN" }
headers = { "X-Scope-OrgID" = "team-a" }
ca_file = "CA"
timeout = { connect = 2, read = 20 }

[sources.thanos]
url = "thanos+http://thanos.example:10902"

[sources.logs]
url = "loki+http://loki.example:3100?limit=2000&tenant=team-b"
bearer = { env = "LOKI_TOKEN" }
max_pages = 5

[sources.traces]
type = "tempo"
url = "http://tempo.example:3200"
username = "reader"
password = { file = "PWFILE" }

[sources.jaeger]
url = "jaeger+http://jaeger.example:16686"
api = "v3"

[sources.pg]
type = "postgres"
url = "postgres://wb@db.example:5432/telemetry"
password = { env = "PG_PASSWORD" }

[sources.files]
type = "files"
path = "SAMPLE"

[sources.alerts]
url = "alertmanager+https://am.example:9093?silences=false"
headers = { "X-Scope-OrgID" = "team-a" }
"""


def _write_toml(tmp_path: Path, shared_data: Path, text: str = TOML) -> Path:
    pw = tmp_path / "pw"
    pw.write_text("canary-file-pw\n")
    sample = shared_data / "trace-samples" / "zipkin-v2" / "yelp.json"
    p = tmp_path / "workbench.toml"
    p.write_text(
        text.replace("CA", certifi.where())
        .replace("PWFILE", str(pw))
        .replace("SAMPLE", str(sample))
    )
    return p


def test_toml_builds_every_source_kind(
    tmp_path: Path, shared_data: Path, canaries: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    path = _write_toml(tmp_path, shared_data)
    with caplog.at_level(logging.DEBUG):
        sources = wb.load_config(path)
    assert list(sources) == ["prom", "thanos", "logs", "traces", "jaeger", "pg", "files", "alerts"]
    alerts = sources["alerts"]
    assert isinstance(alerts, wb.sources.alertmanager.AlertmanagerSource)
    assert alerts.include_silences is False and alerts.http.base_url == "https://am.example:9093"
    prom = sources["prom"]
    assert isinstance(prom, wb.PrometheusSource)
    d = prom.describe()
    assert d["url"] == "https://prom.example:9090" and "bearer" in d["auth"]
    assert "X-Scope-OrgID" in d["auth"] and d["ca_file"] == certifi.where()
    assert prom.http.timeout.read == 20 and prom.http.timeout.connect == 2
    assert sources["thanos"].flavor == "thanos"
    logs = sources["logs"]
    assert isinstance(logs, LokiSource) and logs.limit == 2000 and logs.max_pages == 5
    assert logs.url == "http://loki.example:3100" and logs.auth.headers["X-Scope-OrgID"] == "team-b"
    traces = sources["traces"]
    assert isinstance(traces, TempoSource) and traces.auth.username == "reader"
    assert traces.auth.password == Secret.file(str(tmp_path / "pw"))
    assert isinstance(sources["jaeger"], JaegerSource) and sources["jaeger"].api == "v3"
    pg = sources["pg"]
    assert (
        isinstance(pg, wb.PostgresSource) and pg.url == "postgresql://wb@db.example:5432/telemetry"
    )
    assert (
        sources["files"]
        .spans(None, Window.parse("2000-01-01T00:00:00Z..2100-01-01T00:00:00Z"))
        .rows
        == 16
    )
    for s in sources.values():
        _no_canary(repr(s), s.describe())
    _no_canary(*(r.getMessage() for r in caplog.records))
    for s in sources.values():
        s.close()


def test_secret_references_are_resolved_only_when_connecting(
    recorded_http: RecordedServer, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = shared_data / "api-samples" / "loki" / "grafana-loki-testdata" / "streams_simple.json"
    recorded_http.route(
        "/loki/api/v1/query_range",
        file=f,
        require_headers={"Authorization": "Bearer canary-loki-9c3"},
    )
    src = wb.connect(f"loki+{recorded_http.url}", bearer={"env": "LOKI_TOKEN"}, tenant="t")
    with pytest.raises(ConfigError, match="LOKI_TOKEN is not set"):  # not read before now
        src.logs('{a="b"}', W)
    src.close()
    monkeypatch.setenv("LOKI_TOKEN", "canary-loki-9c3")
    assert src.logs('{a="b"}', W).rows == 6  # the reference resolved at connect time
    assert recorded_http.requests[-1].headers["X-Scope-OrgID"] == "t"


def test_wrong_credential_error_and_logs_hold_no_secret(
    hostile: HostileCounter,
    recorded_http: RecordedServer,
    canaries: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hostile.fault("tempo", 1)
    recorded_http.route("/api/search", body="{}", require_headers={"Authorization": "Bearer right"})
    src = wb.connect(f"tempo+{recorded_http.url}", bearer=Secret.env("PROM_TOKEN"), retries=0)
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as ei:
        src.search("{ }", W)
    assert recorded_http.requests[-1].headers["Authorization"] == "Bearer canary-prom-7a1"
    _no_canary(str(ei.value), ei.value._repr_html_(), repr(ei.value.details()), repr(src),
               src.describe(), *(r.getMessage() for r in caplog.records))  # fmt: skip


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"url": "loki+http://h:3100", "password": "hunter2"}, "secret reference"),
        ({"url": "loki+http://h:3100", "bearer": "hunter2"}, "secret reference"),
        (
            {"url": "loki+http://h:3100", "headers": {"Authorization": "Bearer x"}},
            "secret reference",
        ),
        ({"url": "loki+http://bob:hunter2@h:3100"}, "holds a password"),
        ({"url": "postgres://bob:hunter2@db/x"}, "holds a password"),
        ({"url": "http://h:9090"}, "does not say which backend"),
        ({"url": "loki+http://h:3100", "limt": 5}, "unknown setting"),
        ({"type": "nosuch", "url": "http://h"}, "unknown source type"),
        ({"type": "loki"}, "needs url"),
        ({"url": "loki+http://h:3100", "timeout": "soon"}, "timeout"),
        ({"type": "prometheus", "url": "loki+http://h:3100"}, "contradicts"),
    ],
)
def test_bad_tables_are_config_errors(table: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as ei:
        spec_from_mapping("s", table, origin="workbench.toml")
    assert "workbench.toml" in str(ei.value) and "hunter2" not in str(ei.value)


def test_literal_secret_in_toml_file_names_file_and_source(tmp_path: Path) -> None:
    p = tmp_path / "workbench.toml"
    p.write_text('[sources.pg]\ntype = "postgres"\nurl = "postgres://db/x"\npassword = "hunter2"\n')
    with pytest.raises(ConfigError) as ei:
        wb.load_config(p)
    s = str(ei.value)
    assert str(p) in s and "'pg'" in s and "password" in s and "hunter2" not in s
    assert ei.value.hint and "environment variable" in ei.value.hint
    p.write_text("[sources.pg\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        wb.load_config(p)


def test_environment_sources(monkeypatch: pytest.MonkeyPatch, canaries: dict[str, str]) -> None:
    monkeypatch.setenv(
        "WORKBENCH_SOURCES", "loki+http://l:3100, logs2=loki+http://l2:3100,files:///tmp"
    )
    monkeypatch.setenv("WORKBENCH_PROMETHEUS_URL", "http://p:9090")
    monkeypatch.setenv("WORKBENCH_PROMETHEUS_TOKEN", "canary-prom-7a1")
    monkeypatch.setenv("WORKBENCH_LOKI_TENANT", "team-x")
    monkeypatch.setenv("WORKBENCH_MYTRACES_URL", "tempo+http://t:3200?limit=7")
    monkeypatch.setenv("WORKBENCH_MYTRACES_USER", "u")
    monkeypatch.setenv("WORKBENCH_MYTRACES_PASSWORD", "canary-jg-5e5")
    specs = read_specs(None)
    assert set(specs) == {"loki", "logs2", "files", "prometheus", "mytraces"}
    assert specs["prometheus"].type == "prometheus"
    assert specs["prometheus"].auth.bearer == Secret.env("WORKBENCH_PROMETHEUS_TOKEN")
    assert specs["loki"].auth.headers == {"X-Scope-OrgID": "team-x"}
    assert specs["files"].path == "/tmp"
    t = specs["mytraces"]
    assert t.options == {"limit": 7} and t.auth.username == "u"
    assert t.auth.password == Secret.env("WORKBENCH_MYTRACES_PASSWORD")
    _no_canary(*(repr(s) for s in specs.values()))
    src = wb.connect("mytraces")
    assert isinstance(src, TempoSource) and src.limit == 7
    monkeypatch.setenv("WORKBENCH_NOTYPE_URL", "http://x:1")
    with pytest.raises(ConfigError, match="does not say which backend"):
        read_specs(None)


def test_connect_by_name_from_default_paths(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch, canaries: dict[str, str]
) -> None:
    with pytest.raises(ConfigError, match="no source named 'logs'"):
        wb.connect("logs")
    cfg = _write_toml(tmp_path / "..", shared_data)  # not in the working directory
    monkeypatch.setenv("WORKBENCH_CONFIG", str(cfg))
    logs = wb.connect("logs", limit=10)
    assert isinstance(logs, LokiSource) and logs.limit == 10 and logs.max_pages == 5
    (tmp_path / "workbench.toml").write_text('[sources.logs]\nurl = "loki+http://here:3100"\n')
    assert wb.connect("logs").url == "http://here:3100"  # ./workbench.toml comes first
    monkeypatch.setenv("WORKBENCH_CONFIG", str(tmp_path / "missing.toml"))
    (tmp_path / "workbench.toml").unlink()
    with pytest.raises(ConfigError, match="does not exist"):
        wb.load_config()


def _grafana_copy(tmp_path: Path) -> Path:
    p = tmp_path / "ds.yaml"
    p.write_text(GRAFANA.read_text().replace("CA_FILE_PLACEHOLDER", certifi.where()))
    return p


def test_grafana_provisioning_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    canaries: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("PROM_HOST", "prom.internal")
    monkeypatch.setenv("JAEGER_USER", "viewer")
    with caplog.at_level(logging.WARNING):
        sources = wb.load_config(_grafana_copy(tmp_path))
    assert sorted(sources) == ["Alertmanager", "Jaeger", "Loki", "Prometheus", "Telemetry DB",
                               "Tempo"]  # fmt: skip
    assert sources["Alertmanager"].http.base_url == "http://alertmanager:9093"
    skipped = " ".join(r.getMessage() for r in caplog.records)
    assert "Graphite" in skipped and "graphite" in skipped and "SigV4" in skipped
    prom = sources["Prometheus"]
    assert prom.http.base_url == "http://prom.internal:9090" and prom.flavor == "thanos"
    assert prom.http.auth.username == "grafana"
    assert prom.http.auth.password == Secret.env("PROM_PASSWORD")
    assert prom.http.auth.ca_file == certifi.where() and prom.http.timeout.read == 45
    assert prom.scrape_interval.total_seconds() == 30
    loki = sources["Loki"]
    assert loki.limit == 1000 and loki.auth.headers["X-Scope-OrgID"] == "team-a"
    assert loki.auth.headers["Authorization"].reveal() == "Bearer canary-loki-9c3"
    assert sources["Tempo"].auth.verify is False
    assert sources["Jaeger"].auth.username == "viewer"
    assert sources["Jaeger"].auth.password == Secret.env("JAEGER_PASSWORD")
    pg = sources["Telemetry DB"]
    assert pg.url == "postgresql://grafana@db.internal:5432/telemetry"
    for s in sources.values():
        _no_canary(repr(s), s.describe())
        s.close()
    _no_canary(*(r.getMessage() for r in caplog.records))


def test_grafana_template_header_is_sent_resolved(
    recorded_http: RecordedServer,
    tmp_path: Path,
    shared_data: Path,
    canaries: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROM_HOST", "p")
    monkeypatch.setenv("JAEGER_USER", "viewer")
    f = shared_data / "api-samples" / "loki" / "grafana-loki-testdata" / "streams_simple.json"
    recorded_http.route(
        "/loki/api/v1/query_range", file=f,
        require_headers={"Authorization": "Bearer canary-loki-9c3", "X-Scope-OrgID": "team-a"},
    )  # fmt: skip
    text = GRAFANA.read_text().replace("http://loki:3100", recorded_http.url)
    p = tmp_path / "ds.yaml"
    p.write_text(text)
    loki = read_grafana(p)["Loki"]
    assert "canary" not in repr(loki)
    src = wb.config.build(loki)
    assert src.logs('{a="b"}', W).rows == 6


@pytest.mark.parametrize(
    ("patch", "match"),
    [
        (("basicAuthPassword: ${PROM_PASSWORD}", "basicAuthPassword: hunter2"), "literal secret"),
        (("httpHeaderValue2: Bearer ${LOKI_TOKEN}", "httpHeaderValue2: Bearer hunter2"),
         "literal secret"),
        (("password: ${PG_PASSWORD}", "password: hunter2"), "literal secret"),
        (("apiVersion: 1", "apiVersion: 2"), "apiVersion"),
        (("    url: http://loki:3100\n", "    url: [\n"), "not valid YAML"),
        (("url: http://$PROM_HOST:9090", "url: http://$NO_SUCH_VAR_XYZ:9090"),
         "NO_SUCH_VAR_XYZ is not set"),
    ],
)  # fmt: skip
def test_grafana_refusals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, patch: tuple[str, str], match: str
) -> None:
    monkeypatch.setenv("PROM_HOST", "p")
    monkeypatch.setenv("JAEGER_USER", "viewer")
    p = _grafana_copy(tmp_path)
    text = p.read_text()
    assert patch[0] in text
    p.write_text(text.replace(patch[0], patch[1]))
    with pytest.raises(ConfigError, match=match) as ei:
        read_grafana(p)
    assert "hunter2" not in str(ei.value)


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=8,
)
keys = st.sampled_from(
    ["type", "url", "path", "bearer", "token", "username", "password", "headers", "ca_file",
     "verify", "tenant", "timeout", "limit", "api", "flavor", "x"]
)  # fmt: skip
urls = st.sampled_from(
    ["loki+http://h:1", "prometheus+https://h", "tempo+http://u:p@h", "postgres://db/x",
     "files:///tmp", "http://h", "jaeger+http://h?limit=3", "nonsense"]
)  # fmt: skip


@given(table=st.dictionaries(keys, values | urls, max_size=6))
def test_hostile_tables_give_spec_or_config_error(
    hostile: HostileCounter, table: dict[str, Any]
) -> None:
    hostile.count("config-source-table")
    try:
        spec = spec_from_mapping("s", table, origin="t.toml")
    except ConfigError:
        return
    assert spec.type in (
        "prometheus",
        "loki",
        "tempo",
        "jaeger",
        "alertmanager",
        "postgres",
        "files",
    )


def test_tls_with_a_private_ca(
    hostile: HostileCounter,
    recorded_https: RecordedServer,
    tls_certs: dict[str, Path],
    shared_data: Path,
    tmp_path: Path,
) -> None:
    hostile.fault("loki", 1)
    f = shared_data / "api-samples" / "loki" / "grafana-loki-testdata" / "streams_simple.json"
    recorded_https.route("/loki/api/v1/query_range", file=f)
    url = f"loki+{recorded_https.url}"
    with pytest.raises(wb.SourceUnavailable, match="TLS verification") as ei:
        wb.connect(url, retries=0).logs('{a="b"}', W)
    assert "ca_file" in (ei.value.hint or "")
    (tmp_path / "workbench.toml").write_text(
        f'[sources.logs]\nurl = "{url}"\nca_file = "{tls_certs["ca"]}"\n'
    )
    assert wb.connect("logs").logs('{a="b"}', W).rows == 6
    assert wb.connect(url, verify=False).logs('{a="b"}', W).rows == 6


ds_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10)
    | st.sampled_from(["$X", "${X}", "$__env{X}", "$__file{/nonexistent}", "Bearer $X", "$__vault{a}"]),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=10,
)  # fmt: skip
datasource = st.fixed_dictionaries(
    {"name": st.text(max_size=5) | st.integers(), "type": st.sampled_from(
        ["prometheus", "loki", "tempo", "jaeger", "alertmanager", "postgres", "graphite", "x"])},
    optional={"url": ds_values | st.just("http://h:1"), "basicAuth": st.booleans(),
              "basicAuthUser": ds_values, "user": ds_values, "database": ds_values,
              "jsonData": st.dictionaries(st.sampled_from(
                  ["httpHeaderName1", "tlsSkipVerify", "timeout", "maxLines", "prometheusType",
                   "timeInterval", "tlsAuthWithCACert", "database", "sslmode", "tlsAuth"]),
                  ds_values, max_size=4) | ds_values,
              "secureJsonData": st.dictionaries(st.sampled_from(
                  ["basicAuthPassword", "httpHeaderValue1", "password", "tlsCACert"]),
                  ds_values, max_size=3) | ds_values},
)  # fmt: skip


@given(doc=st.fixed_dictionaries({"apiVersion": st.sampled_from([1, "1", 2]),
                                  "datasources": st.lists(datasource, max_size=3) | ds_values}))  # fmt: skip
def test_hostile_grafana_files_give_specs_or_config_error(
    hostile: HostileCounter, doc: dict[str, Any]
) -> None:
    hostile.count("grafana-provisioning-yaml")
    import os
    import tempfile

    import yaml

    os.environ["X"] = "x-value"
    try:
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "ds.yaml"
            p.write_text(yaml.safe_dump(doc))
            try:
                specs = read_grafana(p)
            except ConfigError:
                return
            for spec in specs.values():
                assert spec.type in ("prometheus", "loki", "tempo", "jaeger", "alertmanager",
                                     "postgres")  # fmt: skip
    finally:
        del os.environ["X"]


def test_toml_can_import_a_grafana_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canaries: dict[str, str]
) -> None:
    monkeypatch.setenv("PROM_HOST", "p")
    monkeypatch.setenv("JAEGER_USER", "viewer")
    _grafana_copy(tmp_path)
    (tmp_path / "workbench.toml").write_text(
        'grafana = "ds.yaml"\n\n[sources.Loki]\nurl = "loki+http://mine:3100"\n'
    )
    specs = read_specs(None)
    assert {"Prometheus", "Tempo", "Loki"} <= set(specs)
    assert specs["Loki"].url == "http://mine:3100"  # the toml's own table wins
    assert specs["Tempo"].origin.endswith("ds.yaml datasources[3]")


def test_a_server_echoing_the_credential_does_not_leak_it(
    hostile: HostileCounter, recorded_http: RecordedServer, canaries: dict[str, str]
) -> None:
    hostile.fault("loki", 1)
    from tests.plugins.recorded_http import RecordedRequest, Reply

    def echo(req: RecordedRequest) -> Reply:
        text = f"denied: Authorization={req.headers.get('Authorization')} tenant ok"
        return Reply(text.encode(), status=403, content_type="text/plain")

    recorded_http.route("/loki/api/v1/query_range", handler=echo)
    src = wb.connect(f"loki+{recorded_http.url}", bearer={"env": "LOKI_TOKEN"})
    with pytest.raises(AuthError) as ei:
        src.logs('{a="b"}', W)
    assert "denied: Authorization=Bearer ***" in (ei.value.detail or "")
    _no_canary(str(ei.value), ei.value._repr_html_())


def test_relative_paths_are_relative_to_the_config_file(
    tmp_path: Path, shared_data: Path, tls_certs: dict[str, Path]
) -> None:
    d = tmp_path / "conf"
    (d / "inc").mkdir(parents=True)
    sample = shared_data / "trace-samples" / "zipkin-v2" / "yelp.json"
    (d / "inc" / "trace.json").write_bytes(sample.read_bytes())
    (d / "ca.pem").write_bytes(tls_certs["ca"].read_bytes())
    (d / "workbench.toml").write_text(
        '[sources.f]\ntype = "files"\npath = "inc/trace.json"\n\n'
        '[sources.l]\nurl = "loki+https://h:3100"\nca_file = "ca.pem"\n'
    )
    specs = read_specs(d / "workbench.toml", env=False)
    assert specs["f"].path == str(d / "inc" / "trace.json")
    assert specs["l"].auth.ca_file == str(d / "ca.pem")
    assert (
        wb.load_config(d / "workbench.toml", env=False)["f"]
        .spans(None, Window.parse("2000-01-01T00:00:00Z..2100-01-01T00:00:00Z"))
        .rows
        == 16
    )
