"""JSON-lines and CSV logs into the logs frame, with a column mapping.

:class:`LogMapping` says which field holds the time, level, message, service and ids;
the defaults match the lab's logs and most JSON loggers (see ``LogMapping``). Every field
that is not mapped goes to ``attributes`` (nested objects flattened to dotted keys:
``{"service": {"version": "1"}}`` -> ``service.version``; lists as compact JSON).

Timestamps: RFC 3339 / ISO 8601 strings with a zone (nanoseconds kept), or epoch numbers
(or numeric strings) whose unit is detected by magnitude: below 1e11 seconds, below 1e14
milliseconds, below 1e17 microseconds, otherwise nanoseconds. ``ts_format`` forces a unit
(``"s"``, ``"ms"``, ``"us"``, ``"ns"``) or gives a strptime format. A time outside
1990..2200 is reported as a wrong unit. Times without a zone are refused unless
``LogMapping(tz="UTC")`` (or another zone) says what they are.

Levels are lower-cased and normalised (``warning``->``warn``, ``critical``->``fatal``,
pino 10..60 and OTel severity numbers); missing or unknown levels become ``unknown``.

Speed: well-formed JSON lines are read with polars' ndjson reader and mapped with
expressions; if polars cannot read the file (a bad line) it is read line by line, which
names the bad line. Bad records raise :class:`BadData` naming file, line and field, or
with ``on_error="skip"`` are skipped and counted (the source marks the result partial).

Example::

    >>> from workbench.sources.files.logs import LogMapping, read_jsonl
    >>> read_jsonl("logs/logs.jsonl").frame.height
    >>> m = LogMapping(ts="Time", level="Level", message="Content", tz="UTC",
    ...                ts_format="%Y-%m-%d %H:%M:%S", default_service="hdfs")
    >>> read_csv("hdfs.csv", mapping=m).frame
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from workbench import frames
from workbench.errors import BadData, ConfigError
from workbench.sources.files._common import (
    MAX_NS,
    MIN_NS,
    KVBuilder,
    OnError,
    Problems,
    _Skip,
    check_ns,
    check_on_error,
    epoch_to_ns,
    norm_id,
    norm_level,
    ns_series,
    parse_time_ns,
    read_text,
    rfc3339_to_ns,
    scalar_str,
    to_ns,
)
from workbench.sources.files._problems import lone_surrogate

__all__ = ["LogFile", "LogMapping", "parse_records", "read_csv", "read_jsonl"]

_FIELDS = ("ts", "level", "message", "service", "trace_id", "span_id")
_UNITS = ("s", "ms", "us", "ns")


def _tuple(v: str | Sequence[str]) -> tuple[str, ...]:
    return (v,) if isinstance(v, str) else tuple(v)


@dataclass(frozen=True)
class LogMapping:
    """Which input fields feed the logs frame. Each takes a name or a list of names tried
    in order (the first present in a record wins); dotted names also match nested objects.

    Defaults (the lab's and LAB_FORMAT.md's generic mapping): time from
    ``timestamp``/``time``/``ts``/``@timestamp``; level from
    ``level``/``severity``/``levelname``/``log.level``; message from
    ``message``/``msg``/``log``; service from ``service``/``service.name``/``app``;
    trace id from ``trace_id``/``traceId``/``trace.id``; span id from
    ``span_id``/``spanId``/``span.id``.

    ``ts_format``: None (RFC 3339 or epoch, unit by magnitude), a unit
    ``"s"|"ms"|"us"|"ns"``, or a strptime format. ``tz``: zone for times written without
    one (refused if None). ``default_service``: service for records without one.

    >>> LogMapping(message="Content", ts="Time", tz="UTC")
    """

    ts: str | Sequence[str] = ("timestamp", "time", "ts", "@timestamp")
    level: str | Sequence[str] = ("level", "severity", "levelname", "log.level")
    message: str | Sequence[str] = ("message", "msg", "log")
    service: str | Sequence[str] = ("service", "service.name", "app")
    trace_id: str | Sequence[str] = ("trace_id", "traceId", "trace.id")
    span_id: str | Sequence[str] = ("span_id", "spanId", "span.id")
    ts_format: str | None = None
    tz: str | None = None
    default_service: str | None = None

    def __post_init__(self) -> None:
        for f in _FIELDS:
            names = _tuple(getattr(self, f))
            if not names or not all(isinstance(n, str) and n for n in names):
                raise ConfigError(f"LogMapping.{f} needs one or more field names")
            object.__setattr__(self, f, names)
        if self.tz is not None:
            try:
                ZoneInfo(self.tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(f"LogMapping.tz {self.tz!r} is not a time zone") from None

    def names(self, f: str) -> tuple[str, ...]:
        return getattr(self, f)

    @property
    def all_names(self) -> frozenset[str]:
        """Every input name the mapping looks at."""
        return frozenset(n for f in _FIELDS for n in self.names(f))


@dataclass
class LogFile:
    """A parsed log file: the logs frame and the problems met (skipped lines)."""

    frame: pl.DataFrame
    problems: Problems


# ---------------------------------------------------------------------------------------
# per-record (authoritative, names lines)


def _flatten(
    obj: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None
) -> dict[str, Any]:
    out = {} if out is None else out
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            _flatten(v, key + ".", out)
        else:
            out[key] = v
    return out


def _ts_py(
    value: Any, mapping: LogMapping, problems: Problems, *, field: str, line: int | None
) -> int:
    fmt = mapping.ts_format
    if fmt in _UNITS:
        if isinstance(value, str):
            try:
                value = float(value) if not value.strip().lstrip("-").isdigit() else int(value)
            except ValueError:
                raise problems.bad(
                    f"{field} {value[:40]!r} is not a number (ts_format={fmt!r})",
                    line=line, field=field,
                ) from None  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise problems.bad(f"{field} {value!r} is not an epoch number", line=line, field=field)
        try:
            ns = epoch_to_ns(value, fmt)
        except OverflowError:
            raise problems.bad(
                f"{field} {value!r} is out of range", line=line, field=field
            ) from None
        return check_ns(ns, problems, field=field, unit="ns", line=line)
    if fmt is not None:
        try:
            t = datetime.strptime(str(value), fmt)
        except ValueError:
            raise problems.bad(
                f"{field} {str(value)[:40]!r} does not match ts_format {fmt!r}",
                line=line, field=field,
            ) from None  # fmt: skip
        if t.tzinfo is None:
            if mapping.tz is None:
                raise _no_zone(problems, field, line, value)
            t = t.replace(tzinfo=ZoneInfo(mapping.tz))
        return check_ns(to_ns(t), problems, field=field, unit="ns", line=line)
    if isinstance(value, str) and rfc3339_to_ns(value) is None:
        try:
            iso: datetime | None = datetime.fromisoformat(value.strip())
        except ValueError:
            iso = None
        if iso is not None:
            if iso.tzinfo is None:
                if mapping.tz is None:
                    raise _no_zone(problems, field, line, value)
                iso = iso.replace(tzinfo=ZoneInfo(mapping.tz))
            return check_ns(to_ns(iso), problems, field=field, unit="ns", line=line)
    return parse_time_ns(value, problems, field=field, line=line)


def _no_zone(problems: Problems, field: str, line: int | None, value: Any) -> Exception:
    """BadData (raise mode, returned for the caller to raise) or _Skip (skip mode)."""
    try:
        return problems.bad(
            f"{field} {str(value)[:40]!r} has no time zone",
            line=line,
            field=field,
            hint="pass LogMapping(tz='UTC') (or the zone the times are in)",
        )
    except BadData as err:
        return err


class _Rows:
    def __init__(self) -> None:
        self.ts: list[int] = []
        self.cols: dict[str, list[Any]] = {f: [] for f in _FIELDS[1:]}
        self.attrs = KVBuilder()

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "ts": ns_series(self.ts, "ts"),
                **{f: pl.Series(f, v, dtype=pl.String) for f, v in self.cols.items()},
                "attributes": self.attrs.series(),
            }
        ).select(list(frames.SCHEMAS["logs"]))


def _add_record(
    obj: Any, mapping: LogMapping, rows: _Rows, problems: Problems, line: int | None
) -> None:
    if not isinstance(obj, dict):
        raise problems.bad(
            f"line {line} is {type(obj).__name__}, not a JSON object", line=line, field=None
        )
    flat = _flatten(obj)
    used: dict[str, tuple[str, Any]] = {}
    for f in _FIELDS:
        for name in mapping.names(f):
            v = flat.get(name)
            if v is not None and v != "":
                used[f] = (name, v)
                break
    if "ts" not in used:
        raise problems.bad(
            f"record has no time field (looked for {', '.join(mapping.names('ts'))})",
            line=line, field=mapping.names("ts")[0],
            hint="set LogMapping(ts=...) to the field holding the time",
        )  # fmt: skip
    name, raw = used["ts"]
    ts = _ts_py(raw, mapping, problems, field=name, line=line)
    level = norm_level(used["level"][1]) if "level" in used else "unknown"
    message = scalar_str(used["message"][1]) if "message" in used else ""
    service = scalar_str(used["service"][1]) if "service" in used else mapping.default_service
    ids = {
        f: norm_id(used[f][1], problems, field=used[f][0], line=line) if f in used else None
        for f in ("trace_id", "span_id")
    }
    consumed = {n for n, _ in used.values()}
    attrs = {
        k: scalar_str(v)
        for k, v in flat.items()
        if k not in consumed and not (v == "" and k in mapping.all_names)
    }
    rows.ts.append(ts)
    rows.cols["level"].append(level)
    rows.cols["message"].append(message)
    rows.cols["service"].append(service)
    rows.cols["trace_id"].append(ids["trace_id"])
    rows.cols["span_id"].append(ids["span_id"])
    rows.attrs.add(attrs)


def parse_records(
    records: Sequence[Any],
    *,
    mapping: LogMapping | None = None,
    source: str | None = None,
    on_error: OnError = "raise",
) -> pl.DataFrame:
    """Already-decoded log records (dicts) -> logs frame, using ``mapping``."""
    problems = Problems(source=source, on_error=check_on_error(on_error))
    rows = _Rows()
    for i, rec in enumerate(records):
        try:
            _add_record(rec, mapping or LogMapping(), rows, problems, i + 1)
        except _Skip:
            continue
    return rows.frame()


def _read_lines_slow(text: str, mapping: LogMapping, problems: Problems) -> pl.DataFrame:
    rows = _Rows()
    for no, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        try:
            try:
                obj = json.loads(s)
            except (json.JSONDecodeError, RecursionError) as exc:
                msg = getattr(exc, "msg", "nested too deeply")
                col = getattr(exc, "colno", None)
                raise problems.bad(
                    f"line {no} is not JSON: {msg}" + (f" at column {col}" if col else ""),
                    line=no,
                    hint="pass on_error='skip' to load the other lines and mark the result partial",
                ) from None
            if lone_surrogate(s, obj):
                raise problems.bad(f"line {no} holds a lone surrogate escape", line=no)
            _add_record(obj, mapping, rows, problems, no)
        except _Skip:
            continue
    return rows.frame()


# ---------------------------------------------------------------------------------------
# vectorised path


def _is_nested(dt: pl.DataType) -> bool:
    return isinstance(dt, pl.Struct | pl.List | pl.Array | pl.Object)


def _flatten_frame(df: pl.DataFrame) -> pl.DataFrame | None:
    """Struct columns -> dotted columns; None if lists/objects make it irregular."""
    for _ in range(8):
        structs = [c for c, t in df.schema.items() if isinstance(t, pl.Struct)]
        if not structs:
            break
        exprs: list[pl.Expr] = []
        for c, t in df.schema.items():
            if isinstance(t, pl.Struct):
                exprs.extend(
                    pl.col(c).struct.field(f.name).alias(f"{c}.{f.name}") for f in t.fields
                )
            else:
                exprs.append(pl.col(c))
        df = df.select(exprs)
        if len(set(df.columns)) != df.width:
            return None
    if any(_is_nested(t) for t in df.schema.values()):
        return None
    return df


def _ts_vector(col: pl.Series, mapping: LogMapping) -> pl.Series:
    """Vectorised ns parse; null where it fails (the per-row path then decides)."""
    fmt = mapping.ts_format
    dt = col.dtype
    if dt.is_numeric() and not isinstance(dt, pl.Boolean):
        f = pl.lit(col).cast(pl.Float64)
        a = f.abs()
        if fmt in _UNITS:
            mult = pl.lit({"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}[fmt])
        else:
            mult = (
                pl.when(a < 1e11).then(1e9).when(a < 1e14).then(1e6)
                .when(a < 1e17).then(1e3).otherwise(1.0)
            )  # fmt: skip
        approx = f * mult
        in_range = (approx >= MIN_NS) & (approx <= MAX_NS)
        if dt.is_integer():
            exact = pl.lit(col).cast(pl.Int64, strict=False) * mult.cast(pl.Int64)
        else:
            exact = approx.round().cast(pl.Int64, strict=False)
        ns = pl.select(pl.when(in_range).then(exact).otherwise(None)).to_series()
        return ns.alias(col.name)
    if dt == pl.String and fmt not in _UNITS:
        if fmt is None:
            parsed = col.str.to_datetime(
                format="%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_unit="ns", time_zone="UTC",
            )  # fmt: skip
        else:
            if "%z" in fmt or "%#z" in fmt:
                parsed = col.str.to_datetime(
                    format=fmt, strict=False, time_unit="ns", time_zone="UTC"
                )
            else:
                if mapping.tz is None:
                    return pl.Series(col.name, [None] * len(col), dtype=pl.Int64)
                parsed = col.str.to_datetime(
                    format=fmt, strict=False, time_unit="ns"
                ).dt.replace_time_zone(mapping.tz, ambiguous="earliest", non_existent="null")
        return parsed.dt.epoch("ns").alias(col.name)
    return pl.Series(col.name, [None] * len(col), dtype=pl.Int64)


def _map_frame(
    df: pl.DataFrame,
    mapping: LogMapping,
    problems: Problems,
    line_of: pl.Series,
    attributes: bool = True,
) -> pl.DataFrame:
    """Map a flat frame of raw fields to the logs frame; rows the vector path cannot
    settle go through the per-row parser (which names the line). ``attributes=False``:
    the ``attributes`` column is left empty (a lean load, :mod:`.detail`)."""
    n = df.height
    cols = set(df.columns)
    picked: dict[str, list[str]] = {f: [c for c in mapping.names(f) if c in cols] for f in _FIELDS}
    if not picked["ts"]:  # the whole file, not one record: raise whatever on_error says
        raise BadData(
            f"no time field (looked for {', '.join(mapping.names('ts'))}; have "
            f"{', '.join(sorted(cols)[:12])})",
            path=problems.path, source=problems.source, field=mapping.names("ts")[0],
            hint="set LogMapping(ts=...) to the field holding the time",
        )  # fmt: skip

    def present(c: str) -> pl.Expr:
        e = pl.col(c)
        if df.schema[c] == pl.String:
            return e.is_not_null() & (e != "")
        return e.is_not_null()

    def used_index(f: str) -> pl.Expr:
        expr: Any = pl.lit(None, dtype=pl.Int32)
        for i, c in reversed(list(enumerate(picked[f]))):
            expr = pl.when(present(c)).then(pl.lit(i, dtype=pl.Int32)).otherwise(expr)
        return expr

    def pick_str(f: str) -> pl.Expr:
        expr: Any = pl.lit(None, dtype=pl.String)
        for c in reversed(picked[f]):
            expr = pl.when(present(c)).then(pl.col(c).cast(pl.String)).otherwise(expr)
        return expr

    # time
    ts_parts = {c: _ts_vector(df[c], mapping) for c in picked["ts"]}
    tsdf = pl.DataFrame([ts_parts[c].alias(f"__ts{i}") for i, c in enumerate(picked["ts"])])
    work = pl.concat([df, tsdf], how="horizontal").with_columns(
        __tsu=used_index("ts"), **{f"__u_{f}": used_index(f) for f in _FIELDS[1:]}
    )
    ts_expr: Any = pl.lit(None, dtype=pl.Int64)
    for i in reversed(range(len(picked["ts"]))):
        ts_expr = pl.when(pl.col("__tsu") == i).then(pl.col(f"__ts{i}")).otherwise(ts_expr)
    work = work.with_columns(__ts=ts_expr)
    bad = work.select(
        (pl.col("__ts").is_null() | (pl.col("__ts") < MIN_NS) | (pl.col("__ts") > MAX_NS))
        .fill_null(True)
        .alias("b")
    )["b"]
    ts_vals = work["__ts"]
    keep = pl.Series([True] * n)
    if bad.any():
        ts_list = ts_vals.to_list()
        tsu = work["__tsu"].to_list()
        keep_list = [True] * n
        for r in bad.arg_true().to_list():
            line = int(line_of[r])
            try:
                if tsu[r] is None:
                    raise problems.bad(
                        f"record has no time field (looked for {', '.join(mapping.names('ts'))})",
                        line=line, field=mapping.names("ts")[0],
                    )  # fmt: skip
                c = picked["ts"][tsu[r]]
                ts_list[r] = _ts_py(df[c][r], mapping, problems, field=c, line=line)
            except _Skip:
                keep_list[r] = False
        ts_vals = pl.Series("__ts", ts_list, dtype=pl.Int64)
        keep = pl.Series(keep_list)
        work = work.with_columns(__ts=ts_vals)

    # levels: normalise each distinct value once
    lvl_raw = work.with_columns(pick_str("level").alias("__l"))["__l"]
    uniq = lvl_raw.unique().to_list()
    lvl_map = {u: norm_level(_maybe_num(u)) for u in uniq if u is not None}
    level = lvl_raw.replace_strict(lvl_map, default="unknown", return_dtype=pl.String).fill_null(
        "unknown"
    )

    # ids: vectorised when clean hex, per-row otherwise
    id_cols: dict[str, pl.Series] = {}
    for f in ("trace_id", "span_id"):
        raw = work.with_columns(pick_str(f).alias("__id"))["__id"]
        low = raw.str.strip_chars().str.to_lowercase()
        clean = low.str.contains(r"^[0-9a-f]{16}$|^[0-9a-f]{32}$").fill_null(True)
        if not clean.all():
            vals = low.to_list()
            uidx = work[f"__u_{f}"].to_list()
            kl = keep.to_list()
            for r in (~clean).arg_true().to_list():
                if not kl[r]:
                    continue
                try:
                    vals[r] = norm_id(
                        raw[r], problems, field=picked[f][uidx[r]], line=int(line_of[r])
                    )
                except _Skip:
                    kl[r] = False
            low = pl.Series(f, vals, dtype=pl.String)
            keep = pl.Series(kl)
        id_cols[f] = (
            pl.select(pl.when(pl.lit(low).str.contains(r"^0+$")).then(None).otherwise(pl.lit(low)))
            .to_series()
            .alias(f)
        )

    # attributes: every column except, per row, the one that was used
    attr_exprs: list[pl.Expr] = []
    owner = {c: (f, i) for f in _FIELDS for i, c in enumerate(picked[f])}
    for c in sorted(df.columns):
        val = pl.col(c).cast(pl.String)
        if c in owner:
            f, i = owner[c]
            ucol = "__tsu" if f == "ts" else f"__u_{f}"
            # the value used for the field, and empty strings of mapped names, are not
            # attributes
            val = pl.when((pl.col(ucol) == i) | (val == "")).then(None).otherwise(val)
        attr_exprs.append(val.alias(c))
    if attributes:
        attrs = _kv_column(work.select(attr_exprs) if attr_exprs else pl.DataFrame(), n)
    else:
        attrs = _kv_column(pl.DataFrame(), n)

    service = work.with_columns(pick_str("service").alias("__s"))["__s"].alias("service")
    if mapping.default_service is not None:
        service = service.fill_null(mapping.default_service)
    out = pl.DataFrame(
        {
            "ts": work["__ts"]
            .cast(pl.Datetime("ns"))
            .dt.replace_time_zone("UTC")
            .dt.cast_time_unit("us"),
            "service": service,
            "level": level,
            "message": work.with_columns(pick_str("message").fill_null("").alias("__m"))["__m"],
            "trace_id": id_cols["trace_id"],
            "span_id": id_cols["span_id"],
            "attributes": attrs,
        }
    )
    if not keep.all():
        out = out.filter(keep)
    return out


def _kv_column(values: pl.DataFrame, n: int) -> pl.Series:
    """String columns -> a ``KV`` series (one list per row, nulls dropped, keys in column
    order). Built in long form with a group-by: much faster than list.eval."""
    if values.width == 0 or n == 0:
        # pl.repeat of a typed literal: a Series from ``[[]] * n`` takes seconds (11 s
        # for 158,596 rows)
        return pl.repeat(pl.lit([], dtype=frames.KV), n, eager=True).alias("attributes")
    cols = values.columns
    k = len(cols)
    idx = pl.arange(0, k * n, eager=True)
    long = pl.DataFrame(
        {
            "r": (idx % n).cast(pl.UInt32),
            "key": pl.Series(cols, dtype=pl.String).gather(idx // n),
            "value": pl.concat([values[c].cast(pl.String) for c in cols]),
        }
    ).filter(pl.col("value").is_not_null())
    grouped = (
        long.sort("r", maintain_order=True)
        .group_by("r", maintain_order=True)
        .agg(pl.struct("key", "value").alias("attributes"))
    )
    full = pl.DataFrame({"r": pl.arange(0, n, eager=True, dtype=pl.UInt32)}).join(
        grouped, on="r", how="left", maintain_order="left"
    )
    return full["attributes"].fill_null(pl.lit([], dtype=frames.KV)).cast(frames.KV)


def _maybe_num(u: str) -> Any:
    try:
        return float(u) if u.replace(".", "", 1).isdigit() else u
    except ValueError:
        return u


# ---------------------------------------------------------------------------------------
# files


def read_jsonl(
    path: str | Path,
    *,
    mapping: LogMapping | None = None,
    source: str | None = None,
    on_error: OnError = "raise",
    attributes: bool = True,
) -> LogFile:
    """Read a JSON-lines log file into the logs frame (see the module docstring).
    ``attributes=False`` leaves the ``attributes`` column empty (not built)."""
    p = Path(path)
    mapping = mapping or LogMapping()
    problems = Problems(path=str(p), source=source, on_error=check_on_error(on_error))
    text = read_text(p, problems)
    raw = text.encode()
    line_numbers = [i for i, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not line_numbers:
        return LogFile(frames.empty("logs"), problems)
    df: pl.DataFrame | None
    try:
        df = pl.read_ndjson(io.BytesIO(raw), infer_schema_length=None)
    except Exception:  # polars cannot read it: the per-line path names the bad line
        df = None
    if df is not None and df.height == len(line_numbers):
        flat = _flatten_frame(df)
        if flat is not None:
            try:
                mapped = _map_frame(flat, mapping, problems, pl.Series(line_numbers), attributes)
                return LogFile(mapped, problems)
            except (pl.exceptions.PolarsError, ValueError, TypeError, OverflowError):
                # something the vector path does not handle: the per-line path decides
                problems.skipped.clear()
    return LogFile(_read_lines_slow(text, mapping, problems), problems)


def read_csv(
    path: str | Path,
    *,
    mapping: LogMapping | None = None,
    source: str | None = None,
    on_error: OnError = "raise",
    separator: str = ",",
) -> LogFile:
    """Read a CSV log file (with a header row) into the logs frame via ``mapping``.

    All columns are read as text; the time column is parsed as described in the module
    docstring. Unmapped columns go to ``attributes``.
    """
    p = Path(path)
    mapping = mapping or LogMapping()
    problems = Problems(path=str(p), source=source, on_error=check_on_error(on_error))
    text = read_text(p, problems)
    if not text.strip():
        return LogFile(frames.empty("logs"), problems)
    try:
        df = pl.read_csv(io.StringIO(text), infer_schema=False, separator=separator)
    except Exception as exc:  # polars' CSV errors name the row
        raise BadData(
            f"{p.name} is not valid CSV: {str(exc).splitlines()[0][:200]}",
            path=str(p), source=source,
            hint="check the separator and quoting; every row needs the header's column count",
        ) from exc  # fmt: skip
    if df.height == 0:
        return LogFile(frames.empty("logs"), problems)
    lines = pl.Series(range(2, df.height + 2))
    return LogFile(_map_frame(df, mapping, problems, lines), problems)
