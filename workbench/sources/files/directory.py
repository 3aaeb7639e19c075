"""A directory of telemetry files (or one file) as a :class:`~workbench.sources.base.Source`.

``DirectorySource`` understands the lab layout (``metrics/metrics.parquet``,
``logs/logs.jsonl``, ``traces/traces.otlp.jsonl``, ``events/*``) and any directory of
the formats in :mod:`workbench.sources.files.detect`: Parquet files named
metrics/logs/spans/events, ``*.otlp.json(l)``, ``*.jsonl`` logs, CSV logs (a CSV counts
as logs when its header has a time column of the log mapping), Jaeger and Zipkin JSON
(detected by content), and the events formats. ``describe()`` lists what was found per
signal and what was ignored. Files are parsed once and
cached (until they change); every call filters to the window (and services when given),
see :mod:`workbench.sources.files.parquet` for the window rules.

Bad input raises :class:`~workbench.errors.BadData` naming file, line and field. With
``on_error="skip"`` bad records (and unreadable files) are skipped and the
:class:`~workbench.sources.base.Result` is ``partial=True`` with the count and the first
line numbers in ``reasons`` — never a quietly short frame.

Spans: duplicate span ids are kept (Zipkin's shared client/server halves, repeated
exports) and reported in ``Result.warnings``; spans whose parent is missing are kept
(normal in sampled data); parent cycles are kept and reported in ``warnings`` — analysis
code must not follow parents without a visited set.

Example::

    >>> from workbench.sources.files import DirectorySource, FileSource
    >>> src = DirectorySource("/tmp/demo")
    >>> src.describe()["files"]
    >>> src.spans(None, Window.parse("2026-11-20T11:00:00Z..2026-11-20T12:00:00Z")).frame
    >>> FileSource("trace.json", format="zipkin").spans(None, window).frame
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workbench import frames
from workbench.errors import BadData, ConfigError, LimitExceeded, WorkbenchError
from workbench.sources.base import Result, Signal, Source, Timer
from workbench.sources.budget import RowBudget
from workbench.sources.files import detect, parquet
from workbench.sources.files._common import OnError, Problems, check_on_error, span_warnings
from workbench.sources.files.capacity import FilesCapacity
from workbench.sources.files.detail import AUTO_ALL_BYTES, check_detail, kept_keys, lean, note
from workbench.sources.files.logs import LogMapping
from workbench.timewindow import Window

__all__ = ["DirectorySource", "FileSource", "TelemetryFile", "clear_cache", "read_any"]

EXPECTED = (
    "metrics/metrics.parquet (or any metrics*.parquet), logs/logs.jsonl or *.csv logs, "
    "traces/traces.otlp.jsonl or *.otlp.json, Jaeger/Zipkin *.json, spans*.parquet, "
    "events/argocd-applications.json, events/rollouts-events.json, "
    "events/alertmanager-webhook.jsonl, events/chaos-mesh.yaml"
)


#: what ``metrics()`` returns: raw samples, per-service aggregates (``sum without (pod,
#: instance)``), RED + saturation per service (the Prometheus source's signals), or auto
GRAINS = ("series", "service", "signals", "auto")

#: ``metric_grain="auto"`` keeps raw samples up to this many in the window (the demo has
#: 250,000), and asks for RED + saturation per service above it (100 lab services: 1.5M)
AUTO_RAW_ROWS = 1_000_000


@dataclass(frozen=True)
class TelemetryFile:
    """One file a source serves: where, which signal, which format."""

    path: Path
    signal: str
    format: str


@dataclass
class _Parsed:
    frame: pl.DataFrame
    reasons: list[str]
    warnings: list[str]


def read_any(
    tf: TelemetryFile,
    *,
    mapping: LogMapping | None = None,
    source: str | None = None,
    on_error: OnError = "raise",
    attributes: str = "all",
) -> _Parsed:
    """Parse a whole non-Parquet file into its frame (validated). ``attributes="used"``:
    spans keep only the attribute keys analysis reads, logs none (:mod:`.detail`)."""
    p, fmt = tf.path, tf.format
    problems: Problems
    keys = kept_keys(tf.signal) if attributes == "used" else None
    if fmt == "otlp":
        from workbench.sources.files import otlp

        res = otlp.read_file(p, source=source, on_error=on_error, keys=keys)
        df, problems = res.frame, res.problems
        if res.signal != tf.signal:
            raise BadData(
                f"{p.name} holds {res.signal}, not {tf.signal}", path=str(p), source=source
            )
    elif fmt == "jsonl":
        from workbench.sources.files.logs import read_jsonl

        lf = read_jsonl(
            p, mapping=mapping, source=source, on_error=on_error, attributes=keys is None
        )
        df, problems = lf.frame, lf.problems
    elif fmt == "csv":
        from workbench.sources.files.logs import read_csv

        lf = read_csv(p, mapping=mapping, source=source, on_error=on_error)
        df, problems = lf.frame, lf.problems
    elif fmt in ("jaeger", "zipkin"):
        from workbench.sources.files import jaeger, zipkin

        mod = jaeger if fmt == "jaeger" else zipkin
        sf = mod.read_file(p, source=source, on_error=on_error)
        df, problems = sf.frame, sf.problems
    else:
        from workbench.sources.files import events

        ef = events.read_file(p, format=fmt, source=source, on_error=on_error)
        df, problems = ef.frame, ef.problems
    if keys is not None:  # the careful paths and other formats keep all: cut them now
        df = lean(df, tf.signal)
    try:
        df = frames.validate(df, tf.signal, source=source)
    except BadData as err:
        err.path = str(p)
        raise
    warnings = [w + f" in {p.name}" for w in span_warnings(df)] if tf.signal == "spans" else []
    warnings += problems.warnings
    return _Parsed(df, problems.reasons(), warnings)


#: files of one source that together weigh at most this load concurrently (see _FilesBase)
_CONCURRENT_BYTES = 256 * 2**20

# Parsed files shared by all file sources in the process (frames are immutable), keyed by
# path, size and mtime, so re-opening the same directory (a notebook re-run, several
# incidents over one lab scenario) does not parse it again. Least recently used first out.
_CACHE: OrderedDict[tuple[Any, ...], _Parsed] = OrderedDict()
_CACHE_SIZE = 16
_CACHE_LOCK = threading.Lock()


def _cached_parse(
    tf: TelemetryFile,
    mapping: LogMapping | None,
    source: str,
    on_error: OnError,
    attributes: str = "all",
    cache: bool = True,
) -> _Parsed:
    st = tf.path.stat()
    key = (str(tf.path.resolve()), st.st_mtime_ns, st.st_size, tf.format, tf.signal,
           mapping, on_error, attributes)  # fmt: skip
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
    if hit is not None:
        return hit
    parsed = read_any(tf, mapping=mapping, source=source, on_error=on_error, attributes=attributes)
    # kept in time order, as every load returns it: a load whose window holds the whole
    # file then returns the cached frame itself, not a sorted copy beside it
    parsed = _Parsed(_time_ordered(parsed.frame, tf.signal), parsed.reasons, parsed.warnings)
    if not cache:  # a drill-down's full read: its rows are filtered, the parse let go
        return parsed
    with _CACHE_LOCK:
        _CACHE[key] = parsed
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return parsed


def _time_ordered(df: pl.DataFrame, signal: str) -> pl.DataFrame:
    """``df`` sorted by its time column (``start`` for spans, else ``ts``; stable), or
    ``df`` itself when it already is (no copy)."""
    col = "start" if signal == "spans" else "ts"
    if col not in df.columns:
        return df
    s = df[col]
    if df.height < 2 or (s.null_count() == 0 and s.is_sorted()):
        return df  # a stable sort of an ordered column is the identity
    return df.sort(col, maintain_order=True)


def _within(
    df: pl.DataFrame, signal: str, window: Window, services: Sequence[str] | None
) -> pl.DataFrame:
    """:func:`parquet.filter_frame` of a parsed file, returning ``df`` itself (no copy of
    a whole file kept beside its cached parse) when every row passes: the lab's files
    hold exactly the baseline and the window an investigation loads."""
    exprs = [
        e
        for e in (parquet.window_filter(signal, window), parquet.service_filter(signal, services))
        if e is not None
    ]
    if not exprs or df.height == 0:
        return parquet.filter_frame(df, signal, window, services)
    # a row passes when every filter is true (null counts as false, as in filter)
    keep = df.select(pl.all_horizontal(exprs).fill_null(False)).to_series()
    return df if keep.all() else df.filter(keep)


def clear_cache() -> None:
    """Forget every parsed file (the next load reads the files again)."""
    with _CACHE_LOCK:
        _CACHE.clear()


class _FilesBase(Source, FilesCapacity):
    """Shared loading logic of DirectorySource and FileSource."""

    kind: ClassVar[str] = "files"

    def __init__(
        self,
        *,
        name: str | None,
        log_mapping: LogMapping | None,
        on_error: OnError,
        max_rows: int | None = 5_000_000,
        max_bytes: int | None = None,
        metric_grain: str = "auto",
        metric_step: timedelta = timedelta(seconds=60),
        attributes: str = "auto",
    ) -> None:
        super().__init__(name=name)
        _check_grain(self.name, metric_grain)
        check_detail(self.name, attributes)
        self.attributes = attributes
        self.metric_grain = metric_grain
        self.metric_step = metric_step
        self.log_mapping = log_mapping
        self.on_error: OnError = check_on_error(on_error)
        self.files: list[TelemetryFile] = []
        for opt, v in (("max_rows", max_rows), ("max_bytes", max_bytes)):
            if v is not None and v < 1:
                raise ConfigError(f"source {self.name!r}: {opt} must be at least 1 (or None)")
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        # one load at a time: parsing and aggregating files is CPU- and memory-bound, so
        # an Incident's concurrent loads of one directory only add their transient peaks
        # on a small machine (1,000 lab services, 2 cores: 95 s and 2.46 GiB in parallel,
        # 80 s and 2.2 GiB one after the other); files that are small together
        # (``_CONCURRENT_BYTES``) load concurrently: the logs parse while pyarrow decodes
        # the spans (demo, 117 MB: 1.1-1.2 s instead of 1.4-1.7 s)
        self._one_at_a_time = threading.Lock()

    @property
    def capabilities(self) -> frozenset[Signal]:  # type: ignore[override]  # the files' signals
        return frozenset(f.signal for f in self.files)

    # loading ------------------------------------------------------------------------
    def _parsed(self, tf: TelemetryFile, attributes: str = "all", cache: bool = True) -> _Parsed:
        return _cached_parse(tf, self.log_mapping, self.name, self.on_error, attributes, cache)

    def attributes_for(self, signal: str) -> str:
        """``"all"`` or ``"used"``: how much of ``signal``'s attributes a load holds
        (:mod:`.detail`; ``"auto"`` decides on the bytes of the spans and logs files).

        >>> DirectorySource("/tmp/scale-1000").attributes_for("spans")
        'used'
        """
        if signal not in ("spans", "logs") or self.attributes == "all":
            return "all"
        if self.attributes == "used":
            return "used"
        total = 0
        for f in self.files:
            if f.signal in ("spans", "logs"):
                with contextlib.suppress(OSError):
                    total += f.path.stat().st_size
        return "used" if total > AUTO_ALL_BYTES else "all"

    @property
    def loads_concurrently(self) -> bool:
        """True when this source's loads run side by side (its files are small together);
        False when they take turns (large files: one parse or aggregation at a time).

        >>> Incident.demo().sources[0].loads_concurrently
        True
        """
        return self._files_bytes() <= _CONCURRENT_BYTES

    def _load(
        self,
        signal: str,
        query: str | None,
        window: Window,
        services: Sequence[str] | None,
        grain: str | None = None,
        detail: str | None = None,
    ) -> Result:
        if self.loads_concurrently:
            return self._load_now(signal, query, window, services, grain, detail)
        with self._one_at_a_time:
            return self._load_now(signal, query, window, services, grain, detail)

    def _files_bytes(self) -> int:
        """Bytes on disk of the files this source serves (a file gone counts as none:
        its load reports it)."""
        total = 0
        for f in self.files:
            with contextlib.suppress(OSError):
                total += f.path.stat().st_size
        return total

    def _load_now(
        self,
        signal: str,
        query: str | None,
        window: Window,
        services: Sequence[str] | None,
        grain: str | None,
        detail: str | None = None,
    ) -> Result:
        if not isinstance(window, Window):
            raise ConfigError(f"window must be a Window, got {type(window).__name__}")
        parts: list[pl.DataFrame] = []
        reasons: list[str] = []
        warnings: list[str] = []
        files = [f for f in self.files if f.signal == signal]
        if not files:
            raise self._unsupported(signal)
        budget = RowBudget(
            self.max_rows,
            source=self.name,
            query=query,
            window=window,
            hint="narrow the window or the services, or convert the files to Parquet",
        )
        text_bytes = 0
        if signal == "metrics":
            g = self._grain(files, window, services, grain)
            if g != "series":
                return self._aggregates(files, query, window, services, budget, g)
        held = detail or self.attributes_for(signal)
        keys = kept_keys(signal) if held == "used" else None
        with Timer() as t:
            for tf in files:
                if tf.format != "parquet" and self.max_bytes is not None:
                    text_bytes += tf.path.stat().st_size
                    if text_bytes > self.max_bytes:
                        raise LimitExceeded(
                            f"{self.name}: the {signal} files to parse hold more than "
                            f"{self.max_bytes:,} bytes (reached at {tf.path.name})",
                            source=self.name,
                            limit=f"max_bytes={self.max_bytes}",
                            query=query,
                            window=window,
                            hint="convert the files to Parquet (scanned lazily, only the "
                            "window is read), point the source at fewer files, or raise "
                            "max_bytes",
                        )
                try:
                    if tf.format == "parquet":
                        df = parquet.scan(
                            tf.path, signal, window, services=services, source=self.name,
                            keys=keys,
                        )  # fmt: skip
                    else:
                        # a drill-down's full read (``detail``) is not cached: it would
                        # hold every attribute again beside the lean parse
                        parsed = self._parsed(tf, held, cache=detail is None)
                        reasons += parsed.reasons
                        warnings += parsed.warnings
                        df = _within(parsed.frame, signal, window, services)
                except WorkbenchError as err:
                    if self.on_error == "raise":
                        raise
                    reasons.append(f"skipped {tf.path.name}: {err}")
                    continue
                except OSError as exc:
                    bad = BadData(
                        f"cannot read {tf.path}: {exc}", path=str(tf.path), source=self.name
                    )
                    if self.on_error == "raise":
                        raise bad from exc
                    reasons.append(f"skipped {tf.path.name}: {bad}")
                    continue
                part = _query_filter(df, signal, query)
                budget.add(part.height)
                parts.append(part)
            frame = frames.concat(parts, signal) if parts else frames.empty(signal)
            frame = _time_ordered(frame, signal)
        extra: dict[str, Any] = {}
        if signal in ("spans", "logs"):
            extra["attributes"] = held
            if held == "used":
                warnings.append(note(signal))
        return self.result(
            signal,
            frame,
            query=query,
            window=window,
            reasons=reasons,
            warnings=warnings,
            elapsed_s=t.elapsed,
            files=[str(f.path) for f in files],
            **extra,
        )

    def _grain(
        self,
        files: list[TelemetryFile],
        window: Window,
        services: Sequence[str] | None,
        grain: str | None,
    ) -> str:
        """``series`` (raw samples), ``service`` or ``signals``. ``auto``: raw samples
        unless the Parquet samples in the window pass ``AUTO_RAW_ROWS`` (or
        ``max_rows``), counted on the lazy scans, nothing loaded; then ``signals``."""
        g = grain or self.metric_grain
        _check_grain(self.name, g)
        if g != "auto":
            return g
        pq = [f.path for f in files if f.format == "parquet"]
        if not pq:
            return "series"
        limit = min(AUTO_RAW_ROWS, self.max_rows or AUTO_RAW_ROWS)
        try:
            n = sum(parquet.count(p, "metrics", window, services) for p in pq)
        except Exception:  # unreadable files: the raw path reports them properly
            return "series"
        return "signals" if n > limit else "series"

    def _aggregates(
        self,
        files: list[TelemetryFile],
        query: str | None,
        window: Window,
        services: Sequence[str] | None,
        budget: RowBudget,
        grain: str,
    ) -> Result:
        from workbench.sources.files.aggregate import PER_INSTANCE, service_aggregates
        from workbench.sources.files.signals import service_signals

        paths = [f.path for f in files if f.format == "parquet"]
        step = int(self.metric_step.total_seconds())
        with Timer() as t:
            frame = None
            if grain == "signals":
                frame = service_signals(
                    paths, window, step=self.metric_step, services=services, source=self.name
                )
                note = (
                    f"metrics as RED and saturation per service at {step} s (request and "
                    "error rates, latency quantiles, CPU/memory/pool ratios), as a "
                    "Prometheus source serves them; raw series on drill-down "
                    "(metrics(..., grain='series'))"
                )
            if frame is None or frame.height == 0:  # not the names the signals read
                grain = "service"
                frame = service_aggregates(
                    paths, window, step=self.metric_step, services=services, source=self.name
                )
                note = (
                    f"metrics aggregated per service at {step} s without the per-instance "
                    f"labels ({', '.join(PER_INSTANCE[:2])}, ...): counters summed, gauges "
                    "averaged"
                )
            frame = _query_filter(frame, "metrics", query)
            budget.add(frame.height)
        return self.result(
            "metrics",
            frame,
            query=query,
            window=window,
            warnings=[note],
            elapsed_s=t.elapsed,
            files=[str(p) for p in paths],
            grain=grain,
        )

    # the four signals ------------------------------------------------------------------
    def metrics(
        self,
        query: str | None,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        grain: str | None = None,
    ) -> Result:
        """Metric samples in ``window``; ``query`` (optional) is a metric name, ``*``
        wildcards allowed (``"http_server_*"``). ``grain`` overrides the source's
        ``metric_grain`` for this call (``"series"``: the raw samples of a drill-down).

        >>> src.metrics(None, window, services=["checkout"], grain="series").frame
        """
        return self._load("metrics", query, window, services, grain)

    def raw_metrics(self, window: Window, *, services: Sequence[str] | None = None) -> Result:
        """Every raw sample of ``services`` in ``window`` (the drill-down behind a first
        pass at the per-service grain).

        >>> src.raw_metrics(window, services=["checkout"]).frame
        """
        return self._load("metrics", None, window, services, "series")

    def logs(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        """Log records in ``window``; ``query`` (optional) is a substring of the message."""
        return self._load("logs", query, window, services)

    def spans(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        """Spans starting in ``window``; ``query`` (optional) is a span-name substring
        (or a trace id: 16/32 hex digits selects that whole trace)."""
        return self._load("spans", query, window, services)

    def events(self, window: Window, *, services: Sequence[str] | None = None) -> Result:
        """Events overlapping ``window`` (events without a service are kept when
        ``services`` filters)."""
        return self._load("events", None, window, services)

    def detail(
        self,
        signal: str,
        window: Window,
        *,
        services: Sequence[str] | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> Result:
        """The spans or logs of ``services`` (and ``trace_ids``) in ``window`` with every
        attribute, whatever the source holds for its first pass (``attributes="used"``
        reads the files again for this; the full parse is not cached). The drill-down
        behind a lean load (:mod:`.detail`).

        >>> src.detail("spans", window, trace_ids=["4bf92f3577b34da6a3ce929d0e0e4736"]).frame
        """
        if signal not in ("spans", "logs"):
            raise ConfigError(f"detail reads spans or logs, not {signal!r}")
        res = self._load(signal, None, window, services, None, "all")
        if trace_ids is None:
            return res
        return dataclasses.replace(
            res, frame=res.frame.filter(pl.col("trace_id").is_in(list(trace_ids)))
        )


def _check_grain(name: str, grain: str) -> None:
    if grain not in GRAINS:
        raise ConfigError(
            f"source {name!r}: metric_grain must be one of {', '.join(map(repr, GRAINS))}, "
            f"not {grain!r}"
        )


def _csv_has_time(path: Path, mapping: LogMapping) -> bool:
    header = detect.sniff(path).split("\n", 1)[0]
    cols = {c.strip().strip('"') for c in header.split(",")}
    return any(n in cols for n in mapping.names("ts"))


def _query_filter(df: pl.DataFrame, signal: str, query: str | None) -> pl.DataFrame:
    if not query:
        return df
    if signal == "metrics":
        if any(ch in query for ch in "*?["):
            names = [n for n in df["metric"].unique().to_list() if fnmatch.fnmatchcase(n, query)]
            return df.filter(pl.col("metric").is_in(names))
        return df.filter(pl.col("metric") == query)
    if signal == "logs":
        return df.filter(pl.col("message").str.contains(query, literal=True))
    if signal == "spans":
        q = query.strip().lower()
        if len(q) in (16, 32) and all(c in "0123456789abcdef" for c in q):
            return df.filter(pl.col("trace_id") == q)
        return df.filter(pl.col("name").str.contains(query, literal=True))
    return df


class DirectorySource(_FilesBase):
    """A directory of telemetry files as a source (lab layout or a generic export).

    ``log_mapping`` says how JSON-lines/CSV logs map to the logs frame (default: the
    generic mapping of :class:`~workbench.sources.files.logs.LogMapping`). ``max_rows``
    (5,000,000) bounds the rows one call returns and ``max_bytes`` (no limit) the JSON/CSV
    bytes one call parses; past either, ``LimitExceeded`` says how to narrow.
    ``metric_grain="service"`` makes :meth:`metrics` return per-service aggregates at
    ``metric_step`` (:mod:`workbench.sources.files.aggregate`: bounded pieces,
    per-instance labels summed or averaged away) instead of every raw sample;
    ``"signals"`` the RED and saturation signals per service a Prometheus source serves
    (:mod:`workbench.sources.files.signals`); ``"auto"`` (default) raw samples up to
    :data:`AUTO_RAW_ROWS` in the window (and ``max_rows``), signals above (the result's
    ``warnings`` and ``extra["grain"]`` say so); ``"series"`` always the raw samples.
    ``attributes`` (``"all"``, ``"used"``, ``"auto"``): how much of the spans' and logs'
    attributes a load holds (:mod:`workbench.sources.files.detail`: ``"used"`` keeps only
    the keys analysis reads, :meth:`detail` reads the rest on drill-down; ``"auto"``
    (default) ``"used"`` above :data:`~workbench.sources.files.detail.AUTO_ALL_BYTES` of
    spans and logs files). A directory
    without any telemetry file raises :class:`BadData` listing the expected names.

    >>> src = DirectorySource("/tmp/demo", name="demo")
    >>> src.metrics(None, window, services=["checkout"]).frame
    """

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        log_mapping: LogMapping | None = None,
        on_error: OnError = "raise",
        max_rows: int | None = 5_000_000,
        max_bytes: int | None = None,
        metric_grain: str = "auto",
        metric_step: timedelta = timedelta(seconds=60),
        attributes: str = "auto",
    ) -> None:
        p = Path(path).expanduser()
        if not p.exists():
            raise ConfigError(f"directory {p} does not exist")
        if not p.is_dir():
            raise ConfigError(f"{p} is a file", hint="use FileSource(path) for a single file")
        super().__init__(
            name=name or f"files:{p.name}",
            log_mapping=log_mapping,
            on_error=on_error,
            max_rows=max_rows,
            max_bytes=max_bytes,
            metric_grain=metric_grain,
            metric_step=metric_step,
            attributes=attributes,
        )
        self.path = p
        self.ignored: list[Path] = []
        for f in sorted(p.rglob("*")):
            rel = f.relative_to(p)
            if any(part.startswith((".", "_")) for part in rel.parts) or not f.is_file():
                continue
            hit = detect.classify(f)
            if hit == ("logs", "csv") and not _csv_has_time(f, log_mapping or LogMapping()):
                hit = None  # a CSV without a time column is not a log file we can read
            if hit is None:
                self.ignored.append(f)
            else:
                self.files.append(TelemetryFile(f, hit[0], hit[1]))
        if not self.files:
            raise BadData(
                f"{p} holds no telemetry files"
                + (
                    f" (found only {', '.join(x.name for x in self.ignored[:8])})"
                    if self.ignored
                    else ""
                ),
                path=str(p),
                source=self.name,
                hint=f"expected file names: {EXPECTED}",
            )

    def describe(self) -> dict[str, Any]:
        """Kind, name, path, and the files found per signal (relative paths, format)."""
        files: dict[str, list[str]] = {}
        for f in self.files:
            files.setdefault(f.signal, []).append(f"{f.path.relative_to(self.path)} ({f.format})")
        return {
            **super().describe(),
            "path": str(self.path),
            "files": files,
            "ignored": [str(f.relative_to(self.path)) for f in self.ignored],
        }


class FileSource(_FilesBase):
    """One telemetry file as a source; its format is detected, or given with ``format=``
    (``"otlp"``, ``"jaeger"``, ``"zipkin"``, ``"tempo"``, ``"jsonl"``, ``"csv"``,
    ``"parquet"``, ``"argocd"``, ``"argo-rollouts"``, ``"alertmanager"``, ``"chaos-mesh"``).

    >>> FileSource("smartthings.json", format="zipkin").spans(None, window).frame
    """

    def __init__(
        self,
        path: str | Path,
        *,
        format: str | None = None,
        name: str | None = None,
        log_mapping: LogMapping | None = None,
        on_error: OnError = "raise",
        max_rows: int | None = 5_000_000,
        max_bytes: int | None = None,
        attributes: str = "auto",
    ) -> None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise ConfigError(
                f"file {p} does not exist" if not p.exists() else f"{p} is not a file"
            )
        if format is not None and format not in detect.FORMATS:
            raise ConfigError(
                f"unknown format {format!r}", hint=f"one of {', '.join(detect.FORMATS)}"
            )
        super().__init__(
            name=name or f"file:{p.name}",
            log_mapping=log_mapping,
            on_error=on_error,
            max_rows=max_rows,
            max_bytes=max_bytes,
            attributes=attributes,
        )
        self.path = p
        hit = detect.classify(p, format=format)
        if hit is None:
            if '"resourceMetrics"' in detect.sniff(p):
                raise BadData(
                    f"{p.name} holds OTLP metrics, which the file sources do not read",
                    path=str(p),
                    source=self.name,
                    hint="load metrics from contract Parquet or a Prometheus source",
                )
            raise BadData(
                f"cannot tell what telemetry {p.name} holds",
                path=str(p),
                source=self.name,
                hint=f"pass format= one of {', '.join(detect.FORMATS)}",
            )
        self.format = hit[1]
        self.files = [TelemetryFile(p, hit[0], hit[1])]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "path": str(self.path), "format": self.format,
                "signal": self.files[0].signal}  # fmt: skip

    def frame(self) -> pl.DataFrame:
        """The whole file as a frame (no window filter), e.g. to inspect a sample."""
        tf = self.files[0]
        if tf.format == "parquet":
            return parquet.scan(tf.path, tf.signal, None, source=self.name)
        return self._parsed(tf).frame
