"""Which signal and format a telemetry file holds, from its name and first bytes.

Formats: ``parquet``, ``otlp`` (traces or logs, one document or JSON lines), ``jaeger``
(UI/API v1, domain model), ``zipkin`` (v2), ``jsonl`` (JSON-lines logs), ``csv`` (CSV
logs), and the events formats ``argocd``, ``argo-rollouts``, ``alertmanager``,
``chaos-mesh``. ``tempo`` trace files (``{"batches": ...}``) and Jaeger api-v3
(``{"result": {"resourceSpans": ...}}``) are read by the ``otlp`` reader.
"""

from __future__ import annotations

import re
from pathlib import Path

from workbench.sources.files import compressed, parquet
from workbench.sources.files.events import LAB_EVENT_FILES
from workbench.sources.files.events import detect_format as _events_format

__all__ = ["FORMATS", "SIGNAL_OF_FORMAT", "classify", "sniff"]

SIGNAL_OF_FORMAT = {
    "jaeger": "spans",
    "zipkin": "spans",
    "jsonl": "logs",
    "csv": "logs",
    "argocd": "events",
    "argo-rollouts": "events",
    "alertmanager": "events",
    "chaos-mesh": "events",
}
FORMATS = ("parquet", "otlp", "tempo", *SIGNAL_OF_FORMAT)

# Files a lab scenario or an export carries that are not telemetry.
NOT_TELEMETRY = {"scenario.json", "truth.json", "topology.json", "manifest.json"}

_HEAD = 16384


def sniff(path: Path) -> str:
    """The first bytes of a file as text, decompressed for ``.gz``/``.zst`` names."""
    return compressed.read_head(path, _HEAD).decode("utf-8", errors="replace")


def _json_format(head: str) -> tuple[str, str] | None:
    if '"resourceLogs"' in head:
        return "logs", "otlp"
    if '"resourceSpans"' in head or re.search(r'^\s*\{\s*"batches"', head):
        return "spans", "otlp"
    ev = _events_format(Path("x.json"), head)
    if ev:
        return "events", ev
    if '"traceID"' in head or '"operationName"' in head:
        return "spans", "jaeger"
    if '"traceId"' in head and ('"localEndpoint"' in head or re.search(r'"id"\s*:', head)):
        return "spans", "zipkin"
    return None


def classify(path: str | Path, *, format: str | None = None) -> tuple[str, str] | None:
    """``(signal, format)`` of a file, or None when it is not telemetry we read.

    ``format`` forces the format (the signal follows from it; for ``otlp`` and ``parquet``
    it still comes from the content or name).
    """
    p = Path(path)
    name = compressed.inner_name(p)  # "app.jsonl.gz" is judged as "app.jsonl"
    if format is not None:
        if format == "tempo":
            format = "otlp"
        if format == "parquet":
            sig = parquet.signal_of(p)
            return (sig, "parquet") if sig else None
        if format == "otlp":
            return ("logs" if '"resourceLogs"' in sniff(p) else "spans"), "otlp"
        sig = SIGNAL_OF_FORMAT.get(format)
        return (sig, format) if sig else None
    if name in NOT_TELEMETRY:
        return None
    if name in LAB_EVENT_FILES:
        return "events", LAB_EVENT_FILES[name]
    if name.endswith(".parquet"):
        sig = parquet.signal_of(p)
        return (sig, "parquet") if sig else None
    if name.endswith((".yaml", ".yml")):
        ev = _events_format(Path(name), sniff(p))
        return ("events", ev) if ev else None
    if name.endswith(".csv"):
        return "logs", "csv"
    head = sniff(p)
    if name.endswith((".otlp.json", ".otlp.jsonl")):
        return ("logs" if '"resourceLogs"' in head else "spans"), "otlp"
    if name.endswith((".jsonl", ".ndjson")):
        first = next((ln for ln in head.splitlines() if ln.strip()), "")
        hit = _json_format(first)
        if hit and hit[1] in ("otlp", "alertmanager"):
            return hit
        return "logs", "jsonl"
    if name.endswith(".json"):
        return _json_format(head)
    return None
