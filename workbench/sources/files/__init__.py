"""File sources: a directory of telemetry files, or one file, as a source.

Formats: OTLP JSON traces and logs (one document or the Collector file exporter's JSON
lines), Jaeger JSON (UI export / query API v1, domain model, api-v3), Zipkin v2 JSON,
Tempo trace batches, JSON-lines and CSV logs with a :class:`LogMapping`, Parquet in the
frame contract, and change/alert events (Argo CD, Argo Rollouts, Alertmanager webhook,
Chaos Mesh).

Example::

    >>> from workbench.sources.files import DirectorySource, FileSource, LogMapping
    >>> src = DirectorySource("/tmp/demo")
    >>> src.describe()
    >>> FileSource("trace.json").spans(None, window).frame
"""

from workbench.sources.files.directory import DirectorySource, FileSource, TelemetryFile
from workbench.sources.files.logs import LogMapping

__all__ = ["DirectorySource", "FileSource", "LogMapping", "TelemetryFile"]
