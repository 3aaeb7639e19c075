"""Where the label list changes from row to row, read without building the label strings.

The metrics frame's ``labels`` (``list<struct<key, value>>``) is the costly column of a
Parquet piece: polars builds ~1.8M strings per 262,144 lab rows (0.08 CPU-s) and hashing
them costs 0.045 more. Read as dictionary indices by pyarrow (``read_dictionary`` on the
two leaves) the same column costs 0.02 CPU-s, and two rows carry the same label list
exactly when their (key, value) index sequences are equal: numpy compares each row with
the previous one. Only the few rows where the list changes (a series' first row) are
decoded to strings (:meth:`LabelRuns.decode`).

Example::

    >>> runs = LabelRuns.read(pq.ParquetFile(path, read_dictionary=LEAVES), [0], rows)
    >>> runs.changed()[:3], runs.decode(pl.Series([0])).dtype
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = ["LEAVES", "LabelRuns"]

#: the ``labels`` leaves read as dictionaries
LEAVES = ["labels.list.element.key", "labels.list.element.value"]


@dataclass
class LabelRuns:
    """The label lists of some rows of a piece as global dictionary indices."""

    offsets: np.ndarray  # per selected row: start in keys/values
    lengths: np.ndarray
    keys: np.ndarray  # per label, index into key_dict
    values: np.ndarray
    key_dict: pa.Array
    value_dict: pa.Array

    @classmethod
    def read(cls, pf: pq.ParquetFile, groups: Sequence[int], rows: np.ndarray) -> LabelRuns | None:
        """The ``labels`` of the row groups ``groups`` at the piece row indices ``rows``
        (ascending); None when the column is not a plain list of (key, value)
        dictionaries without nulls (the caller reads it the ordinary way)."""
        chunks = []
        for g in groups:  # one row group at a time: nested dictionaries come unchunked
            try:
                col = pf.read_row_group(g, columns=["labels"], use_threads=False).column(0)
            except pa.ArrowNotImplementedError:  # a dictionary that changes inside it
                return None
            chunks.extend(col.chunks)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        kdicts: list[pa.Array] = []
        vdicts: list[pa.Array] = []
        for chunk in chunks:
            got = _indices(chunk)
            if got is None:
                return None
            parts.append(got[:3])
            kdicts.append(got[3])
            vdicts.append(got[4])
        del chunks
        key_dict, kmaps = _unify(kdicts)
        value_dict, vmaps = _unify(vdicts)
        if len(parts) == 1:
            ends, keys, values = parts[0]
        else:
            base = np.cumsum([0] + [len(k) for _, k, _ in parts[:-1]])
            ends = np.concatenate([o[:-1] + b for (o, _, _), b in zip(parts, base, strict=True)])
            ends = np.concatenate([ends, [sum(len(k) for _, k, _ in parts)]])
            keys = np.concatenate(
                [k if m is None else m[k] for (_, k, _), m in zip(parts, kmaps, strict=True)]
            )
            values = np.concatenate(
                [v if m is None else m[v] for (_, _, v), m in zip(parts, vmaps, strict=True)]
            )
        return cls(ends[:-1][rows], np.diff(ends)[rows], keys, values, key_dict, value_dict)

    def changed(self) -> np.ndarray:
        """Per selected row: True when its label list differs from the previous row's
        (the first row: True). Exact: the (key, value) index sequences are compared."""
        n = len(self.offsets)
        out = np.ones(n, dtype=bool)
        if n < 2:
            return out
        width = int(self.lengths[0])
        if width and (self.lengths == width).all():  # the usual case: a matrix of labels
            start = int(self.offsets[0])
            if (np.diff(self.offsets) == width).all():  # adjacent rows: views, no gather
                end = start + n * width
                k = self.keys[start:end].reshape(n, width)
                v = self.values[start:end].reshape(n, width)
            else:
                at = self.offsets[:, None] + np.arange(width)
                k, v = self.keys[at], self.values[at]
            out[1:] = ((k[1:] != k[:-1]) | (v[1:] != v[:-1])).any(axis=1)
            return out
        ends = self.offsets + self.lengths
        if (self.offsets[1:] == ends[:-1]).all():  # adjacent rows, lists of mixed lengths
            start, stop = int(self.offsets[0]), int(ends[-1])
            keys, values = self.keys[start:stop], self.values[start:stop]
            prev = np.concatenate([[0], self.lengths[:-1]])
            # each label against the same position in the previous row's list
            back = np.arange(stop - start) - np.repeat(prev, self.lengths)
            np.maximum(back, 0, out=back)
            bad = (keys != keys[back]) | (values != values[back])
            cum = np.concatenate([[0], np.cumsum(bad)])
            out = (self.lengths != prev) | (cum[ends - start] > cum[self.offsets - start])
            out[0] = True
            return out
        la, lb = self.lengths[1:], self.lengths[:-1]
        same_len = la == lb
        reps = np.where(same_len, la, 0)
        total = int(reps.sum())
        diff = np.zeros(n - 1, dtype=bool)
        if total:
            row = np.repeat(np.arange(n - 1), reps)
            within = np.arange(total) - np.repeat(np.cumsum(reps) - reps, reps)
            pa_ = self.offsets[1:][row] + within
            pb_ = self.offsets[:-1][row] + within
            bad = (self.keys[pa_] != self.keys[pb_]) | (self.values[pa_] != self.values[pb_])
            diff = np.bincount(row[bad], minlength=n - 1) > 0
        out[1:] = ~same_len | diff
        return out

    def decode(self, rows: pl.Series) -> pl.Series:
        """The label lists of selected rows ``rows`` as the frame's ``labels`` column."""
        at = rows.to_numpy()
        lengths = self.lengths[at]
        ends = np.concatenate([[0], np.cumsum(lengths)])
        total = int(ends[-1])
        pos = np.repeat(self.offsets[at], lengths) + (
            np.arange(total) - np.repeat(ends[:-1], lengths)
        )
        struct = pa.StructArray.from_arrays(
            [
                self.key_dict.take(_arrow(self.keys[pos].astype(np.int64))),
                self.value_dict.take(_arrow(self.values[pos].astype(np.int64))),
            ],
            names=["key", "value"],
        )
        arr = pa.LargeListArray.from_arrays(_arrow(ends.astype(np.int64)), struct)
        return pl.Series("labels", arr)


def _indices(
    chunk: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Array, pa.Array] | None:
    """(offsets, key indices, value indices, key dictionary, value dictionary) of one
    ``list<struct<key: dictionary, value: dictionary>>`` chunk, or None."""
    kind = chunk.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return None
    if chunk.null_count or chunk.offset:
        return None
    items = chunk.values
    if not pa.types.is_struct(items.type) or items.null_count or items.offset:
        return None
    names = [items.type.field(i).name for i in range(items.type.num_fields)]
    if names != ["key", "value"]:
        return None
    k, v = items.field(0), items.field(1)
    for a in (k, v):
        if not pa.types.is_dictionary(a.type) or a.null_count or a.offset:
            return None
    offsets = _np(chunk.offsets).astype(np.int64)
    n = int(offsets[-1])
    return (
        offsets,
        _np(k.indices)[:n],
        _np(v.indices)[:n],
        k.dictionary,
        v.dictionary,
    )


def _unify(dicts: list[pa.Array]) -> tuple[pa.Array, list[np.ndarray | None]]:
    """One dictionary for every chunk and each chunk's index map into it (None: the
    chunk's own indices are already the global ones)."""
    if not dicts:
        return pa.array([], pa.string()), []
    if all(d.equals(dicts[0]) for d in dicts[1:]):  # the usual case: one dictionary
        return dicts[0], [None] * len(dicts)
    merged = pc.unique(pa.concat_arrays([d.cast(pa.string()) for d in dicts]))
    return merged, [_np(pc.index_in(d.cast(pa.string()), merged)) for d in dicts]


def _arrow(a: np.ndarray) -> pa.Array:
    """An int64 numpy array as an arrow array without ``pa.array`` (which may import
    pandas: see :func:`_np`)."""
    return pa.Array.from_buffers(pa.int64(), len(a), [None, pa.py_buffer(a)])


def _np(a: pa.Array) -> np.ndarray:
    """A null-free integer array's values as a numpy view. Not ``Array.to_numpy``: it
    imports pandas, and a half-imported pandas on the loader's thread breaks altair
    drawing on another (the explorer draws while metrics load)."""
    width = a.type.bit_width // 8
    dtype = np.dtype(f"{'i' if pa.types.is_signed_integer(a.type) else 'u'}{width}")
    return np.frombuffer(a.buffers()[1], dtype=dtype)[a.offset : a.offset + len(a)]
