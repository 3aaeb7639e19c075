"""CSV reading for the labelled data sets: typed errors naming the file, ragged rows kept
and counted.

Example::

    >>> from workbench.evaluation.csvread import read_csv
    >>> df = read_csv(Path("cases.csv"))
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from workbench.errors import BadData

__all__ = ["read_csv", "read_ragged_csv"]


def read_csv(path: Path, *, notes: list[str] | None = None, **kw) -> pl.DataFrame:
    """All columns as text; a file with badly quoted rows is read by :func:`read_ragged_csv`
    (what it mended is appended to ``notes``); anything else unreadable is BadData."""
    try:
        return pl.read_csv(path, infer_schema=False, **kw)
    except pl.exceptions.ComputeError as exc:
        if kw:
            raise BadData(f"cannot read {path}: {exc}", source=str(path)) from exc
        return read_ragged_csv(path, notes=notes)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise BadData(f"cannot read {path}: {exc}", source=str(path)) from exc


def read_ragged_csv(path: Path, *, notes: list[str] | None = None) -> pl.DataFrame:
    """A CSV with a few badly quoted rows (Nezha logs have one): rows with extra fields
    keep them joined into the last column, so no row is lost; the count goes to ``notes``."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise BadData(f"{path} is empty", source=str(path))
    header, body = rows[0], rows[1:]
    n = len(header)
    fixed = 0
    out = []
    for i, r in enumerate(body, start=2):
        if len(r) > n:
            r = [*r[: n - 1], ",".join(r[n - 1 :])]
            fixed += 1
        elif len(r) < n:
            raise BadData(
                f"{path} line {i} has {len(r)} fields, expected {n}", source=str(path), field="line"
            )
        out.append(r)
    if fixed and notes is not None:
        notes.append(f"{path.name}: {fixed} row(s) with extra fields kept (joined into the last)")
    return pl.DataFrame(out, schema=header, orient="row")
