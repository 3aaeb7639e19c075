"""Change and alert events into the events frame (formats of LAB_FORMAT.md).

- Argo CD ``Application`` objects (JSON array or ``{"items": [...]}``): each
  ``status.history[]`` entry -> ``deploy`` (``ts`` deployStartedAt, ``end`` deployedAt,
  title ``deploy <app> <targetRevision>``); an entry whose revision equals one from an
  earlier entry that was not the previous one -> ``rollback``. Source ``argocd``.
- Argo Rollouts Kubernetes ``Event`` objects (``involvedObject.kind == "Rollout"``):
  RolloutUpdated, RolloutStepCompleted, RolloutCompleted -> ``deploy``; RolloutAborted ->
  ``rollback``; other reasons -> ``annotation`` (kept, not dropped). Source
  ``argo-rollouts``.
- Alertmanager webhook payloads, one JSON object per line: one row per alert
  (fingerprint, startsAt), the latest notification wins; ``end`` is endsAt, null while
  firing or when it is ``0001-01-01T00:00:00Z``. Attributes: ``status``,
  ``fingerprint``, ``labels.<name>``, ``annotations.<name>``, ``generatorURL``,
  ``receiver``. Source ``alertmanager``.
- Chaos Mesh objects (multi-document YAML): ``ts`` first Apply record (else
  creationTimestamp), ``end`` last Recover (else ts + spec.duration), title
  ``<Kind> <action> on <service>``. Source ``chaos-mesh``.

Example::

    >>> from workbench.sources.files import events
    >>> events.read_file("events/alertmanager-webhook.jsonl").frame
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench import frames
from workbench.errors import BadData
from workbench.sources.files import compressed
from workbench.sources.files._common import (
    OnError,
    Problems,
    _Skip,
    check_on_error,
    iter_json_lines,
    loads_document,
    ns_series,
    parse_time_ns,
    read_text,
    scalar_str,
)

__all__ = [
    "EventsFile",
    "parse_alertmanager",
    "parse_argocd",
    "parse_chaos_mesh",
    "parse_rollouts",
    "read_file",
]

ZERO_TIME = "0001-01-01T00:00:00Z"


class _Rows:
    def __init__(self) -> None:
        self.rows: list[tuple[int, int | None, str, str | None, str, str, dict[str, Any]]] = []

    def add(
        self,
        ts: int,
        end: int | None,
        kind: str,
        service: str | None,
        title: str,
        source: str,
        attrs: dict[str, Any],
    ) -> None:
        svc = scalar_str(service) if service not in (None, "") else None
        self.rows.append((ts, end, kind, svc, str(title), source, attrs))

    def frame(self) -> pl.DataFrame:
        r = self.rows
        return pl.DataFrame(
            {
                "ts": ns_series([x[0] for x in r], "ts"),
                "end": ns_series([x[1] for x in r], "end"),
                "kind": pl.Series([x[2] for x in r], dtype=pl.String),
                "service": pl.Series([x[3] for x in r], dtype=pl.String),
                "title": pl.Series([x[4] for x in r], dtype=pl.String),
                "source": pl.Series([x[5] for x in r], dtype=pl.String),
                "attributes": frames.kv_from_dicts(x[6] for x in r),
            }
        )


def _get(obj: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def _obj(v: Any, problems: Problems, *, field: str, line: int | None) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise problems.bad(
            f"{field} must be an object, got {type(v).__name__}", line=line, field=field
        )
    return v


def _time(v: Any, problems: Problems, *, field: str, line: int | None) -> int:
    if v is None or v == "":
        raise problems.bad(f"{field} is missing", line=line, field=field)
    return parse_time_ns(v, problems, field=field, line=line)


def _items(body: Any, problems: Problems, what: str) -> list[Any]:
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return body["items"]
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        return [body]
    raise problems.bad(f"expected a JSON array of {what}", field="(document)")


# ---------------------------------------------------------------------------------------
# Argo CD


def parse_argocd(
    body: Any, *, source: str | None = None, problems: Problems | None = None
) -> pl.DataFrame:
    """Argo CD Application objects -> deploy/rollback events."""
    problems = problems or Problems(source=source)
    rows = _Rows()
    for i, app in enumerate(_items(body, problems, "Argo CD Applications")):
        where = f"[{i}]"
        try:
            app = _obj(app, problems, field=where, line=None)
            name = _get(app, "metadata", "name")
            if not isinstance(name, str) or not name:
                raise problems.bad(
                    "Application has no metadata.name", field=f"{where}.metadata.name"
                )
            history = _get(app, "status", "history") or []
            if not isinstance(history, list):
                raise problems.bad("status.history must be a list", field=f"{where}.status.history")
        except _Skip:
            continue
        entries: list[tuple[int, dict[str, Any], int | None]] = []
        for j, h in enumerate(history):
            f = f"{where}.status.history[{j}]"
            try:
                h = _obj(h, problems, field=f, line=None)
                started = h.get("deployStartedAt") or h.get("deployedAt")
                ts = _time(started, problems, field=f"{f}.deployStartedAt", line=None)
                end = (
                    _time(h["deployedAt"], problems, field=f"{f}.deployedAt", line=None)
                    if h.get("deployedAt")
                    else None
                )
                entries.append((ts, h, end if end is None or end >= ts else None))
            except _Skip:
                continue
        entries.sort(key=lambda e: (e[1].get("id") if isinstance(e[1].get("id"), int) else 0, e[0]))
        seen: list[str] = []
        for ts, h, end in entries:
            src = s if isinstance(s := h.get("source"), dict) else {}
            rev = str(src.get("targetRevision") or h.get("revision") or "")
            kind = "rollback" if rev and rev in seen[:-1] else "deploy"
            title = (
                f"{kind} {name} {rev}".strip() if kind == "deploy" else f"rollback {name} to {rev}"
            )
            attrs = {
                "application": name,
                "namespace": _get(app, "metadata", "namespace"),
                "history_id": h.get("id"),
                "revision": h.get("revision"),
                "target_revision": rev or None,
                "repo_url": src.get("repoURL"),
                "path": src.get("path"),
            }
            rows.add(ts, end, kind, name, title, "argocd", attrs)
            seen.append(rev)
    return rows.frame()


# ---------------------------------------------------------------------------------------
# Argo Rollouts events

_ROLLOUT_KINDS = {
    "RolloutUpdated": "deploy",
    "RolloutStepCompleted": "deploy",
    "RolloutCompleted": "deploy",
    "RolloutAborted": "rollback",
}


def parse_rollouts(
    body: Any, *, source: str | None = None, problems: Problems | None = None
) -> pl.DataFrame:
    """Kubernetes Event objects from Argo Rollouts -> deploy/rollback/annotation events."""
    problems = problems or Problems(source=source)
    rows = _Rows()
    for i, ev in enumerate(_items(body, problems, "Kubernetes Events")):
        where = f"[{i}]"
        try:
            ev = _obj(ev, problems, field=where, line=None)
            inv = ev.get("involvedObject") or {}
            if not isinstance(inv, dict):
                raise problems.bad(
                    "involvedObject must be an object", field=f"{where}.involvedObject"
                )
            if inv.get("kind") not in ("Rollout", None):
                continue  # events of other objects are not rollout changes
            reason = str(ev.get("reason") or "")
            first = (
                ev.get("firstTimestamp")
                or ev.get("eventTime")
                or _get(ev, "metadata", "creationTimestamp")
            )
            ts = _time(first, problems, field=f"{where}.firstTimestamp", line=None)
            last = ev.get("lastTimestamp")
            end = _time(last, problems, field=f"{where}.lastTimestamp", line=None) if last else None
        except _Skip:
            continue
        service = inv.get("name")
        message = str(ev.get("message") or "")
        kind = _ROLLOUT_KINDS.get(reason, "annotation")
        title = f"{reason} {service}: {message}" if message else f"{reason} {service}"
        attrs = {
            "reason": reason,
            "type": ev.get("type"),
            "message": message or None,
            "count": ev.get("count"),
            "namespace": inv.get("namespace") or _get(ev, "metadata", "namespace"),
            "rollout": service,
        }
        if reason == "RolloutAborted":
            attrs["rollback"] = "automatic"
        m = re.search(r"Step (\d+)/(\d+)", message)
        if m:
            attrs["canary.step"] = m.group(1)
            attrs["canary.steps"] = m.group(2)
        w = re.search(r"setWeight: (\d+)", message)
        if w:
            attrs["canary.weight"] = w.group(1)
        rows.add(ts, end if end is not None and end > ts else None, kind, service, title,
                 "argo-rollouts", attrs)  # fmt: skip
    return rows.frame()


# ---------------------------------------------------------------------------------------
# Alertmanager webhook


def parse_alertmanager(
    payloads: Any,
    *,
    source: str | None = None,
    problems: Problems | None = None,
) -> pl.DataFrame:
    """Alertmanager webhook payloads -> alert events.

    ``payloads``: one decoded payload, a list of them, or ``[(line, payload), ...]``
    (line numbers for error messages, as :func:`read_file` passes them).
    """
    problems = problems or Problems(source=source)
    if isinstance(payloads, dict):
        payloads = [payloads]
    if not isinstance(payloads, list):
        raise problems.bad("expected webhook payload objects", field="(document)")
    pairs = [p if isinstance(p, tuple) and len(p) == 2 else (None, p) for p in payloads]
    latest: dict[tuple[str, int], tuple[int, int | None, str | None, str, dict[str, Any]]] = {}
    for line, payload in pairs:
        try:
            payload = _obj(payload, problems, field="(payload)", line=line)
            alerts = payload.get("alerts")
            if not isinstance(alerts, list):
                raise problems.bad("payload has no alerts list", line=line, field="alerts")
        except _Skip:
            continue
        for k, a in enumerate(alerts):
            f = f"alerts[{k}]"
            try:
                a = _obj(a, problems, field=f, line=line)
                labels = a.get("labels") or {}
                ann = a.get("annotations") or {}
                if not isinstance(labels, dict) or not isinstance(ann, dict):
                    raise problems.bad(
                        "labels/annotations must be objects", line=line, field=f"{f}.labels"
                    )
                ts = _time(a.get("startsAt"), problems, field=f"{f}.startsAt", line=line)
                status = str(a.get("status") or payload.get("status") or "")
                ends = a.get("endsAt")
                end = None
                if ends and ends != ZERO_TIME and status != "firing":
                    end = _time(ends, problems, field=f"{f}.endsAt", line=line)
            except _Skip:
                continue
            name = str(labels.get("alertname") or "alert")
            summary = ann.get("summary") or ann.get("description")
            title = f"{name}: {summary}" if summary else name
            fp = str(a.get("fingerprint") or json.dumps(labels, sort_keys=True))
            attrs: dict[str, Any] = {
                "status": status,
                "fingerprint": a.get("fingerprint"),
                "generatorURL": a.get("generatorURL"),
                "receiver": payload.get("receiver"),
                "groupKey": payload.get("groupKey"),
            }
            attrs.update({f"labels.{k2}": v for k2, v in labels.items()})
            attrs.update({f"annotations.{k2}": v for k2, v in ann.items()})
            service = labels.get("service")
            latest[(fp, ts)] = (ts, end if end is None or end >= ts else None,
                                str(service) if service else None, title, attrs)  # fmt: skip
    rows = _Rows()
    for ts, end, service, title, attrs in latest.values():
        rows.add(ts, end, "alert", service, title, "alertmanager", attrs)
    return rows.frame()


# ---------------------------------------------------------------------------------------
# Chaos Mesh

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DUR_NS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


def _go_duration_ns(text: Any) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _DUR_NS[m.group(2)]
        pos = m.end()
    return int(total) if pos == len(text) else None


def parse_chaos_mesh(
    docs: list[Any], *, source: str | None = None, problems: Problems | None = None
) -> pl.DataFrame:
    """Chaos Mesh objects (decoded YAML documents) -> chaos events."""
    problems = problems or Problems(source=source)
    rows = _Rows()
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        where = f"document {i + 1}"
        try:
            doc = _obj(doc, problems, field=where, line=None)
            kind = str(doc.get("kind") or "")
            if not kind.endswith("Chaos") and kind != "Schedule" and kind != "Workflow":
                raise problems.bad(f"{where} is {kind or 'untyped'}, not a Chaos Mesh object",
                                   field=f"{where}.kind")  # fmt: skip
            meta = doc.get("metadata") or {}
            spec = doc.get("spec") or {}
            if not isinstance(meta, dict) or not isinstance(spec, dict):
                raise problems.bad("metadata/spec must be objects", field=f"{where}.spec")
            applies: list[int] = []
            recovers: list[int] = []
            records = _get(doc, "status", "experiment", "containerRecords") or []
            for r in records if isinstance(records, list) else []:
                evs = r.get("events") if isinstance(r, dict) else None
                for ev in evs if isinstance(evs, list) else []:
                    if not isinstance(ev, dict) or ev.get("type", "Succeeded") != "Succeeded":
                        continue
                    t = _time(
                        ev.get("timestamp"), problems, field=f"{where}.events.timestamp", line=None
                    )
                    (applies if ev.get("operation") == "Apply" else recovers).append(t)
            if applies:
                ts = min(applies)
            else:
                ts = _time(meta.get("creationTimestamp"), problems,
                           field=f"{where}.metadata.creationTimestamp", line=None)  # fmt: skip
        except _Skip:
            continue
        dur = _go_duration_ns(spec.get("duration"))
        if recovers and max(recovers) >= ts:
            end: int | None = max(recovers)
        elif dur is not None:
            end = ts + dur
        else:
            end = None
        sel = _get(spec, "selector", "labelSelectors") or {}
        service = None
        if isinstance(sel, dict):
            service = (
                sel.get("app")
                or sel.get("app.kubernetes.io/name")
                or next(iter(sel.values()), None)
            )
        action = spec.get("action")
        if not action and isinstance(spec.get("stressors"), dict):
            action = "+".join(sorted(spec["stressors"]))
        action = str(action or "fault")
        title = f"{kind} {action} on {service or 'unknown'}"
        attrs = {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "chaos.kind": kind,
            "chaos.action": action,
            "chaos.duration": spec.get("duration"),
            "chaos.mode": spec.get("mode"),
            "spec": json.dumps(spec, sort_keys=True, default=str),
        }
        rows.add(ts, end, "chaos", str(service) if service else None, title, "chaos-mesh", attrs)
    return rows.frame()


# ---------------------------------------------------------------------------------------
# files


@dataclass
class EventsFile:
    frame: pl.DataFrame
    problems: Problems
    format: str


FORMATS = ("argocd", "argo-rollouts", "alertmanager", "chaos-mesh")


# The lab layout's event files are known by name (they may be empty).
LAB_EVENT_FILES = {
    "argocd-applications.json": "argocd",
    "rollouts-events.json": "argo-rollouts",
    "alertmanager-webhook.jsonl": "alertmanager",
    "chaos-mesh.yaml": "chaos-mesh",
}


def detect_format(path: Path, head: str) -> str | None:
    """Which events format a file holds, from its name and first bytes."""
    name = path.name.lower()
    if name in LAB_EVENT_FILES:
        return LAB_EVENT_FILES[name]
    if name.endswith((".yaml", ".yml")):
        return "chaos-mesh" if "chaos-mesh.org" in head else None
    if '"alerts"' in head and ('"groupKey"' in head or '"receiver"' in head):
        return "alertmanager"
    if "argoproj.io" in head and '"Application"' in head:
        return "argocd"
    if '"involvedObject"' in head:
        return "argo-rollouts"
    return None


def read_file(
    path: str | Path,
    *,
    format: str | None = None,
    source: str | None = None,
    on_error: OnError = "raise",
) -> EventsFile:
    """Read one events file; ``format`` is detected from name and content unless given
    (one of ``argocd``, ``argo-rollouts``, ``alertmanager``, ``chaos-mesh``)."""
    p = Path(path)
    problems = Problems(path=str(p), source=source, on_error=check_on_error(on_error))
    text = read_text(p, problems)
    fmt = format or detect_format(Path(compressed.inner_name(p)), text[:8192])
    if fmt not in FORMATS:
        raise BadData(
            f"{p.name}: not a known events format",
            path=str(p),
            source=source,
            hint=f"pass format= one of {', '.join(FORMATS)}",
        )
    if not text.strip():
        return EventsFile(frames.empty("events"), problems, fmt)
    parsers: dict[str, Callable[..., pl.DataFrame]] = {
        "argocd": parse_argocd,
        "argo-rollouts": parse_rollouts,
    }
    if fmt == "alertmanager":
        stripped = text.lstrip()
        if stripped.startswith("["):
            body = loads_document(text, problems, what="Alertmanager JSON")
            payloads: list[tuple[int | None, Any]] = (
                [(None, b) for b in body] if isinstance(body, list) else [(None, body)]
            )
        else:
            payloads = list(iter_json_lines(text, problems))
        df = parse_alertmanager(payloads, problems=problems)
    elif fmt == "chaos-mesh":
        df = parse_chaos_mesh(_load_yaml(text, problems), problems=problems)
    else:
        df = parsers[fmt](loads_document(text, problems, what=fmt + " JSON"), problems=problems)
    return EventsFile(df, problems, fmt)


def _load_yaml(text: str, problems: Problems) -> list[Any]:
    """Every YAML document of ``text``; aliases refused (no expansion bombs)."""
    from workbench.limits import load_yaml

    return load_yaml(
        text,
        where=str(problems.path),
        all_documents=True,
        source=problems.source,
    )
