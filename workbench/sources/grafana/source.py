"""Grafana annotations (``GET /api/annotations``) as events, and notes posted back.

Reading: ``GET /api/annotations?from=<ms>&to=<ms>&limit=N`` (epoch milliseconds, the
bearer token of a service account). Each annotation is one ``annotation`` event (an
alert annotation, ``alertId`` set, is an ``alert``): ``ts`` = ``time``, ``end`` =
``timeEnd`` when it is a region, ``title`` = ``text``, ``service`` = the value of a
``service:<name>`` tag when there is one, attributes the id, dashboard UID, panel, user,
tags and alert states. When as many annotations come back as ``limit`` asked for, the
result is marked partial (Grafana returns at most ``limit``).

Writing happens only when asked (:func:`post_annotation`, ``inc.note(..., grafana=True)``
or ``workbench note --grafana``): ``POST /api/annotations`` with ``time``, ``timeEnd``,
``text`` and ``tags``, an organization annotation (no dashboard) unless
``dashboard_uid`` is given.

Example::

    >>> g = GrafanaSource("https://grafana.example.com", auth=Auth(bearer=Secret.env("GRAFANA_TOKEN")))
    >>> g.events(Window.last("6h")).frame.select("ts", "kind", "title")
    >>> post_annotation(Grafana("https://grafana.example.com", token_env="GRAFANA_TOKEN"),
    ...                 "rolled back checkout", at=datetime.now(UTC), tags=["incident:INC-9"])
    1125
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import polars as pl

from workbench import frames
from workbench.errors import BadData, ConfigError
from workbench.sources.base import Result, Source, Timer
from workbench.sources.http import Auth, HttpClient, Timeout
from workbench.timewindow import Window

__all__ = ["GrafanaSource", "annotation_events", "post_annotation"]

PATH = "/api/annotations"


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _time(value: Any, *, field: str, source: str) -> datetime | None:
    if value in (None, 0):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadData(f"{field} is {value!r}, expected epoch milliseconds",
                      field=field, source=source)  # fmt: skip
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def annotation_events(
    body: Any, *, window: Window | None = None, source: str = "grafana"
) -> pl.DataFrame:
    """A ``GET /api/annotations`` body (a JSON list) -> events frame (module docstring)."""
    if not isinstance(body, list):
        raise BadData("the annotations response is not a list", field="(body)", source=source,
                      hint="the URL should be Grafana's (it answers /api/annotations)")  # fmt: skip
    rows: list[tuple[Any, ...]] = []
    for i, a in enumerate(body):
        f = f"[{i}]"
        if not isinstance(a, Mapping):
            raise BadData(f"annotation {i} is not an object", field=f, source=source)
        start = _time(a.get("time"), field=f"{f}.time", source=source)
        if start is None:
            raise BadData(f"annotation {i} has no time", field=f"{f}.time", source=source)
        end = _time(a.get("timeEnd"), field=f"{f}.timeEnd", source=source)
        tags = [str(t) for t in a.get("tags") or [] if t is not None]
        service = next((t.split(":", 1)[1] for t in tags if t.startswith("service:")), None)
        alert = bool(a.get("alertId"))
        attrs = {
            "grafana.id": None if a.get("id") is None else str(a.get("id")),
            "grafana.dashboardUID": a.get("dashboardUID") or None,
            "grafana.panelId": None if not a.get("panelId") else str(a.get("panelId")),
            "grafana.user": a.get("login") or a.get("userName") or a.get("email") or None,
            "grafana.tags": ",".join(tags) or None,
            "grafana.newState": a.get("newState") or None,
            "grafana.prevState": a.get("prevState") or None,
        }
        text = " ".join(str(a.get("text") or "").split()) or "(no text)"
        rows.append((start, end if end and end > start else None,
                     "alert" if alert else "annotation", service, text, source, attrs))  # fmt: skip
    if window is not None:
        rows = [r for r in rows if r[0] < window.end and (r[1] or r[0]) >= window.start]
    return frames.events_from_rows(rows)


class GrafanaSource(Source):
    """Grafana's annotations as events.

    Parameters: ``url`` (``https://grafana.example.com``), ``auth`` (a service-account
    token as a secret reference: ``bearer = {env = "GRAFANA_TOKEN"}``), ``org_id`` (sent
    as ``X-Grafana-Org-Id``), ``tags`` (only annotations with all these tags), ``limit``
    (default 1000; a full page is marked partial), ``annotation_type`` (``annotation`` or
    ``alert``; default both).

    Example::

        >>> src = GrafanaSource("http://grafana:3000", auth=Auth(bearer=Secret.env("T")))
        >>> src.events(Window.parse("2017-10-06T04:00:00Z..2017-10-06T05:00:00Z")).rows
        2
    """

    kind: ClassVar[str] = "grafana"
    capabilities: ClassVar[frozenset[str]] = frozenset({"events"})

    def __init__(
        self,
        url: str,
        *,
        name: str = "grafana",
        auth: Auth | None = None,
        timeout: Timeout | None = None,
        org_id: int | None = None,
        tags: Sequence[str] = (),
        limit: int = 1000,
        annotation_type: str | None = None,
        retries: int = 2,
    ) -> None:
        super().__init__(name=name)
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ConfigError(f"{name}: limit must be a positive integer, not {limit!r}")
        if annotation_type not in (None, "annotation", "alert"):
            raise ConfigError(f"{name}: annotation_type must be 'annotation' or 'alert', "
                              f"not {annotation_type!r}")  # fmt: skip
        if org_id is not None:
            a = auth or Auth()
            auth = replace(a, headers={**a.headers, "X-Grafana-Org-Id": str(int(org_id))})
        self.http = HttpClient(name, url, auth=auth, timeout=timeout, retries=retries)
        self.tags = tuple(tags)
        self.limit = limit
        self.annotation_type = annotation_type

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "url": self.http.url,
            "limit": self.limit,
            **({"tags": list(self.tags)} if self.tags else {}),
            **self.http.auth.describe(),
        }

    def close(self) -> None:
        self.http.close()

    def annotations(self, window: Window) -> list[Any]:
        """The raw ``GET /api/annotations`` body over ``window``."""
        params: list[tuple[str, Any]] = [
            ("from", _ms(window.start)), ("to", _ms(window.end)), ("limit", self.limit)
        ]  # fmt: skip
        params += [("tags", t) for t in self.tags]
        if self.annotation_type:
            params.append(("type", self.annotation_type))
        return self.http.get_json(PATH, params=params, query=f"GET {PATH}", window=window)

    def events(self, window: Window, *, services: Sequence[str] | None = None) -> Result:
        """The annotations overlapping ``window`` as events (partial when a page is full)."""
        with Timer() as t:
            body = self.annotations(window)
            if isinstance(body, list):
                body = body[: self.limit]  # the budget, even from a server that ignores it
            frame = annotation_events(body, window=window, source=self.name).sort("ts")
            if services:
                keep = pl.col("service").is_in(list(services)) | pl.col("service").is_null()
                frame = frame.filter(keep)
        full = isinstance(body, list) and len(body) >= self.limit
        return self.result(
            "events",
            frame,
            query=f"GET {PATH}?from={_ms(window.start)}&to={_ms(window.end)}&limit={self.limit}",
            window=window,
            elapsed_s=t.elapsed,
            reasons=[
                f"Grafana returned {len(body)} annotations, the limit asked for: there may "
                "be more (raise limit, narrow the window, or filter with tags)"
            ]
            if full
            else (),
        )


def post_annotation(
    grafana: Any,
    text: str,
    *,
    at: datetime,
    end: datetime | None = None,
    tags: Sequence[str] = (),
    dashboard_uid: str | None = None,
    timeout: Timeout | None = None,
) -> int:
    """Write one annotation (``POST /api/annotations``) and return its Grafana id.

    ``grafana`` is a :class:`~workbench.grafana_links.Grafana` (its ``token_env`` names
    the token). Raises :class:`~workbench.errors.AuthError` (token refused),
    :class:`~workbench.errors.SourceUnavailable` (server down or failing),
    :class:`~workbench.errors.BadData` (an answer that is not Grafana's).
    """
    if at.tzinfo is None or (end is not None and end.tzinfo is None):
        raise ConfigError("annotation times must be timezone-aware (UTC)")
    if not str(text).strip():
        raise ConfigError("an annotation needs text")
    body: dict[str, Any] = {"time": _ms(at), "text": str(text), "tags": [str(t) for t in tags]}
    if end is not None and end > at:
        body["timeEnd"] = _ms(end)
    if dashboard_uid:
        body["dashboardUID"] = dashboard_uid
    auth = grafana.auth()
    auth = replace(auth, headers={**auth.headers, "X-Grafana-Org-Id": str(grafana.org_id)})
    http = HttpClient("grafana", grafana.url, auth=auth, timeout=timeout, retries=0)
    try:
        got = http.post_json(PATH, json_body=body, query=f"POST {PATH}")
    finally:
        http.close()
    if (
        not isinstance(got, Mapping)
        or isinstance(got.get("id"), bool)
        or not isinstance(got.get("id"), int)
    ):
        raise BadData("Grafana's answer to POST /api/annotations has no annotation id",
                      field="id", source="grafana",
                      hint="check that the URL is Grafana's (not a proxy's login page)")  # fmt: skip
    return int(got["id"])
