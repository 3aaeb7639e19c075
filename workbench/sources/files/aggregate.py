"""Per-service metric aggregates straight from Parquet: the first pass of an investigation.

Ranking services needs each service's series, not each pod's. :func:`service_aggregates`
reads contract Parquet files in bounded pieces (a few row groups at a time, only the five
metric columns, row groups outside the window skipped by their ``ts`` statistics), so
memory is bounded by one piece (:data:`CHUNK_ROWS` raw rows) plus the per-step partial
sums, whatever the files' size, and returns the samples aggregated ``without`` the
per-instance labels (:data:`PER_INSTANCE`: ``pod``, ``instance``, ...) at ``step``: the
PromQL ``sum without (pod, instance)``.

* Counters (names ending in ``_total``, ``_count``, ``_sum``, ``_bucket``: the same rule
  as :func:`workbench.analysis.changes.rate_counters`): each series' increase per sample
  (a decrease is a reset and counts 0) is summed per group and step, then accumulated
  again, so the result is a reset-free counter whose rate is the sum of the instances'
  rates. A series cut between two pieces keeps the increase across the cut (each
  piece's first and last sample per series are stitched).
* Gauges: the mean over the group's samples in the step.

Each piece is first read without its label strings (:mod:`.labelruns`: the labels as
dictionary indices, where the label list changes found by comparing neighbours); a piece
written as series blocks in time order (the lab, most exporters) is aggregated block by
block with the per-series work on each block's first row (no sort, no per-row hash);
any other piece is read again with its labels and sorted by (series, ts). Measured at
300 / 1,000 services (the RED+saturation signals): 6.6 -> 3.7 / 23.7 -> 12.2 CPU-s, the
same frame bit for bit, peak RSS not higher (issue 12, branch signalsfast).

Pieces must hold each series in time order across pieces (files ordered by series or by
time, as every exporter and the lab write them); a file where a series' samples go back
in time from one piece to the next is aggregated whole instead (exact, more memory).

Example::

    >>> from workbench.sources.files.aggregate import service_aggregates
    >>> service_aggregates(paths, window, step=timedelta(seconds=60)).height
"""

from __future__ import annotations

import functools
import io
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from workbench import frames
from workbench.analysis.changes import COUNTER_SUFFIXES
from workbench.errors import BadData
from workbench.sources.files import compressed, parquet
from workbench.sources.files.labelruns import LEAVES, LabelRuns
from workbench.timewindow import Window

__all__ = ["CHUNK_ROWS", "PER_INSTANCE", "keyed_aggregates", "service_aggregates"]

#: labels that name one instance of a service; aggregates sum or average over them
PER_INSTANCE: tuple[str, ...] = (
    "pod",
    "instance",
    "k8s_pod_name",
    "k8s.pod.name",
    "pod_name",
    "container_id",
    "service_instance_id",
    "service.instance.id",
)

_COLUMNS = ["ts", "metric", "service", "value", "labels"]

#: raw rows read at once (whole row groups; a row group larger than this is one piece).
#: Measured on the 1,000-service lab's latency histogram (9.7M rows, 41 row groups of
#: 262,144): see the closing note of issue 18 (scale2).
CHUNK_ROWS = 262_144


def _is_counter() -> pl.Expr:
    return pl.any_horizontal([pl.col("metric").str.ends_with(s) for s in COUNTER_SUFFIXES])


def _compact(df: pl.DataFrame) -> pl.DataFrame:
    """A copy of a small frame that owns its strings: a slice or gather of polars strings
    keeps the whole piece's string buffers alive (the labels of a million rows)."""
    buf = io.BytesIO()
    df.write_ipc(buf, compression="uncompressed")
    buf.seek(0)
    return pl.read_ipc(buf)


def _kept(lists: pl.DataFrame, keep: list[str] | None, drop: list[str]) -> pl.Series:
    """Each of ``lists``' ``labels`` (one row per ``_lh``) with only the ``keep`` keys
    (or without the ``drop`` keys), sorted: what ``list.filter(...).list.sort()`` gives,
    exploded instead (10x cheaper: 0.0016 vs 0.017 CPU-s for 1,116 label lists)."""
    key = pl.col("labels").struct.field("key")
    kept = (
        lists.explode("labels")
        .filter(key.is_in(keep) if keep is not None else ~key.is_in(drop))
        .sort("_lh", "labels")
        .group_by("_lh", maintain_order=True)
        .agg("labels")
    )
    empty = pl.lit([], dtype=lists.schema["labels"])
    out = lists.select("_lh", _null=pl.col("labels").is_null()).join(
        kept, on="_lh", how="left", maintain_order="left"
    )
    labels = pl.when(pl.col("_null")).then(None).otherwise(pl.col("labels").fill_null(empty))
    return out.select(labels.alias("labels"))["labels"]


class _Unordered(Exception):
    """A series goes back in time between two pieces: aggregate the file whole."""


@dataclass
class _Acc:
    """What the pieces leave behind: partial sums per (group, step), the groups, the
    label sets per group key, and each series' first/last sample per piece."""

    step: str
    drop: list[str]
    keep: list[str] | None = None
    gauges: str = "mean"
    parts: list[pl.DataFrame] = field(default_factory=list)
    gauge_parts: list[pl.DataFrame] = field(default_factory=list)
    groups: list[pl.DataFrame] = field(default_factory=list)
    sets: list[pl.DataFrame] = field(default_factory=list)
    edges: list[pl.DataFrame] = field(default_factory=list)
    known: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"_lh": pl.UInt64, "_kh": pl.UInt64})
    )
    piece: int = 0

    def add(self, df: pl.DataFrame) -> None:
        """Aggregate one piece of raw rows (``ts, metric, service, value, labels``)."""
        if df.height == 0:
            return
        df = df.with_columns(_lh=pl.col("labels").hash(11))
        lchg = (pl.col("_lh") != pl.col("_lh").shift(1)).fill_null(True)
        blocks = df.select("ts", "metric", "service", "value", _lchg=lchg)
        if not self.add_blocks(blocks, lambda at: df["labels"].gather(at)):
            self._add_sorted(df)

    def add_blocks(self, df: pl.DataFrame, labels_at: Callable[[pl.Series], pl.Series]) -> bool:
        """Aggregate a piece given as ``ts, metric, service, value, _lchg`` (True where
        the row's label list differs from the previous row's) and ``labels_at`` (the
        label lists of some rows) when it is series blocks in time order; False (and
        nothing added) otherwise: the caller then :meth:`add` s it."""
        if df.height == 0:
            return True
        if not self._add_blocks(df, labels_at):
            return False
        self.piece += 1
        return True

    def _label_sets(self, df: pl.DataFrame) -> pl.DataFrame:
        """``_lh -> _kh`` of the piece's distinct label lists; the kept labels of those
        not seen in an earlier piece go to :attr:`sets` (filtering and sorting the lists
        cost 0.3 CPU-s over the 300-service lab when redone for every piece: most series
        span several pieces)."""
        lists = df.select("_lh", "labels").unique("_lh")
        if self.known.height:
            lists = lists.filter(~pl.col("_lh").is_in(self.known["_lh"].implode()))
        sets = lists.select("_lh", labels=_kept(lists, self.keep, self.drop)).with_columns(
            _kh=pl.col("labels").hash(13)
        )
        self.sets.append(_compact(sets.select("_kh", "labels").unique("_kh")))
        self.known = pl.concat([self.known, sets.select("_lh", "_kh")], rechunk=True)
        return self.known

    def _add_blocks(self, df: pl.DataFrame, labels_at: Callable[[pl.Series], pl.Series]) -> bool:
        """The piece as series blocks in time order (how the lab and exporters write
        them): the per-series work on each block's first row only, no sort. False (and
        nothing added) when a series appears in two blocks or goes back in time.

        Measured on a 262,144-row piece of the 300-service lab's histogram (1,200
        series): sorting by (series, ts) 0.05 CPU-s, the struct hashes 0.02, the joins
        and per-row uniques 0.03; block detection here ~0.005 (shifts and a cumsum)."""
        changed = (
            pl.col("_lchg")
            | (pl.col("service") != pl.col("service").shift(1))
            | (pl.col("metric") != pl.col("metric").shift(1))
        ).fill_null(True)
        df = df.with_columns(_new=changed)
        # in time order inside blocks (strictly: a repeated timestamp goes to the sort)
        back = df.select(((pl.col("ts") <= pl.col("ts").shift(1)) & ~pl.col("_new")).any()).item()
        if back:
            return False
        at = df["_new"].arg_true()
        heads = (
            df.select("metric", "service")[at]
            .with_columns(labels_at(at).alias("labels"))
            .with_columns(_lh=pl.col("labels").hash(11))
            .with_columns(_s=pl.struct("metric", "service", "_lh").hash(17))
        )
        if heads["_s"].n_unique() != heads.height:  # a series in two blocks
            return False
        heads = heads.join(self._label_sets(heads), on="_lh", how="left", maintain_order="left")
        heads = heads.with_columns(
            _g=pl.struct("metric", "service", "_kh").hash(19), _counter=_is_counter()
        )
        self.groups.append(
            _compact(heads.select("_g", "metric", "service", "_kh", "_counter").unique("_g"))
        )
        # each row's block (0-based) -> its series' keys by gather, not by join
        blk = (df["_new"].cum_sum() - 1).alias("_blk")
        rows = pl.DataFrame(
            {
                "_g": heads["_g"].gather(blk),
                "_s": heads["_s"].gather(blk),
                "_counter": heads["_counter"].gather(blk),
                "ts": df["ts"],
                "value": df["value"],
                "_new": df["_new"],
            }
        )
        inc = (
            pl.when(pl.col("_new")).then(0.0).otherwise(pl.col("value").diff().clip(lower_bound=0))
        )
        rows = rows.with_columns(
            _v=pl.when(pl.col("_counter")).then(inc).otherwise(pl.col("value")),
            _b=pl.col("ts").dt.truncate(self.step),
            _last=pl.col("_new").shift(-1).fill_null(True),
        )
        self._add_rows(rows)
        # a counter series' first and last sample: its block's first and last row
        ends = rows.filter(pl.col("_counter") & (pl.col("_new") | pl.col("_last")))
        first = ends.filter(pl.col("_new"))
        last = ends.filter(pl.col("_last"))
        self.edges.append(
            pl.DataFrame(
                {
                    "_s": first["_s"],
                    "_g": first["_g"],
                    "first_ts": first["ts"],
                    "first_v": first["value"],
                    "last_ts": last["ts"],
                    "last_v": last["value"],
                }
            ).with_columns(piece=pl.lit(self.piece, pl.UInt32))
        )
        return True

    def _add_rows(self, df: pl.DataFrame) -> None:
        """Partial sums of rows with ``_g, _s, _b, _v, _counter``."""
        agg = {"_sum": pl.col("_v").sum(), "_n": pl.len().cast(pl.UInt32)}
        if self.gauges == "sum":  # gauges: each series' mean in the step, summed later
            self.gauge_parts.append(
                df.filter(~pl.col("_counter")).group_by("_g", "_s", "_b").agg(**agg)
            )
            df = df.filter(pl.col("_counter"))
        self.parts.append(df.group_by("_g", "_b").agg(**agg))

    def _add_sorted(self, df: pl.DataFrame) -> None:
        """Any row order: sorted by (series, ts) first."""
        sets = self._label_sets(df)
        counter = _is_counter()
        df = (
            df.drop("labels")
            .join(sets, on="_lh", how="left")
            .with_columns(
                _s=pl.struct("metric", "service", "_lh").hash(17),
                _g=pl.struct("metric", "service", "_kh").hash(19),
                _counter=counter,
            )
            .sort("_s", "ts")
        )
        new = (pl.col("_s") != pl.col("_s").shift(1)).fill_null(True)
        inc = pl.when(new).then(0.0).otherwise(pl.col("value").diff().clip(lower_bound=0))
        df = df.with_columns(
            _v=pl.when(pl.col("_counter")).then(inc).otherwise(pl.col("value")),
            _b=pl.col("ts").dt.truncate(self.step),
        )
        self._add_rows(df)
        self.groups.append(
            _compact(df.select("_g", "metric", "service", "_kh", "_counter").unique("_g"))
        )
        self.edges.append(
            df.filter(pl.col("_counter"))
            .group_by("_s")
            .agg(
                _g=pl.col("_g").first(),
                first_ts=pl.col("ts").first(),
                first_v=pl.col("value").first(),
                last_ts=pl.col("ts").last(),
                last_v=pl.col("value").last(),
            )
            .with_columns(piece=pl.lit(self.piece, pl.UInt32))
        )
        self.piece += 1

    def stitches(self) -> pl.DataFrame:
        """The counter increases across piece boundaries (``_g, _b, _sum, _n``)."""
        if len(self.edges) < 2:
            return pl.DataFrame(
                schema={
                    "_g": pl.UInt64,
                    "_b": pl.Datetime("us", "UTC"),
                    "_sum": pl.Float64,
                    "_n": pl.UInt32,
                }
            )
        e = pl.concat(self.edges).sort("_s", "piece")
        same = pl.col("_s") == pl.col("_s").shift(1)
        e = e.with_columns(
            _prev_ts=pl.when(same).then(pl.col("last_ts").shift(1)),
            _prev_v=pl.when(same).then(pl.col("last_v").shift(1)),
        ).filter(pl.col("_prev_ts").is_not_null())
        if e.filter(pl.col("_prev_ts") >= pl.col("first_ts")).height:
            raise _Unordered
        return e.select(
            "_g",
            _b=pl.col("first_ts").dt.truncate(self.step),
            _sum=(pl.col("first_v") - pl.col("_prev_v")).clip(lower_bound=0),
            _n=pl.lit(0, pl.UInt32),
        )

    def result(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The aggregated rows (``ts, metric, service, value, _kh``: series blocks in
        time order) and the label sets (``_kh, labels``)."""
        labels = (
            pl.concat(self.sets).unique("_kh")
            if self.sets
            else pl.DataFrame(
                schema={"_kh": pl.UInt64, "labels": frames.SCHEMAS["metrics"]["labels"]}
            )
        )
        if not self.parts:
            empty = frames.empty("metrics").drop("labels").with_columns(_kh=pl.lit(0, pl.UInt64))
            return empty.clear(), labels
        gauge_sums = []
        if self.gauge_parts:  # sum over series of each series' mean in the step
            gauge_sums = [
                pl.concat(self.gauge_parts)
                .group_by("_g", "_s", "_b")
                .agg(_mean=pl.col("_sum").sum() / pl.col("_n").sum())
                .group_by("_g", "_b")
                .agg(_sum=pl.col("_mean").sum(), _n=pl.lit(1, pl.UInt32))
            ]
            self.gauge_parts.clear()
        sums = (
            pl.concat([*self.parts, self.stitches(), *gauge_sums], how="vertical_relaxed")
            .group_by("_g", "_b")
            .agg(pl.col("_sum").sum(), pl.col("_n").sum())
            .sort("_g", "_b")  # series blocks in time order: what the analysis wants
        )
        self.parts.clear()
        groups = pl.concat(self.groups).unique("_g")
        rows = sums.join(groups, on="_g", how="left", maintain_order="left").select(
            pl.col("_b").alias("ts"),
            "metric",
            "service",
            pl.when(pl.col("_counter"))
            .then(pl.col("_sum").cum_sum().over("_g"))
            .otherwise(pl.col("_sum") / pl.col("_n"))
            .alias("value"),
            "_kh",
        )
        return rows, labels


def _runs(
    md: pq.FileMetaData, window: Window, rows: int, metrics: Sequence[str] | None = None
) -> Iterator[tuple[int, int]]:
    """``(offset, length)`` of runs of whole row groups of about ``rows`` rows, skipping
    row groups whose ``ts`` statistics lie outside ``window`` (or whose ``metric``
    statistics exclude every name of ``metrics``)."""
    names = [md.schema.column(i).path for i in range(md.num_columns)]
    ts_col = names.index("ts") if "ts" in names else None
    metric_col = names.index("metric") if "metric" in names else None
    start = n = offset = 0
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        if _outside(rg, ts_col, window, metric_col, metrics):
            if n:
                yield start, n
            offset += rg.num_rows
            start, n = offset, 0
            continue
        n += rg.num_rows
        offset += rg.num_rows
        if n >= rows:
            yield start, n
            start, n = offset, 0
    if n:
        yield start, n


def _outside(
    rg: pq.RowGroupMetaData,
    ts_col: int | None,
    window: Window,
    metric_col: int | None = None,
    metrics: Sequence[str] | None = None,
) -> bool:
    """True when the row group's statistics show no row in ``window`` (or, with
    ``metrics``, none of those metric names)."""
    try:
        if ts_col is not None:
            st = rg.column(ts_col).statistics
            bounds = _utc_bounds(st, window) if st is not None and st.has_min_max else None
            if bounds is not None and (st.max_raw < bounds[0] or st.min_raw >= bounds[1]):
                return True
        if metric_col is not None and metrics:
            st = rg.column(metric_col).statistics
            if st is not None and st.has_min_max:
                return not any(st.min <= m <= st.max for m in metrics)
    except TypeError:  # naive or odd statistics: read the row group
        return False
    return False


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PER_SECOND = {"milliseconds": 10**3, "microseconds": 10**6, "nanoseconds": 10**9}


def _utc_bounds(st: pq.Statistics, window: Window) -> tuple[int, int] | None:
    """``window`` as raw integers of a UTC timestamp column's statistics, or None (naive
    or unknown unit: read the row group). Raw integers, not ``st.min``/``st.max``: for a
    nanosecond column pyarrow builds those as pandas Timestamps, importing pandas on the
    loader's thread, and a half-imported pandas breaks altair drawing on another thread
    (the explorer draws while metrics load: seen at 300 services)."""
    meta = json.loads(st.logical_type.to_json())
    per_s = _PER_SECOND.get(meta.get("timeUnit", ""))
    if meta.get("Type") != "Timestamp" or not meta.get("isAdjustedToUTC") or per_s is None:
        return None
    return (_epoch(window.start, per_s), _epoch(window.end, per_s))


def _epoch(t: datetime, per_s: int) -> int:
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * per_s + d.microseconds * per_s // 10**6


def _read(
    src: Path | io.BytesIO,
    offset: int,
    length: int,
    window: Window,
    services: Sequence[str] | None,
    metrics: Sequence[str] | None,
    columns: list[str],
) -> pl.DataFrame:
    """Rows ``offset .. offset + length`` of ``src`` in the window, ``columns`` only
    (``_i``: the row's index in the piece). Read by polars: pyarrow's allocator kept every
    piece's nested label strings resident (4 GiB at 1,000 services)."""
    if hasattr(src, "seek"):
        src.seek(0)
    lf = pl.scan_parquet(src).slice(offset, length).with_row_index("_i").select(columns)
    if metrics is not None:
        lf = lf.filter(pl.col("metric").is_in(list(metrics)))
    return parquet.filter_frame(lf, "metrics", window, services).collect()


def _light_pieces(
    acc: _Acc,
    src: Path | io.BytesIO,
    runs: Sequence[tuple[int, int]],
    window: Window,
    services: Sequence[str] | None,
    metrics: Sequence[str] | None,
) -> _Acc:
    """Add the pieces ``runs`` of ``src`` to ``acc`` and return it.

    A piece is first read without its label strings (:mod:`.labelruns`: dictionary
    indices, 0.03 CPU-s per 262,144 lab rows instead of 0.08 + 0.045 to hash them) and
    added as series blocks; a piece that is not in series blocks is read again whole
    and sorted."""
    pf = pq.ParquetFile(src, read_dictionary=LEAVES, pre_buffer=False)
    md = pf.metadata
    starts = [0]
    for i in range(md.num_row_groups):
        starts.append(starts[-1] + md.row_group(i).num_rows)
    for offset, length in runs:
        light = _read(src, offset, length, window, services, metrics, ["_i", *_COLUMNS[:4]])
        if light.height == 0:
            continue
        groups = [i for i in range(md.num_row_groups) if offset <= starts[i] < offset + length]
        labels = LabelRuns.read(pf, groups, light["_i"].to_numpy())
        done = False
        if labels is not None:
            blocks = light.drop("_i").with_columns(_lchg=pl.Series(labels.changed()))
            done = acc.add_blocks(blocks, labels.decode)
            del labels, blocks
        # pyarrow's pool (mimalloc) keeps freed pieces otherwise: +180 MiB peak at 1,000
        # services (1,274 vs 1,096 MiB with the system pool)
        pa.default_memory_pool().release_unused()
        if not done:
            acc.add(_read(src, offset, length, window, services, metrics, _COLUMNS))
    return acc


def _merged(accs: Sequence[_Acc], into: _Acc) -> _Acc:
    """``into`` with what ``accs`` (each fed some pieces, in piece order) left behind,
    as if one accumulator had been fed every piece in that order: the same partial
    sums, groups and edges frame for frame, the edges' piece numbers running on from
    one accumulator to the next (the stitches follow them). Only :attr:`_Acc.sets`
    differs: a label set met by two accumulators is listed twice, and
    :meth:`_Acc.result` keeps one row per ``_kh`` (the same labels by construction)."""
    for a in accs:
        into.parts += a.parts
        into.gauge_parts += a.gauge_parts
        into.groups += a.groups
        into.sets += a.sets
        into.edges += [e.with_columns(piece=pl.col("piece") + into.piece) for e in a.edges]
        into.piece += a.piece
    return into


def _plan(
    path: Path, window: Window, rows: int, source: str | None, metrics: Sequence[str] | None
) -> tuple[Path | io.BytesIO, list[tuple[int, int]]]:
    """``path``'s source (a path, or a compressed file's bytes) and its pieces."""
    src = parquet._source(path, source=source)
    md = pq.ParquetFile(src, pre_buffer=False).metadata
    return src, list(_runs(md, window, rows, metrics))


def _bad(p: Path, exc: Exception, source: str | None) -> BadData:
    return BadData(
        f"cannot aggregate Parquet {p.name}: {str(exc).splitlines()[0][:200]}",
        path=str(p),
        source=source,
        hint="the file may be truncated or not in the metrics frame contract",
    )


def _aggregate(
    paths: Sequence[Path],
    window: Window,
    step: timedelta,
    services: Sequence[str] | None,
    drop: Sequence[str],
    rows: int | None,
    source: str | None,
    keep: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    gauges: str = "mean",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Aggregate ``paths`` piece by piece (``rows`` raw rows at a time) or, with
    ``rows=None``, all of them as one piece (exact whatever the row order).

    The pieces are aggregated side by side (:func:`workbench.analysis.threads.run_all`:
    one thread per core, each piece into an accumulator of its own, merged in file and
    piece order by :func:`_merged`: the frame one accumulator fed every piece in turn
    gives, bit for bit); a compressed file's pieces stay together (one buffer). Memory:
    one piece per thread."""

    def new() -> _Acc:
        return _Acc(
            f"{int(step.total_seconds())}s",
            list(drop),
            None if keep is None else list(keep),
            gauges,
        )

    if rows is None:  # one piece of every file's rows in the window
        whole: list[pl.DataFrame] = []
        for p in paths:
            try:
                src, runs = _plan(p, window, 2**62, source, metrics)
                whole += [_read(src, *run, window, services, metrics, _COLUMNS) for run in runs]
            except Exception as exc:  # pyarrow and polars raise many kinds on a bad file
                raise _bad(p, exc, source) from exc
        acc = new()
        if whole:
            acc.add(pl.concat(whole, how="vertical_relaxed"))
        return acc.result()

    # a plain file: one task per piece; a compressed one: one task for the file, which
    # decompresses it (so at most one decompressed file per thread is held at once)
    tasks: list[tuple[Path, Path | None, list[tuple[int, int]] | None]] = []
    for p in paths:
        if compressed.codec_of(p) is not None:
            tasks.append((p, None, None))
            continue
        try:
            md = pq.ParquetFile(p, pre_buffer=False).metadata
        except Exception as exc:  # pyarrow raises many kinds on a bad file
            raise _bad(p, exc, source) from exc
        tasks += [(p, p, [run]) for run in _runs(md, window, rows, metrics)]

    # the label lists whose kept sets a thread has computed (``_lh -> _kh``, the same
    # whoever computes them): each piece's accumulator starts from its thread's, so a
    # series spanning pieces has its labels filtered and sorted once per thread
    seen = threading.local()

    def piece(p: Path, src: Path | None, runs: list[tuple[int, int]] | None) -> _Acc:
        acc = new()
        acc.known = getattr(seen, "known", acc.known)
        try:
            if src is None or runs is None:  # a compressed file, whole
                got, runs = _plan(p, window, rows, source, metrics)
                _light_pieces(acc, got, runs, window, services, metrics)
            else:
                _light_pieces(acc, src, runs, window, services, metrics)
        except Exception as exc:
            raise _bad(p, exc, source) from exc
        seen.known = acc.known
        return acc

    from workbench.analysis.threads import run_all

    accs = run_all({i: functools.partial(piece, *t) for i, t in enumerate(tasks)})
    return _merged(list(accs.values()), new()).result()


def keyed_aggregates(
    paths: Sequence[str | Path],
    window: Window,
    *,
    step: timedelta = timedelta(seconds=60),
    services: Sequence[str] | None = None,
    drop: Sequence[str] = PER_INSTANCE,
    source: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    keep: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    gauges: str = "mean",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`service_aggregates` without the label lists on every row: the rows
    (``ts, metric, service, value, _kh``) and their label sets (``_kh, labels``), for
    callers that read a few labels (:mod:`workbench.sources.files.signals`).
    ``gauges="sum"``: a gauge group's value is the sum over its series of each series'
    mean in the step (PromQL ``sum by`` of a gauge) instead of the mean of its samples.

    >>> rows, sets = keyed_aggregates(paths, win, keep=("le",))
    """
    if step.total_seconds() < 1:
        raise ValueError("step must be at least one second")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    if gauges not in ("mean", "sum"):
        raise ValueError("gauges must be 'mean' or 'sum'")
    ps = [Path(p) for p in paths]
    try:
        return _aggregate(
            ps, window, step, services, drop, chunk_rows, source, keep, metrics, gauges
        )
    except _Unordered:
        # a series goes back in time across pieces: all rows as one piece (exact)
        return _aggregate(ps, window, step, services, drop, None, source, keep, metrics, gauges)


def service_aggregates(
    paths: Sequence[str | Path],
    window: Window,
    *,
    step: timedelta = timedelta(seconds=60),
    services: Sequence[str] | None = None,
    drop: Sequence[str] = PER_INSTANCE,
    source: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    keep: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> pl.DataFrame:
    """The metrics frame of ``paths`` over ``window``, aggregated per service (every
    label but ``drop``; with ``keep``, only those labels: ``sum by (service, *keep)``)
    at ``step`` (see the module docstring), each series one block in time order (what
    :func:`workbench.analysis.changes.score_changes` wants); ``metrics`` limits it to
    those metric names (row groups without them are skipped). The files are read
    ``chunk_rows`` raw rows (whole row groups) at a time; a series may span files and
    pieces.

    >>> service_aggregates(["metrics/metrics.parquet"], win, step=timedelta(minutes=1))
    """
    rows, sets = keyed_aggregates(
        paths, window, step=step, services=services, drop=drop, source=source,
        chunk_rows=chunk_rows, keep=keep, metrics=metrics,
    )  # fmt: skip
    if rows.height == 0:
        return frames.empty("metrics")
    df = rows.join(sets, on="_kh", how="left", maintain_order="left").drop("_kh")
    return frames.validate(df, "metrics", source=source)
