"""Capacity buckets on local data: a lazy polars scan of metrics Parquet (a lab directory,
a ``.parquet`` file, a frame), or the window loaded once from any other files source.

:class:`FrameCapacity` wraps a path or a frame; :class:`FilesCapacity` is the capability
the file sources (:class:`~workbench.sources.files.DirectorySource`, ``FileSource``) have.

Example::

    >>> FrameCapacity.of("/data/lab").capacity_buckets(BucketRequest(window, specs, None,
    ...                                                              step, res))
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from workbench import frames
from workbench.errors import BadData
from workbench.sources.capabilities import (
    BUCKET_COLUMNS,
    BucketRequest,
    Buckets,
    CapacityAggregation,
    empty_buckets,
    td_ms,
)
from workbench.timewindow import Window

__all__ = ["FilesCapacity", "FrameCapacity", "parquet_files"]


def parquet_files(p: Path) -> list[Path]:
    """The metrics Parquet files of a lab directory, a directory or one file."""
    if p.is_file():
        return [p] if p.suffix == ".parquet" else []
    if (p / "metrics").is_dir():
        return sorted((p / "metrics").glob("*.parquet"))
    return sorted(p.glob("*.parquet"))


class FrameCapacity(CapacityAggregation):
    """Capacity buckets from a lazy frame in the metrics contract."""

    kind = "files"

    def __init__(self, lf: pl.LazyFrame) -> None:
        self.lf = lf

    @classmethod
    def of(cls, data: pl.DataFrame | pl.LazyFrame | str | Path) -> FrameCapacity:
        """From a frame, a lab directory (``metrics/*.parquet``) or a ``.parquet`` file."""
        if isinstance(data, pl.DataFrame | pl.LazyFrame):
            return cls(data.lazy())
        files = parquet_files(Path(data))
        if not files:
            raise BadData(
                f"no metrics Parquet file at {data}",
                field="path",
                hint="give a lab directory (metrics/*.parquet) or a .parquet file in the "
                "metrics frame contract",
            )
        return cls(pl.scan_parquet(files))

    def capacity_span(self) -> Window | None:
        span = self.lf.select(lo=pl.col("ts").min(), hi=pl.col("ts").max()).collect()
        lo, hi = span["lo"][0], span["hi"][0]
        if lo is None:
            raise BadData("the metrics files hold no samples", field="ts")
        return Window(lo, hi.replace(microsecond=0) + timedelta(seconds=1))  # past the last

    def capacity_has_metric(self, metrics: list[str], window: Window) -> bool:
        got = self.lf.filter(pl.col("metric").is_in(metrics)).select("metric").head(1).collect()
        return got.height > 0

    def capacity_buckets(self, request: BucketRequest) -> Buckets:
        return _buckets(self.lf, request)


class FilesCapacity(CapacityAggregation):
    """The capability of file sources: their metrics Parquet scanned lazily, or (other
    formats) the window loaded once and bucketed in memory."""

    def _frame_capacity(self) -> FrameCapacity | None:
        path = getattr(self, "path", None)
        files = parquet_files(Path(path)) if path is not None else []
        return FrameCapacity(pl.scan_parquet(files)) if files else None

    def capacity_span(self) -> Window | None:
        fc = self._frame_capacity()
        return fc.capacity_span() if fc is not None else None

    def capacity_has_metric(self, metrics: list[str], window: Window) -> bool:
        fc = self._frame_capacity()
        if fc is not None:
            return fc.capacity_has_metric(metrics, window)
        src: Any = self
        return src.metrics("service:*", window).frame.height > 0

    def capacity_buckets(self, request: BucketRequest) -> Buckets:
        fc = self._frame_capacity()
        if fc is not None:
            return fc.capacity_buckets(request)
        src: Any = self
        metrics = sorted({s.metric for spec in request.specs for s in (spec.usage, spec.limit)})
        loaded = [src.metrics(m, request.window, services=request.services) for m in metrics]
        buckets = _buckets(pl.concat([r.frame for r in loaded]).lazy(), request)
        reasons = [why for r in loaded for why in r.reasons]
        return Buckets(buckets.usage, buckets.limit, buckets.queries, len(loaded), reasons)


def _buckets(lf: pl.LazyFrame, req: BucketRequest) -> Buckets:
    win, services, step = req.window, req.services, req.step
    metrics = sorted({s.metric for spec in req.specs for s in (spec.usage, spec.limit)})
    lf = lf.filter(
        pl.col("metric").is_in(metrics),
        pl.col("ts") >= win.start,
        pl.col("ts") < win.end,
    )
    if services is not None:
        lf = lf.filter(pl.col("service").is_in(services))
    every = f"{td_ms(step)}ms"
    fine = f"{td_ms(min(req.res, step))}ms"
    outs: dict[str, list[pl.LazyFrame]] = {"usage": [], "limit": []}
    for spec in req.specs:
        for role, s, agg in (("usage", spec.usage, "max"), ("limit", spec.limit, "min")):
            x = lf.filter(pl.col("metric") == s.metric)
            for k, v in s.match.items():
                x = x.filter(frames.attr("labels", k) == v)
            if not (s.per_service and s.kind == "gauge"):
                x = _per_service(x, s.kind, fine)
            b = (
                x.group_by(pl.col("ts").dt.truncate(every), "service")
                .agg(getattr(pl.col("value"), agg)())
                .select("ts", "service", pl.lit(spec.name).alias("resource"), "value")
            )
            outs[role].append(b)
    usage = pl.concat(pl.collect_all(outs["usage"])) if outs["usage"] else empty_buckets()
    cap = pl.concat(pl.collect_all(outs["limit"])) if outs["limit"] else empty_buckets()
    return Buckets(
        usage.select(*(pl.col(c).cast(t) for c, t in BUCKET_COLUMNS.items())),
        cap.select(*(pl.col(c).cast(t) for c, t in BUCKET_COLUMNS.items())),
        [f"files: {m}" for m in metrics],
        1,
    )


def _per_service(x: pl.LazyFrame, kind: str, fine: str) -> pl.LazyFrame:
    """Per series at ``fine`` resolution (mean of a gauge, rate of a counter), summed per
    service."""
    t = pl.col("ts").dt.truncate(fine)
    if kind == "gauge":
        v = pl.col("value").mean()
    else:
        dt = (pl.col("ts").max() - pl.col("ts").min()).dt.total_microseconds() / 1e6
        v = pl.when(dt > 0).then(
            (pl.col("value").max() - pl.col("value").min()).clip(lower_bound=0) / dt
        )
    return (
        x.group_by(t, "service", pl.col("labels").hash().alias("_series"))
        .agg(v.alias("value"))
        .drop_nulls("value")
        .group_by("ts", "service")
        .agg(pl.col("value").sum())
    )
