"""Zipkin v2 JSON into the spans frame.

Accepts a list of spans (``GET /api/v2/trace/{id}``, the UI's JSON download) or a list of
traces (``GET /api/v2/traces``: a list of span lists).

Mapping: ``localEndpoint.serviceName`` -> ``service`` (null when absent);
``kind`` SERVER/CLIENT/PRODUCER/CONSUMER -> lower-case, absent -> ``unspecified``;
``timestamp``/``duration`` are microseconds; ``tags`` -> ``attributes`` as they are,
plus ``peer.service`` from ``remoteEndpoint.serviceName`` and ``zipkin.shared``.

Status: ``error`` when the span has an ``error`` tag (any value, as the Zipkin UI
does), or ``otel.status_code`` = ERROR, or it is a SERVER span with
``http.status_code``/``http.response.status_code`` >= 500; ``ok`` when
``otel.status_code`` = OK; otherwise ``unset``.

Incomplete spans (Zipkin allows both times to be absent): a span without ``timestamp``
takes it from another span with the same id (the other half of a shared span), else from
its earliest annotation; if none exists it is left out and the result is partial. A span
without ``duration`` takes it from a same-id span of the same service, else gets
duration 0 and ``workbench.incomplete = duration`` (reported in warnings). Rows that were
filled carry ``workbench.inferred = timestamp``. Duplicate ids (shared client/server
spans) are all kept.

Example::

    >>> from workbench.sources.files import zipkin
    >>> zipkin.read_file("trace.json").frame
    >>> zipkin.parse(json.loads(body), source="zipkin")
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.sources.files._common import (
    OnError,
    Problems,
    SpanRows,
    _Skip,
    as_int,
    check_on_error,
    check_span_times,
    norm_id,
    read_json_document,
    scalar_str,
)

__all__ = ["SpansFile", "parse", "read_file", "status_of"]

_KINDS = {"SERVER": "server", "CLIENT": "client", "PRODUCER": "producer", "CONSUMER": "consumer"}


@dataclass
class SpansFile:
    frame: pl.DataFrame
    problems: Problems


def status_of(tags: dict[str, str], kind: str) -> str:
    """Span status from Zipkin/Jaeger-style tags (see the module docstring)."""
    if "error" in tags and str(tags["error"]).lower() != "false":
        return "error"
    code = str(tags.get("otel.status_code", "")).upper()
    if code == "ERROR":
        return "error"
    if kind == "server":
        http = tags.get("http.response.status_code") or tags.get("http.status_code")
        try:
            if http is not None and int(float(http)) >= 500:
                return "error"
        except ValueError:
            pass
    if code == "OK":
        return "ok"
    return "unset"


def _spans_of(body: Any, problems: Problems) -> list[tuple[str, Any]]:
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        body = body["data"]
    if not isinstance(body, list):
        raise problems.bad(
            f"Zipkin JSON must be a list of spans or traces, got {type(body).__name__}",
            field="(document)",
        )
    out: list[tuple[str, Any]] = []
    for i, item in enumerate(body):
        if isinstance(item, list):
            out.extend((f"[{i}][{j}]", sp) for j, sp in enumerate(item))
        else:
            out.append((f"[{i}]", item))
    return out


def parse(
    body: Any,
    *,
    source: str | None = None,
    path: str | None = None,
    on_error: OnError = "raise",
    problems: Problems | None = None,
) -> pl.DataFrame:
    """Decoded Zipkin v2 JSON (list of spans or of traces) -> spans frame."""
    problems = problems or Problems(path=path, source=source, on_error=check_on_error(on_error))
    try:
        items = _spans_of(body, problems)
    except _Skip:
        items = []
    recs: list[dict[str, Any]] = []
    for where, sp in items:
        try:
            recs.append(_prepare(sp, where, problems))
        except _Skip:
            continue
    # fill missing times from same-id halves and annotations
    by_id: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in recs:
        by_id.setdefault((r["trace_id"], r["span_id"]), []).append(r)
    rows = SpanRows()
    no_time: list[str] = []
    no_duration = 0
    for r in recs:
        attrs = r["attrs"]
        ts = r["ts"]
        if ts is None:
            same = [o for o in by_id[(r["trace_id"], r["span_id"])] if o["ts"] is not None]
            same.sort(key=lambda o: o["service"] != r["service"])
            if same:
                ts = same[0]["ts"]
            elif r["annotations"]:
                ts = min(r["annotations"])
            if ts is None:
                no_time.append(r["where"])
                continue
            attrs["workbench.inferred"] = "timestamp"
        dur = r["duration"]
        if dur is None:
            same = [
                o
                for o in by_id[(r["trace_id"], r["span_id"])]
                if o["duration"] is not None and o["service"] == r["service"]
            ]
            if same:
                dur = same[0]["duration"]
                attrs["workbench.inferred"] = "timestamp" if r["ts"] is None else "duration"
            else:
                dur = 0
                attrs["workbench.incomplete"] = "duration"
                no_duration += 1
        start, end = ts * 1000, (ts + dur) * 1000
        try:
            check_span_times(
                start,
                end,
                problems,
                fields=(r["where"] + ".timestamp", r["where"] + ".duration"),
                line=None,
                unit="us",
            )
        except _Skip:
            continue
        rows.add(
            trace_id=r["trace_id"],
            span_id=r["span_id"],
            parent=r["parent"],
            service=r["service"],
            name=r["name"],
            kind=r["kind"],
            start_ns=start,
            end_ns=end,
            status=status_of(r["tags"], r["kind"]),
            attributes=attrs,
        )
    if no_time:
        problems.incomplete.append(
            f"{len(no_time)} Zipkin span(s) without timestamp, annotations or a timed "
            f"same-id span left out (first {no_time[0]})"
        )
    if no_duration:
        problems.warnings.append(
            f"{no_duration} Zipkin span(s) without duration kept with duration 0 "
            "(attribute workbench.incomplete=duration)"
        )
    return rows.frame()


def _prepare(sp: Any, where: str, problems: Problems) -> dict[str, Any]:
    if not isinstance(sp, dict):
        raise problems.bad(f"span {where} must be an object", field=where)
    f = where + "."
    trace_id = norm_id(sp.get("traceId"), problems, field=f + "traceId")
    span_id = norm_id(sp.get("id"), problems, field=f + "id")
    if trace_id is None or span_id is None:
        key = "traceId" if trace_id is None else "id"
        raise problems.bad(f"span has no {key}", field=f + key)
    parent = norm_id(sp.get("parentId"), problems, field=f + "parentId")
    name = sp.get("name") or ""
    if not isinstance(name, str):
        raise problems.bad("span name must be a string", field=f + "name")
    kind_raw = sp.get("kind")
    if kind_raw is None:
        kind = "unspecified"
    elif isinstance(kind_raw, str) and kind_raw.upper() in _KINDS:
        kind = _KINDS[kind_raw.upper()]
    else:
        raise problems.bad(f"kind {kind_raw!r} is not a Zipkin span kind", field=f + "kind")
    ts = _micros(sp.get("timestamp"), problems, f + "timestamp")
    dur = _micros(sp.get("duration"), problems, f + "duration")
    if dur is not None and dur < 0:
        raise problems.bad(f"duration {dur} is negative", field=f + "duration")
    local = sp.get("localEndpoint") or {}
    remote = sp.get("remoteEndpoint") or {}
    if not isinstance(local, dict) or not isinstance(remote, dict):
        raise problems.bad("endpoints must be objects", field=f + "localEndpoint")
    service = local.get("serviceName") or None
    tags = sp.get("tags") or {}
    if not isinstance(tags, dict):
        raise problems.bad("tags must be an object", field=f + "tags")
    tags = {str(k): scalar_str(v) or "" for k, v in tags.items()}
    attrs: dict[str, Any] = dict(tags)
    if remote.get("serviceName"):
        attrs.setdefault("peer.service", remote["serviceName"])
    if sp.get("shared"):
        attrs["zipkin.shared"] = "true"
    annotations: list[int] = []
    anns = sp.get("annotations") or []
    if not isinstance(anns, list):
        raise problems.bad("annotations must be a list", field=f + "annotations")
    for a in anns:
        if isinstance(a, dict) and isinstance(a.get("timestamp"), int | float):
            t = a["timestamp"]
            if isinstance(t, int) or math.isfinite(t):
                annotations.append(int(t))
    return {
        "where": where,
        "trace_id": trace_id,
        "span_id": span_id,
        "parent": parent,
        "service": str(service) if service else None,
        "name": name,
        "kind": kind,
        "ts": ts,
        "duration": dur,
        "tags": tags,
        "attrs": attrs,
        "annotations": annotations,
    }


def _micros(v: Any, problems: Problems, field: str) -> int | None:
    if v is None:
        return None
    return as_int(v, problems, field=field)


def read_file(
    path: str | Path, *, source: str | None = None, on_error: OnError = "raise"
) -> SpansFile:
    """Read a Zipkin v2 JSON file (see the module docstring)."""
    body, problems = read_json_document(path, source=source, on_error=on_error, what="Zipkin JSON")
    return SpansFile(parse(body, problems=problems), problems)
