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

__all__ = ["PARQUET_OPTS", "long_frame", "to_frame", "write_openmetrics", "write_parquet"]

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


def long_frame(ss: SeriesSet) -> pl.DataFrame:
    """One row per sample: sid, step, ts_ms, value (NaN samples dropped), sorted for output."""
    n_series, n = ss.values.shape
    sid = np.repeat(np.arange(n_series, dtype=np.int64), n)
    step = np.tile(np.arange(n, dtype=np.int64), n_series)
    vals = ss.values.reshape(-1)
    keep = ~np.isnan(vals)
    offs = np.asarray(ss.offset_ms, dtype=np.int64)
    t0_ms = round(ss.grid.t0 * 1000)
    step_ms = round(ss.grid.step_s * 1000)
    ts_ms = t0_ms + step[keep] * step_ms + offs[sid[keep]]
    return pl.DataFrame({"sid": sid[keep], "step": step[keep], "ts_ms": ts_ms, "value": vals[keep]})


def _series_frame(ss: SeriesSet) -> pl.DataFrame:
    fams = [family_of(m) for m in ss.metric]
    ranks = _ranks(ss)
    return pl.DataFrame(
        {
            "sid": np.arange(len(ss.metric), dtype=np.int64),
            "metric": ss.metric,
            "family_rank": [ranks[f] for f in fams],
            "labelstr": [_label_str(lab) for lab in ss.labels],
            "is_int": ss.is_int,
        }
    )


def write_openmetrics(ss: SeriesSet, path: Path) -> int:
    """Write the OpenMetrics text file; return the number of samples."""
    series = _series_frame(ss)
    # group by family, then by series, each series' samples in time order
    order = series.sort(["family_rank", "sid"])
    lf = long_frame(ss).join(order.select("sid", "family_rank"), on="sid")
    lf = lf.sort(["family_rank", "sid", "step"])
    lines = lf.join(
        series.select("sid", "metric", "labelstr", "is_int"), on="sid", maintain_order="left"
    ).select(
        pl.col("family_rank"),
        pl.concat_str(
            pl.col("metric"),
            pl.lit("{"),
            pl.col("labelstr"),
            pl.lit("} "),
            pl.when(pl.col("is_int"))
            .then(pl.col("value").cast(pl.Int64).cast(pl.String))
            .otherwise(pl.col("value").round(6).cast(pl.String)),
            pl.lit(" "),
            (pl.col("ts_ms") // 1000).cast(pl.String),
            pl.lit("."),
            (pl.col("ts_ms") % 1000).cast(pl.String).str.zfill(3),
        ).alias("line"),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for rank, (name, typ, help_) in enumerate(ss.families):
            block = lines.filter(pl.col("family_rank") == rank)["line"]
            if block.len() == 0:
                continue
            fh.write(f"# HELP {name} {help_}\n# TYPE {name} {typ}\n")
            fh.write("\n".join(block.to_list()))
            fh.write("\n")
        fh.write("# EOF\n")
    return lines.height


def to_frame(ss: SeriesSet) -> pl.DataFrame:
    """The samples as a metrics frame (``ts, metric, service, value, labels``)."""
    lab = [{k: v for k, v in d.items() if k != "service"} for d in ss.labels]
    series = pl.DataFrame(
        {
            "sid": np.arange(len(ss.metric), dtype=np.int64),
            "metric": ss.metric,
            "service": [d.get("service") for d in ss.labels],
            "labels": frames.kv_from_dicts(lab),
            "family_rank": [_ranks(ss)[family_of(m)] for m in ss.metric],
        }
    )
    lf = long_frame(ss).join(series, on="sid").sort(["family_rank", "sid", "step"])
    df = lf.select(
        pl.from_epoch(pl.col("ts_ms") * 1000, time_unit="us")
        .dt.replace_time_zone("UTC")
        .alias("ts"),
        "metric",
        "service",
        "value",
        "labels",
    )
    return frames.validate(df, "metrics", source="workbench.lab")


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_parquet(path, **PARQUET_OPTS)
