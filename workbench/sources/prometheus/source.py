"""Prometheus and everything that speaks its HTTP API (VictoriaMetrics, Thanos, Mimir).

``PrometheusSource`` turns range and instant queries into the metrics frame, discovers
series and label values, reads exemplars, loads a service's RED and saturation signals,
and turns Prometheus's ``ALERTS`` series into alert events.

Long ranges are split into step-aligned chunks of at most 11,000 points per series
(Prometheus's limit) and fetched concurrently (``max_concurrency``); the chunks stitch
without gaps or duplicates. Server warnings (``warnings``, ``infos``) land on
``Result.warnings``; a chunk that failed with ``on_chunk_error="partial"`` marks the
result ``partial=True`` naming the missing windows.

Why beside prometheus-api-client rather than on it (measured with
``bench/bench_prometheus.py``, 2,000 series x 480 points from a real Prometheus 2.42 on
the project's shared 2-core machine): ``PrometheusConnect.custom_query_range`` +
``MetricRangeDataFrame`` took 12.1 s and 17.8 s in two runs where this source took 3.5 s
and 3.1 s (3.4x and 5.8x faster; 1.9x-2.6x when this source also asks for gzip). Its
connection handling (requests, always gzip: 1.4 s of the 24 MB response's time goes to
compression on a local server) and its pandas frame built from per-sample Python objects
fall short; this source stays within a raw httpx fetch + ``json.loads`` of the same query
(0.68x-1.05x of it) because polars decodes the body without Python objects
(:mod:`workbench.sources.prometheus.response`). So it sits beside it, on
:mod:`workbench.sources.http`.

Errors: unreachable / 5xx / timeout -> ``SourceUnavailable``; 400/422 with Prometheus's
``errorType``/``error`` -> ``QueryError``; a server limit (``--query.max-samples``,
11,000 points, VictoriaMetrics ``-search.max*``) -> ``LimitExceeded`` saying how to
narrow; 401/403 -> ``AuthError``; a cut or garbled body -> ``BadData`` naming the source.

Example::

    >>> from workbench import PrometheusSource, Window
    >>> prom = PrometheusSource("http://localhost:9090")
    >>> w = Window.last("1h")
    >>> prom.query_range('sum by (service) (rate(http_server_requests_total[1m]))', w).frame
    >>> prom.metrics(None, w, services=["checkout"]).frame   # RED + saturation
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
import polars as pl

from workbench import frames
from workbench.errors import (
    BadData,
    ConfigError,
    LimitExceeded,
    QueryError,
    SourceError,
    SourceUnavailable,
)
from workbench.sources import chunking
from workbench.sources.base import Result, Source, Timer
from workbench.sources.budget import RowBudget, in_context
from workbench.sources.capabilities import BucketRequest, Buckets, CapacityAggregation
from workbench.sources.http import Auth, HttpClient, Timeout
from workbench.sources.prometheus import presets as metric_presets
from workbench.sources.prometheus import promql
from workbench.sources.prometheus import response as promjson
from workbench.sources.prometheus.signals import MetricNames, latency_name, signal_queries
from workbench.timewindow import Window, parse_duration

__all__ = ["Flavor", "PrometheusSource"]

log = logging.getLogger(__name__)

Flavor = Literal["prometheus", "victoriametrics", "thanos", "mimir"]
FLAVORS: tuple[str, ...] = ("prometheus", "victoriametrics", "thanos", "mimir")

# Server messages that mean "a limit was hit" rather than "the query is wrong".
_LIMITS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"too many samples|max-samples|maxSamplesPerQuery|maxSamplesPerSeries", re.I),
        "samples per query",
        "narrow the window, raise the step, or select fewer series (add label matchers or "
        "aggregate with sum by (...))",
    ),
    (
        re.compile(
            r"maximum resolution of [\d,]+ points|maxPointsPerTimeseries|too many points", re.I
        ),
        "points per series",
        "raise the step or shorten the window (the source chunks long ranges; lower "
        "max_points_per_series if this server's limit is below 11,000)",
    ),
    (
        re.compile(
            r"maxUniqueTimeseries|maxSeries|max-fetched-series|max series|"
            r"exceeded the maximum number of|too many (?:time)?series|max_series",
            re.I,
        ),
        "series per query",
        "select fewer series: add label matchers or aggregate with sum by (...)",
    ),
    (
        re.compile(r"too long query|maxQueryLen|query is too long", re.I),
        "query length",
        "ask for fewer services at once (or none: the default aggregates all services)",
    ),
    (
        re.compile(r"query timed out|timeout exceeded|maxQueryDuration|query.timeout", re.I),
        "server query timeout",
        "narrow the window, raise the step, or select fewer series",
    ),
)


@dataclass
class _Task:
    alias: str | None
    expr: str
    chunk: chunking.Chunk | None  # None: instant query
    at: str | None = None


@dataclass
class _Outcome:
    frames: list[pl.DataFrame] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


class PrometheusSource(Source, CapacityAggregation):
    """A Prometheus-compatible server.

    Parameters (keyword-only after ``url``):

    * ``url`` - base URL, e.g. ``http://prometheus:9090`` (Thanos Querier, Mimir's
      ``.../prometheus`` prefix, VictoriaMetrics ``:8428`` or vmselect's
      ``/select/0/prometheus``);
    * ``name`` - names the source in results and errors (default ``"prometheus"``);
    * ``auth`` - :class:`~workbench.sources.http.Auth`: bearer token, basic auth,
      extra headers such as ``X-Scope-OrgID`` for Mimir, TLS CA;
    * ``timeout`` - :class:`~workbench.sources.http.Timeout` (connect, read seconds);
    * ``max_concurrency`` - at most this many requests in flight (default 4);
    * ``flavor`` - ``"prometheus"``, ``"victoriametrics"``, ``"thanos"`` or ``"mimir"``:
      Thanos is asked for partial responses and reports them as ``partial``;
    * ``target_points`` - points per series aimed at when the step is chosen (720);
    * ``max_points_per_series`` - chunk size limit (11,000, Prometheus's own);
    * ``on_chunk_error`` - ``"raise"`` (default) or ``"partial"``: keep the chunks that
      loaded and mark the result partial naming the missing windows;
    * ``max_rows`` - the most samples one range load may return (5,000,000; ``None``: no
      limit). Counted while chunks arrive: a load past it, or projected by its first
      chunks to more than twice it, stops early with ``LimitExceeded``;
    * ``quantile_batch`` - services per latency-quantile request of :meth:`signals` (100;
      ``None``: one request for all). At 1,000 services (``bench_scale.py --prom``, a
      2-core machine at load ~10) the one ``histogram_quantile`` over every bucket series
      ran past the default 30 s read timeout; per 100 services a request is a tenth of
      the work. The services come from the bucket metric's label values; the answer is
      the same series as one request's;
    * ``metric_names`` - :class:`MetricNames` for the RED/saturation queries;
    * ``scrape_interval`` - the servers' scrape interval (15 s): rate windows span at
      least 4 of them, and an automatic step is never shorter (finer steps only
      repeat samples, and quantiles over them turn noisy);
    * ``alerts`` - if true, ``events(window)`` returns alerts from the ``ALERTS`` series
      (off by default so alerts are not counted twice next to an Alertmanager source);
    * ``compression`` - ask for gzip responses. Default: off for servers on this machine,
      a private network address or a Kubernetes ``.svc`` name, on elsewhere. Measured on
      2,000 series x 480 points (24 MB of JSON) from a local Prometheus: 1.4 s with gzip
      vs 0.15 s without, as the server spends the time compressing; over a slow link
      gzip wins.

    Example::

        >>> prom = PrometheusSource("https://prom.example.com", name="prod",
        ...     auth=Auth(bearer=Secret.env("PROM_TOKEN")), timeout=Timeout(read=20))
    """

    kind: ClassVar[str] = "prometheus"
    capabilities: ClassVar[frozenset[str]] = frozenset({"metrics"})

    def __init__(
        self,
        url: str,
        *,
        name: str = "prometheus",
        auth: Auth | None = None,
        timeout: Timeout | None = None,
        max_concurrency: int = 4,
        flavor: Flavor = "prometheus",
        target_points: int = 720,
        max_points_per_series: int = chunking.MAX_POINTS,
        on_chunk_error: Literal["raise", "partial"] = "raise",
        metric_names: MetricNames | Mapping[str, Any] | None = None,
        preset: str | None = None,
        scrape_interval: str | timedelta = "15s",
        alerts: bool = False,
        compression: bool | None = None,
        retries: int = 2,
        max_rows: int | None = 5_000_000,
        quantile_batch: int | None = 100,
    ) -> None:
        super().__init__(name=name)
        if max_rows is not None and max_rows < 1:
            raise ConfigError(f"source {name!r}: max_rows must be at least 1 (or None)")
        if quantile_batch is not None and quantile_batch < 1:
            raise ConfigError(f"source {name!r}: quantile_batch must be at least 1 (or None)")
        self.max_rows = max_rows
        self.quantile_batch = quantile_batch
        if flavor not in FLAVORS:
            raise ConfigError(f"unknown flavor {flavor!r}", hint=f"one of {', '.join(FLAVORS)}")
        if on_chunk_error not in ("raise", "partial"):
            raise ConfigError("on_chunk_error must be 'raise' or 'partial'")
        if max_concurrency < 1:
            raise ConfigError("max_concurrency must be at least 1")
        self.flavor = flavor
        self.max_concurrency = max_concurrency
        self.target_points = target_points
        self.max_points_per_series = max_points_per_series
        self.on_chunk_error = on_chunk_error
        # preset / metric_names / detection on first use: workbench.sources.prometheus.presets
        names, self.preset_choice = metric_presets.resolve(preset, metric_names)
        self._detect = names is None
        self.metric_names = names or MetricNames()
        self.scrape_interval = parse_duration(scrape_interval)
        self.http = HttpClient(name, url, auth=auth, timeout=timeout, retries=retries)
        if isinstance(compression, str):  # from a URL option or an environment variable
            compression = compression.strip().lower() in ("1", "true", "yes", "on", "gzip")
        self.compression = (not _nearby(url)) if compression is None else bool(compression)
        if alerts:
            # per instance (the base declares a ClassVar): with alerts it serves events too
            self.capabilities = frozenset({"metrics", "events"})  # type: ignore[misc]
        names = self.metric_names
        self.service_labels = tuple(dict.fromkeys((names.service_label, "service", "job")))

    # description ------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "url": self.http.url,
            "flavor": self.flavor,
            **self.http.auth.describe(),
            "timeout": f"{self.http.timeout.read:g}s",
            "compression": self.compression,
            "metric_names": self.preset_choice.note()
            if self.preset_choice
            else "detect on first load",
        }

    def close(self) -> None:
        self.http.close()

    # public API ---------------------------------------------------------------------------
    def metrics(
        self,
        query: str | None,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        step: str | timedelta | float | None = None,
    ) -> Result:
        """A range query into the metrics frame; ``query=None`` loads the RED and
        saturation signals of ``services`` (all services when ``None``), aggregated by
        service. This is what ``Incident`` calls."""
        if query is None:
            return self.signals(window, services=services, step=step)
        return self.query_range(query, window, step=step)

    @classmethod
    def from_client(cls, client: Any, **kwargs: Any) -> PrometheusSource:
        """From an existing ``prometheus_api_client.PrometheusConnect``: same URL, headers,
        basic auth, TLS settings and timeout (:mod:`workbench.sources.prometheus.connect`).

        Example::

            >>> prom = PrometheusSource.from_client(PrometheusConnect(url, headers=h))
        """
        from workbench.sources.prometheus.connect import from_prometheus_connect

        return from_prometheus_connect(client, **kwargs)

    def query_range(
        self,
        query: str,
        window: Window,
        *,
        step: str | timedelta | float | None = None,
        alias: str | None = None,
    ) -> Result:
        """Run ``query`` over ``window`` (chunked, concurrent) into the metrics frame.

        ``step`` defaults to a nice step giving about ``target_points`` points. ``alias``
        names the ``metric`` column for series without ``__name__`` (default: the query).

        >>> prom.query_range("rate(up[5m])", w, step="30s", alias="up_rate").frame
        """
        return self._range({alias or query: query}, window, step=step, label=query)

    def signals(
        self,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        step: str | timedelta | float | None = None,
        signals: Sequence[str] | None = None,
    ) -> Result:
        """RED + saturation signals per service (see :mod:`workbench.sources.prometheus.signals`).

        >>> prom.signals(w, services=["checkout"], signals=["red:error_ratio"]).frame
        """
        st = self._step(window, step)
        choice = self._ensure_names(window)
        rate_window = self._rate_window(st)
        queries: dict[str, str | list[str]] = dict(
            signal_queries(
                self.metric_names, services=services, rate_window=rate_window, signals=signals
            )
        )
        queries.update(self._quantile_batches(queries, window, services, rate_window))
        label = f"RED+saturation for {', '.join(services) if services else 'all services'}"
        res = self._range(queries, window, step=st, label=label)
        res.extra["grain"] = "signals"
        # every point is a rate over this window, evaluated every step: points closer
        # than the window overlap (the change detector counts runs in windows)
        res.extra["rate_window"] = parse_duration(rate_window)
        if choice is not None:
            res.extra["metric_names"] = choice.note()
        return res

    def _quantile_batches(
        self,
        queries: Mapping[str, str | list[str]],
        window: Window,
        services: Sequence[str] | None,
        rate_window: str,
    ) -> dict[str, list[str]]:
        """The latency-quantile queries split per ``quantile_batch`` services (empty when
        one request is small enough, or the services cannot be listed). For all services,
        one more request covers series without the service label (``service=""``), so
        the union is exactly the one request's answer."""
        names = self.metric_names
        lat = [k for k in (latency_name(q) for q in names.quantiles) if k in queries]
        batch = self.quantile_batch
        if not lat or batch is None:
            return {}
        every = list(services) if services else self._bucket_services(window)
        if every is None or len(every) <= batch:
            return {}
        groups = [every[i : i + batch] for i in range(0, len(every), batch)]
        if not services:
            groups.append([""])
        out: dict[str, list[str]] = {k: [] for k in lat}
        for g in groups:
            q = signal_queries(names, services=g, rate_window=rate_window, signals=lat)
            for k in lat:
                out[k].append(q[k])
        return out

    def _bucket_services(self, window: Window) -> list[str] | None:
        """The services with latency-histogram series in ``window`` (None: cannot tell)."""
        names = self.metric_names
        rq = [promql.matcher(k, op, v) for k, op, v in names.request_matchers]
        try:
            return self.label_values(
                names.service_label,
                window=window,
                match=promql.selector(names.duration_bucket, *rq),
            )
        except (SourceError, BadData) as err:  # not worth failing for: one request
            # INFO: nothing is lost (one query for every service instead); a source that
            # is down fails its load next, and the outcome says so
            log.info("%s: cannot list the services to batch quantiles: %s", self.name, err)
            return None

    def raw_metrics(
        self,
        window: Window,
        *,
        services: Sequence[str],
        step: str | timedelta | float | None = None,
    ) -> Result:
        """Every series of ``services`` (by the service label) over ``window``: the
        drill-down behind the per-service signals :meth:`metrics` loads first.

        >>> prom.raw_metrics(w, services=["checkout"]).frame
        """
        if not services:
            raise ConfigError("raw_metrics needs the services to fetch (a drill-down)")
        self._ensure_names(window)
        svc = promql.label_name(self.metric_names.service_label)
        expr = promql.selector(None, promql.any_of(svc, services))
        return self._range({expr: expr}, window, step=step, label=f"raw series of {expr}")

    def _ensure_names(self, window: Window) -> metric_presets.Choice | None:
        """Detect the naming preset from the server's metric names, once (see
        :mod:`workbench.sources.prometheus.presets`); a failed lookup keeps the lab names."""
        if self._detect:
            self._detect = False
            try:
                have = self.label_values("__name__", window=window)
            except (SourceError, BadData) as err:  # an odd answer is not worth failing for
                # INFO: the choice's note (the result's extra, inc.status()'s detail)
                # says it with the error's message
                log.info("%s: cannot list metric names to detect the preset: %s", self.name, err)
                self.preset_choice = metric_presets.Choice(
                    "lab",
                    f"detection failed ({type(err).__name__}: {err.message}); using lab names",
                    MetricNames(),
                )
            else:
                self.preset_choice = metric_presets.detect(have)
            self.metric_names = self.preset_choice.names
            self.service_labels = tuple(
                dict.fromkeys((self.metric_names.service_label, "service", "job"))
            )
            log.info("%s: %s", self.name, self.preset_choice.note())
        return self.preset_choice

    def query(
        self, query: str, at: datetime | str | None = None, *, alias: str | None = None
    ) -> Result:
        """An instant query at ``at`` (default: the server's now) into the metrics frame."""
        params_at = None
        if at is not None:
            from workbench.timewindow import parse_time

            params_at = f"{parse_time(at).timestamp():.3f}"
        with Timer() as t:
            out = _Outcome()
            self._run_task(_Task(alias or query, query, None, params_at), out)
        return self.result(
            "metrics",
            out.frames[0],
            query=query,
            warnings=out.warnings,
            reasons=out.reasons,
            elapsed_s=t.elapsed,
        )

    def series(self, match: str | Sequence[str], window: Window) -> pl.DataFrame:
        """Series matching selector(s) over ``window``: ``metric, service, labels``.

        >>> prom.series('{job="checkout"}', w)
        """
        matches = [match] if isinstance(match, str) else list(match)
        data, _ = self._api(
            "/api/v1/series",
            [("match[]", m) for m in matches] + list(_window_params(window).items()),
            query=" ".join(matches),
            window=window,
        )
        if not isinstance(data, list) or not all(
            isinstance(d, dict) and all(isinstance(v, str) for v in d.values()) for d in data
        ):
            raise BadData(
                "series response is not a list of label sets", field="data", source=self.name
            )
        return promjson.series_table(data, alias=None, service_labels=self.service_labels).drop(
            "sid"
        )

    def label_names(self, window: Window | None = None) -> list[str]:
        """All label names (over ``window`` if given)."""
        data, _ = self._api("/api/v1/labels", _window_params(window), query="labels", window=window)
        return sorted(_str_list(data, self.name))

    # capability: capacity aggregation (see workbench.sources.capabilities) -----------
    def capacity_has_metric(self, metrics: list[str], window: Window) -> bool:
        """Whether any of ``metrics`` has data in ``window`` (picks the capacity profile)."""
        from workbench.sources.prometheus.capacity import has_metric

        return has_metric(self, metrics, window)

    def capacity_buckets(self, request: BucketRequest) -> Buckets:
        """Usage and limits bucketed on the server (see :mod:`workbench.sources.prometheus.capacity`)."""
        from workbench.sources.prometheus.capacity import buckets

        return buckets(self, request)

    def label_values(
        self, name: str, *, window: Window | None = None, match: str | None = None
    ) -> list[str]:
        """Values of label ``name`` (optionally over ``window`` and for series ``match``).

        >>> prom.label_values("service")
        ['cart', 'checkout', ...]
        """
        if name != "__name__":
            promql.label_name(name)  # it goes into the URL path: must be a plain name
        params: list[tuple[str, str]] = list(_window_params(window).items())
        if match:
            params.append(("match[]", match))
        data, _ = self._api(
            f"/api/v1/label/{name}/values", params, query=f"label {name}", window=window
        )
        return sorted(_str_list(data, self.name))

    def services(self, window: Window | None = None) -> list[str]:
        """Values of the service label."""
        return self.label_values(self.metric_names.service_label, window=window)

    def exemplars(self, query: str, window: Window) -> Result:
        """Exemplars (trace ids attached to samples) for ``query`` over ``window``.

        Frame columns: ``ts, metric, service, value, trace_id, span_id, labels`` (series
        labels), ``exemplar_labels``. Servers without exemplar storage (Prometheus without
        ``--enable-feature=exemplar-storage``, VictoriaMetrics 1.79) return an empty frame.
        """
        from workbench.sources.prometheus.exemplars import exemplar_frame

        with Timer() as t:
            data, warns = self._api(
                "/api/v1/query_exemplars",
                {"query": query, **_window_params(window)},
                query=query,
                window=window,
            )
            frame = exemplar_frame(data, service_labels=self.service_labels, source=self.name)
        return Result(
            source=self.name,
            signal="exemplars",
            frame=frame,
            query=query,
            window=window,
            warnings=tuple(warns),
            elapsed_s=t.elapsed,
        )

    def alert_events(
        self,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        state: str = "firing",
    ) -> Result:
        """Alerts from the ``ALERTS`` series as events (kind ``alert``): one row per run of
        consecutive samples of ``ALERTS{alertstate="firing"}``, ``ts`` its first sample,
        ``end`` its last (null if still firing at the window's end)."""
        from workbench.sources.prometheus.alerts import alert_runs

        svc = self.metric_names.service_label
        sel = promql.selector(
            "ALERTS",
            promql.eq("alertstate", state),
            promql.any_of(svc, services) if services else None,
        )
        seconds = max(1, int(window.duration.total_seconds()))
        expr = f"{sel}[{seconds}s]"
        at = f"{window.end.timestamp() - 0.001:.3f}"
        with Timer() as t:
            out = _Outcome()
            self._run_task(_Task("ALERTS", expr, None, at), out)
            frame = alert_runs(
                out.frames[0], window=window, source=self.name, eval_interval=self.scrape_interval
            )
        return self.result(
            "events",
            frame,
            query=expr,
            window=window,
            warnings=out.warnings,
            reasons=out.reasons,
            elapsed_s=t.elapsed,
        )

    def events(self, window: Window, *, services: Sequence[str] | None = None) -> Result:
        """Alert events from ``ALERTS`` (only if the source was made with ``alerts=True``)."""
        if "events" not in self.capabilities:
            raise self._unsupported("events")
        return self.alert_events(window, services=services)

    # range machinery ---------------------------------------------------------------------
    def _step(self, window: Window, step: str | timedelta | float | None) -> timedelta:
        if step is None:
            return chunking.choose_step(
                window, target_points=self.target_points, min_step=self.scrape_interval
            )
        return timedelta(milliseconds=chunking.step_ms(step))

    def _rate_window(self, step: timedelta) -> str:
        scrape = self.scrape_interval.total_seconds()
        secs = max(step.total_seconds() + scrape, 4 * scrape)
        return f"{round(secs)}s"

    def _range(
        self,
        queries: Mapping[str, str | list[str]],
        window: Window,
        *,
        step: str | timedelta | float | None,
        label: str,
    ) -> Result:
        st = self._step(window, step)
        chunks = chunking.plan(window, st, max_points=self.max_points_per_series)
        if not chunks:
            raise ConfigError(
                f"no evaluation time of step {st.total_seconds():g}s falls in {window}",
                hint="use a step shorter than the window, or leave it out",
            )
        # an alias may name several requests (parts of one query, e.g. per batch of services)
        exprs = [
            (alias, e) for alias, q in queries.items() for e in ([q] if isinstance(q, str) else q)
        ]
        tasks = [_Task(alias, expr, c) for alias, expr in exprs for c in chunks]
        budget = RowBudget(
            self.max_rows,
            source=self.name,
            total_weight=sum(c.points for c in chunks) * len(exprs),
            query=label,
            window=window,
            hint="narrow the window, select fewer series (label matchers, or aggregate with "
            "sum by (...)), use a longer step",
        )
        with Timer() as t:
            out = self._run_all(tasks, window, budget)
            frame = (
                pl.concat(out.frames, how="vertical", rechunk=False)
                if out.frames
                else frames.empty("metrics")
            )
        return self.result(
            "metrics",
            frame,
            query=label if len(exprs) > 1 else exprs[0][1],
            window=window,
            warnings=out.warnings,
            reasons=out.reasons,
            elapsed_s=t.elapsed,
            step_s=st.total_seconds(),
            chunks=len(chunks),
            queries=dict(queries),
        )

    def _run_all(
        self, tasks: list[_Task], window: Window, budget: RowBudget | None = None
    ) -> _Outcome:
        out = _Outcome()
        if len(tasks) == 1 or self.max_concurrency == 1:
            for task in tasks:
                self._guarded(task, out, budget)
            return out
        parts = [_Outcome() for _ in tasks]
        pool = ThreadPoolExecutor(
            max_workers=min(self.max_concurrency, len(tasks)), thread_name_prefix=f"wb-{self.name}"
        )
        try:
            futures = [
                pool.submit(in_context(self._guarded), task, part, budget)
                for task, part in zip(tasks, parts, strict=True)
            ]
            for f in as_completed(futures):
                exc = f.exception()
                if exc is not None:  # stop at the first failure: queued chunks never start
                    raise exc
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        for part in parts:  # keep task order: series, then time
            out.frames.extend(part.frames)
            out.warnings.extend(w for w in part.warnings if w not in out.warnings)
            out.reasons.extend(part.reasons)
        return out

    def _guarded(self, task: _Task, out: _Outcome, budget: RowBudget | None = None) -> None:
        before = len(out.frames)
        try:
            self._run_task(task, out)
            if budget is not None and task.chunk is not None:
                budget.add(sum(f.height for f in out.frames[before:]), task.chunk.points)
        except (SourceUnavailable, BadData) as exc:
            if self.on_chunk_error != "partial" or task.chunk is None:
                raise
            what = task.alias or task.expr
            out.reasons.append(
                f"chunk {task.chunk.describe()} of {what!r} not loaded: {exc.message}"
            )
            # INFO: the reason above makes the result partial, which is what is reported
            log.info("%s: chunk %s failed: %s", self.name, task.chunk.describe(), exc.message)

    def _run_task(self, task: _Task, out: _Outcome) -> None:
        if task.chunk is not None:
            params: dict[str, str] = {"query": task.expr, **task.chunk.params()}
            path = "/api/v1/query_range"
        else:
            params = {"query": task.expr}
            if task.at is not None:
                params["time"] = task.at
            path = "/api/v1/query"
        where = task.chunk.describe() if task.chunk is not None else None
        resp = self._request(path, params, query=task.expr, window=where)
        fast = promjson.fast_matrix(
            resp.content, alias=task.alias, service_labels=self.service_labels, source=self.name
        )
        notes: list[str]
        if fast is not None:
            frame, notes, warns = fast.frame, [], [*fast.warnings]
            warns += [f"info: {w}" for w in fast.infos]
        else:
            data, warns = self._envelope(resp, query=task.expr, window=where)
            frame, notes = promjson.result_frame(
                data, alias=task.alias, service_labels=self.service_labels, source=self.name
            )
        out.frames.append(frame)
        out.warnings.extend(warns)
        out.reasons.extend(notes)
        if self.flavor == "thanos" and warns:
            out.reasons.extend(f"Thanos partial response: {w}" for w in warns)

    # HTTP ----------------------------------------------------------------------------------
    def _api(
        self,
        path: str,
        params: dict[str, str] | list[tuple[str, str]],
        *,
        query: str | None,
        window: object | None,
    ) -> tuple[Any, list[str]]:
        """Call the API, check the envelope, return ``(data, warnings + infos)``."""
        resp = self._request(path, params, query=query, window=window)
        return self._envelope(resp, query=query, window=window)

    def _request(
        self,
        path: str,
        params: dict[str, str] | list[tuple[str, str]],
        *,
        query: str | None,
        window: object | None,
    ) -> httpx.Response:
        items = list(params.items()) if isinstance(params, dict) else list(params)
        if self.flavor == "thanos" and path in ("/api/v1/query", "/api/v1/query_range"):
            items.append(("partial_response", "true"))
        big = sum(len(str(v)) for _, v in items) > 3000
        headers = None if self.compression else {"Accept-Encoding": "identity"}
        try:
            if big:  # long queries go in a form body (URLs have length limits)
                return self.http.request(
                    "POST", path, data=dict(items), query=query, window=window, headers=headers
                )
            return self.http.request(
                "GET", path, params=items, query=query, window=window, headers=headers
            )
        except SourceError as exc:
            raise self._translate(exc) from exc

    def _envelope(
        self, resp: httpx.Response, *, query: str | None, window: object | None
    ) -> tuple[Any, list[str]]:
        body = self.http.decode(resp, query=query)
        if not isinstance(body, dict):
            raise BadData(
                f"{self.name} answered {type(body).__name__}, not a JSON object",
                source=self.name,
                field="body",
            )
        if body.get("status") == "error":
            exc = QueryError(
                f"{self.name} rejected the query",
                source=self.name,
                query=query,
                window=window,
                status=resp.status_code,
                error_type=body.get("errorType"),
                detail=body.get("error"),
                hint="fix the query; the server's message is in 'detail'",
            )
            raise self._translate(exc)
        warns = [str(w) for w in (body.get("warnings") or [])]
        warns += [f"info: {w}" for w in (body.get("infos") or [])]
        if "data" not in body:
            raise BadData(f"{self.name} response has no 'data'", source=self.name, field="data")
        return body["data"], warns

    def _translate(self, exc: SourceError) -> SourceError:
        text = f"{exc.error_type or ''} {exc.detail or ''}"
        if isinstance(exc, QueryError | SourceUnavailable) and exc.status is not None:
            for pattern, limit, hint in _LIMITS:
                if pattern.search(text):
                    return LimitExceeded(
                        f"{self.name} refused the query: {limit} limit",
                        source=self.name,
                        limit=limit,
                        query=exc.query,
                        window=exc.window,
                        status=exc.status,
                        detail=exc.detail,
                        hint=hint,
                    )
        return exc


def _nearby(url: str) -> bool:
    """Is the server on this machine, a private network, or a Kubernetes service?"""
    import ipaddress
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    if host in ("localhost", "") or host.endswith((".svc", ".svc.cluster.local", ".local")):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local


def _window_params(window: Window | None) -> dict[str, str]:
    if window is None:
        return {}
    return {"start": f"{window.start.timestamp():.3f}", "end": f"{window.end.timestamp():.3f}"}


def _str_list(data: Any, source: str) -> list[str]:
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise BadData("expected a list of strings", field="data", source=source)
    return data
