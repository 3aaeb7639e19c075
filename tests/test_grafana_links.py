"""Grafana Explore links: written and read back, configured from ``[grafana]`` or the
environment, and shown on the demo incident's suspects, evidence, answers, findings and
postmortem (the real-Prometheus replay is in tests/test_naming_prometheus.py)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from workbench import Incident, Investigation
from workbench.config import read_specs
from workbench.errors import ConfigError
from workbench.grafana_config import grafana_from_env, load_grafana
from workbench.grafana_links import ExploreLinks, Grafana, decode_explore_url, explore_url
from workbench.summaries import suspects_markdown
from workbench.timewindow import Window

W = Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z")


def test_explore_url_carries_query_datasource_and_absolute_range() -> None:
    g = Grafana("http://grafana:3000", loki_uid="loki-1", tempo_uid="tempo-1")
    url = explore_url(g, query='{service="checkout"} |= "error"', window=W, datasource="loki")
    pane = json.loads(parse_qs(urlsplit(url).query)["panes"][0])["wb"]
    assert pane["range"] == {"from": "1795172400000", "to": "1795176000000"}
    assert pane["queries"][0]["datasource"] == {"type": "loki", "uid": "loki-1"}
    d = decode_explore_url(url)
    assert d["query"] == '{service="checkout"} |= "error"' and d["window"] == W
    t = decode_explore_url(explore_url(g, query="{ status = error }", window=W, datasource="tempo"))
    assert t["type"] == "tempo" and t["query"] == "{ status = error }"


def test_missing_uid_and_bad_urls_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="no prometheus data-source UID"):
        explore_url(Grafana("http://g"), query="up", window=W)
    with pytest.raises(ConfigError, match="must start with http"):
        Grafana("grafana:3000")
    with pytest.raises(ConfigError, match="not a Grafana Explore URL"):
        decode_explore_url("http://g/explore?left=x")


# -- configuration -------------------------------------------------------------------------
PROVISIONING = """apiVersion: 1
datasources:
  - name: Prometheus old
    type: prometheus
    uid: prom-old
    url: http://old:9090
  - name: Prometheus
    type: prometheus
    uid: prom-main
    isDefault: true
    url: http://prom:9090
  - name: Loki
    type: loki
    uid: loki-main
    url: http://loki:3100
  - name: Tempo
    type: tempo
    uid: tempo-main
    url: http://tempo:3200
"""


def _toml(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "workbench.toml"
    p.write_text(body)
    return p


def test_grafana_table_with_provisioning_uids(tmp_path: Path) -> None:
    (tmp_path / "ds.yaml").write_text(PROVISIONING)
    cfg = _toml(tmp_path, '[grafana]\nurl = "https://grafana.example.com"\norg_id = 4\n'
                'token_env = "GRAFANA_TOKEN"\nprovisioning = "ds.yaml"\n'
                'tempo_uid = "tempo-override"\nannotations = false\n')  # fmt: skip
    g = load_grafana(cfg, env=False)
    assert g == Grafana("https://grafana.example.com", prometheus_uid="prom-main",
                        loki_uid="loki-main", tempo_uid="tempo-override", org_id=4,
                        token_env="GRAFANA_TOKEN")  # fmt: skip
    # the provisioning file's datasources still become sources, as grafana = "ds.yaml" did
    assert {"Prometheus", "Loki", "Tempo"} <= set(read_specs(cfg, env=False))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('url = "https://g"\nurll = "x"', "'urll' is not a setting"),
        ('url = "https://g"\ntoken = "glsa_secret"', "token must be a reference"),
        ('url = "https://g"\norg_id = "1"', "org_id must be an integer"),
        ('url = "https://g"\nloki_uid = 3', "loki_uid must be a string"),
        ('url = "https://g"\nannotations = "yes"', "annotations must be true or false"),
        ('url = "https://g"\npreset = "zabbix"', "preset"),
        ('url = "grafana:3000"', "must start with http"),
        ('url = "https://admin:pw@grafana"', "holds a credential"),
        ("org_id = 1", "url is missing"),
    ],
)
def test_grafana_table_errors_name_the_key(tmp_path: Path, body: str, message: str) -> None:
    cfg = _toml(tmp_path, f"[grafana]\n{body}\n")
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        load_grafana(cfg, env=False)
    assert "glsa_secret" not in str(err.value) and "pw@" not in str(err.value)
    with pytest.raises(ConfigError):
        read_specs(cfg, env=False)


def test_grafana_from_the_environment_and_token_by_reference() -> None:
    env = {"WORKBENCH_GRAFANA_URL": "http://grafana:3000", "WORKBENCH_GRAFANA_LOKI_UID": "l",
           "WORKBENCH_GRAFANA_ORG_ID": "2", "WORKBENCH_GRAFANA_TOKEN": "glsa_env_secret"}  # fmt: skip
    g = grafana_from_env(env)
    assert g is not None and g.loki_uid == "l" and g.org_id == 2 and g.prometheus_uid is None
    assert g.token_env == "WORKBENCH_GRAFANA_TOKEN" and "glsa_env_secret" not in repr(g)
    assert grafana_from_env({}) is None
    with pytest.raises(ConfigError, match="ORG_ID"):
        grafana_from_env({"WORKBENCH_GRAFANA_URL": "http://g", "WORKBENCH_GRAFANA_ORG_ID": "x"})


# -- links where a person looks -----------------------------------------------------------
G = Grafana("http://grafana.test:3000", prometheus_uid="prom", loki_uid="loki",
            tempo_uid="tempo")  # fmt: skip
ANCHOR = re.compile(r"<a class='wb-grafana'[^>]*href='([^']+)'[^>]*>([^<]+)</a>")


@pytest.fixture(scope="module")
def demo_inv() -> Investigation:
    inv = Investigation(Incident.demo())
    inv.suspects  # noqa: B018 (computed once for the module)
    return inv


def _urls(text: str) -> list[tuple[str, str]]:
    return [(html.unescape(u), label) for u, label in ANCHOR.findall(text)]


def test_no_grafana_no_links_and_no_noise(demo_inv: Investigation) -> None:
    inc = demo_inv.incident
    inc.grafana = None
    sus = demo_inv.suspects.value
    assert demo_inv.links is None
    shown = (
        demo_inv.suspects._repr_html_()
        + sus.evidence(sus.ranking[0])._repr_html_()
        + demo_inv.red_summary._repr_html_()
        + demo_inv.surges._repr_html_()
        + demo_inv.origins._repr_html_()
    )
    assert "grafana" not in shown.lower()
    assert "Grafana" not in demo_inv.findings.value.to_markdown()
    assert "Grafana" not in demo_inv.postmortem().to_markdown()
    assert "Grafana" not in suspects_markdown(sus)


def test_every_suspect_link_replays_its_evidence(demo_inv: Investigation) -> None:
    inc = demo_inv.incident
    inc.grafana = G
    try:
        sus = demo_inv.suspects.value
        span = Window(demo_inv.baseline.start, demo_inv.window.end)
        page = demo_inv.suspects._repr_html_()
        for service in sus.ranking[:5]:
            ev = sus.evidence(service)
            cells = rf"<td[^>]*>\d+</td><td[^>]*>{re.escape(service)}</td>"
            (row,) = [r for r in page.split("<tr>") if re.match(cells, r)]
            links = dict((label, url) for url, label in _urls(row))
            assert links, service
            for label, url in links.items():
                d = decode_explore_url(url)
                assert d["window"] == span  # the span the evidence compares
                if label == "metric":
                    top = ev.series.sort("score", descending=True, maintain_order=True).row(
                        0, named=True
                    )
                    assert d["type"] == "prometheus" and d["datasource"] == "prom"
                    counter = top["metric"].endswith(("_total", "_count", "_sum", "_bucket"))
                    # a counter as the per-second rate the ranking scored, a gauge as it
                    # is, the CPU utilisation the ranking derives as the ratio it is of
                    head = f"rate({top['metric']}{{" if counter else f"{top['metric']}{{"
                    if top["metric"] == "cpu_utilisation_ratio":
                        head = "sum(rate(process_cpu_seconds_total{"
                    assert d["query"].startswith(head), d["query"]
                    assert f'service="{service}"' in d["query"]
                    for kv in top["labels"]:
                        assert f'{kv["key"]}="{kv["value"]}"' in d["query"]
                elif label == "log pattern":
                    assert d["type"] == "loki"
                    t = ev.templates.sort("z", descending=True, maintain_order=True).row(
                        0, named=True
                    )
                    # the streams of the service that wrote the lines (a caller's line
                    # about its callee is the callee's evidence, still the caller's log)
                    writer = t.get("logged_by") or service
                    assert d["query"].startswith(f'{{service_name="{writer}"}} |~ ')
                    # the regex matches the pattern's own example line
                    regex = json.loads(d["query"].split("|~ ", 1)[1])
                    assert re.search(regex, t["example"]), (regex, t["example"])
                elif label == "failing traces":
                    assert d["type"] == "tempo" and ev.spans.height
                    assert d["query"] == (
                        f'{{ resource.service.name = "{service}" && status = error }}'
                    )
                else:
                    assert label == "slow traces" and d["type"] == "tempo" and ev.blame.height
                    assert "duration >= " in d["query"] and " && name = " in d["query"]
        # the evidence tables: every span row opens its own trace
        ev_html = sus.evidence(sus.ranking[0])._repr_html_()
        traces = [decode_explore_url(u)["query"] for u, label in _urls(ev_html) if label == "trace"]
        shown = sus.evidence(sus.ranking[0]).spans["trace_id"].head(8).to_list()
        assert traces == shown
        # the RED summary rows: the RED panels' queries for that service
        red = _urls(demo_inv.red_summary.head(3)._repr_html_())
        assert {label for _, label in red} == {"rate", "errors", "p95"}
        q = decode_explore_url(red[1][0])["query"]
        assert "http_server_requests_total" in q and 'code=~"5.."' in q
        # markdown: the findings and the postmortem carry [label](url) links
        md = demo_inv.findings.value.to_markdown()
        assert "Open in Grafana" in md and "](http://grafana.test:3000/explore?" in md
        pm = demo_inv.postmortem().to_markdown()
        links = re.findall(r"\[(metric|failing traces)\]\((http://grafana\.test:3000/[^)]+)\)", pm)
        assert links and all(decode_explore_url(u)["window"] == span for _, u in links)
    finally:
        inc.grafana = None


def test_links_of_a_narrowed_investigation_follow_its_window(demo_inv: Investigation) -> None:
    demo_inv.incident.grafana = G
    try:
        w = Window.parse("2026-11-20T11:00:00Z..2026-11-20T11:30:00Z")
        narrow = demo_inv.narrow(window=w)
        assert narrow.links is not None and narrow.links.window.end == w.end
        assert narrow.links.window.start == narrow.baseline.start
    finally:
        demo_inv.incident.grafana = None


def test_a_link_that_cannot_be_written_is_left_out_not_an_error() -> None:
    links = ExploreLinks(G, W)
    assert links.metric("up", "checkout", [{"key": "service.name", "value": "x"}]) is None
    assert links.logs("", "x") is None  # no service: LogQL cannot select it
    assert links.metric("up", "checkout", [{"key": "pod", "value": 'a"b'}]) is not None
    q = decode_explore_url(links.metric("up", "checkout", [{"key": "pod", "value": 'a"b'}]))
    assert q["query"] == 'up{service="checkout",pod="a\\"b"}'  # escaped, not broken
    # only the data sources with a UID get links
    only_prom = ExploreLinks(Grafana("http://g", prometheus_uid="p"), W)
    assert only_prom.logs("checkout") is None and only_prom.trace("abc") is None
    assert only_prom.metric("red:error_ratio", "checkout") is not None


def test_workbench_grafana_url_is_also_an_annotations_source_with_a_workbench_toml() -> None:
    from workbench.config import env_specs

    specs = env_specs({"WORKBENCH_GRAFANA_URL": "http://grafana:3000",
                       "WORKBENCH_GRAFANA_TOKEN": "glsa_env_secret"})  # fmt: skip
    spec = specs["grafana"]
    assert spec.type == "grafana" and spec.url == "http://grafana:3000"
    assert spec.auth.bearer is not None and "glsa_env_secret" not in repr(spec)


def test_the_derived_cpu_utilisation_links_to_the_ratio_it_was_derived_as() -> None:
    # the ranking adds cpu_utilisation_ratio per pod (analysis.utilisation); Prometheus
    # has no such series: the link asks for the pod's CPU-seconds rate over its limit
    links = ExploreLinks(G, W)
    labels = [{"key": "pod", "value": "web-0"}, {"key": "job", "value": "web"}]
    q = decode_explore_url(links.metric("cpu_utilisation_ratio", "web", labels))["query"]
    assert q == (
        'sum(rate(process_cpu_seconds_total{service="web",pod="web-0",job="web"}'
        '[$__rate_interval])) / sum(container_cpu_limit_cores{service="web",pod="web-0"})'
    )
