"""Argo CD applications (``GET /api/v1/applications/{name}``) as deploy and rollback events.

From one application's body:

* each ``status.history`` entry (a sync that completed) is a ``deploy`` row: ``ts`` =
  ``deployStartedAt`` (or ``deployedAt``), ``end`` = ``deployedAt``, attributes the
  revision, history id, repo, path, target revision, Helm parameters and who started it;
  an entry whose revision is older than the one deployed before it (it went back to a
  revision already in the history, as ``argocd app rollback`` does) is a ``rollback``;
* ``status.operationState`` (the last or running operation) is a row too when it is not
  already a history entry: a sync that failed, errored or is still running (``end`` null),
  titled with its phase and message, so a failed rollout shows on the timeline.

``service`` is the application's name, or its ``metadata.labels[service_label]`` when set.

Example::

    >>> argo = ArgoCDSource("https://argocd.example.com", applications=["checkout"],
    ...                     auth=Auth(bearer=Secret.env("ARGOCD_TOKEN")))
    >>> argo.events(Window.last("6h")).frame.select("ts", "kind", "service", "title")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import polars as pl

from workbench import frames
from workbench.errors import BadData, ConfigError
from workbench.sources.apitime import rfc3339 as _time
from workbench.sources.base import Result, Source, Timer
from workbench.sources.http import Auth, HttpClient, Timeout
from workbench.timewindow import Window

__all__ = ["ArgoCDSource", "application_events"]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _who(initiated: Any) -> str | None:
    i = _m(initiated)
    if i.get("username"):
        return str(i["username"])
    return "automated" if i.get("automated") else None


def _source_attrs(src: Mapping[str, Any]) -> dict[str, Any]:
    helm = _m(src.get("helm"))
    params = [p for p in helm.get("parameters") or [] if isinstance(p, Mapping)]
    return {
        "argocd.repoURL": src.get("repoURL"),
        "argocd.path": src.get("path") or src.get("chart"),
        "argocd.targetRevision": src.get("targetRevision"),
        "argocd.helm.parameters": ",".join(f"{p.get('name')}={p.get('value')}" for p in params)
        or None,
    }


def application_events(
    app: Any,
    *,
    window: Window | None = None,
    source: str = "argocd",
    service_label: str | None = None,
) -> pl.DataFrame:
    """An Argo CD ``Application`` body -> events frame (see the module docstring)."""
    if not isinstance(app, Mapping) or not isinstance(app.get("metadata"), Mapping):
        raise BadData("the application response is not an Application object",
                      field="metadata", source=source,
                      hint="the URL should be Argo CD's API server (it answers /api/v1/applications)")  # fmt: skip
    meta = app["metadata"]
    name = str(meta.get("name") or "?")
    labels = _m(meta.get("labels"))
    service = str(labels.get(service_label) or name) if service_label else name
    status = _m(app.get("status"))
    history = status.get("history") or []
    if not isinstance(history, list):
        raise BadData("status.history is not a list", field="status.history", source=source)
    rows: list[tuple[Any, ...]] = []
    seen_revisions: list[str] = []
    started: set[datetime] = set()
    for i, h in enumerate(sorted((h for h in history if isinstance(h, Mapping)),
                                 key=lambda h: h.get("id") or 0)):  # fmt: skip
        f = f"status.history[{i}]"
        done = _time(h.get("deployedAt"), field=f"{f}.deployedAt", source=source)
        start = _time(h.get("deployStartedAt"), field=f"{f}.deployStartedAt", source=source) or done
        if start is None:
            raise BadData(f"history entry {i} has no deployedAt", field=f, source=source)
        started.add(start)
        rev = str(h.get("revision") or (h.get("revisions") or [""])[0] or "")
        back = bool(rev) and rev in seen_revisions[:-1] and rev != seen_revisions[-1]
        seen_revisions.append(rev)
        kind = "rollback" if back else "deploy"
        attrs = {
            "argocd.app": name,
            "argocd.revision": rev or None,
            "argocd.historyId": str(h.get("id")),
            "argocd.initiatedBy": _who(h.get("initiatedBy")),
            **_source_attrs(_m(h.get("source"))),
        }
        verb = "rolled back to" if back else "synced"
        rows.append((start, done if done and done > start else None, kind, service,
                     f"argocd {name} {verb} {rev[:12] or '?'}", source, attrs))  # fmt: skip
    op = _m(status.get("operationState"))
    if op:
        f = "status.operationState"
        start = _time(op.get("startedAt"), field=f"{f}.startedAt", source=source)
        end = _time(op.get("finishedAt"), field=f"{f}.finishedAt", source=source)
        phase = str(op.get("phase") or "")
        if start is not None and not (phase == "Succeeded" and start in started):
            sync = _m(_m(op.get("operation")).get("sync"))
            rev = str(_m(op.get("syncResult")).get("revision") or sync.get("revision") or "")
            back = bool(rev) and rev in seen_revisions[:-1] and rev != seen_revisions[-1]
            message = str(op.get("message") or "").strip()
            attrs = {
                "argocd.app": name,
                "argocd.revision": rev or None,
                "argocd.phase": phase or None,
                "argocd.message": message or None,
                "argocd.initiatedBy": _who(_m(op.get("operation")).get("initiatedBy")),
                **_source_attrs(_m(_m(op.get("syncResult")).get("source"))),
            }
            title = f"argocd {name} {'rollback' if back else 'sync'} {phase or '?'} {rev[:12]}"
            rows.append((start, end if end and end > start else None,
                         "rollback" if back else "deploy", service,
                         f"{title}: {message}" if message else title, source, attrs))  # fmt: skip
    if window is not None:
        rows = [r for r in rows if r[0] < window.end and (r[1] or r[0]) >= window.start]
    return frames.events_from_rows(rows)


class ArgoCDSource(Source):
    """Argo CD's API as a source of deploy and rollback events, one application at a time.

    Parameters: ``url`` (``https://argocd.example.com``), ``applications`` (names to read;
    required: listing every application of a large instance is not what an investigation
    needs), ``auth`` (a bearer token as a secret reference: ``bearer = {env =
    "ARGOCD_TOKEN"}``), ``app_namespace`` (``appNamespace`` for apps outside argocd's
    namespace), ``service_label`` (a label naming the service instead of the app name).

    Example::

        >>> argo = ArgoCDSource("https://argocd:8080", applications=["nginx"])
        >>> argo.events(Window.parse("2021-07-11T21:00:00Z..2021-07-11T22:00:00Z")).rows
        9
    """

    kind: ClassVar[str] = "argocd"
    capabilities: ClassVar[frozenset[str]] = frozenset({"events"})

    def __init__(
        self,
        url: str,
        *,
        applications: Sequence[str] = (),
        name: str = "argocd",
        auth: Auth | None = None,
        timeout: Timeout | None = None,
        app_namespace: str | None = None,
        service_label: str | None = None,
        retries: int = 2,
    ) -> None:
        super().__init__(name=name)
        if isinstance(applications, str):
            applications = [applications]
        if not applications:
            raise ConfigError(
                f"{name}: no applications to read",
                hint='name them: applications = ["checkout", "payments"]',
            )
        self.http = HttpClient(name, url, auth=auth, timeout=timeout, retries=retries)
        self.applications = tuple(applications)
        self.app_namespace = app_namespace
        self.service_label = service_label

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "url": self.http.url,
            "applications": list(self.applications),
            **self.http.auth.describe(),
        }

    def close(self) -> None:
        self.http.close()

    def application(self, app: str) -> dict[str, Any]:
        """One application's raw body (``GET /api/v1/applications/{app}``)."""
        params = {"appNamespace": self.app_namespace} if self.app_namespace else None
        path = f"/api/v1/applications/{quote(app, safe='')}"
        return self.http.get_json(path, params=params, query=f"GET {path}")

    def events(self, window: Window, *, services: Sequence[str] | None = None) -> Result:
        """Syncs (deploys, rollbacks, failed or running operations) overlapping ``window``."""
        with Timer() as t:
            parts = [
                application_events(self.application(a), window=window, source=self.name,
                                   service_label=self.service_label)
                for a in self.applications
            ]  # fmt: skip
            frame = frames.concat(parts, "events").sort("ts")
            if services:
                frame = frame.filter(pl.col("service").is_in(list(services)))
        return self.result(
            "events",
            frame,
            query=" + ".join(f"GET /api/v1/applications/{a}" for a in self.applications),
            window=window,
            elapsed_s=t.elapsed,
        )
