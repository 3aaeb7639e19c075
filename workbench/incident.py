"""The incident: a window, a baseline window, and the sources to load them from.

Frames are loaded once, concurrently across sources, and cached. Every source's outcome
is kept: what it returned, whether it was partial, or the typed error that stopped it.

Example::

    >>> from workbench import Incident
    >>> inc = Incident.demo()                 # the embedded demo incident, no server
    >>> inc.metrics.height, inc.spans.height
    >>> inc.status()                          # one row per source and signal
    >>> inc                                   # in a notebook: a summary table
"""

from __future__ import annotations

import contextvars
import html
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench import frames
from workbench.annotations import Annotation, AnnotationLog
from workbench.errors import ConfigError, WorkbenchError
from workbench.sources.base import Result, Signal, Source, Timer
from workbench.timewindow import Window, parse_duration, parse_time

if TYPE_CHECKING:
    from workbench.bundle import BundlePath

__all__ = ["SIGNALS", "Incident", "SourceOutcome"]

log = logging.getLogger(__name__)

SIGNALS: tuple[Signal, ...] = ("metrics", "logs", "spans", "events")
_LOAD_ORDER: tuple[Signal, ...] = ("spans", "logs", "events", "metrics")


def _notes(r: Result | None) -> list[str]:
    """The reasons a result is partial, then what the source chose (a metric-naming preset,
    per-service aggregates instead of raw samples) and the server's own warnings."""
    if r is None:
        return []
    chose = [str(r.extra["metric_names"])] if "metric_names" in r.extra else []
    return list(dict.fromkeys([*r.reasons, *chose, *r.warnings]))


class SourceOutcome:
    """What one source did for one signal: a :class:`Result` or the error that stopped it."""

    __slots__ = ("elapsed_s", "error", "result", "signal", "source")

    def __init__(
        self,
        source: str,
        signal: Signal,
        *,
        result: Result | None = None,
        error: WorkbenchError | None = None,
        elapsed_s: float = 0.0,
    ) -> None:
        self.source = source
        self.signal = signal
        self.result = result
        self.error = error
        self.elapsed_s = elapsed_s

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        """``error``, ``partial``, ``empty`` (answered with no rows for the window) or ``ok``."""
        r = self.result
        if self.error or r is None:
            return "error"
        if r.partial:
            return "partial"
        return "empty" if r.rows == 0 else "ok"

    def row(self) -> dict[str, Any]:
        r = self.result
        status = self.status
        detail = str(self.error) if self.error else "; ".join(_notes(r))
        if status == "empty" and not detail:
            detail = "no rows in the baseline or incident window"
        return {
            "source": self.source,
            "signal": self.signal,
            "rows": r.rows if r else 0,
            "partial": bool(r and r.partial),
            "status": status,
            "detail": detail,
            "elapsed_s": round(self.elapsed_s, 3),
        }


class Incident:
    """An incident under investigation.

    ``window`` is when it happened; ``baseline`` (default: the same length just before)
    is what "normal" looks like for every comparison. ``sources`` are loaded over the
    union of both. ``services`` optionally narrows what sources are asked for.

    Example::

        >>> inc = Incident("INC-123", Window.last("45m"), sources=[prom, loki])
        >>> inc.logs.filter(pl.col("level") == "error")
    """

    def __init__(
        self,
        id: str,
        window: Window,
        *,
        sources: Sequence[Source] | Source = (),
        baseline: Window | None = None,
        services: Sequence[str] | None = None,
        title: str | None = None,
        max_workers: int = 8,
        load_timeout: float | None = None,
        grafana: Any = None,
    ) -> None:
        if not isinstance(window, Window):
            raise ConfigError(f"window must be a Window, got {type(window).__name__}")
        self.id = id
        self.title = title or id
        self.window = window
        self.baseline = baseline or window.baseline()
        if self.baseline.start >= self.window.end:
            raise ConfigError("the baseline window must start before the incident window ends")
        self.sources: list[Source] = [sources] if isinstance(sources, Source) else list(sources)
        names = [s.name for s in self.sources]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ConfigError(
                f"two sources share the name(s) {sorted(dupes)}",
                hint="give each source a distinct name=...",
            )
        self.services = list(services) if services else None
        self.max_workers = max_workers
        #: overall seconds each source's load may take (None: the source's own
        #: ``Timeout.load_s``, by default 4 x its read timeout)
        self.load_timeout = load_timeout
        self.outcomes: dict[tuple[str, Signal], SourceOutcome] = {}
        self._frames: dict[Signal, pl.DataFrame] = {}
        self.annotations = AnnotationLog()
        #: where Grafana is (:class:`~workbench.grafana_links.Grafana`), or None: with one,
        #: suspects, log patterns, traces and metric panels link to Grafana Explore
        self.grafana = grafana
        #: ``(annotation, Grafana annotation id)`` of each note written to Grafana
        self.grafana_posts: list[tuple[Annotation, int]] = []
        #: the earliest time the sources hold data, when known (a lab or demo directory's
        #: ``scenario.json`` says it; a server's retention is not asked): what a longer
        #: baseline can reach back to
        self.data_start: datetime | None = None

    # construction helpers -----------------------------------------------------------------
    @classmethod
    def demo(cls, *, seed: int | None = None) -> Incident:
        """The embedded demo incident: a bad deploy whose errors cascade to its callers,
        generated deterministically on first use (no server needed)."""
        from workbench.lab.demo import demo_path

        return cls.from_directory(demo_path(seed=seed))

    @classmethod
    def from_directory(
        cls,
        path: str | Path,
        *,
        id: str | None = None,
        window: Window | None = None,
        **source_options: Any,
    ) -> Incident:
        """An incident over a directory of telemetry files (a lab scenario, an export).

        If the directory has a ``scenario.json`` (lab output), its incident window and
        id are used unless given. ``source_options`` go to
        :class:`~workbench.sources.files.DirectorySource` (``max_rows``,
        ``metric_grain="service"`` for per-service metric aggregates at scale, ...).

        >>> Incident.from_directory("lab-out", metric_grain="service")
        """
        import json

        from workbench.sources.files import DirectorySource

        p = Path(path)
        src = DirectorySource(p, **source_options)
        meta_file = p / "scenario.json"
        meta: dict[str, Any] = {}
        if meta_file.exists():
            meta = json.loads(meta_file.read_text())
        if window is None:
            iw = meta.get("incident_window")
            if not iw:
                raise ConfigError(
                    f"{p} has no scenario.json with an incident_window",
                    hint="pass window=Window.parse('START..END')",
                )
            window = Window(iw["start"], iw["end"])
        baseline = None
        bw = meta.get("baseline_window")
        if bw:
            baseline = Window(bw["start"], bw["end"])
        inc = cls(
            id or meta.get("incident_id") or meta.get("name") or p.name,
            window,
            baseline=baseline,
            sources=[src],
            title=meta.get("title"),
        )
        inc.data_start = scenario_data_start(meta)
        return inc

    @classmethod
    def from_frames(
        cls,
        id: str,
        window: Window,
        *,
        baseline: Window | None = None,
        metrics: pl.DataFrame | None = None,
        logs: pl.DataFrame | None = None,
        spans: pl.DataFrame | None = None,
        events: pl.DataFrame | None = None,
        title: str | None = None,
    ) -> Incident:
        """An incident over frames already in memory (an evaluation case, a script's own
        data): no source, nothing to load; a signal not given is an empty frame. The
        ``baseline`` may lie after the window here (evaluation data sets whose fault-free
        period comes later).

        >>> inc = Incident.from_frames("case-1", win, baseline=base, spans=spans)
        """
        inc = cls(id, window, title=title)
        if baseline is not None:
            inc.baseline = baseline
        given = {"metrics": metrics, "logs": logs, "spans": spans, "events": events}
        for sig, df in given.items():
            inc._frames[sig] = df if df is not None else frames.empty(sig)
        return inc

    @classmethod
    def from_bundle(
        cls,
        path: str | Path,
        *,
        verify: bool = True,
        expect: str | None = None,
        public_key: str | Path | None = None,
    ) -> Incident:
        """Re-open an incident from its evidence bundle, with no backend reachable.

        The bundle is verified first (and, if given, checked against the published digest
        ``expect`` and signed by ``public_key``); if anything fails, every frame it serves
        is marked partial with the problems (see ``status()``).
        """
        from workbench.bundle import BundleSource

        src = BundleSource(path, verify=verify, expect=expect, public_key=public_key)
        meta = src.manifest["incident"]
        window = Window.parse(meta["window"])
        inc = cls(
            meta["id"],
            window,
            baseline=Window.parse(meta["baseline"]),
            sources=[src],
            services=meta.get("services"),
            title=meta.get("title"),
        )
        inc.annotations = src.annotations()
        return inc

    # annotations and bundles -----------------------------------------------------------
    def note(
        self,
        text: str,
        *,
        at: str | datetime | None = None,
        kind: str = "note",
        author: str | None = None,
        ref: str | None = None,
        grafana: bool = False,
    ) -> Annotation:
        """Record what you noticed or decided, in the hash-chained annotation log.

        With ``grafana=True`` the note is also written to Grafana as an organization
        annotation (``POST /api/annotations``, tags ``workbench``, ``incident:<id>``,
        ``kind:<kind>``), through :attr:`grafana` and its token; it is kept in the log
        first, so a failed write (a typed error) loses nothing. Nothing is written to
        Grafana unless asked.

        >>> inc.note("rolled back checkout v2.3", at="2026-11-20T11:12:00Z", kind="action")
        >>> inc.note("paged the payments team", grafana=True)
        """
        if grafana and self.grafana is None:
            raise ConfigError(
                "no Grafana configured to write the note to",
                hint="set inc.grafana = Grafana(url, token_env=...) or a [grafana] table",
            )
        a = self.annotations.append(text, at=at, kind=kind, author=author, ref=ref)
        if grafana:
            from workbench.sources.grafana import post_annotation

            tags = ["workbench", f"incident:{self.id}", f"kind:{kind}"]
            at_time = datetime.fromisoformat(a.at.replace("Z", "+00:00"))
            gid = post_annotation(self.grafana, text, at=at_time, tags=tags)
            self.grafana_posts.append((a, gid))
        return a

    def mark_evidence(self, ref: str, text: str, *, author: str | None = None) -> Annotation:
        """Mark a chart, suspect or query (``ref``) as evidence, with why it matters."""
        return self.annotations.append(text, kind="evidence", ref=ref, author=author)

    def save_bundle(
        self,
        path: str | Path,
        *,
        overwrite: bool = False,
        key: str | Path | None = None,
        extends: str | Path | bool | None = None,
    ) -> BundlePath:
        """Freeze every loaded frame, its provenance and the annotations into ``path``
        (see :mod:`workbench.bundle`). Returns a :class:`~workbench.bundle.BundlePath`
        whose ``bundle_sha256`` is the full digest to publish; ``key`` (an Ed25519 key
        file such as ``~/.ssh/id_ed25519``) signs it.

        >>> inc.save_bundle("INC-123.bundle", key="~/.ssh/id_ed25519").bundle_sha256
        """
        from workbench.bundle import save_bundle

        return save_bundle(self, path, overwrite=overwrite, key=key, extends=extends)

    # loading ------------------------------------------------------------------------------
    @property
    def full_window(self) -> Window:
        """Baseline and incident windows together: what the sources are asked for."""
        return self.baseline.union(self.window)

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"no source named {name!r}; have {[s.name for s in self.sources]}")

    def load(self, signals: Iterable[Signal] = SIGNALS, *, refresh: bool = False) -> Incident:
        """Load the given signals from every source that serves them (concurrently)."""
        wanted = [s for s in signals if refresh or s not in self._frames]
        # spans first (the explorer's first chart; and a files source's JSON parse, the
        # largest transient, runs while the process is still small), metrics last
        order = sorted(wanted, key=_LOAD_ORDER.index)
        jobs = [(src, sig) for sig in order for src in self.sources if sig in src.capabilities]
        if jobs:
            with ThreadPoolExecutor(max_workers=min(self.max_workers, len(jobs))) as pool:
                # each load in a copy of the caller's context (a gate set by the caller
                # reaches the loads: workbench.gate.gated)
                futures = [
                    pool.submit(contextvars.copy_context().run, self._load_one, src, sig)
                    for src, sig in jobs
                ]
                for outcome in (f.result() for f in futures):
                    self.outcomes[(outcome.source, outcome.signal)] = outcome
        for sig in wanted:
            parts = [
                o.result.frame
                for (_, s), o in list(self.outcomes.items())  # loads may run in threads
                if s == sig and o.result is not None
            ]
            self._frames[sig] = frames.concat(parts, sig) if parts else frames.empty(sig)
        return self

    def _load_one(self, src: Source, sig: Signal) -> SourceOutcome:
        from workbench.limits import parse_guard
        from workbench.sources.budget import load_deadline

        with Timer() as t:
            try:
                with (
                    load_deadline(self._load_deadline(src)),
                    parse_guard(src.name, what=f"the {sig} answer"),
                ):
                    res = src.load(sig, self.full_window, services=self.services)
            except WorkbenchError as err:
                # INFO, not WARNING: the outcome carries the error, and what reads it says
                # it in words (the headline's Missing data, the explorer, inc.status(),
                # `workbench bundle save`, `workbench eval`); printed raw it would sit,
                # query and all, above the headline in a notebook. WARNING is kept for
                # what nothing else reports (a plug-in that cannot load, a skipped Grafana
                # datasource, credentials over plain HTTP)
                log.info("source %s failed to load %s: %s", src.name, sig, err)
                return SourceOutcome(src.name, sig, error=err, elapsed_s=t.elapsed)
        return SourceOutcome(src.name, sig, result=res, elapsed_s=t.elapsed)

    def _load_deadline(self, src: Source) -> float | None:
        """Seconds one load of ``src`` may take: ``load_timeout`` if set, else the
        source's ``Timeout.load_s`` (HTTP sources), else none (PostgreSQL has its own)."""
        if self.load_timeout is not None:
            return self.load_timeout
        timeout = getattr(src, "timeout", None)
        return getattr(timeout, "load_s", None)

    def _frame(self, sig: Signal) -> pl.DataFrame:
        if sig not in self._frames:
            self.load([sig])
        return self._frames[sig]

    @property
    def metrics(self) -> pl.DataFrame:
        """Metric samples over baseline + incident window (frame contract ``metrics``)."""
        return self._frame("metrics")

    @property
    def logs(self) -> pl.DataFrame:
        """Log records over baseline + incident window (frame contract ``logs``)."""
        return self._frame("logs")

    @property
    def spans(self) -> pl.DataFrame:
        """Spans over baseline + incident window (frame contract ``spans``)."""
        return self._frame("spans")

    @property
    def events(self) -> pl.DataFrame:
        """Alerts, deploys, rollbacks, config changes, chaos experiments (``events``)."""
        return self._frame("events")

    def frame(self, signal: Signal) -> pl.DataFrame:
        """The frame for ``signal`` by name."""
        if signal not in SIGNALS:
            raise ConfigError(f"unknown signal {signal!r}; one of {SIGNALS}")
        return self._frame(signal)

    def attributes_held(self, signal: Signal) -> str:
        """``"all"``, or ``"used"`` when a source loaded ``signal`` (spans or logs) with
        only the attributes the investigation reads (a large directory:
        :mod:`workbench.sources.files.detail`); its result's warnings say so.

        >>> Incident.demo().attributes_held("logs")
        'all'
        """
        self._frame(signal)
        for (_, sig), o in self.outcomes.items():
            r = o.result
            if sig == signal and r is not None and r.extra.get("attributes", "all") != "all":
                return "used"
        return "all"

    def with_attributes(
        self,
        signal: Signal,
        *,
        services: Sequence[str] | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """``signal``'s rows (of ``services`` and ``trace_ids``, each default all) with
        every attribute: the loaded frame when it holds them all, else each source asked
        again (a files source reads its files once more for these rows, see
        :meth:`attributes_held`). Same rows, same order as the loaded frame.

        >>> inc.with_attributes("logs", trace_ids=["4bf92f3577b34da6a3ce929d0e0e4736"])
        """

        def pick(df: pl.DataFrame) -> pl.DataFrame:
            if services is not None:
                df = df.filter(pl.col("service").is_in(list(services)))
            if trace_ids is not None:
                df = df.filter(pl.col("trace_id").is_in(list(trace_ids)))
            return df

        if signal not in ("spans", "logs") or self.attributes_held(signal) == "all":
            return pick(self.frame(signal))
        asked = services if services is not None else self.services
        parts = []
        for src in self.sources:
            o = self.outcomes.get((src.name, signal))
            if o is None or o.result is None:  # not loaded the first time: not now either
                continue
            if hasattr(src, "detail"):
                res = src.detail(signal, self.full_window, services=asked, trace_ids=trace_ids)
            else:
                res = src.load(signal, self.full_window, services=asked)
            parts.append(pick(res.frame))
        # concatenated in the sources' order, as the load concatenates them
        return frames.concat(parts, signal) if parts else frames.empty(signal)

    # status ---------------------------------------------------------------------------------
    def status(self) -> pl.DataFrame:
        """One row per source and signal: rows, partial, error, time taken."""
        rows = [o.row() for o in self.outcomes.values()]
        schema = {
            "source": pl.String,
            "signal": pl.String,
            "rows": pl.Int64,
            "partial": pl.Boolean,
            "status": pl.String,
            "detail": pl.String,
            "elapsed_s": pl.Float64,
        }
        return pl.DataFrame(rows, schema=schema)

    @property
    def partial(self) -> bool:
        """True if any source failed or returned a partial result."""
        return any(not o.ok or (o.result and o.result.partial) for o in self.outcomes.values())

    @property
    def metric_rate_window(self) -> timedelta | None:
        """The window the metric points are rates over, when every metrics source that
        answered with rows declared the same one (``Result.extra["rate_window"]``: a
        Prometheus source's signals are ``rate(...[w])`` evaluated every step); None for
        raw samples (files), or when sources disagree. The change detector then counts a
        run in independent windows, not overlapping points
        (:func:`workbench.analysis.changes.run_points`).

        >>> inc.metric_rate_window   # a Prometheus source at a 30 s step, 15 s scrape
        datetime.timedelta(seconds=120)
        """
        self._frame("metrics")
        declared = {
            o.result.extra.get("rate_window")
            for (_, sig), o in list(self.outcomes.items())
            if sig == "metrics" and o.result is not None and o.result.frame.height > 0
        }
        if len(declared) != 1:
            return None
        (w,) = declared
        return w if isinstance(w, timedelta) else None

    def baseline_gaps(self) -> list[str]:
        """Sentences about a baseline whose first part holds no loaded data: asked for
        further back than the sources keep (or than the demo holds), the verdict's chance
        level and the baseline statistics rest on the part that has data. A signal is
        named when its first row comes more than a tenth of the baseline (and 5 min)
        after the baseline's start; signals not loaded or with no rows are not named
        (:meth:`status` says so).

        >>> print(inc.baseline_gaps()[0])  # baseline="8h" over the demo (1 h before its window)
        the baseline 2026-11-20 03:00:00 – 11:00:00 UTC holds no metrics, logs, spans before
        10:00:01 (7 h of it): chance and the baseline figures rest on the last 1 h; a baseline
        the sources keep data for, or the default (as long as the window), compares like with like
        """
        from workbench.display import format_duration, format_time

        slack = max((self.baseline.end - self.baseline.start) / 10, timedelta(minutes=5))
        late: dict[str, Any] = {}
        # the continuous telemetry (change events are sparse: none for hours is normal)
        for sig, col in (("metrics", "ts"), ("logs", "ts"), ("spans", "start")):
            df = self._frames.get(sig)
            if df is None or df.height == 0 or col not in df.columns:
                continue
            first = df.get_column(col).min()
            if isinstance(first, datetime) and first - self.baseline.start > slack:
                late[sig] = first
        if not late:
            return []
        first = min(late.values())
        held = max(self.baseline.end - first, timedelta(0))
        # read at a glance: whole minutes (the gap is at least 5 of them)
        gap, held = (
            timedelta(minutes=round(d / timedelta(minutes=1)))
            for d in (first - self.baseline.start, held)
        )
        return [
            f"the baseline {_span(self.baseline)} holds no {', '.join(late)} before "
            f"{format_time(first, with_date=first.date() != self.baseline.start.date())} "
            f"({format_duration(gap)} of it): chance and the baseline figures rest on the "
            f"last {format_duration(held)}; a baseline the sources keep data for, or the "
            "default (as long as the window), compares like with like"
        ]

    @property
    def services_seen(self) -> list[str]:
        """Every service named in the loaded frames, sorted."""
        names: set[str] = set()
        for df in self._frames.values():
            if "service" in df.columns:
                names.update(x for x in df["service"].unique().to_list() if x)
        return sorted(names)

    def in_window(self, df: pl.DataFrame, column: str = "ts") -> pl.DataFrame:
        """Rows of ``df`` inside the incident window."""
        return _between(df, column, self.window)

    def in_baseline(self, df: pl.DataFrame, column: str = "ts") -> pl.DataFrame:
        """Rows of ``df`` inside the baseline window."""
        return _between(df, column, self.baseline)

    def narrow(self, window: Window) -> Incident:
        """A copy over a narrower incident window, reusing the frames already loaded."""
        other = Incident(
            self.id,
            window,
            sources=self.sources,
            baseline=self.baseline if self.baseline.end <= window.start else window.baseline(),
            services=self.services,
            title=self.title,
            grafana=self.grafana,
        )
        if other.full_window.start >= self.full_window.start and (
            other.full_window.end <= self.full_window.end
        ):
            other._frames = dict(self._frames)
            other.outcomes = dict(self.outcomes)
        return other

    @property
    def empty(self) -> list[tuple[str, Signal]]:
        """``(source, signal)`` pairs that answered with no rows for the window."""
        return [k for k, o in self.outcomes.items() if o.status == "empty"]

    def _repr_html_(self) -> str:
        from workbench.display import details, html_table, status_badge

        st = self.status()
        counts = pl.DataFrame(
            {sig: [self._frames[sig].height if sig in self._frames else None] for sig in SIGNALS},
            schema=dict.fromkeys(SIGNALS, pl.Int64),
        )
        notes = []
        if self.partial:
            notes.append("some data is missing or partial")
        if self.empty:
            listed = ", ".join(f"{src} {sig}" for src, sig in self.empty)
            notes.append(f"no rows for the window from {listed}")
        warn = (
            "<p style='color:#9a6700'><b>" + html.escape("; ".join(notes).capitalize()) + ":</b> "
            "see the sources below.</p>"
            if notes
            else ""
        )
        seen = self.services_seen
        services = ", ".join(seen[:30]) + (f" (+{len(seen) - 30} more)" if len(seen) > 30 else "")
        table = html_table(
            st,
            columns=["source", "signal", "status", "rows", "elapsed_s", "detail"],
            headers={"elapsed_s": "time"},
            cell_html={"status": lambda v, _row: status_badge(v)},
            more_hint="incident.status() has them all",
        )
        sources = details(f"Sources: {st.height} loads", table, open=bool(notes))
        return (
            f"<div class='wb-incident'><h3>{html.escape(self.title)}</h3>"
            f"<p><b>Incident window</b> {_span(self.window)} ({_human(self.window)})<br>"
            f"<b>Baseline</b> {_span(self.baseline)}<br>"
            f"<b>Services</b> {html.escape(services or '—')}</p>{warn}"
            f"{html_table(counts, headers={s: f'{s} rows' for s in SIGNALS})}{sources}</div>"
        )

    def __repr__(self) -> str:
        return f"Incident({self.id!r}, {self.window}, sources={[s.name for s in self.sources]})"


def scenario_data_start(meta: dict[str, Any]) -> datetime | None:
    """The earliest time a lab or demo directory holds data: its ``scenario.json``'s
    ``window`` start (None when it does not say)."""
    held = (meta.get("window") or {}).get("start")
    return parse_time(held) if held else None


def _between(df: pl.DataFrame, column: str, w: Window) -> pl.DataFrame:
    return df.filter((pl.col(column) >= w.start) & (pl.col(column) < w.end))


def _span(w: Window) -> str:
    """``2026-11-20 11:00:00 – 12:00:00 UTC`` (the date once when both ends share it)."""
    from workbench.display import format_window

    return format_window(w)


def _human(w: Window) -> str:
    secs = int(w.duration.total_seconds())
    h, rem = divmod(secs, 3600)
    m = rem // 60
    return f"{h}h{m:02d}m" if h else f"{m}m"


def window_from_args(
    *, since: str | None = None, window: str | None = None, now: datetime | None = None
) -> Window:
    """The window a user described with ``--since 45m`` or ``--window A..B``."""
    if window:
        return Window.parse(window, now=now)
    if since:  # whole seconds: a window people read and type back
        now = now or datetime.now(UTC).replace(microsecond=0)
        return Window.last(parse_duration(since), now=now)
    raise ConfigError("give --since DURATION or --window START..END")
