"""Write a :class:`~workbench.lab.metrics.SeriesSet` as OpenMetrics text and as Parquet.

The OpenMetrics file carries a timestamp (seconds, millisecond precision) on every sample
so ``promtool tsdb create-blocks-from openmetrics metrics.om OUTDIR`` loads it; the
Parquet file holds the same samples in the metrics frame contract.

Example::

    >>> write_openmetrics(ss, out / "metrics" / "metrics.om")
    >>> frame = to_frame(ss)     # the metrics frame, validated
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from workbench import frames
from workbench.lab.metrics import SeriesSet, family_of

__all__ = ["PARQUET_OPTS", "to_frame", "write_openmetrics", "write_parquet"]

PARQUET_OPTS = {
    "compression": "zstd",
    "compression_level": 3,
    "statistics": True,
    "row_group_size": 262_144,
}


def _ranks(ss: SeriesSet) -> dict[str, int]:
    return {name: i for i, (name, _, _) in enumerate(ss.families)}


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_str(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())


def write_openmetrics(ss: SeriesSet, path: Path) -> int:
    """Write the OpenMetrics text file; return the number of samples.

    Families in ``ss.families`` order, each series' samples in time order; the lines are
    built column-wise (no per-sample Python loop, no sort: series are taken in order).
    """
    ranks = _ranks(ss)
    fam_rank = np.array([ranks[family_of(m)] for m in ss.metric], dtype=np.int64)
    n_series, n = ss.values.shape
    order = np.lexsort((np.arange(n_series), fam_rank))  # by family, then series index
    vals = ss.values[order]
    keep = ~np.isnan(vals.reshape(-1))
    pos = np.repeat(np.arange(n_series, dtype=np.int64), n)[keep]  # position in ``order``
    step = np.tile(np.arange(n, dtype=np.int64), n_series)[keep]
    offs = np.asarray(ss.offset_ms, dtype=np.int64)[order]
    ts_ms = round(ss.grid.t0 * 1000) + step * round(ss.grid.step_s * 1000) + offs[pos]
    prefix = pl.Series(
        [f"{ss.metric[i]}{{{_label_str(ss.labels[i])}}} " for i in order], dtype=pl.String
    )
    is_int = pl.Series(np.asarray(ss.is_int, dtype=bool)[order])
    idx = pl.Series(pos)
    df = pl.DataFrame(
        {
            "prefix": prefix.gather(idx),
            "is_int": is_int.gather(idx),
            "value": vals.reshape(-1)[keep],
            "ts_ms": ts_ms,
        }
    )
    lines = df.select(
        pl.concat_str(
            pl.col("prefix"),
            pl.when(pl.col("is_int"))
            .then(pl.col("value").cast(pl.Int64).cast(pl.String))
            .otherwise(pl.col("value").round(6).cast(pl.String)),
            pl.lit(" "),
            (pl.col("ts_ms") // 1000).cast(pl.String),
            pl.lit("."),
            (pl.col("ts_ms") % 1000).cast(pl.String).str.zfill(3),
        ).alias("line")
    )["line"]
    per_family = np.bincount(fam_rank[order][pos], minlength=len(ss.families))
    path.parent.mkdir(parents=True, exist_ok=True)
    start = 0
    with open(path, "wb") as fh:
        for rank, (name, typ, help_) in enumerate(ss.families):
            count = int(per_family[rank])
            if not count:
                continue
            fh.write(f"# HELP {name} {help_}\n# TYPE {name} {typ}\n".encode())
            fh.flush()
            lines.slice(start, count).to_frame().write_csv(
                fh, include_header=False, quote_style="never", line_terminator="\n"
            )
            start += count
        fh.write(b"# EOF\n")
    return len(lines)


def to_frame(ss: SeriesSet) -> pl.DataFrame:
    """The samples as a metrics frame (``ts, metric, service, value, labels``), in the same
    order as the OpenMetrics file."""
    ranks = _ranks(ss)
    fam_rank = np.array([ranks[family_of(m)] for m in ss.metric], dtype=np.int64)
    n_series, n = ss.values.shape
    order = np.lexsort((np.arange(n_series), fam_rank))
    vals = ss.values[order]
    keep = ~np.isnan(vals.reshape(-1))
    idx = pl.Series(np.repeat(np.arange(n_series, dtype=np.int64), n)[keep])
    step = np.tile(np.arange(n, dtype=np.int64), n_series)[keep]
    offs = np.asarray(ss.offset_ms, dtype=np.int64)[order]
    ts_us = (round(ss.grid.t0 * 1000) + step * round(ss.grid.step_s * 1000) + offs[idx]) * 1000
    lab = [{k: v for k, v in ss.labels[i].items() if k != "service"} for i in order]
    df = pl.DataFrame(
        {
            "ts": pl.Series(ts_us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "metric": pl.Series([ss.metric[i] for i in order], dtype=pl.String).gather(idx),
            "service": pl.Series(
                [ss.labels[i].get("service") for i in order], dtype=pl.String
            ).gather(idx),
            "value": vals.reshape(-1)[keep],
            "labels": frames.kv_from_dicts(lab).gather(idx),
        }
    )
    return frames.validate(df, "metrics", source="workbench.lab")


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_parquet(path, **PARQUET_OPTS)
