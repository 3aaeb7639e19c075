"""PagerDuty's REST API v2: ``GET /incidents/{id}`` and ``GET /incidents/{id}/log_entries``.

:func:`incident_facts` turns an incident into what an investigation starts from: its
title, service, created time, resolved time (``resolved_at``, or the last status change
of a resolved incident) and, from the log entries, when it was first acknowledged, so the
postmortem can state time to acknowledge and to resolve. :func:`log_entry_events` makes
each log entry an event: the trigger (the page) an ``alert``, so the postmortem's detection
(:func:`workbench.postmortem.timings`, the first alert) is the page; every other entry
(notify, assign, escalate, acknowledge, annotate, resolve) an ``annotation``. ``service`` is
the PagerDuty service's name; attributes the entry type, agent, channel and note.
(``incident`` events are the postmortem's own window marks, so they are not used here.)

PagerDuty REST API keys go as ``Authorization: Token token=KEY``
(:func:`pagerduty_auth`); the key is read from the environment and only ever held as a
:class:`~workbench.Secret`.

Example::

    >>> pd = PagerDutyIncidents(auth=pagerduty_auth("PAGERDUTY_TOKEN"))
    >>> facts = pd.incident("PT4KHLK")
    >>> facts["title"], facts["service"]
    ('The server is on fire.', 'My Mail Service')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import polars as pl

from workbench import frames
from workbench.errors import BadData, ConfigError
from workbench.secrets import Secret
from workbench.sources.apitime import rfc3339 as _time
from workbench.sources.http import Auth, HttpClient, Timeout
from workbench.timewindow import Window

__all__ = ["PagerDutyIncidents", "incident_facts", "log_entry_events", "pagerduty_auth"]

API = "https://api.pagerduty.com"


def pagerduty_auth(env: str = "PAGERDUTY_TOKEN") -> Auth:
    """``Authorization: Token token=<$env>`` as a secret header (a missing variable is a
    :class:`ConfigError` naming it, never the value)."""
    raw = os.environ.get(env)
    if not raw:
        raise ConfigError(
            f"PagerDuty: environment variable {env} is not set",
            hint=f"export {env}=<a PagerDuty REST API key> (read-only is enough)",
        )
    return Auth(
        headers={
            "Authorization": Secret.value(f"Token token={raw}"),
            "Accept": "application/vnd.pagerduty+json;version=2",
        }
    )


def _m(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _name(ref: Any) -> str | None:
    r = _m(ref)
    return r.get("summary") or r.get("name") or r.get("id") or None


def incident_facts(
    body: Any, log_entries: Any = None, *, source: str = "pagerduty"
) -> dict[str, Any]:
    """``GET /incidents/{id}`` body (and optionally its log entries) -> the facts an
    investigation starts from: ``id``, ``number``, ``title``, ``service``, ``status``,
    ``urgency``, ``url``, ``created_at``, ``acknowledged_at``, ``resolved_at``,
    ``time_to_acknowledge_s``, ``time_to_resolve_s``."""
    inc = _m(body).get("incident")
    if not isinstance(inc, Mapping):
        raise BadData("the response has no incident object", field="incident", source=source,
                      hint="the URL should be PagerDuty's REST API (https://api.pagerduty.com)")  # fmt: skip
    created = _time(inc.get("created_at"), field="incident.created_at", source=source)
    if created is None:
        raise BadData("the incident has no created_at", field="incident.created_at", source=source)
    resolved = _time(inc.get("resolved_at"), field="incident.resolved_at", source=source)
    if resolved is None and inc.get("status") == "resolved":
        resolved = _time(inc.get("last_status_change_at"), field="incident.last_status_change_at",
                         source=source)  # fmt: skip
    acked = None
    for e in _m(log_entries).get("log_entries") or []:
        of = _m(_m(e).get("incident")).get("id")
        if of and inc.get("id") and of != inc.get("id"):
            continue  # an entry of another incident (a merged one): not this one's times
        if _m(e).get("type") == "acknowledge_log_entry":
            t = _time(e.get("created_at"), field="log_entries[].created_at", source=source)
            if t is not None and (acked is None or t < acked):
                acked = t
        if resolved is None and _m(e).get("type") == "resolve_log_entry":
            resolved = _time(e.get("created_at"), field="log_entries[].created_at", source=source)
    return {
        "id": inc.get("id"),
        "number": inc.get("incident_number"),
        "title": inc.get("title") or inc.get("summary"),
        "service": _name(inc.get("service")),
        "status": inc.get("status"),
        "urgency": inc.get("urgency"),
        "priority": _name(inc.get("priority")),
        "url": inc.get("html_url"),
        "created_at": created,
        "acknowledged_at": acked,
        "resolved_at": resolved,
        "time_to_acknowledge_s": (acked - created).total_seconds() if acked else None,
        "time_to_resolve_s": (resolved - created).total_seconds() if resolved else None,
    }


def log_entry_events(
    body: Any, *, window: Window | None = None, source: str = "pagerduty"
) -> pl.DataFrame:
    """``GET /incidents/{id}/log_entries`` body -> events, one per entry: the trigger an
    ``alert``, the others ``annotation`` (see the module docstring)."""
    entries = _m(body).get("log_entries")
    if not isinstance(entries, list):
        raise BadData("the response has no log_entries list", field="log_entries", source=source)
    rows = []
    for i, e in enumerate(entries):
        if not isinstance(e, Mapping):
            raise BadData(
                f"log entry {i} is not an object", field=f"log_entries[{i}]", source=source
            )
        ts = _time(e.get("created_at"), field=f"log_entries[{i}].created_at", source=source)
        if ts is None:
            raise BadData(
                f"log entry {i} has no created_at", field=f"log_entries[{i}]", source=source
            )
        if window is not None and not window.start <= ts < window.end:
            continue
        etype = str(e.get("type") or "log_entry").removesuffix("_log_entry")
        channel = _m(e.get("channel"))
        note = e.get("note") or channel.get("summary")
        summary = str(e.get("summary") or etype)
        attrs = {
            "pagerduty.type": etype,
            "pagerduty.incident": _m(e.get("incident")).get("id"),
            "pagerduty.agent": _name(e.get("agent")),
            "pagerduty.channel": channel.get("type"),
            "pagerduty.note": note,
            "pagerduty.log_entry": e.get("id"),
        }
        title = f"PagerDuty {summary}" + (f": {note}" if note else "")
        kind = "alert" if etype == "trigger" else "annotation"
        rows.append((ts, kind, _name(e.get("service")), title, source, attrs))
    if not rows:
        return frames.empty("events")
    if rows[0][0] > rows[-1][0]:  # PagerDuty lists newest first: keep ties in log order
        rows.reverse()
    return pl.DataFrame(
        {
            "ts": pl.Series([r[0] for r in rows], dtype=frames.TS),
            "end": pl.Series([None] * len(rows), dtype=frames.TS),
            "kind": pl.Series([r[1] for r in rows], dtype=pl.String),
            "service": pl.Series([r[2] for r in rows], dtype=pl.String),
            "title": pl.Series([r[3] for r in rows], dtype=pl.String),
            "source": pl.Series([r[4] for r in rows], dtype=pl.String),
            "attributes": frames.kv_from_dicts(r[5] for r in rows),
        }
    ).sort("ts", maintain_order=True)


class PagerDutyIncidents:
    """Reads one incident and its log entries from PagerDuty's REST API.

    Example::

        >>> pd = PagerDutyIncidents(auth=pagerduty_auth())
        >>> pd.incident("PT4KHLK")["service"]
        'My Mail Service'
    """

    def __init__(
        self, url: str = API, *, auth: Auth | None = None, timeout: Timeout | None = None,
        name: str = "pagerduty", retries: int = 2,
    ) -> None:  # fmt: skip
        self.name = name
        self.http = HttpClient(name, url, auth=auth, timeout=timeout, retries=retries)

    def close(self) -> None:
        self.http.close()

    def raw_incident(self, incident_id: str) -> Any:
        path = f"/incidents/{quote(incident_id, safe='')}"
        return self.http.get_json(path, query=f"GET {path}")

    def raw_log_entries(self, incident_id: str, *, max_pages: int = 20) -> dict[str, Any]:
        """Every log entry of the incident (PagerDuty's ``offset``/``more`` paging, at most
        ``max_pages`` pages of 100; beyond them a :class:`BadData` says so, nothing is
        silently dropped)."""
        path = f"/incidents/{quote(incident_id, safe='')}/log_entries"
        entries: list[Any] = []
        for page in range(max_pages):
            params = {"limit": "100", "offset": str(100 * page), "is_overview": "false"}
            body = self.http.get_json(path, params=params, query=f"GET {path}")
            got = _m(body).get("log_entries")
            if not isinstance(got, list):
                raise BadData("the response has no log_entries list", field="log_entries",
                              source=self.name)  # fmt: skip
            entries += got
            if not _m(body).get("more") or not got:
                return {"log_entries": entries}
        raise BadData(
            f"incident {incident_id} has more than {100 * max_pages} log entries",
            field="log_entries", source=self.name,
            hint="read them with raw_log_entries(max_pages=...) and log_entry_events()",
        )  # fmt: skip

    def incident(self, incident_id: str) -> dict[str, Any]:
        """:func:`incident_facts` of one incident, its log entries included."""
        return incident_facts(self.raw_incident(incident_id), self.raw_log_entries(incident_id),
                              source=self.name)  # fmt: skip

    def events(self, incident_id: str, window: Window | None = None) -> pl.DataFrame:
        """The incident's log entries as events (see :func:`log_entry_events`)."""
        return log_entry_events(self.raw_log_entries(incident_id), window=window, source=self.name)
