"""Spans as the OpenTelemetry Collector's file exporter writes them (OTLP/JSON).

One ``ExportTraceServiceRequest`` per line: the spans of one export batch (10 s of trace
start times) grouped by resource (service and pod) and instrumentation scope. Ids are
hex, times are nanosecond strings, ``kind`` and ``status.code`` are integers.

Example::

    >>> write_otlp(ctx, traces, out / "traces" / "traces.otlp.jsonl")
"""

# ruff: noqa: UP031 - %-formatting keeps JSON braces readable
from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from workbench import frames
from workbench.lab.traces import NS, Span

__all__ = ["span_frame", "write_otlp"]

BATCH_S = 10
SCHEMA_URL = "https://opentelemetry.io/schemas/1.26.0"
_SCOPE = {
    "java": ("io.opentelemetry.spring-webmvc-6.0", "2.10.0-alpha"),
    "go": ("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.57.0"),
    "python": ("opentelemetry.instrumentation.fastapi", "0.49b2"),
    "node": ("@opentelemetry/instrumentation-http", "0.55.0"),
}
_SDK = {"java": "1.44.1", "go": "1.32.0", "python": "1.28.2", "node": "1.28.0"}
_KIND_NAME = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


_str = json.JSONEncoder(separators=(",", ":")).encode


def _value(v: object) -> str:
    if isinstance(v, bool):
        return '{"boolValue":%s}' % ("true" if v else "false")
    if isinstance(v, int):
        return '{"intValue":"%d"}' % v
    if isinstance(v, float):
        return '{"doubleValue":%s}' % _str(v)
    return '{"stringValue":%s}' % _str(str(v))


class _Encoder:
    """OTLP/JSON text with keys in sorted order, built from strings (encoded attribute
    pairs are cached: most repeat), which is several times faster than dicts + json."""

    def __init__(self) -> None:
        self._kv: dict[tuple[str, object, type], str] = {}

    def attrs(self, d: dict) -> str:
        out = []
        for k, v in sorted(d.items()):
            key = (k, v, type(v))
            enc = self._kv.get(key)
            if enc is None:
                enc = self._kv[key] = '{"key":%s,"value":%s}' % (_str(k), _value(v))
            out.append(enc)
        return "[" + ",".join(out) + "]"

    def span(self, s: Span) -> str:
        parts = ['"attributes":' + self.attrs(s.attrs), f'"endTimeUnixNano":"{s.end}"']
        if s.events:
            evs = ",".join(
                '{"attributes":%s,"name":%s,"timeUnixNano":"%d"}'
                % (self.attrs(e["attributes"]), _str(e["name"]), e["t"])
                for e in s.events
            )
            parts.append(f'"events":[{evs}]')
        parts += ['"flags":257', f'"kind":{s.kind}', '"name":' + _str(s.name)]
        if s.parent:
            parts.append(f'"parentSpanId":"{s.parent}"')
        parts.append(f'"spanId":"{s.span_id}"')
        parts.append(f'"startTimeUnixNano":"{s.start}"')
        status = '{"code":%d,"message":%s}' % (s.code, _str(s.message)) if s.code == 2 else "{}"
        parts += [f'"status":{status}', f'"traceId":"{s.trace_id}"']
        return "{" + ",".join(parts) + "}"


def write_otlp(ctx, traces: list[list[Span]], path: Path) -> int:
    """Write the traces; return the number of spans written."""
    batches: dict[int, list[Span]] = {}
    for spans in traces:
        b = int(spans[0].start // (BATCH_S * NS))
        batches.setdefault(b, []).extend(spans)
    path.parent.mkdir(parents=True, exist_ok=True)
    enc = _Encoder()
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for b in sorted(batches):
            by_res: dict[tuple[str, str, str], list[Span]] = {}
            for s in batches[b]:
                by_res.setdefault((s.service, s.pod, s.version), []).append(s)
            rs = []
            for (service, pod, version), spans in sorted(by_res.items()):
                svc = ctx.topo.service(service)
                lang = svc.language
                scope, sv = _SCOPE.get(lang, _SCOPE["go"])
                res = {
                    "service.name": service,
                    "service.version": version,
                    "service.namespace": "shop",
                    "k8s.pod.name": pod,
                    "k8s.namespace.name": "shop",
                    "deployment.environment.name": "production",
                    "telemetry.sdk.language": lang,
                    "telemetry.sdk.name": "opentelemetry",
                    "telemetry.sdk.version": _SDK.get(lang, "1.32.0"),
                }
                spans = sorted(spans, key=lambda s: (s.start, s.span_id))
                body = ",".join(enc.span(s) for s in spans)
                rs.append(
                    '{"resource":{"attributes":%s},"schemaUrl":%s,"scopeSpans":[{"scope":'
                    '{"name":%s,"version":%s},"spans":[%s]}]}'
                    % (enc.attrs(res), _str(SCHEMA_URL), _str(scope), _str(sv), body)
                )
                n += len(spans)
            fh.write('{"resourceSpans":[' + ",".join(rs) + "]}\n")
    return n


def span_frame(traces: list[list[Span]]) -> pl.DataFrame:
    """The spans as a spans frame (what a reader of the OTLP file should produce)."""
    rows = [s for spans in traces for s in spans]
    df = pl.DataFrame(
        {
            "trace_id": [s.trace_id for s in rows],
            "span_id": [s.span_id for s in rows],
            "parent_span_id": [s.parent or None for s in rows],
            "service": [s.service for s in rows],
            "name": [s.name for s in rows],
            "kind": [_KIND_NAME[s.kind] for s in rows],
            "start": pl.Series([s.start // 1000 for s in rows], dtype=pl.Int64),
            "end": pl.Series([s.end // 1000 for s in rows], dtype=pl.Int64),
            "duration_ms": [(s.end - s.start) / 1e6 for s in rows],
            "status": [
                "error" if s.code == 2 else ("ok" if s.code == 1 else "unset") for s in rows
            ],
            "attributes": frames.kv_from_dicts(s.attrs for s in rows),
        },
        schema_overrides={"parent_span_id": pl.String},
    )
    df = df.with_columns(
        pl.from_epoch("start", time_unit="us").dt.replace_time_zone("UTC"),
        pl.from_epoch("end", time_unit="us").dt.replace_time_zone("UTC"),
    )
    return frames.validate(df, "spans", source="workbench.lab")
