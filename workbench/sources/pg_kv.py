"""Key/value columns <-> PostgreSQL ``jsonb`` objects, fast and exact.

The frame contract stores ``labels``/``attributes`` as ``List(Struct{key, value})`` with
string values and keys sorted; the database stores them as ``jsonb`` objects
(``{"pod": "checkout-0"}``) so SQL users can write ``attributes->>'pod'``.

* :func:`encode_objects` turns a KV column into JSON object text for ``COPY ... FROM``
  (duplicate keys are refused: ``jsonb`` would silently keep only the last one).
* :func:`decode_objects` turns ``jsonb`` text (as PostgreSQL prints it) back into a KV
  column. PostgreSQL prints ``jsonb`` canonically (``{"k": "v", "k2": "v2"}``), so the
  common case is parsed with vectorised numpy over the whole buffer instead of a JSON
  parser per row; each distinct text is decoded once. Rows that are not flat objects of
  strings (a user wrote numbers or nested values through SQL) take an exact slow path
  (``json.loads``), so nothing is lost or misread.

Example::

    >>> s = pl.Series(['{"pod": "a", "env": "prod"}', "{}"])
    >>> decode_objects(s).to_list()
    [[{'key': 'env', 'value': 'prod'}, {'key': 'pod', 'value': 'a'}], []]
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from workbench import frames
from workbench.errors import BadData

__all__ = ["decode_objects", "encode_objects"]

_QUOTE, _BACKSLASH = 34, 92
_KV_ARROW = pa.large_list(pa.struct([("key", pa.large_string()), ("value", pa.large_string())]))
# {"key":<json string>,"value":<json string>} as polars' struct.json_encode writes it.
_PAIR = r'^\{"key":(".*?"),"value":(".*")\}$'


def encode_objects(col: pl.Series, *, field: str, source: str | None = None) -> pl.Series:
    """JSON object text (``{"k":"v",...}``) for each KV list; null lists stay null.

    Raises :class:`BadData` if a row repeats a key (``jsonb`` would drop all but one).
    """
    if col.dtype != frames.KV:
        col = col.cast(frames.KV)
    df = pl.DataFrame({"kv": col})
    dup = df.select(
        (
            pl.col("kv").list.eval(pl.element().struct.field("key")).list.n_unique()
            != pl.col("kv").list.len()
        ).arg_true()
    ).to_series()
    if dup.len():
        row = int(dup[0])
        raise BadData(
            f"{field} of row {row} repeats a key; a jsonb object keeps one value per key",
            field=field,
            line=row + 1,
            source=source,
            hint="merge the duplicate keys before loading",
        )
    out = df.select(
        pl.when(pl.col("kv").is_null())
        .then(None)
        .otherwise(
            pl.concat_str(
                pl.lit("{"),
                pl.col("kv")
                .list.eval(pl.element().struct.json_encode().str.replace(_PAIR, "${1}:${2}"))
                .list.join(","),
                pl.lit("}"),
            )
        )
        .alias(col.name)
    )
    return out.to_series()


def decode_objects(texts: pl.Series) -> pl.Series:
    """KV lists (keys sorted) from ``jsonb`` object text; null stays null."""
    name = texts.name
    if texts.len() == 0:
        return pl.Series(name, [], dtype=frames.KV)
    arr = texts.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    enc = pc.dictionary_encode(arr)
    uniq: pa.LargeStringArray = enc.dictionary.cast(pa.large_string())
    decoded = _decode_unique(uniq)
    out = decoded.take(enc.indices)
    return pl.Series(name, pl.from_arrow(out), dtype=frames.KV)


def _decode_unique(arr: pa.LargeStringArray) -> pa.Array:
    """Decode distinct, non-null jsonb texts into a large_list<struct<key,value>> array."""
    n = len(arr)
    if n == 0:
        return pa.array([], type=_KV_ARROW)
    if arr.null_count:
        raise AssertionError("dictionary of a dictionary_encode has no nulls")
    _, off_buf, data_buf = arr.buffers()
    row_off = np.frombuffer(off_buf, dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    if data_buf is None or row_off[-1] == row_off[0]:
        return _patch_slow_rows(pa.nulls(n, type=_KV_ARROW), arr, np.arange(n))
    data = np.frombuffer(data_buf, dtype=np.uint8)
    # unescaped quotes ---------------------------------------------------------------
    q = np.flatnonzero(data == _QUOTE)
    bs_pos = np.flatnonzero(data == _BACKSLASH)
    if bs_pos.size:
        q = q[~_escaped(data, q)]
    # quotes per row; rows with a count not divisible by 4 are not flat string objects
    first = np.searchsorted(q, row_off[:-1])
    last = np.searchsorted(q, row_off[1:])
    counts = last - first
    row_of_q = np.repeat(np.arange(n), counts)
    good = counts % 4 == 0
    starts, ends = row_off[:-1], row_off[1:]
    lens = ends - starts
    # every row must start with "{" and end with "}"
    nonempty = lens >= 2
    good &= nonempty
    idx_first = np.where(nonempty, starts, 0)
    idx_last = np.where(nonempty, ends - 1, 0)
    good &= (data[idx_first] == ord("{")) & (data[idx_last] == ord("}"))
    # structure of the quoted strings inside each row: {"k": "v", "k2": "v2"}
    keep_q = good[row_of_q]
    q, row_of_q = q[keep_q], row_of_q[keep_q]
    opens, closes = q[0::2], q[1::2]
    row_of_s = row_of_q[0::2]
    counts_s = np.bincount(row_of_s, minlength=n)
    s_first = np.concatenate(([0], np.cumsum(counts_s)[:-1]))
    t = np.arange(opens.size) - s_first[row_of_s]  # index of the string within its row
    prev_close = np.concatenate(([-10], closes[:-1]))
    is_first = t == 0
    ok = np.ones(opens.size, dtype=bool)
    ok[is_first] = opens[is_first] == starts[row_of_s[is_first]] + 1
    later = ~is_first
    gap_ok = (opens[later] - prev_close[later]) == 3
    sep1 = np.where(t[later] % 2 == 1, ord(":"), ord(","))
    pc1 = np.minimum(prev_close[later] + 1, data.size - 1)
    pc2 = np.minimum(prev_close[later] + 2, data.size - 1)
    gap_ok &= (data[pc1] == sep1) & (data[pc2] == ord(" "))
    ok[later] = gap_ok
    is_last = np.zeros(opens.size, dtype=bool)
    has_s = counts_s > 0
    is_last[(s_first + counts_s - 1)[has_s]] = True
    ok[is_last] &= closes[is_last] == ends[row_of_s[is_last]] - 2
    bad_rows = np.unique(row_of_s[~ok])
    good[bad_rows] = False
    # an empty object must be exactly "{}"
    good &= (counts > 0) | (lens == 2)
    # strings of good rows -------------------------------------------------------------
    keep_s = good[row_of_s]
    opens, closes, row_of_s = opens[keep_s], closes[keep_s], row_of_s[keep_s]
    n_pairs = opens.size // 2
    inter = np.empty(opens.size * 2, dtype=np.int64)
    inter[0::2] = opens + 1
    inter[1::2] = closes
    strings = (
        pa.LargeStringArray.from_buffers(max(inter.size - 1, 0), pa.py_buffer(inter), data_buf)
        if inter.size
        else pa.array([], type=pa.large_string())
    )
    keys = strings.take(pa.array(np.arange(0, 4 * n_pairs, 4, dtype=np.int64)))
    values = strings.take(pa.array(np.arange(2, 4 * n_pairs, 4, dtype=np.int64)))
    if bs_pos.size:
        keys = _unescape(keys, opens[0::2] + 1, closes[0::2], bs_pos)
        values = _unescape(values, opens[1::2] + 1, closes[1::2], bs_pos)
    pair_row = row_of_s[0::2]
    # sort keys within each row (jsonb orders by length, the contract lexically) ------
    if n_pairs > 1:
        denc = pc.dictionary_encode(keys)
        dict_keys = denc.dictionary.to_pylist()
        order = sorted(range(len(dict_keys)), key=lambda i: dict_keys[i])
        rank = np.empty(len(dict_keys), dtype=np.int64)
        rank[order] = np.arange(len(dict_keys))
        krank = rank[denc.indices.to_numpy(zero_copy_only=False)]
        composite = pair_row.astype(np.int64) * len(dict_keys) + krank
        if np.any(composite[1:] < composite[:-1]):
            perm = np.argsort(composite, kind="stable")
            keys, values, pair_row = keys.take(perm), values.take(perm), pair_row[perm]
    pairs_per_row = np.bincount(pair_row, minlength=n)
    list_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(pairs_per_row, out=list_off[1:])
    structs = pa.StructArray.from_arrays([keys, values], names=["key", "value"])
    out = pa.LargeListArray.from_arrays(pa.array(list_off), structs)
    if not good.all():
        out = _patch_slow_rows(out, arr, np.flatnonzero(~good))
    return out


def _escaped(data: np.ndarray, q: np.ndarray) -> np.ndarray:
    """True for quotes preceded by an odd number of backslashes."""
    run = np.zeros(q.size, dtype=np.int64)
    active = np.flatnonzero(q > 0)
    k = 1
    while active.size:
        pos = q[active] - k
        hit = (pos >= 0) & (data[np.maximum(pos, 0)] == _BACKSLASH)
        active = active[hit]
        run[active] += 1
        k += 1
    return run % 2 == 1


def _unescape(strings: pa.Array, starts: np.ndarray, ends: np.ndarray, bs_pos: np.ndarray):
    """JSON-unescape the strings that contain a backslash (rare) with ``json.loads``."""
    has = np.searchsorted(bs_pos, ends) > np.searchsorted(bs_pos, starts)
    if not has.any():
        return strings
    idx = np.flatnonzero(has)
    raw = strings.take(pa.array(idx)).to_pylist()
    fixed = [json.loads(f'"{s}"') for s in raw]
    mask = np.zeros(len(strings), dtype=bool)
    mask[idx] = True
    repl = pa.array(fixed, type=pa.large_string())
    return pc.replace_with_mask(strings, pa.array(mask), repl)


def _patch_slow_rows(out: pa.Array, texts: pa.Array, rows: np.ndarray) -> pa.Array:
    """Replace the rows the fast path could not read with an exact json.loads decode."""
    py = out.to_pylist()
    for r in rows.tolist():
        text = texts[r].as_py()
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:  # pragma: no cover - jsonb is always valid
            raise BadData(f"not a JSON object: {exc}", line=r + 1) from None
        if not isinstance(obj, dict):
            raise BadData(
                f"expected a JSON object of labels/attributes, got {type(obj).__name__}",
                line=r + 1,
                hint="store labels and attributes as jsonb objects",
            )
        py[r] = frames.kv({k: _as_text(v) for k, v in obj.items()})
    return pa.array(py, type=_KV_ARROW)


def _as_text(v: object) -> object:
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(",", ":"), sort_keys=True)
    return v
