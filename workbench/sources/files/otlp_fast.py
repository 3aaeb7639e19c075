"""The columnar fast path for OTLP JSON traces: the whole file decoded by Arrow's JSON
reader against a strict schema, then flattened and mapped with polars expressions.

It yields exactly what the careful per-span path of :mod:`workbench.sources.files.otlp`
yields, for the common well-formed case: lower-case hex ids, integer kinds and status
codes, ``*UnixNano`` as strings of digits, attribute values that are strings, canonical
integers, doubles, booleans or bytes. On anything else (a type the schema does not
expect, an id in base64 or upper case, a time outside 1990..2200, an array or kvlist
attribute, a key named like a span field, Tempo or Jaeger wrappers, lone surrogates,
pretty-printed documents) it returns None and the careful path reads the file, with its
typed errors naming line and field. Nothing is dropped silently: the number of spans is
checked against the ``"spanId"`` keys in the bytes.

Example::

    >>> frame = fast_spans(Path("traces.otlp.jsonl").read_bytes())   # None: use the careful path
"""

from __future__ import annotations

import io
from typing import Any, cast

import polars as pl

from workbench.sources.files._build import kv_from_long
from workbench.sources.files._values import MAX_NS, MIN_NS

__all__ = ["fast_spans"]

KIND_BY_INT = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUS_BY_INT = ("unset", "ok", "error")
RESOURCE_PREFIXES = ("service.", "k8s.", "host.", "container.", "deployment.", "cloud.")
_ID = r"^(?:[0-9a-f]{16}|[0-9a-f]{32})$"
_ZERO_ID = r"^0+$"
_CANONICAL_INT = r"^(?:0|-?[1-9][0-9]{0,18})$"
_DIGITS = r"^[0-9]{1,19}$"
# lone surrogate escapes: the careful path calls them bad data (one substring search
# each: a regex over the whole file would cost as much as decoding it)
_SURROGATES = (b"\\ud", b"\\uD")


def _schema() -> Any:
    """Every field OTLP/JSON defines for traces, typed as the common case writes them.
    Read with ``unexpected_field_behavior="error"``: a field not listed (a wrapper, a
    newer field) or a value of another type fails the decode, and the careful path reads
    the file. Array and kvlist values are declared so that their presence shows."""
    import pyarrow as pa

    scalar = [
        ("stringValue", pa.string()),
        ("intValue", pa.string()),
        ("doubleValue", pa.float64()),
        ("boolValue", pa.bool_()),
        ("bytesValue", pa.string()),
    ]
    nested = pa.struct([("values", pa.list_(pa.struct([])))])
    value = pa.struct([*scalar, ("arrayValue", nested), ("kvlistValue", nested)])
    kv = pa.struct([("key", pa.string()), ("value", value)])
    kvs = pa.list_(kv)
    dropped = ("droppedAttributesCount", pa.int64())
    event = pa.struct(
        [("timeUnixNano", pa.string()), ("name", pa.string()), ("attributes", kvs), dropped]
    )
    link = pa.struct(
        [
            ("traceId", pa.string()),
            ("spanId", pa.string()),
            ("traceState", pa.string()),
            ("attributes", kvs),
            dropped,
            ("flags", pa.int64()),
        ]
    )
    span = pa.struct(
        [
            ("traceId", pa.string()),
            ("spanId", pa.string()),
            ("traceState", pa.string()),
            ("parentSpanId", pa.string()),
            ("flags", pa.int64()),
            ("name", pa.string()),
            ("kind", pa.int64()),
            ("startTimeUnixNano", pa.string()),
            ("endTimeUnixNano", pa.string()),
            ("attributes", kvs),
            dropped,
            ("events", pa.list_(event)),
            ("droppedEventsCount", pa.int64()),
            ("links", pa.list_(link)),
            ("droppedLinksCount", pa.int64()),
            ("status", pa.struct([("code", pa.int64()), ("message", pa.string())])),
        ]
    )
    scope = pa.struct(
        [("name", pa.string()), ("version", pa.string()), ("attributes", kvs), dropped]
    )
    scope_spans = pa.struct(
        [("scope", scope), ("spans", pa.list_(span)), ("schemaUrl", pa.string())]
    )
    resource = pa.struct(
        [
            ("resource", pa.struct([("attributes", kvs), dropped])),
            ("scopeSpans", pa.list_(scope_spans)),
            ("schemaUrl", pa.string()),
        ]
    )
    return pa.schema([("resourceSpans", pa.list_(resource))])


def _decode(data: bytes) -> pl.DataFrame | None:
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        table = pj.read_json(
            io.BytesIO(data),
            read_options=pj.ReadOptions(block_size=1 << 22),
            parse_options=pj.ParseOptions(
                explicit_schema=_schema(), unexpected_field_behavior="error"
            ),
        )
    except (pa.ArrowException, ValueError):
        return None
    return cast(pl.DataFrame, pl.from_arrow(table))  # a Table gives a DataFrame


def _value() -> pl.Expr:
    """An attribute value as the careful path writes it (null: no attribute); doubles are
    formatted afterwards (Python's repr), the rest here."""
    v = pl.col("value")
    return (
        pl.when(v.struct.field("stringValue").is_not_null())
        .then(v.struct.field("stringValue"))
        .when(v.struct.field("intValue").is_not_null())
        .then(v.struct.field("intValue"))
        .when(v.struct.field("doubleValue").is_not_null())
        .then(pl.lit(None, pl.String))
        .when(v.struct.field("boolValue").is_not_null())
        .then(pl.when(v.struct.field("boolValue")).then(pl.lit("true")).otherwise(pl.lit("false")))
        .otherwise(v.struct.field("bytesValue"))
    )


def _long_attrs(df: pl.DataFrame, row: str, column: str) -> pl.DataFrame | None:
    """``row, key, value, _pos`` from a list-of-key/value column (None: fall back)."""
    kv = (
        df.select(row, pl.col(column))
        .with_columns(pl.col(column).list.len().alias("_n"))
        .filter(pl.col("_n") > 0)
        .drop("_n")
        .explode(column)
        .unnest(column)
    )
    if kv.height == 0:
        return pl.DataFrame(
            schema={row: pl.UInt32, "key": pl.String, "value": pl.String, "_pos": pl.UInt32}
        )
    if kv["key"].null_count():
        return None
    v = kv["value"].struct
    if v.field("arrayValue").null_count() < kv.height or (
        v.field("kvlistValue").null_count() < kv.height
    ):
        return None  # nested values: the careful path writes them as JSON
    ints = v.field("intValue").drop_nulls()
    if ints.len() and not ints.str.contains(_CANONICAL_INT).all():
        return None
    out = kv.with_row_index("_pos").with_columns(_value().alias("_v"))
    dbl = out["value"].struct.field("doubleValue")
    if dbl.null_count() < dbl.len():  # few: format them as Python does
        out = out.with_columns(
            pl.when(pl.col("_v").is_null() & dbl.is_not_null())
            .then(dbl.map_elements(repr, return_dtype=pl.String, skip_nulls=True))
            .otherwise(pl.col("_v"))
            .alias("_v")
        )
    return out.select(row, "key", pl.col("_v").alias("value"), "_pos").drop_nulls("value")


def fast_spans(data: bytes) -> pl.DataFrame | None:
    """The spans frame of an OTLP JSON traces file's bytes, or None when the careful path
    must read it (see the module doc)."""
    if not data or data.startswith(b"\xef\xbb\xbf"):
        return None
    if b"\\u" in data and any(u in data for u in _SURROGATES):  # one scan when no escapes
        return None
    raw = _decode(data)
    if raw is None or raw.height == 0:
        return None
    # with unknown fields refused, a null list is an empty or omitted one ({} is a
    # request with no spans): as the careful path reads it
    rs = (
        raw.select(pl.col("resourceSpans").explode())
        .drop_nulls()
        .unnest("resourceSpans")
        .with_row_index("_res")
    )
    if rs.height == 0:
        return None
    ss = (
        rs.select("_res", "scopeSpans")
        .explode("scopeSpans")
        .drop_nulls("scopeSpans")
        .unnest("scopeSpans")
        .with_row_index("_scope_i")
    )
    if ss.height == 0:
        return None
    sp = (
        ss.select("_res", "_scope_i", pl.col("scope").struct.field("name").alias("_scope"), "spans")
        .explode("spans")
        .drop_nulls("spans")
        .unnest("spans")
        .with_row_index("_i")
    )
    n = sp.height
    if n == 0:
        return None
    links = sp["links"].explode().drop_nulls().struct.field("spanId").drop_nulls().len()
    if data.count(b'"spanId"') != n + links:
        return None
    # ids, names, kinds, times, statuses: all well-formed, or the careful path
    parent = pl.col("parentSpanId")
    checks = sp.select(
        ids=(pl.col("traceId").str.contains(_ID) & ~pl.col("traceId").str.contains(_ZERO_ID))
        .fill_null(False)
        .all()
        & (pl.col("spanId").str.contains(_ID) & ~pl.col("spanId").str.contains(_ZERO_ID))
        .fill_null(False)
        .all(),
        parent=(
            parent.is_null() | (parent == "") | parent.str.contains(_ID)
        ).all(),  # all-zero: a root span, as the careful path reads it
        name=pl.col("name").is_not_null().all(),
        kind=(pl.col("kind").is_null() | pl.col("kind").is_between(0, 5)).all(),
        times=(
            pl.col("startTimeUnixNano").str.contains(_DIGITS)
            & pl.col("endTimeUnixNano").str.contains(_DIGITS)
        )
        .fill_null(False)
        .all(),
        status=(
            pl.col("status").is_null()
            | pl.col("status").struct.field("code").is_null()
            | pl.col("status").struct.field("code").is_between(0, 2)
        ).all(),
    ).row(0, named=True)
    if not all(checks.values()):
        return None
    start = sp["startTimeUnixNano"].cast(pl.Int64)
    end = sp["endTimeUnixNano"].cast(pl.Int64)
    ok_times = ((start >= MIN_NS) & (start <= end) & (end <= MAX_NS)).all()
    if not ok_times:
        return None

    # attributes: resource (kept prefixes), scope, span, status message, exception event
    res_kv = _long_attrs(
        rs.select("_res", pl.col("resource").struct.field("attributes").alias("a")), "_res", "a"
    )
    span_kv = _long_attrs(sp.select("_i", "attributes"), "_i", "attributes")
    if res_kv is None or span_kv is None:
        return None
    res_kv = res_kv.sort("_res", "_pos").unique(["_res", "key"], keep="last")
    services = res_kv.filter(pl.col("key") == "service.name").select("_res", _service="value")
    kept = res_kv.filter(
        pl.col("key").str.starts_with(RESOURCE_PREFIXES[0])
        | pl.any_horizontal([pl.col("key").str.starts_with(p) for p in RESOURCE_PREFIXES[1:]])
    ).filter(pl.col("key") != "service.name")
    parts = [
        sp.select("_i", "_res")
        .join(kept, on="_res", how="inner")
        .select("_i", "key", "value", pl.lit(0, pl.Int8).alias("_prio"), "_pos"),
        sp.filter(pl.col("_scope").is_not_null() & (pl.col("_scope") != "")).select(
            "_i",
            pl.lit("otel.scope.name").alias("key"),
            pl.col("_scope").alias("value"),
            pl.lit(1, pl.Int8).alias("_prio"),
            pl.lit(0, pl.UInt32).alias("_pos"),
        ),
        span_kv.select("_i", "key", "value", pl.lit(2, pl.Int8).alias("_prio"), "_pos"),
    ]
    msg = pl.col("status").struct.field("message")
    parts.append(
        sp.filter(msg.is_not_null() & (msg != "")).select(
            "_i",
            pl.lit("otel.status_description").alias("key"),
            msg.alias("value"),
            pl.lit(3, pl.Int8).alias("_prio"),
            pl.lit(0, pl.UInt32).alias("_pos"),
        )
    )
    exc = _exception_attrs(sp)
    if exc is None:
        return None
    parts.append(exc)
    attrs = _merge_attrs(pl.concat(parts, how="vertical"), n)
    sp = sp.join(services, on="_res", how="left", maintain_order="left")
    kind = (
        pl.col("kind")
        .fill_null(0)
        .replace_strict(list(range(6)), list(KIND_BY_INT), return_dtype=pl.String)
    )
    code = pl.col("status").struct.field("code").fill_null(0)
    status = code.replace_strict([0, 1, 2], list(STATUS_BY_INT), return_dtype=pl.String)
    pid = pl.col("parentSpanId")
    return sp.select(
        pl.col("traceId").alias("trace_id"),
        pl.col("spanId").alias("span_id"),
        pl.when(pid.is_null() | (pid == "") | pid.str.contains(_ZERO_ID))
        .then(pl.lit(None, pl.String))
        .otherwise(pid)
        .alias("parent_span_id"),
        pl.col("_service").alias("service"),
        "name",
        kind.alias("kind"),
        _ns(start).alias("start"),
        _ns(end).alias("end"),
        ((end - start).cast(pl.Float64) / 1e6).alias("duration_ms"),
        status.alias("status"),
        attrs.alias("attributes"),
    )


def _merge_attrs(long: pl.DataFrame, n: int) -> pl.Series:
    """``_i, key, value, _prio, _pos`` rows -> the attributes column: per span, keys
    sorted, one value per key (the highest ``_prio``, then the last ``_pos``), as
    :func:`~workbench.sources.files._build.kv_from_long` builds it. Sorted on integers
    (the key's rank among the few distinct keys), not on the strings."""
    if long.height == 0:
        return kv_from_long([], [], [], n)
    names = long["key"].unique().sort()
    long = long.with_columns(
        pl.col("key")
        .replace_strict(names, pl.arange(0, names.len(), eager=True), return_dtype=pl.UInt64)
        .alias("_k")
    )
    if names.len() < 1 << 16:  # _prio is -1..3, set here
        # one integer per row, sorted stably: rows that tie (same span, key and priority)
        # come from one part, already in ``_pos`` order
        order = (
            pl.col("_i").cast(pl.UInt64) * (1 << 24)
            + pl.col("_k") * (1 << 8)
            + (pl.col("_prio").cast(pl.Int16) + 1).cast(pl.UInt64)
        )
        long = long.sort(order, maintain_order=True)
    else:
        long = long.sort("_i", "_k", "_prio", "_pos")
    long = long.filter(
        (pl.col("_i") != pl.col("_i").shift(-1)).fill_null(True)
        | (pl.col("_k") != pl.col("_k").shift(-1)).fill_null(True)
    )
    return kv_from_long(long["_i"], long["key"], long["value"], n)


def _ns(values: pl.Series) -> pl.Series:
    return values.cast(pl.Datetime("ns")).dt.replace_time_zone("UTC").dt.cast_time_unit("us")


def _exception_attrs(sp: pl.DataFrame) -> pl.DataFrame | None:
    """``exception.type``/``exception.message`` of each span's first ``exception`` event,
    at the lowest priority (a span attribute of the same name wins)."""
    empty = pl.DataFrame(
        schema={
            "_i": pl.UInt32,
            "key": pl.String,
            "value": pl.String,
            "_prio": pl.Int8,
            "_pos": pl.UInt32,
        }
    )
    ev = sp.select("_i", "events").filter(pl.col("events").list.len() > 0)
    if ev.height == 0:
        return empty
    ev = ev.explode("events").unnest("events").with_row_index("_e")
    first = ev.filter(pl.col("name") == "exception").unique("_i", keep="first")
    if first.height == 0:
        return empty
    kv = _long_attrs(first.select("_i", "attributes"), "_i", "attributes")
    if kv is None:
        return None
    return (
        kv.filter(pl.col("key").is_in(["exception.type", "exception.message"]))
        .sort("_i", "_pos")
        .unique(["_i", "key"], keep="last")
        .select("_i", "key", "value", pl.lit(-1, pl.Int8).alias("_prio"), "_pos")
    )
