"""Links that open a query over a window in Grafana Explore.

Grafana's Explore URL (``/explore?schemaVersion=1&panes=...&orgId=N``) carries the data
source, the query and the absolute time range as JSON; :func:`explore_url` writes it
and :func:`decode_explore_url` reads it back. :func:`suspect_links` gives each suspect a
link to the PromQL behind its strongest metric change, over the window its evidence
compares (baseline start to incident end), when the metrics came from a
:class:`~workbench.sources.prometheus.PrometheusSource`.

Example::

    >>> g = Grafana("https://grafana.example.com", prometheus_uid="prom")
    >>> explore_url(g, query='sum(rate(http_server_requests_total[1m]))',
    ...             window=Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z"))
    >>> links = suspect_links(rank_suspects(inc), inc, prom, g)   # {service: url}
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import polars as pl

from workbench.errors import ConfigError
from workbench.timewindow import Window

if TYPE_CHECKING:
    from workbench.sources.prometheus import PrometheusSource

log = logging.getLogger(__name__)

__all__ = [
    "ExploreLinks",
    "Grafana",
    "decode_explore_url",
    "explore_links",
    "explore_url",
    "suspect_links",
]


@dataclass(frozen=True)
class Grafana:
    """Where Grafana is and which data-source UIDs hold the workbench's sources.

    ``token_env`` names the environment variable holding a Grafana service-account token
    (read only when annotations are read or written; never stored here nor shown).
    ``loki_label`` is the stream label naming the service in Loki; ``preset`` the metric
    naming of the Prometheus behind ``prometheus_uid`` (``lab``, ``otel``...: see
    :mod:`workbench.sources.prometheus.presets`) for the RED queries, when the incident's
    metrics did not come from a Prometheus source (whose own naming is used then).

    >>> Grafana("https://grafana.example.com", prometheus_uid="prom", loki_uid="loki",
    ...         tempo_uid="tempo", token_env="GRAFANA_TOKEN")
    """

    url: str
    prometheus_uid: str | None = None
    loki_uid: str | None = None
    tempo_uid: str | None = None
    org_id: int = 1
    token_env: str | None = None
    loki_label: str = "service_name"
    preset: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise ConfigError(
                f"grafana url must start with http:// or https://, not {self.url!r}",
                hint='url = "https://grafana.example.com" in the [grafana] table',
            )
        if "@" in self.url.split("//", 1)[1].split("/", 1)[0]:
            raise ConfigError(
                "grafana url holds a credential",
                hint='remove it; name the token\'s environment variable: token_env = "NAME"',
            )
        if not isinstance(self.org_id, int) or isinstance(self.org_id, bool) or self.org_id < 1:
            raise ConfigError(f"grafana org_id must be a positive integer, not {self.org_id!r}")

    def auth(self) -> Any:
        """The :class:`~workbench.sources.http.Auth` of the API calls (annotations): a
        bearer reference to ``token_env``, read when the first request is sent."""
        from workbench.secrets import Secret
        from workbench.sources.http import Auth

        return Auth(bearer=Secret.env(self.token_env) if self.token_env else None)


_QUERY_KEY = {"prometheus": "expr", "loki": "expr", "tempo": "query"}


def explore_url(
    grafana: Grafana, *, query: str, window: Window, datasource: str = "prometheus"
) -> str:
    """The Explore URL showing ``query`` on the ``datasource`` type over ``window``."""
    uid = getattr(grafana, f"{datasource}_uid", None)
    if datasource not in _QUERY_KEY:
        raise ConfigError(f"no Explore links for data source type {datasource!r}")
    if not uid:
        raise ConfigError(
            f"no {datasource} data-source UID configured for Grafana links",
            hint=f"set Grafana(..., {datasource}_uid='...') (the UID in Grafana's data "
            "source settings or provisioning file)",
        )
    q: dict[str, Any] = {
        "refId": "A",
        "datasource": {"type": datasource, "uid": uid},
        _QUERY_KEY[datasource]: query,
    }
    if datasource == "tempo":
        q["queryType"] = "traceql"
    pane = {
        "datasource": uid,
        "queries": [q],
        "range": {
            "from": str(int(window.start.timestamp() * 1000)),
            "to": str(int(window.end.timestamp() * 1000)),
        },
    }
    params = {
        "schemaVersion": "1",
        "panes": json.dumps({"wb": pane}, separators=(",", ":")),
        "orgId": str(grafana.org_id),
    }
    return f"{grafana.url.rstrip('/')}/explore?{urlencode(params)}"


def decode_explore_url(url: str) -> dict[str, Any]:
    """``{"datasource", "type", "query", "window"}`` of an Explore URL (its first pane)."""
    qs = parse_qs(urlsplit(url).query)
    try:
        panes = json.loads(qs["panes"][0])
        pane = next(iter(panes.values()))
        q = pane["queries"][0]
        rng = pane["range"]
    except (KeyError, IndexError, StopIteration, ValueError) as exc:
        raise ConfigError(f"not a Grafana Explore URL: {url[:120]}") from exc
    from datetime import UTC, datetime

    def ts(ms: str) -> datetime:
        return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)

    return {
        "datasource": pane["datasource"],
        "type": q["datasource"]["type"],
        "query": q.get("expr", q.get("query")),
        "window": Window(ts(rng["from"]), ts(rng["to"])),
    }


def suspect_links(
    suspects: Any, incident: Any, prometheus: PrometheusSource, grafana: Grafana, *, top: int = 5
) -> dict[str, str]:
    """``{service: Explore URL}`` for the ``top`` suspects: the PromQL of each one's
    strongest metric change (a ``red:``/``saturation:`` signal of ``prometheus``) for that
    service, over baseline start .. incident end (the span its evidence compares).
    Suspects whose evidence holds no such signal get no link."""
    from workbench.sources.prometheus.signals import signal_queries

    window = Window(incident.baseline.start, incident.window.end)
    step = prometheus._step(window, None)
    out: dict[str, str] = {}
    for service in suspects.ranking[:top]:
        series = suspects.evidence(service).series
        if series.is_empty() or "metric" not in series.columns:
            continue
        order = series.sort("score", descending=True) if "score" in series.columns else series
        for metric in order["metric"].to_list():
            queries = signal_queries(
                prometheus.metric_names,
                services=[service],
                rate_window=prometheus._rate_window(step),
            )
            if metric in queries:
                out[service] = explore_url(grafana, query=queries[metric], window=window)
                break
    return out


# links for what an investigation shows -------------------------------------------------------
_WILDCARD = "<*>"
_COUNTER = ("_total", "_count", "_sum", "_bucket")  # analysis.changes.COUNTER_SUFFIXES


def _template_regex(template: str) -> str:
    """A Drain template as an RE2 regex: ``<*>`` any text, a space any run of spaces."""
    from workbench.sources.loki.logql import quote_regex

    parts = [
        r"\s+".join(quote_regex(word) for word in literal.split(" "))
        for literal in template.split(_WILDCARD)
    ]
    return ".*".join(parts)


@dataclass(frozen=True)
class ExploreLinks:
    """Explore URLs for what an investigation shows: metric series, log patterns, trace
    searches and single traces, each over ``window`` (the span the evidence compares:
    baseline start .. incident end). A method returns None when the data source it needs
    has no UID configured, so a view shows a link only when Grafana can open it.

    ``names`` is the metric naming the PromQL uses; ``rate_window`` the range of its
    ``rate()`` (the Prometheus source's own when the metrics came from one, else
    Grafana's ``$__rate_interval``).

    >>> links = explore_links(inc)                  # None when no Grafana is configured
    >>> print(links.logs_query("checkout", "timeout after <*> ms"))
    {service_name="checkout"} |~ "timeout\\\\s+after\\\\s+.*\\\\s+ms"
    >>> decode_explore_url(links.logs("checkout", "timeout after <*> ms"))["window"]
    """

    grafana: Grafana
    window: Window
    names: Any = None
    rate_window: str = "$__rate_interval"
    #: the Loki stream label naming the service (the incident's Loki source's, else
    #: ``grafana.loki_label``)
    loki_label: str | None = None

    def _url(self, query: str, datasource: str) -> str | None:
        if not getattr(self.grafana, f"{datasource}_uid"):
            return None
        return explore_url(self.grafana, query=query, window=self.window, datasource=datasource)

    def _safe(self, build: Any, datasource: str) -> str | None:
        """The URL of ``build()``'s query, or None when no query can be written for it
        (a label name PromQL or LogQL cannot spell, say): a view never fails for a link."""
        if not getattr(self.grafana, f"{datasource}_uid"):
            return None
        try:
            return self._url(build(), datasource)
        except ConfigError as exc:
            log.debug("no Grafana %s link: %s", datasource, exc)
            return None

    def metric_query(self, metric: str, service: str | None, labels: Any = ()) -> str:
        """The PromQL of one series as the ranking read it: a ``red:``/``saturation:``
        signal's own query, a counter's per-second rate, a gauge as it is, or the CPU
        utilisation the ranking derives per pod
        (:data:`~workbench.analysis.utilisation.UTILISATION`) as that ratio."""
        from workbench.analysis.utilisation import UTILISATION
        from workbench.sources.prometheus import promql
        from workbench.sources.prometheus.signals import MetricNames, signal_queries

        names = self.names or MetricNames()
        if ":" in metric:
            queries = signal_queries(
                names, services=[service] if service else None, rate_window=self.rate_window
            )
            if metric in queries:
                return queries[metric]
        matchers = [promql.eq(names.service_label, service)] if service else []
        pod: list[str] = []
        for kv in labels or ():
            key, value = (kv["key"], kv["value"]) if isinstance(kv, dict) else kv
            if key != names.service_label and value is not None:
                matchers.append(promql.eq(str(key), str(value)))
                if key == "pod":
                    pod = [matchers[-1]]
        if metric == UTILISATION:
            # derived by the ranking (analysis.utilisation): the pod's CPU-seconds rate
            # over its CPU limit, the pod's limit selected by service and pod alone
            cores = promql.selector(names.cpu_seconds, *matchers)
            limit = promql.selector(names.cpu_limit, *matchers[: 1 if service else 0], *pod)
            return f"sum(rate({cores}[{self.rate_window}])) / sum({limit})"
        sel = promql.selector(metric, *matchers)
        return f"rate({sel}[{self.rate_window}])" if metric.endswith(_COUNTER) else sel

    def metric(self, metric: str, service: str | None, labels: Any = ()) -> str | None:
        """Explore on the Prometheus data source: :meth:`metric_query` over the window."""
        return self._safe(lambda: self.metric_query(metric, service, labels), "prometheus")

    def logs_query(self, service: str, template: str | None = None) -> str:
        """LogQL: the service's streams, filtered to lines matching ``template``."""
        from workbench.sources.loki import logql

        sel = logql.selector([service], label=self.loki_label or self.grafana.loki_label)
        if not template:
            return sel
        return f"{sel} |~ {logql.quote(_template_regex(template))}"

    def logs(self, service: str, template: str | None = None) -> str | None:
        """Explore on the Loki data source: :meth:`logs_query` over the window."""
        return self._safe(lambda: self.logs_query(service, template), "loki")

    def traces_query(
        self,
        service: str,
        *,
        errors: bool = False,
        operation: str | None = None,
        min_duration_ms: float | None = None,
    ) -> str:
        """TraceQL: the service's spans, only failing ones (``errors``), of one
        ``operation``, at least ``min_duration_ms`` long."""
        from workbench.sources.loki.logql import quote
        from workbench.sources.tempo import traceql

        base = traceql.spanset([service], errors_only=errors, min_duration_ms=min_duration_ms)
        if operation is None:
            return base
        return base[:-2] + f" && name = {quote(operation)} }}"

    def traces(self, service: str, **kw: Any) -> str | None:
        """Explore on the Tempo data source: a TraceQL search (:meth:`traces_query`)."""
        return self._safe(lambda: self.traces_query(service, **kw), "tempo")

    def trace(self, trace_id: str) -> str | None:
        """Explore on the Tempo data source showing one trace."""
        if not self.grafana.tempo_uid or not trace_id:
            return None
        return self._url(str(trace_id), "tempo")

    def evidence(self, ev: Any) -> dict[str, str]:
        """``{label: url}`` for one suspect's evidence (:class:`~workbench.analysis.
        suspects.Evidence`): its strongest metric change, its failing traces, its slow
        operation's traces, its top log pattern (or its logs); only what is configured."""
        out: dict[str, str | None] = {}
        series: pl.DataFrame = ev.series
        if series.height and "metric" in series.columns:
            top = series.sort("score", descending=True, maintain_order=True).row(0, named=True)
            out["metric"] = self.metric(top["metric"], ev.service, top.get("labels") or ())
        if ev.spans.height:
            out["failing traces"] = self.traces(ev.service, errors=True)
        if ev.blame.height and {"name", "normal_ms"} <= set(ev.blame.columns):
            b = ev.blame.sort("extra_ms", descending=True, maintain_order=True).row(0, named=True)
            out["slow traces"] = self.traces(
                ev.service, operation=b["name"], min_duration_ms=round(b["normal_ms"] or 0, 1)
            )
        if ev.templates.height:
            t = ev.templates.sort("z", descending=True, maintain_order=True).row(0, named=True)
            # a line put on the callee it names was written by its caller: search there
            out["log pattern"] = self.logs(t.get("logged_by") or ev.service, t["template"])
        return {k: v for k, v in out.items() if v}


def explore_links(incident: Any, *, window: Window | None = None,
                  baseline: Window | None = None) -> ExploreLinks | None:  # fmt: skip
    """The :class:`ExploreLinks` of ``incident`` over ``baseline.start .. window.end``
    (default: the incident's own), or None when it has no Grafana configured
    (``incident.grafana``). The PromQL uses the naming of the incident's Prometheus
    source when it has one (and that source's rate window), else ``grafana.preset``."""
    grafana = getattr(incident, "grafana", None)
    if grafana is None:
        return None
    window = window or incident.window
    baseline = baseline or incident.baseline
    span = Window(min(baseline.start, window.start), window.end)
    from workbench.sources.prometheus.signals import MetricNames

    names: Any = None
    rate_window = "$__rate_interval"
    for src in getattr(incident, "sources", ()):
        if getattr(src, "kind", None) == "prometheus" and hasattr(src, "metric_names"):
            names = src.metric_names
            with contextlib.suppress(AttributeError, TypeError, ConfigError):
                rate_window = src._rate_window(src._step(span, None))
            break
    loki_label = next(
        (str(src.service_label) for src in getattr(incident, "sources", ())
         if getattr(src, "kind", None) == "loki" and getattr(src, "service_label", None)),
        None,
    )  # fmt: skip
    if names is None:
        if grafana.preset:
            from workbench.sources.prometheus.presets import preset

            names = preset(grafana.preset)
        else:
            names = MetricNames()
    return ExploreLinks(grafana, span, names, rate_window, loki_label)
