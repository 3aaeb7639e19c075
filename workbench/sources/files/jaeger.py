"""Jaeger JSON into the spans frame.

Three shapes:

- UI export / query API v1 (``GET /api/traces``): ``{"data": [{"traceID", "spans",
  "processes"}]}``, one such trace object, or a list of spans with inline ``process``.
  ``startTime``/``duration`` are microseconds, tags ``{key, type, value}``.
- the internal domain model (``{"spans": [...], "processMap": [...]}``): base64 ids,
  RFC 3339 ``startTime``, Go-style ``duration`` ("5000ns", "1.5ms") and ``vStr``/
  ``vInt64``... tags.
- api-v3 (``GET /api/v3/traces``): ``{"result": {"resourceSpans": ...}}``, OTLP-shaped,
  read by :mod:`workbench.sources.files.otlp`.

Mapping: ``process.serviceName`` -> ``service``; process tags in the OTel resource
namespaces (``k8s.*``, ``host.*``, ``service.*``...) plus ``hostname``/``ip`` are kept in
``attributes``; the ``span.kind`` tag -> ``kind`` (absent -> ``unspecified``); the parent
is the first CHILD_OF reference in the same trace, else the first FOLLOWS_FROM in the
same trace (references to other traces are ignored, so such spans become roots).

Status: ``error`` when the ``error`` tag is true, or ``otel.status_code`` = ERROR, or a
server span has ``http.status_code``/``http.response.status_code`` >= 500; ``ok`` when
``otel.status_code`` = OK; else ``unset``. Duplicate span ids are kept (reported in the
source's warnings).

Example::

    >>> from workbench.sources.files import jaeger
    >>> jaeger.read_file("trace.json").frame
    >>> jaeger.parse(response.json(), source="jaeger")
"""

from __future__ import annotations

import re
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
    parse_time_ns,
    read_json_document,
    scalar_str,
)
from workbench.sources.files.otlp import RESOURCE_PREFIXES
from workbench.sources.files.zipkin import status_of

__all__ = ["SpansFile", "parse", "read_file"]

_KINDS = ("server", "client", "producer", "consumer", "internal")
_PROCESS_KEEP = ("hostname", "ip")
_GO_DUR = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 6e10, "h": 3.6e12}


@dataclass
class SpansFile:
    frame: pl.DataFrame
    problems: Problems


def _tag_value(t: dict[str, Any]) -> Any:
    if "value" in t:
        return t["value"]
    for k in ("vStr", "vBool", "vInt64", "vFloat64", "vBinary"):
        if k in t:
            return t[k]
    vtype = str(t.get("vType", "STRING")).upper()
    return {"BOOL": False, "INT64": 0, "FLOAT64": 0.0}.get(vtype, "")


def _tags(items: Any, problems: Problems, field: str) -> dict[str, str]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise problems.bad(f"{field} must be a list", field=field)
    out: dict[str, str] = {}
    for t in items:
        if not isinstance(t, dict) or not isinstance(t.get("key"), str):
            raise problems.bad(f"{field} holds a tag without a string key", field=field)
        v = scalar_str(_tag_value(t))
        if v is not None:
            out[t["key"]] = v
    return out


def _go_duration_ns(v: Any, problems: Problems, field: str) -> int:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return as_int(v, problems, field=field)  # already ns in some dumps
    if isinstance(v, str):
        s = v.strip()
        pos, total = 0, 0.0
        for m in _GO_DUR.finditer(s):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _GO_NS[m.group(2)]
            pos = m.end()
        if pos == len(s) and s:
            return round(total)
    raise problems.bad(f"duration {v!r} is not a duration like '5000ns' or '1.5ms'", field=field)


def parse(
    body: Any,
    *,
    source: str | None = None,
    path: str | None = None,
    on_error: OnError = "raise",
    problems: Problems | None = None,
) -> pl.DataFrame:
    """Decoded Jaeger JSON (any of the three shapes) -> spans frame."""
    problems = problems or Problems(path=path, source=source, on_error=check_on_error(on_error))
    if isinstance(body, dict) and ("result" in body or "resourceSpans" in body):
        from workbench.sources.files import otlp

        return otlp.parse_traces(body, problems=problems)
    rows = SpanRows()
    try:
        traces = _traces(body, problems)
    except _Skip:
        return rows.frame()
    for ti, (spans, processes) in enumerate(traces):
        for si, sp in enumerate(spans):
            where = f"data[{ti}].spans[{si}]"
            try:
                _add(sp, processes, rows, problems, where)
            except _Skip:
                continue
    return rows.frame()


def _traces(body: Any, problems: Problems) -> list[tuple[list[Any], dict[str, Any]]]:
    if isinstance(body, dict) and "data" in body:
        data = body["data"]
        if data is None:
            errors = body.get("errors")
            if errors:
                raise problems.bad(f"Jaeger answered with errors: {errors}", field="errors")
            return []
        if not isinstance(data, list):
            raise problems.bad("data must be a list of traces", field="data")
        out = []
        for i, t in enumerate(data):
            if not isinstance(t, dict):
                raise problems.bad(f"data[{i}] must be a trace object", field=f"data[{i}]")
            out.append(_one_trace(t, problems, f"data[{i}]"))
        return out
    if isinstance(body, dict) and "spans" in body:
        return [_one_trace(body, problems, "(trace)")]
    if isinstance(body, list):
        return [(body, {})]
    raise problems.bad(
        "not Jaeger JSON (expected data[], a trace with spans[], or a list of spans)",
        field="(document)",
    )


def _one_trace(
    t: dict[str, Any], problems: Problems, where: str
) -> tuple[list[Any], dict[str, Any]]:
    spans = t.get("spans")
    if not isinstance(spans, list):
        raise problems.bad(f"{where}.spans must be a list", field=f"{where}.spans")
    processes: dict[str, Any] = {}
    procs = t.get("processes")
    if isinstance(procs, dict):
        processes = procs
    pm = t.get("processMap")
    if isinstance(pm, list):
        for item in pm:
            if isinstance(item, dict):
                pid = item.get("processID") or item.get("processId")
                if pid:
                    processes[str(pid)] = item.get("process") or {}
    return spans, processes


def _add(
    sp: Any, processes: dict[str, Any], rows: SpanRows, problems: Problems, where: str
) -> None:
    if not isinstance(sp, dict):
        raise problems.bad(f"span {where} must be an object", field=where)
    f = where + "."
    v1 = "traceID" in sp
    trace_id = norm_id(
        sp.get("traceID") if v1 else sp.get("traceId"), problems, field=f + "traceID"
    )
    span_id = norm_id(sp.get("spanID") if v1 else sp.get("spanId"), problems, field=f + "spanID")
    if trace_id is None or span_id is None:
        key = "traceID" if trace_id is None else "spanID"
        raise problems.bad(f"span has no {key}", field=f + key)
    parent = _parent(sp, trace_id, problems, f)
    name = sp.get("operationName") or ""
    if not isinstance(name, str):
        raise problems.bad("operationName must be a string", field=f + "operationName")
    if "startTime" not in sp:
        raise problems.bad("span has no startTime", field=f + "startTime")
    st = sp["startTime"]
    if isinstance(st, str) and not st.strip().isdigit():
        start = parse_time_ns(st, problems, field=f + "startTime")
        dur_ns = _go_duration_ns(sp.get("duration", "0ns"), problems, f + "duration")
    else:
        start = as_int(st, problems, field=f + "startTime") * 1000
        dur_ns = as_int(sp.get("duration", 0), problems, field=f + "duration") * 1000
    if dur_ns < 0:
        raise problems.bad(f"duration {dur_ns} ns is negative", field=f + "duration")
    end = start + dur_ns
    check_span_times(
        start,
        end,
        problems,
        fields=(f + "startTime", f + "duration"),
        line=None,
        unit="ns" if not v1 else "us",
    )
    tags = _tags(sp.get("tags"), problems, f + "tags")
    proc = sp.get("process")
    if proc is None:
        pid = sp.get("processID") or sp.get("processId")
        proc = processes.get(str(pid)) if pid is not None else None
    service = None
    attrs: dict[str, Any] = {}
    if isinstance(proc, dict):
        service = proc.get("serviceName") or None
        ptags = _tags(proc.get("tags"), problems, f + "process.tags")
        attrs.update(
            {
                k: v
                for k, v in ptags.items()
                if k.startswith(RESOURCE_PREFIXES) or k in _PROCESS_KEEP
            }
        )
    kind_tag = str(tags.pop("span.kind", "")).lower()
    kind = kind_tag if kind_tag in _KINDS else "unspecified"
    attrs.update(tags)
    rows.add(
        trace_id=trace_id,
        span_id=span_id,
        parent=parent,
        service=str(service) if service else None,
        name=name,
        kind=kind,
        start_ns=start,
        end_ns=end,
        status=status_of(tags, kind),
        attributes=attrs,
    )


def _parent(sp: dict[str, Any], trace_id: str, problems: Problems, f: str) -> str | None:
    explicit = sp.get("parentSpanID")
    if explicit not in (None, "", "0"):
        return norm_id(explicit, problems, field=f + "parentSpanID")
    refs = sp.get("references") or []
    if not isinstance(refs, list):
        raise problems.bad("references must be a list", field=f + "references")
    fallback = None
    for r in refs:
        if not isinstance(r, dict):
            continue
        rt = norm_id(r.get("traceID", r.get("traceId")), problems, field=f + "references.traceID")
        if rt != trace_id:
            continue
        rid = norm_id(r.get("spanID", r.get("spanId")), problems, field=f + "references.spanID")
        ref_type = str(r.get("refType", "CHILD_OF")).upper()
        if ref_type == "CHILD_OF":
            return rid
        if fallback is None:
            fallback = rid
    return fallback


def read_file(
    path: str | Path, *, source: str | None = None, on_error: OnError = "raise"
) -> SpansFile:
    """Read a Jaeger JSON file (any of the shapes in the module docstring)."""
    body, problems = read_json_document(path, source=source, on_error=on_error, what="Jaeger JSON")
    return SpansFile(parse(body, problems=problems), problems)
