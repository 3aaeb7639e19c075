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
from typing import Any

import numpy as np
import polars as pl

from workbench import frames
from workbench.lab.metrics import SeriesSet, family_of

__all__ = [
    "PARQUET_OPTS",
    "to_frame",
    "write_family_parquets",
    "write_openmetrics",
    "write_parquet",
    "write_series_parquet",
]

PARQUET_OPTS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "statistics": True,
    "row_group_size": 262_144,
}


def _ranks(ss: SeriesSet) -> dict[str, int]:
    return {name: i for i, (name, _, _) in enumerate(ss.families)}


def _rank(ranks: dict[str, int], metric: str) -> int:
    """The family rank of a sample name: the lab's map, else the name less its suffix
    (``calls_total`` -> ``calls``; series renamed by :mod:`workbench.lab.naming`)."""
    fam = family_of(metric)
    if fam in ranks:
        return ranks[fam]
    for suffix in ("_total", "_bucket", "_sum", "_count"):
        if metric.endswith(suffix) and metric[: -len(suffix)] in ranks:
            return ranks[metric[: -len(suffix)]]
    raise KeyError(f"{metric}: no family in the series set")


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_str(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())


CHUNK_SERIES = 2000  # series per batch: memory stays flat as topologies grow


def _order(ss: SeriesSet) -> tuple[np.ndarray, np.ndarray]:
    """(family rank per series, series indices in output order: by family, then index)."""
    ranks = _ranks(ss)
    fam_rank = np.array([_rank(ranks, m) for m in ss.metric], dtype=np.int64)
    order = np.lexsort((np.arange(len(ss.metric)), fam_rank))
    return fam_rank, order


def _samples(ss: SeriesSet, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For series ``sel`` (in order): position in ``sel``, value, timestamp (ms) per sample."""
    n = ss.grid.n
    vals = ss.values[sel].reshape(-1)
    keep = ~np.isnan(vals)
    pos = np.repeat(np.arange(len(sel), dtype=np.int64), n)[keep]
    step = np.tile(np.arange(n, dtype=np.int64), len(sel))[keep]
    offs = np.asarray(ss.offset_ms, dtype=np.int64)[sel]
    ts_ms = round(ss.grid.t0 * 1000) + step * round(ss.grid.step_s * 1000) + offs[pos]
    return pos, vals[keep], ts_ms


def _lines(ss: SeriesSet, sel: np.ndarray) -> pl.Series:
    pos, vals, ts_ms = _samples(ss, sel)
    idx = pl.Series(pos)
    prefix = pl.Series(
        [f"{ss.metric[i]}{{{_label_str(ss.labels[i])}}} " for i in sel], dtype=pl.String
    )
    is_int = pl.Series(np.asarray(ss.is_int, dtype=bool)[sel])
    df = pl.DataFrame(
        {"prefix": prefix.gather(idx), "is_int": is_int.gather(idx), "value": vals, "ts_ms": ts_ms}
    )
    return df.select(
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


def write_openmetrics(ss: SeriesSet, path: Path) -> int:
    """Write the OpenMetrics text file; return the number of samples.

    Families in ``ss.families`` order, each series' samples in time order; lines are built
    column-wise in batches of series (no per-sample Python loop, bounded memory).
    """
    fam_rank, order = _order(ss)
    has = ~np.all(np.isnan(ss.values), axis=1) if len(order) else np.zeros(0, bool)
    path.parent.mkdir(parents=True, exist_ok=True)
    total = 0
    with open(path, "wb") as fh:
        for rank, (name, typ, help_) in enumerate(ss.families):
            members = order[(fam_rank[order] == rank) & has[order]]
            if not members.size:
                continue
            fh.write(f"# HELP {name} {help_}\n# TYPE {name} {typ}\n".encode())
            for k in range(0, members.size, CHUNK_SERIES):
                lines = _lines(ss, members[k : k + CHUNK_SERIES])
                fh.flush()
                lines.to_frame().write_csv(
                    fh, include_header=False, quote_style="never", line_terminator="\n"
                )
                total += len(lines)
        fh.write(b"# EOF\n")
    return total


def to_frame(ss: SeriesSet, sel: np.ndarray | None = None) -> pl.DataFrame:
    """The samples as a metrics frame (``ts, metric, service, value, labels``), in the same
    order as the OpenMetrics file (``sel``: only these series, already in that order)."""
    if sel is None:
        sel = _order(ss)[1]
    pos, vals, ts_ms = _samples(ss, sel)
    idx = pl.Series(pos)
    lab = [{k: v for k, v in ss.labels[i].items() if k != "service"} for i in sel]
    df = pl.DataFrame(
        {
            "ts": pl.Series(ts_ms * 1000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "metric": pl.Series([ss.metric[i] for i in sel], dtype=pl.String).gather(idx),
            "service": pl.Series(
                [ss.labels[i].get("service") for i in sel], dtype=pl.String
            ).gather(idx),
            "value": vals,
            "labels": frames.kv_from_dicts(lab).gather(idx),
        }
    )
    return frames.validate(df, "metrics", source="workbench.lab")


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    """Write a metrics frame with the fixed writer settings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_parquet(path, **PARQUET_OPTS)


def write_series_parquet(ss: SeriesSet, path: Path) -> int:
    """Write every sample of ``ss`` as a metrics-frame Parquet file, in batches of series
    (one or more row groups each), so memory stays flat; return the number of rows."""
    return _write_rows(ss, _order(ss)[1], path)


def _write_rows(ss: SeriesSet, order: np.ndarray, path: Path) -> int:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    total = 0
    try:
        for k in range(0, max(len(order), 1), CHUNK_SERIES):
            table = to_frame(ss, order[k : k + CHUNK_SERIES]).to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(
                    path,
                    table.schema,
                    compression="zstd",
                    compression_level=3,
                    write_statistics=True,
                )
            writer.write_table(table, row_group_size=PARQUET_OPTS["row_group_size"])
            total += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return total


def write_family_parquets(ss: SeriesSet, directory: Path) -> int:
    """Write the samples partitioned by metric family: one contract Parquet file per
    family, ``metrics.<family>.parquet`` in ``directory`` (series in the OpenMetrics
    order, so each row group holds few services and its statistics let a scan skip the
    rest); return the number of rows. A reader scans only the families it needs.

    >>> write_family_parquets(ss, out / "metrics")
    """
    fam_rank, order = _order(ss)
    total = 0
    for rank, (name, _, _) in enumerate(ss.families):
        members = order[fam_rank[order] == rank]
        if not members.size:
            continue
        total += _write_rows(ss, members, directory / f"metrics.{name}.parquet")
    return total
