"""The fast path for OTLP JSON traces: each line decoded by msgspec into typed structs
that hold only the fields the spans frame keeps, mapped to columns as it goes.

It yields exactly what the careful per-span path of :mod:`workbench.sources.files.otlp`
yields (the same attribute rules: resource prefixes, scope name, status message, first
``exception`` event, duplicate keys, values written by ``scalar_str``). It covers the
common well-formed case: lower-case hex ids, integer kinds and status codes, times as
strings of digits or integers, any attribute value (arrays and kvlists as the careful
path writes them), unknown fields (skipped, as the careful path skips them), JSON lines
or one document. On anything else (an id in base64 or upper case, a kind or status as a
string, a missing or out-of-range time (outside 1990..2200) or a span that ends before
it starts, Tempo or Jaeger wrappers, ``instrumentationLibrary*`` (OTLP < 0.15), a value
of another type than OTLP defines, malformed or truncated JSON, lone surrogates, bytes
that are not UTF-8, a BOM) it returns None and the careful path reads the file, with its
typed errors naming the file, line and field.

How it is fast (issue 12: 250k spans/s on the demo's 48 MB / 64,256 spans):

- the file is read in 8 MiB blocks into one reused buffer; msgspec decodes each line
  from it in place, and the ASCII / ``\r`` checks run once per block;
- a span's attribute array is left undecoded (``msgspec.Raw``): its bytes are the key of
  a *combination* (resource + scope, attribute bytes), decoded and merged (span
  attributes over resource ones, last duplicate wins, keys sorted: worked out once per
  key layout, :class:`_Layouts`) only the first time. The demo has 6,615 combinations for
  64,256 spans; the 1,000-service lab about one per two spans (still no slower than
  decoding every array). A span with a status message or an exception is its own;
- what Python reads per span is its ids, name, times and kind (list comprehensions per
  line) and its attribute bytes; every 16,000 spans the lists become polars series and a
  worker thread does the rest with polars (the combinations' KV lists, one gather, time
  parsing, the careful path's checks, the frame's form) while the next chunk is decoded:
  polars releases the GIL, so on two cores both run at once.

Measured (2026-12-06 17:30-18:00 UTC, 2 shared cores at load average 8-11, best of
several runs; ``bench/bench_investigation.py --only-otlp``): ~0.33-0.36 CPU-s on the demo
(~180k spans per CPU-second, was ~100-108k), peak RSS 188 MiB (was 222); the lab's 173 MB
/ 180,213 spans ~2.1 CPU-s and 320 MiB (main: 2.25 CPU-s, 306 MiB, in a venv whose
imports weigh 13 MiB less). msgspec's typed decode of every field the frame keeps runs at
~310-350k spans per CPU-second; this path's own first pass (attributes left raw) at
~650k.

Example::

    >>> frame = fast_spans_file("traces.otlp.jsonl")   # None: use the careful path
    >>> frame = fast_spans(body)                        # the same, from bytes in memory
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import polars as pl
from msgspec import UNSET, Raw, Struct, UnsetType

from workbench import frames
from workbench.sources.files._values import MAX_NS, MIN_NS, scalar_str
from workbench.sources.files.otlp import any_value

__all__ = ["fast_spans", "fast_spans_file"]

KIND_BY_INT = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUS_BY_INT = ("unset", "ok", "error")
RESOURCE_PREFIXES = ("service.", "k8s.", "host.", "container.", "deployment.", "cloud.")
_ID = r"^(?:[0-9a-f]{16}|[0-9a-f]{32})$"
#: spans held as Python objects before they become polars columns (bounds memory)
_CHUNK_SPANS = 16_000
#: bytes read at once (whole lines are decoded from the buffer; a longer line grows it)
_BLOCK = 1 << 23
#: bytes of distinct attribute arrays held from chunk to chunk before they are let go
_MAX_HELD = 16 << 20
#: distinct attribute layouts before the careful path takes over (keys that vary per
#: span, like ``user.<id>``, would make a layout per span)
_MAX_LAYOUTS = 20_000
# line breaks str.splitlines() (the careful path) honours inside a JSON string
_UNICODE_BREAKS = ("\u2028", "\u2029", "\x85")


# ---------------------------------------------------------------------------------------
# the schema: only what the frame keeps; msgspec skips other fields without building them.
# UNSET tells "absent" from "null" where the careful path treats them differently.


class _Value(Struct, gc=False, rename="camel"):
    """An OTLP ``AnyValue``."""

    string_value: str | UnsetType | None = UNSET
    int_value: str | int | UnsetType | None = UNSET
    double_value: float | int | UnsetType | None = UNSET
    bool_value: bool | UnsetType | None = UNSET
    bytes_value: str | UnsetType | None = UNSET
    array_value: Raw | UnsetType = UNSET  # rare: decoded by json as the careful path does
    kvlist_value: Raw | UnsetType = UNSET


class _KeyValue(Struct, gc=False):
    key: str
    value: _Value = msgspec.field(default_factory=_Value)


class _Status(Struct, gc=False):
    code: int | None = None
    message: str | None = None


class _Event(Struct, gc=False):
    name: str | None = None
    attributes: Raw | UnsetType = UNSET  # decoded only for the first exception event


class _Span(Struct, gc=False, rename="camel"):
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    name: str = ""
    kind: int | None = None
    start_time_unix_nano: str | int | None = None
    end_time_unix_nano: str | int | None = None
    attributes: Raw | UnsetType = UNSET  # decoded once per distinct bytes
    status: _Status | None = None
    events: list[_Event] | None = None


class _Scope(Struct, gc=False):
    name: str | None = None


class _ScopeSpans(Struct, gc=False, rename="camel"):
    scope: _Scope | None = None
    spans: list[_Span] | None = None
    instrumentation_library: Raw | UnsetType = UNSET  # present: the careful path


class _Resource(Struct, gc=False):
    attributes: list[_KeyValue] | None = None


class _ResourceSpans(Struct, gc=False, rename="camel"):
    resource: Raw | UnsetType = UNSET  # decoded once per distinct resource
    scope_spans: list[_ScopeSpans] | None = None
    instrumentation_library_spans: Raw | UnsetType = UNSET  # present: the careful path


class _Request(Struct, gc=False, rename="camel", forbid_unknown_fields=True):
    """One export request; any other top-level field (a wrapper) goes the careful way."""

    resource_spans: list[_ResourceSpans] | UnsetType | None = UNSET


_DECODER = msgspec.json.Decoder(_Request)
_RESOURCE_DECODER = msgspec.json.Decoder(_Resource | None)
_KV_DECODER = msgspec.json.Decoder(list[_KeyValue] | None)
_ARRAYS_DECODER = msgspec.json.Decoder(list[list[_KeyValue] | None])
_VALUE_FIELDS = tuple(zip(_Value.__struct_fields__, _Value.__struct_encode_fields__, strict=True))


class _Decline(Exception):
    """The careful path must read this file."""


class _Omitted(Exception):
    """An attribute whose value is null or empty: the careful path leaves it out."""


# ---------------------------------------------------------------------------------------
# values


def _value(v: _Value) -> str | None:
    """An attribute value exactly as the careful path writes it (None: left out)."""
    s = v.string_value
    if type(s) is str:
        return s
    d: dict[str, Any] = {}
    for attr, name in _VALUE_FIELDS:
        x = getattr(v, attr)
        if x is not UNSET:
            d[name] = json.loads(bytes(x)) if type(x) is Raw else x
    return scalar_str(any_value(d))


def _other(v: _Value) -> str:
    """A value that is not a plain ``stringValue`` (raises :class:`_Omitted` for none)."""
    out = _value(v)
    if out is None:
        raise _Omitted
    return out


def _attr_dict(kvs: list[_KeyValue] | None) -> dict[str, str]:
    """Attributes as the careful path's ``_attrs`` reads them: the last of a key wins."""
    out: dict[str, str] = {}
    for kv in kvs or ():
        val = _value(kv.value)
        if val is not None:
            out[kv.key] = val
    return out


def _exception(events: list[_Event]) -> dict[str, str] | None:
    """``exception.type``/``exception.message`` of the first ``exception`` event."""
    for ev in events:
        if ev.name == "exception":
            raw = ev.attributes
            kvs = None if isinstance(raw, UnsetType) else _KV_DECODER.decode(raw)
            ea = _attr_dict(kvs)
            out: dict[str, str] = {
                k: ea[k] for k in ("exception.type", "exception.message") if k in ea
            }
            return out or None
    return None


# ---------------------------------------------------------------------------------------
# attribute layouts


class _Layouts:
    """The distinct attribute layouts of the spans read so far. A layout is the resource
    and scope keys, the span's attribute keys (in file order), whether a status message
    and which exception keys follow; for each, the careful path's merge (span attributes
    over resource ones, the last duplicate wins, keys sorted) is done once, on indices:
    ``perm[j]`` says which input value becomes the j-th output (below ``nb``: a resource
    or scope value, else one of the span's own). A file has a handful of layouts."""

    def __init__(self) -> None:
        self.ids: dict[tuple[Any, ...], int] = {}
        self.keys: list[list[str]] = []
        self.perm: list[list[int]] = []
        self.nb: list[int] = []
        self.nin: list[int] = []

    def add(
        self,
        key: tuple[Any, ...],
        base_keys: tuple[str, ...],
        keys: tuple[str, ...],
        msg: bool,
        exc: tuple[str, ...],
    ) -> int:
        idx: dict[str, int] = {k: j for j, k in enumerate(base_keys)}
        n = len(base_keys)
        for j, k in enumerate(keys):
            idx[k] = n + j
        n += len(keys)
        if msg:
            idx["otel.status_description"] = n
            n += 1
        for j, k in enumerate(exc):
            idx.setdefault(k, n + j)
        n += len(exc)
        out = sorted(idx)
        if len(self.keys) >= _MAX_LAYOUTS:
            raise _Decline
        self.keys.append(out)
        self.perm.append([idx[k] for k in out])
        self.nb.append(len(base_keys))
        self.nin.append(n - len(base_keys))
        self.ids[key] = len(self.keys) - 1
        return len(self.keys) - 1

    def table(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "_layout": pl.Series(range(len(self.keys)), dtype=pl.UInt32),
                "key": pl.Series(self.keys, dtype=pl.List(pl.String)),
                "_p": pl.Series(self.perm, dtype=pl.List(pl.Int64)),
                "_nb": pl.Series(self.nb, dtype=pl.Int64),
                "_nin": pl.Series(self.nin, dtype=pl.Int64),
            }
        )


# ---------------------------------------------------------------------------------------
# columns


class _Columns:
    """Spans as Python lists, handed on as polars chunks every ``_CHUNK_SPANS`` spans.

    A span's attributes stay undecoded (``msgspec.Raw``) until their bytes are first seen
    under a resource + scope: a file repeats the same attribute arrays (the demo has
    6,127 distinct arrays for 64,256 spans), so each distinct (resource + scope, array)
    pair is decoded and merged once (a *combination*; a span with a status message or an
    exception is a combination of its own). The attributes column is a gather of the
    combinations' key/value lists by each span's combination id."""

    def __init__(self, submit: Callable[[_Chunk], Future[pl.DataFrame]]) -> None:
        self.submit = submit  # hands a chunk to the finisher
        self.chunks: list[Future[pl.DataFrame]] = []
        self.restart = False
        self.layouts = _Layouts()
        self.bases: dict[tuple[str, ...], int] = {}
        self._reset_combinations()
        self._reset_spans()

    def _reset_spans(self) -> None:
        """After a flush: the next chunk's spans and combinations."""
        self.trace: list[Any] = []
        self.span: list[Any] = []
        self.parent: list[Any] = []
        self.name: list[Any] = []
        self.kind: list[Any] = []
        self.start: list[Any] = []
        self.end: list[Any] = []
        self.code: list[Any] = []
        self.service: list[str | None] = []
        self.combo: list[int] = []  # each span's combination id
        # the combinations made since the last flush: layout, where the block's values
        # start in base_pool; their own values (in layout order) go to inputs
        self.c_layout: list[int] = []
        self.c_block: list[int] = []
        self.inputs: list[Any] = []
        # combinations whose arrays are still to be decoded (at the end of the line):
        # (block, attribute bytes, status message, exception attributes)
        self.pending: list[tuple[_Block, bytes, str | None, dict[str, str] | None]] = []

    def _reset_combinations(self) -> None:
        """The resources, blocks and combinations seen (kept from chunk to chunk until
        they hold ``_MAX_HELD`` bytes of attribute arrays)."""
        self.resources: dict[bytes, tuple[str | None, dict[str, str], int]] = {}
        self.blocks: dict[tuple[bytes, str | None], _Block] = {}
        self.base_pool: list[str] = []
        self.table: pl.Series | None = None  # the KV list of each combination flushed
        self.done = 0  # combinations in the table
        self.held = 0  # bytes of the attribute arrays the blocks hold

    def resource(self, key: bytes) -> tuple[str | None, dict[str, str], int]:
        """(service, kept resource attributes, id) of a resource, cached on its bytes (a
        file repeats the same few resources on every line; b"" when there is none)."""
        hit = self.resources.get(key)
        if hit is None:
            res = _RESOURCE_DECODER.decode(key) if key else None
            d = _attr_dict(res.attributes if res is not None else None)
            service = d.pop("service.name", None)
            keep = {k: v for k, v in d.items() if k.startswith(RESOURCE_PREFIXES)}
            hit = self.resources[key] = (service, keep, len(self.resources))
        return hit

    def block_of(self, resource: bytes, scope: str | None) -> _Block:
        """The block of a resource (its bytes) + scope name: its service and base
        attributes (kept resource attributes, then the scope name)."""
        service, keep, _ = self.resource(resource)
        base = dict(keep)
        if scope:
            base["otel.scope.name"] = scope
        base_keys = tuple(base)
        base_id = self.bases.get(base_keys)
        if base_id is None:
            base_id = self.bases[base_keys] = len(self.bases)
        block = self.blocks[resource, scope] = _Block(
            service, base_id, base_keys, len(self.base_pool)
        )
        self.base_pool.extend(base.values())
        return block

    def _new(self, block: _Block, raw: bytes, msg: str | None, exc: dict[str, str] | None) -> int:
        """A new combination's id; its array is decoded with the others of the line."""
        self.pending.append((block, raw, msg, exc))
        self.held += len(raw)
        return self.done + len(self.c_layout) + len(self.pending) - 1

    def _decode_pending(self) -> None:
        """The line's new combinations: their arrays decoded in one call, their values
        read as the careful path reads them, their layouts found."""
        pending, self.pending = self.pending, []
        arrays = _ARRAYS_DECODER.decode(b"[" + b",".join([p[1] for p in pending]) + b"]")
        layouts = self.layouts
        layout_ids = layouts.ids
        inputs = self.inputs
        for (block, _, msg, exc), attrs in zip(pending, arrays, strict=True):
            keys: tuple[str, ...] = ()
            if attrs:
                keys = tuple([kv.key for kv in attrs])
                try:  # the common case inline: strings, then canonical int strings
                    inputs.extend(
                        [
                            s
                            if (s := (v := kv.value).string_value).__class__ is str
                            else i
                            if (i := v.int_value).__class__ is str
                            and i.isascii()
                            and i.isdigit()
                            and i[0] != "0"
                            and s is UNSET
                            else _other(v)
                            for kv in attrs
                        ]
                    )
                except _Omitted:
                    d = [(kv.key, _value(kv.value)) for kv in attrs]
                    keys = tuple([k for k, x in d if x is not None])
                    inputs.extend([x for _, x in d if x is not None])
            if msg or exc:
                ek = tuple(exc) if exc else ()
                key: tuple[Any, ...] = (block.base_id, keys, bool(msg), ek)
                if msg:
                    inputs.append(msg)
                if exc:
                    inputs.extend(exc.values())
            else:
                ek = ()
                key = (block.base_id, keys)
            lid = layout_ids.get(key)
            if lid is None:
                lid = layouts.add(key, block.base_keys, keys, bool(msg), ek)
            self.c_layout.append(lid)
            self.c_block.append(block.offset)

    def add(self, doc: _Request) -> None:
        """One decoded request (one line of the file)."""
        if not doc.resource_spans:
            return
        line: list[_Span] = []
        owners: list[_Block] = []  # each span's block
        block_get = self.blocks.get
        for rs in doc.resource_spans:
            if not isinstance(rs.instrumentation_library_spans, UnsetType):
                raise _Decline
            res = rs.resource
            resource = bytes(res) if isinstance(res, Raw) else b""
            for ss in rs.scope_spans or ():
                if not isinstance(ss.instrumentation_library, UnsetType):
                    raise _Decline
                spans = ss.spans
                if not spans:
                    continue
                scope = ss.scope.name if ss.scope is not None else None
                block = block_get((resource, scope)) or self.block_of(resource, scope)
                owners.extend([block] * len(spans))
                line.extend(spans)
        self.service.extend(map(_SERVICE, owners))
        # the common case in C-level passes over the line: each span's attribute bytes,
        # its combination if these bytes were seen under its block; then the rare spans:
        # with a status message or events (errors), or bytes not seen yet
        try:  # b"" + Raw copies the bytes at ~110 ns less a span than bytes(Raw)
            arrays = [b"" + sp.attributes for sp in line]  # type: ignore[operator]
        except TypeError:  # a span without attributes (UNSET)
            arrays = [bytes(a) if (a := sp.attributes).__class__ is Raw else b"null" for sp in line]
        cids: list[int | None] = list(map(dict.get, map(_COMBOS, owners), arrays))
        special = [
            j
            for j, sp in enumerate(line)
            if sp.events or ((st := sp.status) is not None and st.message)
        ]
        for j in special:
            sp = line[j]
            st = sp.status
            msg = st.message if st is not None else None
            exc = _exception(sp.events) if sp.events else None
            if msg or exc:
                cids[j] = self._new(owners[j], arrays[j], msg, exc)
        if None in cids:
            for j in [j for j, c in enumerate(cids) if c is None]:
                block = owners[j]
                raw = arrays[j]
                cid = block.combos.get(raw)
                if cid is None:
                    cid = block.combos[raw] = self._new(block, raw, None, None)
                cids[j] = cid
        if self.pending:
            self._decode_pending()
        self.combo.extend(cids)  # type: ignore[arg-type]  # no None left
        self.trace.extend([s.trace_id for s in line])
        self.span.extend([s.span_id for s in line])
        self.parent.extend([s.parent_span_id for s in line])
        self.name.extend([s.name for s in line])
        self.kind.extend([s.kind for s in line])
        self.start.extend([s.start_time_unix_nano for s in line])
        self.end.extend([s.end_time_unix_nano for s in line])
        self.code.extend([st.code if (st := s.status) is not None else None for s in line])

    def flush(self) -> None:
        """The spans held so far -> a chunk for the finisher (built here, where Python
        objects are read; the rest is polars work for :class:`_Finisher`)."""
        n = len(self.trace)
        if not n:
            return
        spans = pl.DataFrame(
            {
                "trace_id": pl.Series(self.trace, dtype=pl.String),
                "span_id": pl.Series(self.span, dtype=pl.String),
                "parent_span_id": pl.Series(self.parent, dtype=pl.String),
                "service": pl.Series(self.service, dtype=pl.String),
                "name": pl.Series(self.name, dtype=pl.String),
                "kind": pl.Series(self.kind, dtype=pl.Int64),
                "start": _time_strings(self.start),
                "end": _time_strings(self.end),
                "code": pl.Series(self.code, dtype=pl.Int64),
                "_combo": pl.Series(self.combo, dtype=pl.UInt32),
            }
        )
        new = None
        if self.c_layout:
            new = _New(
                pl.DataFrame(
                    {
                        "_layout": pl.Series(self.c_layout, dtype=pl.UInt32),
                        "_block": pl.Series(self.c_block, dtype=pl.Int64),
                    }
                ),
                self.layouts.table(),
                pl.Series(self.base_pool, dtype=pl.String).append(
                    pl.Series(self.inputs, dtype=pl.String)
                ),
                len(self.base_pool),
            )
            self.done += len(self.c_layout)
        self.chunks.append(self.submit(_Chunk(spans, new, self.restart)))
        self.restart = False
        self._reset_spans()
        if self.held > _MAX_HELD:
            self._reset_combinations()
            self.restart = True


class _New(NamedTuple):
    """The combinations made since the last chunk: layout and block offset of each, the
    layouts, the values (the blocks' first, ``n_base`` of them, then their own)."""

    combos: pl.DataFrame
    layouts: pl.DataFrame
    pool: pl.Series
    n_base: int


class _Chunk(NamedTuple):
    """Spans as read (times still strings, attributes a combination id), the new
    combinations, and whether the combinations restart at 0 with this chunk."""

    spans: pl.DataFrame
    new: _New | None
    restart: bool


class _Finisher:
    """The polars half, on a worker thread, chunk after chunk in order while the next
    chunk is decoded: the combinations' KV lists, the attributes gathered, the careful
    path's checks (:class:`_Decline` when one fails) and the frame's form. polars
    releases the GIL while a query runs, so on two cores both halves run at once."""

    def __init__(self, keys: tuple[str, ...] | None = None) -> None:
        self.table: pl.Series | None = None  # each combination's KV list
        self.keys = keys  # only these attribute keys (None: all)

    def __call__(self, chunk: _Chunk) -> pl.DataFrame:
        if chunk.restart:
            self.table = None
        if chunk.new is not None:
            kv = _combinations(chunk.new, self.keys)
            # one chunk: a gather from a table of many chunks (one per flush) costs ~9x
            # more (demo: 32 ms against 3.6; the rechunk 0.3 ms)
            self.table = kv if self.table is None else pl.concat([self.table, kv]).rechunk()
        assert self.table is not None
        table = self.table
        sp = chunk.spans.lazy().select(
            pl.all().exclude("_combo", "start", "end"),
            start=pl.col("start").cast(pl.Int64, strict=False),
            end=pl.col("end").cast(pl.Int64, strict=False),
            attributes=pl.lit(table).gather(pl.col("_combo")),
        )
        return _finish(sp)


def _combinations(new: _New, keys: tuple[str, ...] | None = None) -> pl.Series:
    """Each new combination's KV list: its layout gives its keys and, per key, the pool
    index of its value (the blocks' values first in the pool, then the combinations'
    own). ``keys``: only these keys are kept (a lean load, :mod:`.detail`)."""
    n = new.combos.height
    per = (
        new.combos.lazy()
        .with_row_index("_row")
        .join(new.layouts.lazy(), on="_layout", how="left", maintain_order="left")
        .with_columns(_in=pl.col("_nin").cum_sum() - pl.col("_nin") + new.n_base)
    )
    grouped = (
        per.filter(pl.col("key").list.len() > 0)
        .select("_row", "_block", "_in", "_nb", "key", "_p")
        .explode("key", "_p")
        .filter(pl.col("key").is_in(list(keys)) if keys is not None else pl.lit(True))
        .select(
            pl.col("_row").set_sorted(),
            "key",
            value=pl.lit(new.pool).gather(
                pl.when(pl.col("_p") < pl.col("_nb"))
                .then(pl.col("_block") + pl.col("_p"))
                .otherwise(pl.col("_in") + pl.col("_p") - pl.col("_nb"))
            ),
        )
        .group_by("_row", maintain_order=True)
        .agg(pl.struct("key", "value").alias("attributes"))
        .collect()
    )
    if grouped.height == n:
        return grouped["attributes"].cast(frames.KV)
    full = pl.DataFrame({"_row": pl.arange(0, n, eager=True, dtype=pl.UInt32)}).join(
        grouped, on="_row", how="left", maintain_order="left"
    )
    return full["attributes"].fill_null(pl.lit([], dtype=frames.KV)).cast(frames.KV)


_SERVICE = attrgetter("service")
_COMBOS = attrgetter("combos")


class _Block:
    """A resource + scope: its service, its base attributes, where their values start in
    the pool, and the combination id of each attribute array seen under it."""

    __slots__ = ("base_id", "base_keys", "combos", "offset", "service")

    def __init__(
        self, service: str | None, base_id: int, base_keys: tuple[str, ...], offset: int
    ) -> None:
        self.service = service
        self.base_id = base_id
        self.base_keys = base_keys
        self.offset = offset
        self.combos: dict[bytes, int] = {}


def _time_strings(values: list[Any]) -> pl.Series:
    """``*UnixNano`` values (strings of digits or integers) as strings; the finisher
    parses them with polars. What polars cannot parse as an integer (or what does not
    fit) goes the careful way; what it parses (``"+5"``, ``"007"``) Python's ``int()``
    reads the same, and the range check comes after."""
    try:
        return pl.Series(values, dtype=pl.String, strict=True)
    except (TypeError, pl.exceptions.PolarsError):
        return pl.Series([str(v) if type(v) is int else v for v in values], dtype=pl.String)


# ---------------------------------------------------------------------------------------
# the file


def _file_blocks(fh: io.BufferedIOBase) -> Iterator[tuple[bytearray, int]]:
    """A file in blocks of whole lines, read into one reused buffer: ``(buf, end)``, where
    ``buf[:end]`` holds whole lines (the last line of the file without a line end). The
    next block overwrites the buffer: a block's lines are decoded before it is read (the
    buffer is never resized, so a ``Raw`` left over still points into valid memory)."""
    buf = bytearray(_BLOCK)
    filled = 0
    while True:
        with memoryview(buf) as view, view[filled:] as rest:
            n = fh.readinto(rest)
        if not n:
            if filled:
                yield buf, filled
            return
        filled += n
        end = buf.rfind(b"\n", 0, filled)
        if end < 0:  # a line longer than the buffer: a bigger one (the old is left as is)
            if filled == len(buf):
                bigger = bytearray(2 * len(buf))
                bigger[:filled] = buf
                buf = bigger
            continue
        yield buf, end
        with memoryview(buf) as view:  # the partial last line to the front
            tail = filled - end - 1
            view[:tail] = view[end + 1 : filled]
        filled = tail


def _documents(
    blocks: Iterable[tuple[bytes | bytearray, int]], whole: Callable[[], bytes]
) -> Iterator[_Request]:
    """Each request of a JSON-lines file (or the one document of a file that is not JSON
    lines: ``whole()`` gives all its bytes), decoded; each line as the careful path reads
    it, or :class:`_Decline`. The checks run on a whole block at once when it is ASCII
    without a ``\r`` (the common case), else line by line."""
    first = True
    for buf, end in blocks:
        if first and buf.startswith(b"\xef\xbb\xbf"):
            raise _Decline  # a BOM: the careful path reads it
        # the buffer past ``end`` holds the next block's first bytes (checked again then)
        # or, after the file's last read, stale bytes: a false alarm means line by line
        clean = buf.find(b"\r", 0, end) < 0 and buf.isascii()
        view = memoryview(buf)
        pos = 0
        while pos < end:
            nl = buf.find(b"\n", pos, end)
            if nl < 0:
                nl = end
            line = view[pos:nl]
            pos = nl + 1
            if len(line) <= 64 and not bytes(line).strip():
                first = False
                continue
            if not clean:
                _check_line(bytes(line))
            try:
                doc = _DECODER.decode(line)
            except msgspec.DecodeError:
                if not first:
                    raise
                # not JSON lines: one document over several lines (pretty-printed)
                data = whole()
                if not data.isascii():
                    str(data, "utf-8")
                yield _DECODER.decode(data)
                return
            first = False
            yield doc


def _check_line(line: bytes) -> None:
    """A line (without its ``\n``) the careful path reads as one line, in UTF-8."""
    cr = line.find(b"\r")
    if cr >= 0 and cr != len(line) - 1:
        raise _Decline  # splitlines() would cut this line in two
    if not line.isascii():  # msgspec does not check UTF-8 in the fields it skips
        text = str(line, "utf-8")  # UnicodeDecodeError: the careful path says where
        if any(b in text for b in _UNICODE_BREAKS):
            raise _Decline


def _decode(data: bytes) -> int:
    """msgspec's typed decode of ``data`` alone (no mapping): the number of spans. The
    floor ``bench/bench_investigation.py`` compares the whole path with."""
    n = 0
    for doc in _documents([(data, len(data))], lambda: data):
        for rs in doc.resource_spans or ():
            for ss in rs.scope_spans or ():
                n += len(ss.spans or ())
    return n


def fast_spans(data: bytes, *, keys: tuple[str, ...] | None = None) -> pl.DataFrame | None:
    """The spans frame of an OTLP JSON traces file's bytes, or None when the careful path
    must read it (see the module doc). ``keys``: only these attribute keys are kept."""
    return _spans(_documents([(data, len(data))], lambda: data), keys)


def fast_spans_file(
    path: str | Path, *, keys: tuple[str, ...] | None = None
) -> pl.DataFrame | None:
    """:func:`fast_spans` of a file, read line by line: the file's bytes are never all in
    memory at once (173 MB for the 1,000-service lab), unless it is one document.
    ``keys``: only these attribute keys are kept (the others are never built)."""
    try:
        with open(path, "rb") as fh:

            def whole() -> bytes:
                fh.seek(0)
                return fh.read()

            return _spans(_documents(_file_blocks(fh), whole), keys)
    except OSError:
        return None  # the careful path says what is wrong with the file


def _spans(docs: Iterator[_Request], keys: tuple[str, ...] | None = None) -> pl.DataFrame | None:
    """Python reads the spans (decode, ids, combinations) while a worker thread runs the
    polars half of the chunks already read (:class:`_Finisher`)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="otlp-fast") as worker:
        finisher = _Finisher(keys)
        cols = _Columns(lambda chunk: worker.submit(finisher, chunk))
        try:
            for doc in docs:
                cols.add(doc)
                if len(cols.trace) >= _CHUNK_SPANS:
                    cols.flush()
            cols.flush()
            chunks = [f.result() for f in cols.chunks]
        except (_Decline, msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
            return None
        except (OverflowError, TypeError):  # an integer beyond 64 bits (kind, status code)
            return None
        finally:
            for f in cols.chunks:
                f.cancel()
    if not chunks:
        return None
    return pl.concat(chunks, rechunk=False)


_Z16, _Z32 = "0" * 16, "0" * 32


def _finish(spans: pl.LazyFrame) -> pl.DataFrame:
    """A chunk's spans checked as the careful path checks them (:class:`_Decline`: it
    must read the file) and in the frame's form."""
    sp = spans.collect()
    parent = pl.col("parent_span_id")
    start, end = pl.col("start"), pl.col("end")

    def zero(c: pl.Expr) -> pl.Expr:  # all zeros, for an id that passed _ID
        return (c == _Z16) | (c == _Z32)

    checks, frame = pl.collect_all(
        [
            sp.lazy().select(
                ids=(pl.col("trace_id").str.contains(_ID) & ~zero(pl.col("trace_id")))
                .fill_null(False)
                .all()
                & (pl.col("span_id").str.contains(_ID) & ~zero(pl.col("span_id")))
                .fill_null(False)
                .all(),
                parent=(parent.is_null() | (parent == "") | parent.str.contains(_ID)).all(),
                kind=(pl.col("kind").is_null() | pl.col("kind").is_between(0, 5)).all(),
                status=(pl.col("code").is_null() | pl.col("code").is_between(0, 2)).all(),
                times=((start >= MIN_NS) & (start <= end) & (end <= MAX_NS))
                .fill_null(False)  # not an integer (or none): the careful path says
                .all(),
            ),
            sp.lazy().select(
                "trace_id",
                "span_id",
                pl.when(parent.is_null() | (parent == "") | zero(parent))
                .then(pl.lit(None, pl.String))
                .otherwise(parent)
                .alias("parent_span_id"),
                "service",
                "name",
                pl.col("kind")
                .fill_null(0)
                .replace_strict(
                    list(range(6)), list(KIND_BY_INT), default=None, return_dtype=pl.String
                ),  # out of range: null here, and the checks decline
                _ns(start).alias("start"),
                _ns(end).alias("end"),
                ((end - start).cast(pl.Float64) / 1e6).alias("duration_ms"),
                pl.col("code")
                .fill_null(0)
                .replace_strict(
                    [0, 1, 2], list(STATUS_BY_INT), default=None, return_dtype=pl.String
                )
                .alias("status"),
                "attributes",
            ),
        ]
    )
    if not all(checks.row(0)):
        raise _Decline
    return frame


def _ns(e: pl.Expr) -> pl.Expr:
    return e.cast(pl.Datetime("ns")).dt.replace_time_zone("UTC").dt.cast_time_unit("us")
