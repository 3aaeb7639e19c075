"""Kubernetes API-server events (``/api/v1/events`` or ``/apis/events.k8s.io/v1/events``)
as change events.

What becomes an event row (anything else the API lists is dropped unless named in
``reasons``):

=====================  ===========================  ==========================================
reason                 involved object              kind
=====================  ===========================  ==========================================
ScalingReplicaSet      Deployment                   ``deploy`` (a rollout step)
SuccessfulRescale      HorizontalPodAutoscaler      ``config`` (HPA scaling)
BackOff, OOMKilling,   Pod / Node                   ``alert`` when the event's type is
OOMKilled, Killing                                  Warning, else ``annotation`` (a Killing
                                                    of an old pod during a rollout is Normal)
=====================  ===========================  ==========================================

``ts`` is ``firstTimestamp`` (events.k8s.io: ``deprecatedFirstTimestamp`` or ``eventTime``),
``end`` the last time it was seen when later (``lastTimestamp``, ``series.lastObservedTime``),
so a BackOff repeated 40 times is one row spanning its repetitions, ``count`` kept as an
attribute. ``service`` is the workload's name: the Deployment's or HPA's name, a ReplicaSet's
name without its pod-template hash, a Pod's without its ReplicaSet hash and pod suffix (the
API's ``involvedObject`` carries no labels).

Events are kept by the API server for ``--event-ttl`` (1 h by default): older changes are
gone from here, which the result says in ``warnings`` when the window starts earlier than the
oldest event listed.

Example::

    >>> k8s = KubernetesSource("https://kube-apiserver:6443",
    ...                        auth=Auth(bearer=Secret.env("KUBE_TOKEN")), namespace="shop")
    >>> k8s.events(Window.last("1h")).frame.select("ts", "kind", "service", "title")
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal

import polars as pl

from workbench import frames
from workbench.errors import BadData
from workbench.sources.apitime import rfc3339 as _time
from workbench.sources.base import Result, Source, Timer
from workbench.sources.http import Auth, HttpClient, Timeout
from workbench.timewindow import Window

__all__ = ["KubernetesSource", "kube_events", "workload_name"]

#: reason -> kind (None: alert if Warning, annotation if Normal)
REASONS: Mapping[str, str | None] = {
    "ScalingReplicaSet": "deploy",
    "SuccessfulRescale": "config",
    "BackOff": None,
    "OOMKilling": None,
    "OOMKilled": None,
    "Killing": None,
}

_POD_OF_RS = re.compile(r"^(?P<w>.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_POD_OF_OTHER = re.compile(r"^(?P<w>.+)-[a-z0-9]{5}$")
_RS = re.compile(r"^(?P<w>.+)-[a-z0-9]{6,10}$")


def workload_name(kind: str | None, name: str | None) -> str | None:
    """The workload an involved object belongs to, from its name alone.

    >>> workload_name("Pod", "hello-world-6b9d85fbd6-klpv2")
    'hello-world'
    >>> workload_name("ReplicaSet", "hello-world-7ff854f459")
    'hello-world'
    """
    if not name:
        return None
    if kind == "Pod":
        m = _POD_OF_RS.match(name) or _POD_OF_OTHER.match(name)
        return m.group("w") if m else name
    if kind == "ReplicaSet":
        m = _RS.match(name)
        return m.group("w") if m else name
    return name


def _obj(e: Mapping[str, Any]) -> Mapping[str, Any]:
    o = e.get("involvedObject") or e.get("regarding") or {}
    return o if isinstance(o, Mapping) else {}


def kube_events(
    body: Any,
    *,
    window: Window | None = None,
    source: str = "kubernetes",
    reasons: Iterable[str] = (),
) -> pl.DataFrame:
    """An ``EventList`` body (core/v1 or events.k8s.io/v1) -> events frame (see module doc).

    ``reasons``: more reasons to keep, as ``annotation`` rows (or the kind :data:`REASONS`
    gives them).
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("items"), list):
        raise BadData(
            "the events response is not an EventList (no items list)",
            field="items",
            source=source,
            hint="point the source at the API server (https://host:6443), not a proxy page",
        )
    keep = set(REASONS) | set(reasons)
    rows: list[tuple[Any, ...]] = []
    for i, e in enumerate(body["items"]):
        f = f"items[{i}]"
        if not isinstance(e, Mapping):
            raise BadData(f"event {i} is not an object", field=f, source=source)
        reason = str(e.get("reason") or "")
        if reason not in keep:
            continue
        meta = m if isinstance(m := e.get("metadata"), Mapping) else {}
        series = s if isinstance(s := e.get("series"), Mapping) else {}
        first = (
            _time(e.get("firstTimestamp"), field=f"{f}.firstTimestamp", source=source)
            or _time(e.get("deprecatedFirstTimestamp"), field=f"{f}.deprecatedFirstTimestamp", source=source)
            or _time(e.get("eventTime"), field=f"{f}.eventTime", source=source)
            or _time(meta.get("creationTimestamp"), field=f"{f}.metadata.creationTimestamp", source=source)
        )  # fmt: skip
        if first is None:
            raise BadData(f"event {i} ({reason}) has no time", field=f, source=source)
        last = (
            _time(series.get("lastObservedTime"), field=f"{f}.series.lastObservedTime", source=source)
            or _time(e.get("lastTimestamp"), field=f"{f}.lastTimestamp", source=source)
            or _time(e.get("deprecatedLastTimestamp"), field=f"{f}.deprecatedLastTimestamp", source=source)
        )  # fmt: skip
        end = last if last is not None and last > first else None
        if window is not None and not (first < window.end and (end or first) >= window.start):
            continue
        obj = _obj(e)
        okind, oname = obj.get("kind"), obj.get("name")
        etype = str(e.get("type") or "Normal")
        kind = REASONS.get(reason) or ("alert" if etype == "Warning" else "annotation")
        if reason not in REASONS:
            kind = "annotation"
        message = str(e.get("message") or e.get("note") or "").strip()
        ns = obj.get("namespace") or meta.get("namespace")
        where = f"{okind}/{ns}/{oname}" if ns else f"{okind}/{oname}"
        src = c if isinstance(c := e.get("source"), Mapping) else {}
        count = e.get("count") or e.get("deprecatedCount") or series.get("count")
        attrs = {
            "k8s.reason": reason,
            "k8s.type": etype,
            "k8s.object": where,
            "k8s.namespace": ns,
            "k8s.fieldPath": obj.get("fieldPath"),
            "k8s.count": None if count is None else str(count),
            "k8s.component": src.get("component")
            or e.get("reportingComponent")
            or e.get("reportingController")
            or None,
            "k8s.host": src.get("host") or e.get("reportingInstance") or None,
            "k8s.uid": meta.get("uid"),
            "message": message or None,
        }
        title = f"{reason} {where}: {message}" if message else f"{reason} {where}"
        rows.append((first, end, kind, workload_name(okind, oname), title, source, attrs))
    return frames.events_from_rows(rows)


class KubernetesSource(Source):
    """A Kubernetes API server as a source of change events (rollouts, restarts, OOM kills,
    HPA scaling); see the module docstring for what is kept.

    Parameters: ``url`` (``https://host:6443``), ``auth`` (a bearer token as a secret
    reference: ``bearer = {env = "KUBE_TOKEN"}`` in ``workbench.toml``), ``namespace``
    (default: all namespaces), ``api`` (``"core"``: ``/api/v1/events``, or
    ``"events.k8s.io"``), ``reasons`` (more reasons to keep), ``limit`` (events per page,
    the API's ``limit``/``continue`` paging) and ``max_pages`` (beyond them the result is
    partial, and says so).

    Example::

        >>> k8s = KubernetesSource("https://127.0.0.1:6443", namespace="default")
        >>> k8s.events(Window.parse("2020-11-27T12:00:00Z..2020-11-27T12:10:00Z")).frame
    """

    kind: ClassVar[str] = "kubernetes"
    capabilities: ClassVar[frozenset[str]] = frozenset({"events"})

    def __init__(
        self,
        url: str,
        *,
        name: str = "kubernetes",
        auth: Auth | None = None,
        timeout: Timeout | None = None,
        namespace: str | None = None,
        api: Literal["core", "events.k8s.io"] = "core",
        reasons: Sequence[str] = (),
        limit: int = 500,
        max_pages: int = 20,
        retries: int = 2,
    ) -> None:
        super().__init__(name=name)
        self.http = HttpClient(name, url, auth=auth, timeout=timeout, retries=retries)
        self.namespace = namespace
        self.api = api
        self.reasons = tuple(reasons)
        self.limit = max(1, int(limit))
        self.max_pages = max(1, int(max_pages))

    @property
    def path(self) -> str:
        """The list endpoint read (``/api/v1/namespaces/NS/events`` and so on)."""
        base = "/api/v1" if self.api == "core" else "/apis/events.k8s.io/v1"
        return f"{base}/namespaces/{self.namespace}/events" if self.namespace else f"{base}/events"

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "url": self.http.url,
            "path": self.path,
            **self.http.auth.describe(),
        }

    def close(self) -> None:
        self.http.close()

    def events(self, window: Window, *, services: Sequence[str] | None = None) -> Result:
        """Rollouts, restarts, OOM kills and HPA scaling overlapping ``window``."""
        query = f"GET {self.path}"
        reasons: list[str] = []
        parts: list[pl.DataFrame] = []
        oldest: datetime | None = None
        with Timer() as t:
            token: str | None = None
            for page in range(self.max_pages):
                params: list[tuple[str, str]] = [("limit", str(self.limit))]
                if token:
                    params.append(("continue", token))
                body = self.http.get_json(self.path, params=params, query=query, window=window)
                parts.append(
                    kube_events(body, window=window, source=self.name, reasons=self.reasons)
                )
                oldest = _oldest(body, oldest)
                meta = body.get("metadata") if isinstance(body.get("metadata"), Mapping) else {}
                token = meta.get("continue") or None
                if not token:
                    break
                if page == self.max_pages - 1:
                    reasons.append(
                        f"stopped after {self.max_pages} pages of {self.limit} events; more are "
                        "listed: raise max_pages or limit, or set a namespace"
                    )
            frame = frames.concat(parts, "events").sort("ts")
            if services:
                frame = frame.filter(pl.col("service").is_in(list(services)))
        warnings: tuple[str, ...] = ()
        if oldest is not None and oldest > window.start:
            warnings = (
                f"the API server's oldest event is from {oldest.isoformat()}, after the window "
                "starts: earlier events have expired (--event-ttl, 1 h by default)",
            )
        return self.result(
            "events",
            frame,
            query=query,
            window=window,
            elapsed_s=t.elapsed,
            partial=bool(reasons),
            reasons=tuple(reasons),
            warnings=warnings,
        )


def _oldest(body: Mapping[str, Any], oldest: datetime | None) -> datetime | None:
    for e in body.get("items") or []:
        if not isinstance(e, Mapping):
            continue
        raw = e.get("firstTimestamp") or e.get("eventTime") or e.get("deprecatedFirstTimestamp")
        try:
            t = _time(raw, field="firstTimestamp", source="")
        except BadData:
            continue
        if t is not None and (oldest is None or t < oldest):
            oldest = t
    return oldest
