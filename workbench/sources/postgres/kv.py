"""Key/value columns <-> PostgreSQL ``jsonb`` objects, fast and exact.

The frame contract stores ``labels``/``attributes`` as ``List(Struct{key, value})`` with
string values and keys sorted; the database stores them as ``jsonb`` objects
(``{"pod": "checkout-0"}``) so SQL users can write ``attributes->>'pod'``.

* :func:`encode_objects` turns a KV column into JSON object text for ``COPY ... FROM``
  (duplicate keys are refused: ``jsonb`` would silently keep only the last one).
* :func:`decode_kv_text` reads the generated ``labels_kv``/``attributes_kv`` column
  (``kv_text(jsonb)``, see :mod:`workbench.sources.postgres.schema`): keys come sorted, pairs
  are split apart by two vectorised string splits. This is what the source's own reads
  use.
* :func:`decode_objects` turns ``jsonb`` text (as PostgreSQL prints it) back into a KV
  column. PostgreSQL prints ``jsonb`` canonically (``{"k": "v", "k2": "v2"}``), so the
  quoted tokens are pulled out with one vectorised regex pass and paired up, escapes are
  decoded only where a backslash occurs, and keys are put in lexical order (jsonb orders
  them by length); repeated texts (metric labels) are decoded once. Rows that are not
  flat objects of strings (a user wrote numbers or nested values through SQL) are found
  by an exact length check and take a ``json.loads`` path, so nothing is misread.

Example::

    >>> s = pl.Series(['{"pod": "a", "env": "prod"}', "{}"])
    >>> decode_objects(s).to_list()
    [[{'key': 'env', 'value': 'prod'}, {'key': 'pod', 'value': 'a'}], []]
"""

from __future__ import annotations

import json
from typing import cast

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from workbench import frames
from workbench.errors import BadData

__all__ = ["decode_kv_text", "decode_objects", "encode_objects"]

_KV_ARROW = pa.large_list(pa.struct([("key", pa.large_string()), ("value", pa.large_string())]))


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
    key = pl.struct(pl.element().struct.field("key").alias("k")).struct.json_encode()
    value = pl.struct(pl.element().struct.field("value").alias("k")).struct.json_encode()
    # '{"k":<json string>}' -> '<json string>'
    pair = pl.concat_str(
        key.str.slice(5, key.str.len_chars() - 6),
        pl.lit(":"),
        value.str.slice(5, value.str.len_chars() - 6),
    )
    out = df.select(
        pl.when(pl.col("kv").is_null())
        .then(None)
        .otherwise(
            pl.concat_str(pl.lit("{"), pl.col("kv").list.eval(pair).list.join(","), pl.lit("}"))
        )
        .alias(col.name)
    )
    return out.to_series()


def decode_objects(texts: pl.Series) -> pl.Series:
    """KV lists (keys sorted) from ``jsonb`` object text; null stays null."""
    name = texts.name
    if texts.len() == 0:
        return pl.Series(name, [], dtype=frames.KV)
    texts = texts.cast(pl.String)
    sample = texts.head(4096).drop_nulls()
    if sample.len() and sample.n_unique() * 2 < sample.len():
        # many repeats (metric labels, say): decode each distinct text once
        arr = _arrow(texts)
        enc = pc.dictionary_encode(arr)
        uniq = pl.Series(name, pl.from_arrow(enc.dictionary), dtype=pl.String)
        decoded = _decode(uniq)
        return decoded.gather(pl.Series(pl.from_arrow(enc.indices))).alias(name)
    return _decode(texts)


# A JSON string token (the unrolled form is the fastest for the regex engine).
_TOKEN = r'"[^"\\]*(?:\\.[^"\\]*)*"'


def _decode(texts: pl.Series) -> pl.Series:
    """Decode jsonb object texts (nulls allowed) into a KV series.

    PostgreSQL prints a jsonb object of strings canonically, ``{"k": "v", "k2": "v2"}``,
    so the quoted tokens alternate key, value. A row is read on the fast path when its
    length is exactly that layout's (``{}`` or tokens + 2 per token); anything else (a
    number, a nested value, an array) goes through ``json.loads``.
    """
    n = texts.len()
    tok = _arrow(texts.str.extract_all(_TOKEN))
    offsets = _numpy_int(tok.offsets)
    counts = np.diff(offsets)
    flat = pl.Series("t", pl.from_arrow(tok.values), dtype=pl.String)
    if offsets[0] != 0 or offsets[-1] != flat.len():
        flat = flat.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        offsets = offsets - offsets[0]
    # structure check -----------------------------------------------------------------
    tok_len = np.zeros(flat.len() + 1, dtype=np.int64)
    np.cumsum(flat.str.len_bytes().to_numpy(), out=tok_len[1:])
    sum_len = tok_len[offsets[1:]] - tok_len[offsets[:-1]]
    total = texts.str.len_bytes().fill_null(0).to_numpy()
    starts = texts.str.starts_with("{").fill_null(False).to_numpy()
    null = texts.is_null().to_numpy()
    expect = np.where(counts == 0, 2, sum_len + 2 * counts)
    good = null | (starts & (counts % 2 == 0) & (total == expect))
    bad = np.flatnonzero(~good)
    if bad.size:
        row_of_tok = np.repeat(np.arange(n), counts)
        flat = flat.filter(pl.Series(good[row_of_tok]))
        counts = np.where(good, counts, 0)
    npairs = counts // 2
    keys = flat.gather_every(2)
    values = flat.gather_every(2, 1)
    keys = _unquote(keys)
    values = _unquote(values)
    # sort keys within each row (jsonb orders them by length, the contract lexically) --
    if keys.len() > 1:
        codes = keys.cast(pl.Categorical).to_physical()
        mapping = pl.DataFrame({"c": codes, "k": keys}).unique("c")
        names = mapping["k"].to_list()
        order = sorted(range(len(names)), key=names.__getitem__)
        rank_of = np.zeros(int(cast(int, mapping["c"].max())) + 1, dtype=np.int64)
        rank_of[mapping["c"].to_numpy()[order]] = np.arange(len(names))
        row = np.repeat(np.arange(n, dtype=np.int64), npairs)
        composite = row * len(names) + rank_of[codes.to_numpy()]
        if np.any(composite[1:] < composite[:-1]):
            perm = pl.Series(np.argsort(composite, kind="stable"))
            keys, values = keys.gather(perm), values.gather(perm)
    list_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(npairs, out=list_off[1:])
    structs = pa.StructArray.from_arrays([_arrow(keys), _arrow(values)], names=["key", "value"])
    mask = None
    if null.any():
        mask = pa.Array.from_buffers(
            pa.bool_(), n, [None, pa.py_buffer(np.packbits(null, bitorder="little"))]
        )
    out = pa.LargeListArray.from_arrays(_int64(list_off), structs, mask=mask)
    if bad.size:
        out = _patch_slow_rows(out, _arrow(texts), bad)
    return pl.Series(texts.name, pl.from_arrow(out), dtype=frames.KV)


_RS, _US = "\x1e", "\x1f"
_UNESCAPE = {"\\": "\\", "1": _RS, "2": _US}


def decode_kv_text(texts: pl.Series) -> pl.Series:
    """KV lists from the ``kv_text(jsonb)`` column (``k<US>v<RS>k2<US>v2``, keys already
    in order, ``\\\\``/``\\1``/``\\2`` escapes); null stays null, ``""`` is ``[]``.

    >>> decode_kv_text(pl.Series(["env\x1fprod\x1epod\x1fa", ""])).to_list()
    [[{'key': 'env', 'value': 'prod'}, {'key': 'pod', 'value': 'a'}], []]
    """
    name = texts.name
    if texts.len() == 0:
        return pl.Series(name, [], dtype=frames.KV)
    texts = texts.cast(pl.String)
    pairs = pl.element().str.split_exact(_US, 1).struct.rename_fields(["key", "value"])
    out = (
        pl.DataFrame({"t": texts})
        .select(
            pl.when(pl.col("t") == "")
            .then(pl.lit([], dtype=frames.KV))
            .otherwise(pl.col("t").str.split(_RS).list.eval(pairs))
        )
        .to_series()
        .cast(frames.KV)
        .alias(name)
    )
    escaped = texts.str.contains("\\", literal=True).fill_null(False).arg_true()
    if escaped.len():
        fixed = [_kv_text_slow(t) for t in texts.gather(escaped).to_list()]
        patch = pl.DataFrame(
            {"i": escaped.cast(pl.UInt32), "fix": pl.Series(fixed, dtype=frames.KV)}
        )
        out = (
            pl.DataFrame({"kv": out})
            .with_row_index("i")
            .join(patch, on="i", how="left", maintain_order="left")
            .select(pl.coalesce("fix", "kv").alias(name))
            .to_series()
        )
    return out


def _kv_text_slow(text: str) -> list[dict[str, str]]:
    import re

    pattern = re.compile(r"\\(.)", re.S)
    out = []
    for pair in text.split(_RS) if text else []:
        key, _, value = pair.partition(_US)
        unescape = lambda v: pattern.sub(lambda m: _UNESCAPE[m.group(1)], v)  # noqa: E731
        out.append({"key": unescape(key), "value": unescape(value)})
    return out


def _unquote(tokens: pl.Series) -> pl.Series:
    """Strip the quotes of JSON string tokens; JSON-decode the few with escapes."""
    out = tokens.str.strip_chars('"')  # exact: an unescaped token holds no quote inside
    escaped = tokens.str.contains("\\", literal=True).arg_true()
    if escaped.len():
        out = out.scatter(escaped, tokens.gather(escaped).str.json_decode(pl.String))
    return out


def _arrow(series: pl.Series) -> pa.Array:
    """Arrow array with large offsets from a polars Series (``pa.array`` imports pandas)."""
    out = series.to_arrow(compat_level=pl.CompatLevel.oldest())
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _numpy_int(a: pa.Array) -> np.ndarray:
    """A numpy view of a null-free Arrow integer array (``to_numpy`` imports pandas)."""
    width = a.type.bit_width // 8
    return np.frombuffer(
        a.buffers()[1], dtype=np.dtype(f"i{width}"), count=len(a), offset=a.offset * width
    )


def _int64(a: np.ndarray) -> pa.Array:
    """An Arrow int64 array over a numpy array (``pa.array`` would import pandas)."""
    a = np.ascontiguousarray(a, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), a.size, [None, pa.py_buffer(a)])


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
    return _arrow(pl.Series(py, dtype=frames.KV))


def _as_text(v: object) -> object:
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(",", ":"), sort_keys=True)
    return v
