"""Alertmanager (API v2): alerts and silences as events.

``AlertmanagerSource(url).events(window)`` returns the events frame:

* one ``alert`` row per alert from ``GET /api/v2/alerts`` (active, silenced and
  inhibited): ``ts`` = startsAt, ``end`` = null while the alert is still active
  (Alertmanager's ``endsAt`` for an active alert is only a time-out it will extend, kept as
  the attribute ``endsAt``), ``title`` "alertname: summary", attributes ``labels.*``,
  ``annotations.*``, ``status`` (active/suppressed), ``fingerprint``, ``silencedBy``,
  ``inhibitedBy``, ``receivers``, ``generatorURL``;
* one ``annotation`` row per silence from ``GET /api/v2/silences`` overlapping the window:
  a silence is a person's note on the timeline ("muted X from t1 to t2, because ..."),
  not a change to the system under investigation, so it is an annotation rather than
  ``config``. ``ts`` = startsAt, ``end`` = endsAt, ``service`` from an exact
  ``service=...`` matcher, title "silence <matchers>: <comment>".

**What Alertmanager can tell you.** It keeps alerts only in memory, and its v2 API lists
only alerts that have not ended: an alert resolved at ``endsAt`` disappears from
``/api/v2/alerts`` as soon as that time passes (and from memory at the next garbage
collection, ``--alerts.gc-interval``, 30 min by default). So this source sees the
alerts firing *now* and the silences it still holds (expired ones are kept for
``--data.retention``, 120 h by default). For the history of an incident, read
Prometheus's ``ALERTS`` series with :meth:`PrometheusSource.alert_events` or the
webhook log (``events/alertmanager-webhook.jsonl``, files source).

Example::

    >>> am = AlertmanagerSource("http://alertmanager:9093")
    >>> am.events(Window.last("2h")).frame
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import polars as pl

from workbench import frames
from workbench.errors import BadData
from workbench.sources.apitime import rfc3339
from workbench.sources.base import Result, Source, Timer
from workbench.sources.http import Auth, HttpClient, Timeout
from workbench.timewindow import Window

__all__ = ["AlertmanagerSource", "alert_events", "silence_events"]


def _time(value: Any, *, field: str, source: str) -> datetime:
    return rfc3339(value, field=field, source=source, required=True)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _join(value: Any) -> str | None:
    """A list of ids/names as one comma-separated attribute (None when empty)."""
    return ",".join(str(x) for x in _list(value) if x is not None) or None


def _overlaps(start: datetime, end: datetime | None, window: Window) -> bool:
    return start < window.end and (end is None or end >= window.start)


def alert_events(
    alerts: Any,
    *,
    window: Window | None = None,
    now: datetime | None = None,
    source: str = "alertmanager",
    service_labels: Sequence[str] = ("service",),
) -> pl.DataFrame:
    """``GET /api/v2/alerts`` body (a list of alerts) -> events frame.

    Also accepts ``/api/v2/alerts/groups`` bodies (a list of groups with ``alerts``);
    an alert in several groups is counted once (by fingerprint).
    """
    if not isinstance(alerts, list):
        raise BadData("alerts response is not a list", field="body", source=source)
    if alerts and isinstance(alerts[0], dict) and "alerts" in alerts[0] and "labels" in alerts[0]:
        alerts = [a for g in alerts for a in (g.get("alerts") or [])]
    now = now or datetime.now(UTC)
    seen: set[str] = set()
    rows = []
    for i, a in enumerate(alerts):
        f = f"[{i}]"
        if not isinstance(a, dict):
            raise BadData(f"alert {i} is not an object", field=f, source=source)
        labels = a.get("labels") or {}
        ann = a.get("annotations") or {}
        if not isinstance(labels, dict) or not isinstance(ann, dict):
            raise BadData("labels/annotations must be objects", field=f"{f}.labels", source=source)
        fp = str(a.get("fingerprint") or sorted(labels.items()))
        if fp in seen:
            continue
        seen.add(fp)
        start = _time(a.get("startsAt"), field=f"{f}.startsAt", source=source)
        ends_at = a.get("endsAt")
        end = None
        if ends_at and not str(ends_at).startswith("0001-01-01"):
            end_t = _time(ends_at, field=f"{f}.endsAt", source=source)
            end = end_t if end_t <= now else None  # future endsAt: still active
        if window is not None and not _overlaps(start, end, window):
            continue
        status = a.get("status")
        st: dict[str, Any] = status if isinstance(status, dict) else {}
        name = str(labels.get("alertname") or "alert")
        summary = ann.get("summary") or ann.get("description")
        attrs: dict[str, Any] = {
            "status": st.get("state"),
            "fingerprint": a.get("fingerprint"),
            "endsAt": ends_at,
            "updatedAt": a.get("updatedAt"),
            "generatorURL": a.get("generatorURL"),
            "silencedBy": _join(st.get("silencedBy")),
            "inhibitedBy": _join(st.get("inhibitedBy")),
            "receivers": _join(
                [r.get("name") for r in _list(a.get("receivers")) if isinstance(r, dict)]
            ),
        }
        attrs.update({f"labels.{k}": v for k, v in labels.items()})
        attrs.update({f"annotations.{k}": v for k, v in ann.items()})
        service = next((labels[k] for k in service_labels if labels.get(k)), None)
        title = f"{name}: {summary}" if summary else name
        rows.append((start, end, "alert", service, title, source, attrs))
    return frames.events_from_rows(rows)


def _matcher_text(m: dict[str, Any]) -> str:
    op = (
        ("=" if m.get("isEqual", True) else "!=")
        if not m.get("isRegex")
        else ("=~" if m.get("isEqual", True) else "!~")
    )
    return f"{m.get('name')}{op}{m.get('value')!r}".replace("'", '"')


def silence_events(
    silences: Any,
    *,
    window: Window | None = None,
    source: str = "alertmanager",
    service_labels: Sequence[str] = ("service",),
) -> pl.DataFrame:
    """``GET /api/v2/silences`` body -> ``annotation`` events (see the module docstring)."""
    if not isinstance(silences, list):
        raise BadData("silences response is not a list", field="body", source=source)
    rows = []
    for i, s in enumerate(silences):
        f = f"[{i}]"
        if not isinstance(s, dict):
            raise BadData(f"silence {i} is not an object", field=f, source=source)
        start = _time(s.get("startsAt"), field=f"{f}.startsAt", source=source)
        end = _time(s.get("endsAt"), field=f"{f}.endsAt", source=source)
        if window is not None and not _overlaps(start, end, window):
            continue
        raw = s.get("matchers")
        if raw is not None and not isinstance(raw, list):
            raise BadData("matchers must be a list", field=f"{f}.matchers", source=source)
        matchers = [m for m in (raw or []) if isinstance(m, dict)]
        service = next(
            (
                str(m["value"])
                for k in service_labels
                for m in matchers
                if m.get("name") == k and m.get("isEqual", True) and not m.get("isRegex")
            ),
            None,
        )
        text = ", ".join(_matcher_text(m) for m in matchers)
        comment = str(s.get("comment") or "").strip()
        title = f"silence {{{text}}}" + (f": {comment}" if comment else "")
        status = s.get("status") or {}
        attrs = {
            "silence.id": s.get("id"),
            "silence.state": status.get("state") if isinstance(status, dict) else None,
            "silence.createdBy": s.get("createdBy"),
            "silence.comment": comment or None,
            "silence.matchers": text,
            "updatedAt": s.get("updatedAt"),
        }
        rows.append(
            (start, end if end >= start else None, "annotation", service, title, source, attrs)
        )
    return frames.events_from_rows(rows)


class AlertmanagerSource(Source):
    """An Alertmanager (v2 API) as a source of alert and silence events.

    Parameters: ``url`` (``http://alertmanager:9093``), ``name`` (default
    ``"alertmanager"``, also the events' ``source`` column), ``auth``
    (:class:`~workbench.sources.http.Auth`), ``timeout``
    (:class:`~workbench.sources.http.Timeout`), ``silences`` (include silences,
    default true), ``service_label`` (label naming the service, default ``service``).

    Alertmanager only knows alerts that are active now; see the module docstring for
    where resolved alerts live.

    Example::

        >>> am = AlertmanagerSource("http://localhost:9093")
        >>> am.events(Window.last("1h")).frame.select("ts", "service", "title")
    """

    kind: ClassVar[str] = "alertmanager"
    capabilities: ClassVar[frozenset[str]] = frozenset({"events"})

    def __init__(
        self,
        url: str,
        *,
        name: str = "alertmanager",
        auth: Auth | None = None,
        timeout: Timeout | None = None,
        silences: bool = True,
        service_label: str = "service",
        retries: int = 2,
    ) -> None:
        super().__init__(name=name)
        self.http = HttpClient(name, url, auth=auth, timeout=timeout, retries=retries)
        self.include_silences = silences
        self.service_labels = tuple(dict.fromkeys((service_label, "service")))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "url": self.http.url, **self.http.auth.describe()}

    def close(self) -> None:
        self.http.close()

    def alerts(self, window: Window | None = None, *, filter: Sequence[str] = ()) -> pl.DataFrame:
        """Alerts Alertmanager holds now (optionally overlapping ``window``) as events.

        ``filter`` are Alertmanager matchers such as ``'service="checkout"'``.
        """
        params: list[tuple[str, str]] = [
            ("active", "true"),
            ("silenced", "true"),
            ("inhibited", "true"),
            ("unprocessed", "true"),
        ]
        params += [("filter", f) for f in filter]
        body = self.http.get_json(
            "/api/v2/alerts", params=params, query="GET /api/v2/alerts", window=window
        )
        return alert_events(
            body, window=window, source=self.name, service_labels=self.service_labels
        )

    def silences(self, window: Window | None = None) -> pl.DataFrame:
        """Silences (active, pending and expired ones still kept) as annotation events."""
        body = self.http.get_json("/api/v2/silences", query="GET /api/v2/silences", window=window)
        return silence_events(
            body, window=window, source=self.name, service_labels=self.service_labels
        )

    def events(self, window: Window, *, services: Sequence[str] | None = None) -> Result:
        """Alerts and silences overlapping ``window`` (for ``services`` if given)."""
        with Timer() as t:
            parts = [self.alerts(window)]
            if self.include_silences:
                parts.append(self.silences(window))
            frame = pl.concat(parts, how="vertical")
            if services:
                frame = frame.filter(pl.col("service").is_in(list(services)))
        return self.result(
            "events",
            frame.sort("ts"),
            query="GET /api/v2/alerts + /api/v2/silences",
            window=window,
            elapsed_s=t.elapsed,
        )
