"""OTLP JSON: traces into the spans frame, logs into the logs frame.

Reads the OTLP/HTTP JSON encoding (``{"resourceSpans": [...]}`` /
``{"resourceLogs": [...]}``) as one document, or as JSON lines the way the OpenTelemetry
Collector's file exporter writes it (one request object per line). Also accepted: Tempo's
``{"batches": [...]}`` and Jaeger api-v3's ``{"result": {"resourceSpans": [...]}}``
wrappers.

Mapping to the spans frame:

- ids: hex (any case) or base64 (protobuf JSON, Tempo) -> lower-case hex; an empty or
  all-zero ``parentSpanId`` -> null (a root span).
- ``kind``: int 0..5 or ``"SPAN_KIND_SERVER"``/``"server"`` -> ``frames.SPAN_KINDS`` names.
- ``status.code``: 0/1/2 or ``"STATUS_CODE_OK"``... -> ``unset``/``ok``/``error``.
- resource ``service.name`` -> ``service``; other resource attributes in the OTel
  resource namespaces (``service.*``, ``k8s.*``, ``host.*``, ``container.*``,
  ``deployment.*``, ``cloud.*``) are kept in ``attributes``; span attributes win on a clash.
  The scope name goes to ``otel.scope.name``, ``status.message`` to
  ``otel.status_description``, and an ``exception`` span event's type/message to
  ``exception.type``/``exception.message``.
- ``duration_ms`` from the exact nanosecond start/end; times outside 1990..2200 (a wrong
  unit) and spans that end before they start are bad data.

Example::

    >>> from workbench.sources.files import otlp
    >>> spans = otlp.read_file("traces/traces.otlp.jsonl").frame
    >>> otlp.parse_traces(json.loads(body), source="tempo")     # a decoded HTTP body
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.errors import BadData
from workbench.sources.files._common import (
    MAX_NS,
    MIN_NS,
    KVBuilder,
    OnError,
    Problems,
    SpanRows,
    _Skip,
    as_int,
    check_ns,
    check_on_error,
    check_span_times,
    iter_json_lines,
    loads_document,
    norm_id,
    norm_level,
    ns_series,
    read_text,
    scalar_str,
)
from workbench.sources.files._problems import lone_surrogate

__all__ = ["OtlpFile", "any_value", "parse_logs", "parse_traces", "read_file"]

_LOWER_HEX = re.compile(r"[0-9a-f]+")
KIND_BY_INT = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUS_BY_INT = ("unset", "ok", "error")
RESOURCE_PREFIXES = ("service.", "k8s.", "host.", "container.", "deployment.", "cloud.")


# ---------------------------------------------------------------------------------------
# values


def any_value(v: Any) -> Any:
    """Decode an OTLP ``AnyValue`` (``{"stringValue": ...}``, ``{"intValue": "10"}``,
    arrays, kvlists) into a plain Python value."""
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        iv = v["intValue"]
        try:
            return int(iv)
        except (TypeError, ValueError, OverflowError):
            return iv
    if "doubleValue" in v:
        return v["doubleValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "bytesValue" in v:
        return v["bytesValue"]
    if "arrayValue" in v:
        vals = (v["arrayValue"] or {}).get("values") or []
        return [any_value(x) for x in vals] if isinstance(vals, list) else vals
    if "kvlistValue" in v:
        vals = (v["kvlistValue"] or {}).get("values") or []
        if isinstance(vals, list):
            return {
                str(kv.get("key")): any_value(kv.get("value"))
                for kv in vals
                if isinstance(kv, dict)
            }
        return vals
    return None


def _attrs(items: Any, problems: Problems, *, field: str, line: int | None) -> dict[str, str]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise problems.bad(
            f"{field} must be a list of key/value objects, got {type(items).__name__}",
            line=line,
            field=field,
        )
    out: dict[str, str] = {}
    for kv in items:
        if type(kv) is not dict or type(key := kv.get("key")) is not str:
            raise problems.bad(
                f"{field} holds an entry without a string key", line=line, field=field
            )
        v = kv.get("value")
        if type(v) is dict and type(sv := v.get("stringValue")) is str:
            out[key] = sv
            continue
        val = scalar_str(any_value(v))
        if val is not None:
            out[key] = val
    return out


def _list(obj: Any, key: str, problems: Problems, *, field: str, line: int | None) -> list[Any]:
    v = obj.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise problems.bad(
            f"{field}{key} must be a list, got {type(v).__name__}", line=line, field=f"{field}{key}"
        )
    return v


def _kind(v: Any, problems: Problems, *, field: str, line: int | None) -> str:
    if v is None:
        return "unspecified"
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(KIND_BY_INT):
        return KIND_BY_INT[v]
    if isinstance(v, str):
        s = v.strip().lower().removeprefix("span_kind_")
        if s in KIND_BY_INT:
            return s
        if s.isdigit() and len(s) < 4 and int(s) < len(KIND_BY_INT):
            return KIND_BY_INT[int(s)]
    raise problems.bad(f"{field} {v!r} is not a span kind", line=line, field=field)


def _status(v: Any, problems: Problems, *, field: str, line: int | None) -> tuple[str, str | None]:
    if v is None:
        return "unset", None
    if not isinstance(v, dict):
        raise problems.bad(f"{field} must be an object", line=line, field=field)
    code = v.get("code")
    msg = v.get("message") or None
    if code is None:
        return "unset", msg
    if isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 2:
        return STATUS_BY_INT[code], msg
    if isinstance(code, str):
        s = code.strip().lower().removeprefix("status_code_")
        if s in STATUS_BY_INT:
            return s, msg
    raise problems.bad(
        f"{field}.code {code!r} is not a status code", line=line, field=f"{field}.code"
    )


def _is_dict(v: Any, problems: Problems, *, field: str, line: int | None) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise problems.bad(
            f"{field} must be an object, got {type(v).__name__}", line=line, field=field
        )
    return v


# ---------------------------------------------------------------------------------------
# traces


def _unwrap_traces(body: Any, problems: Problems, line: int | None) -> list[Any]:
    if isinstance(body, list):  # a list of requests
        out: list[Any] = []
        for b in body:
            out.extend(_unwrap_traces(b, problems, line))
        return out
    body = _is_dict(body, problems, field="(document)", line=line)
    if "result" in body and isinstance(body["result"], dict | list):  # Jaeger api-v3
        return _unwrap_traces(body["result"], problems, line)
    for key in ("resourceSpans", "batches"):
        if key in body:
            return _list(body, key, problems, field="", line=line)
    if "trace" in body and isinstance(body["trace"], dict):  # Tempo v2 trace-by-id
        return _unwrap_traces(body["trace"], problems, line)
    if not body:  # proto3 JSON omits empty lists: {} is a request with no spans
        return []
    raise problems.bad(
        "not an OTLP trace document (no resourceSpans)", line=line, field="resourceSpans"
    )


def _resource_attrs(
    block: dict[str, Any], problems: Problems, base: str, line: int | None
) -> dict[str, str]:
    """The flattened ``resource.attributes`` of a resourceSpans/resourceLogs block."""
    res = block.get("resource") or {}
    return _attrs(
        res.get("attributes") if isinstance(res, dict) else res,
        problems,
        field=f"{base}.resource.attributes",
        line=line,
    )


def _add_traces(body: Any, rows: SpanRows, problems: Problems, line: int | None) -> None:
    try:
        resource_spans = _unwrap_traces(body, problems, line)
    except _Skip:
        return
    for i, rs in enumerate(resource_spans):
        rbase = f"resourceSpans[{i}]"
        try:
            rs = _is_dict(rs, problems, field=rbase, line=line)
            rattrs = _resource_attrs(rs, problems, rbase, line)
            scopes = _list(rs, "scopeSpans", problems, field=f"{rbase}.", line=line)
            if not scopes and "instrumentationLibrarySpans" in rs:  # OTLP < 0.15
                scopes = _list(
                    rs, "instrumentationLibrarySpans", problems, field=f"{rbase}.", line=line
                )
        except _Skip:
            continue
        service = rattrs.pop("service.name", None)
        keep = {k: v for k, v in rattrs.items() if k.startswith(RESOURCE_PREFIXES)}
        for j, ss in enumerate(scopes):
            sbase = f"{rbase}.scopeSpans[{j}]"
            try:
                ss = _is_dict(ss, problems, field=sbase, line=line)
                scope = ss.get("scope") or ss.get("instrumentationLibrary") or {}
                spans = _list(ss, "spans", problems, field=f"{sbase}.", line=line)
            except _Skip:
                continue
            base_attrs = dict(keep)
            if isinstance(scope, dict) and scope.get("name"):
                base_attrs["otel.scope.name"] = str(scope["name"])
            for k, sp in enumerate(spans):
                try:
                    _add_span(sp, rows, problems, service, base_attrs, f"{sbase}.spans[{k}]", line)
                except _Skip:
                    continue


def _fast_id(v: Any) -> str | None:
    """The common case: a 16/32-digit lower-case hex id (None: take the careful path)."""
    if type(v) is str and (len(v) == 16 or len(v) == 32) and _LOWER_HEX.fullmatch(v):
        return v if v.strip("0") else None
    return None


def _fast_int(v: Any) -> int | None:
    if type(v) is str and v.isascii() and v.isdigit() and len(v) <= 20:
        return int(v)
    if type(v) is int:
        return v
    return None


def _add_span(
    sp: Any,
    rows: SpanRows,
    problems: Problems,
    service: str | None,
    base_attrs: dict[str, str],
    where: str,
    line: int | None,
) -> None:
    """One span. The common well-formed case runs on fast checks; anything unusual goes
    through the careful helpers, which name the field in their errors."""
    if type(sp) is not dict:
        sp = _is_dict(sp, problems, field=where, line=line)
    f = where + "."
    raw = sp.get("traceId")
    trace_id = _fast_id(raw) or norm_id(raw, problems, field=f + "traceId", line=line)
    raw = sp.get("spanId")
    span_id = _fast_id(raw) or norm_id(raw, problems, field=f + "spanId", line=line)
    if trace_id is None or span_id is None:
        missing = "traceId" if trace_id is None else "spanId"
        raise problems.bad(f"span has no {missing}", line=line, field=f + missing)
    raw = sp.get("parentSpanId")
    parent = _fast_id(raw) or norm_id(raw, problems, field=f + "parentSpanId", line=line)
    name = sp.get("name", "")
    if type(name) is not str:
        raise problems.bad("span name must be a string", line=line, field=f + "name")
    raw_start = sp.get("startTimeUnixNano")
    raw_end = sp.get("endTimeUnixNano")
    start = _fast_int(raw_start)
    end = _fast_int(raw_end)
    if start is None or end is None or not (MIN_NS <= start <= end <= MAX_NS):
        if raw_start is None or raw_end is None:
            key = "startTimeUnixNano" if raw_start is None else "endTimeUnixNano"
            raise problems.bad(f"span has no {key}", line=line, field=f + key)
        start = as_int(raw_start, problems, field=f + "startTimeUnixNano", line=line)
        end = as_int(raw_end, problems, field=f + "endTimeUnixNano", line=line)
        check_span_times(
            start,
            end,
            problems,
            fields=(f + "startTimeUnixNano", f + "endTimeUnixNano"),
            line=line,
            unit="ns",
        )
    k = sp.get("kind")
    if type(k) is int and 0 <= k < 6:
        kind = KIND_BY_INT[k]
    else:
        kind = _kind(k, problems, field=f + "kind", line=line)
    st = sp.get("status")
    if not st and (st is None or st == {}):
        status, status_msg = "unset", None
    else:
        status, status_msg = _status(st, problems, field=f + "status", line=line)
    attrs = dict(base_attrs)
    raw_attrs = sp.get("attributes")
    if raw_attrs is not None:
        attrs.update(_attrs(raw_attrs, problems, field=f + "attributes", line=line))
    if status_msg:
        attrs["otel.status_description"] = str(status_msg)
    events = sp.get("events")
    if events and isinstance(events, list):
        for ev in events:
            if isinstance(ev, dict) and ev.get("name") == "exception":
                ea = _attrs(ev.get("attributes"), problems, field=f + "events", line=line)
                for key in ("exception.type", "exception.message"):
                    if key in ea:
                        attrs.setdefault(key, ea[key])
                break
    rows.add(
        trace_id=trace_id,
        span_id=span_id,
        parent=parent,
        service=service,
        name=name,
        kind=kind,
        start_ns=start,
        end_ns=end,
        status=status,
        attributes=attrs,
    )


def parse_traces(
    body: Any,
    *,
    source: str | None = None,
    path: str | None = None,
    on_error: OnError = "raise",
    problems: Problems | None = None,
) -> pl.DataFrame:
    """Decoded OTLP JSON trace body (dict, or list of them) -> spans frame.

    ``source``/``path`` name where the body came from in errors. With
    ``on_error="skip"`` bad spans are skipped and counted in ``problems``.

    >>> parse_traces({"resourceSpans": []}).height
    0
    """
    problems = problems or Problems(path=path, source=source, on_error=check_on_error(on_error))
    rows = SpanRows()
    _add_traces(body, rows, problems, None)
    return rows.frame()


# ---------------------------------------------------------------------------------------
# logs


class _LogRows:
    def __init__(self) -> None:
        self.ts: list[int] = []
        self.service: list[str | None] = []
        self.level: list[str] = []
        self.message: list[str] = []
        self.trace: list[str | None] = []
        self.span: list[str | None] = []
        self.attrs = KVBuilder()

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "ts": ns_series(self.ts, "ts"),
                "service": pl.Series(self.service, dtype=pl.String),
                "level": pl.Series(self.level, dtype=pl.String),
                "message": pl.Series(self.message, dtype=pl.String),
                "trace_id": pl.Series(self.trace, dtype=pl.String),
                "span_id": pl.Series(self.span, dtype=pl.String),
                "attributes": self.attrs.series(),
            }
        )


def _add_logs(body: Any, rows: _LogRows, problems: Problems, line: int | None) -> None:
    try:
        body = _is_dict(body, problems, field="(document)", line=line)
        if "resourceLogs" not in body:
            raise problems.bad(
                "not an OTLP logs document (no resourceLogs)", line=line, field="resourceLogs"
            )
        resource_logs = _list(body, "resourceLogs", problems, field="", line=line)
    except _Skip:
        return
    for i, rl in enumerate(resource_logs):
        rbase = f"resourceLogs[{i}]"
        try:
            rl = _is_dict(rl, problems, field=rbase, line=line)
            rattrs = _resource_attrs(rl, problems, rbase, line)
            scopes = _list(rl, "scopeLogs", problems, field=f"{rbase}.", line=line)
        except _Skip:
            continue
        service = rattrs.pop("service.name", None)
        keep = {k: v for k, v in rattrs.items() if k.startswith(RESOURCE_PREFIXES)}
        for j, sl in enumerate(scopes):
            sbase = f"{rbase}.scopeLogs[{j}]"
            try:
                sl = _is_dict(sl, problems, field=sbase, line=line)
                records = _list(sl, "logRecords", problems, field=f"{sbase}.", line=line)
            except _Skip:
                continue
            for k, rec in enumerate(records):
                try:
                    _add_log(rec, rows, problems, service, keep, f"{sbase}.logRecords[{k}]", line)
                except _Skip:
                    continue


def _add_log(
    rec: Any,
    rows: _LogRows,
    problems: Problems,
    service: str | None,
    keep: dict[str, str],
    where: str,
    line: int | None,
) -> None:
    rec = _is_dict(rec, problems, field=where, line=line)
    f = where + "."
    raw_ts = rec.get("timeUnixNano")
    key = "timeUnixNano"
    if raw_ts in (None, "0", 0):
        raw_ts, key = rec.get("observedTimeUnixNano"), "observedTimeUnixNano"
    if raw_ts in (None, "0", 0):
        raise problems.bad("log record has no timeUnixNano", line=line, field=f + "timeUnixNano")
    ts = check_ns(as_int(raw_ts, problems, field=f + key, line=line), problems,
                  field=f + key, unit="ns", line=line)  # fmt: skip
    level_src = rec.get("severityText") or rec.get("severityNumber")
    body = any_value(rec.get("body"))
    attrs = dict(keep)
    attrs.update(_attrs(rec.get("attributes"), problems, field=f + "attributes", line=line))
    if rec.get("eventName"):
        attrs["event.name"] = str(rec["eventName"])
    rows.ts.append(ts)
    rows.service.append(service)
    lvl = norm_level(level_src)
    if lvl == "unknown" and rec.get("severityNumber") is not None:
        lvl = norm_level(rec.get("severityNumber"))
    rows.level.append(lvl)
    rows.message.append(scalar_str(body) or "")
    rows.trace.append(norm_id(rec.get("traceId"), problems, field=f + "traceId", line=line))
    rows.span.append(norm_id(rec.get("spanId"), problems, field=f + "spanId", line=line))
    rows.attrs.add(attrs)


def parse_logs(
    body: Any,
    *,
    source: str | None = None,
    path: str | None = None,
    on_error: OnError = "raise",
    problems: Problems | None = None,
) -> pl.DataFrame:
    """Decoded OTLP JSON logs body (``{"resourceLogs": [...]}``) -> logs frame.

    ``severityText`` (else ``severityNumber``) gives the level, ``body`` the message
    (structured bodies as compact JSON), resource ``service.name`` the service.
    """
    problems = problems or Problems(path=path, source=source, on_error=check_on_error(on_error))
    rows = _LogRows()
    _add_logs(body, rows, problems, None)
    return rows.frame()


# ---------------------------------------------------------------------------------------
# files


@dataclass
class OtlpFile:
    """What :func:`read_file` found: the signal, the frame, and any skipped records."""

    signal: str  # "spans" | "logs"
    frame: pl.DataFrame
    problems: Problems


def _signal_of(obj: Any) -> str | None:
    if isinstance(obj, dict):
        if "resourceLogs" in obj:
            return "logs"
        if "resourceSpans" in obj or "batches" in obj or "result" in obj or "trace" in obj:
            return "spans"
    return None


def read_file(
    path: str | Path,
    *,
    source: str | None = None,
    on_error: OnError = "raise",
    keys: tuple[str, ...] | None = None,
) -> OtlpFile:
    """Read an OTLP JSON file: one document, or JSON lines (Collector file exporter).
    ``keys``: the fast path keeps only these span attribute keys (the careful path keeps
    all; :func:`~workbench.sources.files.detail.lean` cuts them after).

    Traces go to the spans frame, logs to the logs frame (decided by the first object).
    A truncated or non-JSON file raises :class:`BadData` with the line; with
    ``on_error="skip"`` bad lines/spans are skipped and counted in ``problems``.
    """
    p = Path(path)
    problems = Problems(path=str(p), source=source, on_error=check_on_error(on_error))
    # the common well-formed traces file: decoded into typed structs line by line and
    # mapped to columns (otlp_fast); anything unusual comes back None and goes the careful
    # way below
    from workbench.sources.files import otlp_fast

    frame = otlp_fast.fast_spans_file(p, keys=keys)
    if frame is not None:
        return OtlpFile("spans", frame, problems)
    text = read_text(p, problems)
    if not text.strip():
        raise BadData(f"{p.name} is empty", path=str(p), source=source,
                      hint="an OTLP file holds {\"resourceSpans\": [...]} objects")  # fmt: skip
    docs: list[tuple[int | None, Any]]
    try:
        docs = [(None, json.loads(text))]
        if lone_surrogate(text, docs[0][1]):
            loads_document(text, problems, what="OTLP JSON")  # raises BadData
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            loads_document(text, problems, what="OTLP JSON")  # raises BadData with position
            raise  # pragma: no cover
        docs = list(iter_json_lines(text, problems))
    except RecursionError:
        loads_document(text, problems, what="OTLP JSON")
        raise  # pragma: no cover
    signal = next((s for _, d in docs if (s := _signal_of(d))), None)
    if signal is None:
        raise BadData(
            f"{p.name} holds neither resourceSpans nor resourceLogs",
            path=str(p),
            line=docs[0][0] if docs else None,
            field="resourceSpans",
            source=source,
            hint="OTLP metrics files are not read; use Parquet or Prometheus for metrics",
        )
    if signal == "spans":
        rows = SpanRows()
        for line, d in docs:
            _add_traces(d, rows, problems, line)
        return OtlpFile("spans", rows.frame(), problems)
    lrows = _LogRows()
    for line, d in docs:
        _add_logs(d, lrows, problems, line)
    return OtlpFile("logs", lrows.frame(), problems)
