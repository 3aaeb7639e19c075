"""Helpers shared by the file parsers: error collection, ids, times, JSON reading, frames.

Every parser reports bad input through a :class:`Problems` collector. With
``on_error="raise"`` (the default) the first problem raises :class:`BadData` naming the
file, the line (JSON lines) or JSON path (documents) and the field. With
``on_error="skip"`` the bad record is skipped and counted; the caller turns the count and
the first line numbers into ``Result.reasons`` with ``partial=True``. Nothing is dropped
silently.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl

from workbench import frames
from workbench.errors import BadData

OnError = Literal["raise", "skip"]

# Plausible range for telemetry timestamps: 1990-01-01 .. 2200-01-01 (in ns). A value
# outside is almost always a number in the wrong unit (seconds read as nanoseconds...).
MIN_NS = 631_152_000 * 10**9
MAX_NS = 7_258_118_400 * 10**9

_HEX = re.compile(r"^[0-9a-fA-F]+$")


class _Skip(Exception):
    """Raised inside a parser to abandon the current record (skip mode only)."""


@dataclass
class Problems:
    """Collects bad-input problems for one file (or one decoded body)."""

    path: str | None = None
    source: str | None = None
    on_error: OnError = "raise"
    skipped: list[BadData] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)  # reasons the result is partial

    def bad(
        self,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> _Skip:
        """Record a problem: raise :class:`BadData` now, or (skip mode) return a ``_Skip``
        for the caller to raise so the current record is abandoned."""
        err = BadData(
            message, path=self.path, line=line, field=field, source=self.source, hint=hint
        )
        if self.on_error == "raise":
            raise err
        self.skipped.append(err)
        return _Skip(message)

    def reasons(self) -> list[str]:
        """Human-readable reasons for ``Result.reasons`` (empty when nothing was skipped)."""
        if not self.skipped:
            return list(self.incomplete)
        lines = [e.line for e in self.skipped if e.line is not None][:5]
        where = f" (first lines {', '.join(map(str, lines))})" if lines else ""
        first = self.skipped[0]
        fld = f" [{first.field}]" if first.field else ""
        return [
            f"skipped {len(self.skipped)} bad record(s) in {self.path or self.source}{where}; "
            f"first: {first.message}{fld}",
            *self.incomplete,
        ]


def check_on_error(on_error: str) -> OnError:
    if on_error not in ("raise", "skip"):
        from workbench.errors import ConfigError

        raise ConfigError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    return on_error  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------
# reading JSON


def read_text(path: Path, problems: Problems) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadData(
            f"cannot read {path}: {exc.strerror or exc}", path=str(path), source=problems.source
        ) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BadData(
            f"{path.name} is not UTF-8 text (byte {exc.start})",
            path=str(path),
            line=line,
            source=problems.source,
            hint="telemetry files must be UTF-8 JSON/CSV; re-export or convert the file",
        ) from exc


def loads_document(text: str, problems: Problems, *, what: str = "JSON") -> Any:
    """Decode one JSON document; a syntax error (e.g. a truncated file) raises BadData with
    the line and column, whatever ``on_error`` says (the whole document is unusable)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadData(
            f"not valid {what}: {exc.msg} at line {exc.lineno} column {exc.colno}"
            + (" (the file looks truncated)" if exc.pos >= len(text.rstrip()) else ""),
            path=problems.path,
            line=exc.lineno,
            source=problems.source,
            hint="re-export the file; a partial download or a killed exporter cuts it short",
        ) from exc
    except RecursionError as exc:
        raise BadData(
            f"{what} nested too deeply to read", path=problems.path, source=problems.source
        ) from exc


def iter_json_lines(text: str, problems: Problems) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, object)`` for every non-blank line; bad lines go to
    ``problems`` (raise, or skip and count)."""
    for no, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        try:
            yield no, json.loads(s)
        except (json.JSONDecodeError, RecursionError) as exc:
            msg = getattr(exc, "msg", "nested too deeply")
            col = getattr(exc, "colno", None)
            problems.bad(
                f"line {no} is not JSON: {msg}" + (f" at column {col}" if col else ""),
                line=no,
                hint="pass on_error='skip' to load the other lines and mark the result partial",
            )


# ---------------------------------------------------------------------------------------
# ids


def norm_id(value: Any, problems: Problems, *, field: str, line: int | None = None) -> str | None:
    """Normalise a trace/span id to lower-case hex. Accepts hex (any case) and base64 (as
    OTLP/protobuf JSON and Tempo write them). Empty strings and all-zero ids give None."""
    if value is None:
        return None
    if not isinstance(value, str):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            value = format(value, "x")
        else:
            raise problems.bad(
                f"{field} must be a string id, got {type(value).__name__}", line=line, field=field
            )
    s = value.strip()
    if not s:
        return None
    if _HEX.match(s):
        out = s.lower()
        if len(out) < 16:
            out = out.rjust(16, "0")
        elif 16 < len(out) < 32:
            out = out.rjust(32, "0")
    else:
        try:
            raw = base64.b64decode(s + "=" * (-len(s) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise problems.bad(
                f"{field} {s[:40]!r} is neither hex nor base64", line=line, field=field
            ) from None
        if not raw:
            return None
        out = raw.hex()
    if set(out) == {"0"}:
        return None
    return out


# ---------------------------------------------------------------------------------------
# numbers and times


def as_int(value: Any, problems: Problems, *, field: str, line: int | None = None) -> int:
    """An integer from an int, an integral float or a decimal string (OTLP writes 64-bit
    numbers as strings). NaN/Inf, booleans and other types raise/skip."""
    if isinstance(value, bool):
        raise problems.bad(f"{field} must be a number, got a boolean", line=line, field=field)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise problems.bad(f"{field} is {value} (not a finite number)", line=line, field=field)
        return int(value)
    if isinstance(value, str):
        s = value.strip()
        try:
            return int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                f = math.nan
            if math.isfinite(f):
                return int(f)
            raise problems.bad(
                f"{field} {s[:40]!r} is not a number", line=line, field=field
            ) from None
    raise problems.bad(
        f"{field} must be a number, got {type(value).__name__}", line=line, field=field
    )


def check_ns(ns: int, problems: Problems, *, field: str, unit: str, line: int | None = None) -> int:
    """Refuse a timestamp (already converted to ns) outside 1990..2200: a wrong unit."""
    if ns < MIN_NS or ns > MAX_NS:
        year = "before 1990" if ns < MIN_NS else "after 2200"
        raise problems.bad(
            f"{field} = {ns // _UNIT_NS.get(unit, 1)} is {year} when read as {unit} — wrong unit?",
            line=line,
            field=field,
            hint=f"{field} must be a Unix time in {unit}",
        )
    return ns


_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def epoch_to_ns(value: float | int, unit: str | None = None) -> int:
    """Convert an epoch number to ns. ``unit=None`` detects it by magnitude:
    below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds
    (valid for dates 1973..5138)."""
    if unit is None:
        a = abs(value)
        unit = "s" if a < 1e11 else "ms" if a < 1e14 else "us" if a < 1e17 else "ns"
    if isinstance(value, int):
        return value * _UNIT_NS[unit]
    return round(value * _UNIT_NS[unit])


def rfc3339_to_ns(text: str) -> int | None:
    """Parse RFC 3339 / ISO 8601 with a zone (nanosecond precision kept); None if not one."""
    s = text.strip()
    m = _RFC3339.match(s)
    if not m:
        return None
    frac = m.group("frac") or ""
    zone = m.group("zone")
    try:
        base = datetime.fromisoformat(m.group("base") + ("+00:00" if zone in "Zz" else zone))
    except ValueError:
        return None
    secs = int(base.timestamp())
    return secs * 10**9 + int((frac + "000000000")[:9] or 0)


_RFC3339 = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:[.,](?P<frac>\d{1,12}))?"
    r"(?P<zone>Z|z|[+-]\d{2}:?\d{2})$"
)


def parse_time_ns(
    value: Any,
    problems: Problems,
    *,
    field: str,
    line: int | None = None,
    unit: str | None = None,
) -> int:
    """A timestamp in ns from an RFC 3339 string or an epoch number (``unit`` or detected
    by magnitude, see :func:`epoch_to_ns`); checked to lie in 1990..2200."""
    if isinstance(value, str):
        ns = rfc3339_to_ns(value)
        if ns is None:
            try:
                num = float(value)
            except ValueError:
                raise problems.bad(
                    f"{field} {value[:40]!r} is not an RFC 3339 time with a zone or an epoch number",
                    line=line,
                    field=field,
                ) from None
            if not math.isfinite(num):
                raise problems.bad(f"{field} is {value!r}", line=line, field=field)
            s = value.strip()
            ns = epoch_to_ns(int(s) if s.lstrip("-").isdigit() else num, unit)
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise problems.bad(
            f"{field} must be a time, got {type(value).__name__}", line=line, field=field
        )
    else:
        if isinstance(value, float) and not math.isfinite(value):
            raise problems.bad(f"{field} is {value}", line=line, field=field)
        ns = epoch_to_ns(value, unit)
    return check_ns(ns, problems, field=field, unit="ns", line=line)


def ns_series(values: Sequence[int | None], name: str) -> pl.Series:
    """ns integers -> ``Datetime("us", "UTC")`` series."""
    return (
        pl.Series(name, values, dtype=pl.Int64)
        .cast(pl.Datetime("ns"))
        .dt.replace_time_zone("UTC")
        .dt.cast_time_unit("us")
    )


def to_ns(t: datetime) -> int:
    return int(t.astimezone(UTC).timestamp()) * 10**9 + t.microsecond * 1000


# ---------------------------------------------------------------------------------------
# attribute values


def scalar_str(v: Any) -> str | None:
    """A JSON value as an attribute string (bools lower-case, objects as compact JSON)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    return json.dumps(v, separators=(",", ":"), sort_keys=True, default=str, allow_nan=True)


# ---------------------------------------------------------------------------------------
# key/value columns


class KVBuilder:
    """Builds a ``frames.KV`` column row by row, stored in long form (row, key, value) and
    assembled with one group-by: far faster than a list of per-row dict lists."""

    __slots__ = ("keys", "n", "rows", "values")

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.keys: list[str] = []
        self.values: list[str] = []
        self.n = 0

    def add(self, mapping: Mapping[str, Any] | None) -> None:
        if mapping:
            keys = sorted(mapping)
            vals = [mapping[k] for k in keys]
            if not all(type(v) is str for v in vals):
                pairs = [(str(k), scalar_str(v)) for k, v in zip(keys, vals, strict=True)]
                keys = [k for k, v in pairs if v is not None]
                vals = [v for _, v in pairs if v is not None]
            self.rows.extend([self.n] * len(keys))
            self.keys.extend(keys)
            self.values.extend(vals)
        self.n += 1

    def series(self, name: str = "attributes") -> pl.Series:
        return kv_from_long(self.rows, self.keys, self.values, self.n, name=name)


def kv_from_long(
    rows: Sequence[int] | pl.Series,
    keys: Sequence[str] | pl.Series,
    values: Sequence[str] | pl.Series,
    n: int,
    *,
    name: str = "attributes",
) -> pl.Series:
    """(row, key, value) triples, rows ascending -> a ``KV`` series of length ``n``."""
    if n == 0 or len(rows) == 0:
        return pl.Series(name, [[]] * n, dtype=frames.KV)
    long = pl.DataFrame(
        {
            "r": pl.Series(rows, dtype=pl.UInt32),
            "key": pl.Series(keys, dtype=pl.String),
            "value": pl.Series(values, dtype=pl.String),
        }
    )
    grouped = long.group_by("r", maintain_order=True).agg(pl.struct("key", "value").alias(name))
    full = pl.DataFrame({"r": pl.arange(0, n, eager=True, dtype=pl.UInt32)}).join(
        grouped, on="r", how="left", maintain_order="left"
    )
    return full[name].fill_null(pl.lit([], dtype=frames.KV)).cast(frames.KV)


# ---------------------------------------------------------------------------------------
# the spans frame


class SpanRows:
    """Column builder for the spans frame; ``frame()`` computes ``duration_ms`` from the
    exact ns start/end before times are cut to microseconds."""

    __slots__ = (
        "attrs",
        "end",
        "kind",
        "name",
        "parent",
        "service",
        "span",
        "start",
        "status",
        "trace",
    )

    def __init__(self) -> None:
        self.trace: list[str | None] = []
        self.span: list[str | None] = []
        self.parent: list[str | None] = []
        self.service: list[str | None] = []
        self.name: list[str] = []
        self.kind: list[str] = []
        self.start: list[int] = []
        self.end: list[int] = []
        self.status: list[str] = []
        self.attrs = KVBuilder()

    def add(
        self,
        *,
        trace_id: str | None,
        span_id: str | None,
        parent: str | None,
        service: str | None,
        name: str,
        kind: str,
        start_ns: int,
        end_ns: int,
        status: str,
        attributes: Mapping[str, Any],
    ) -> None:
        self.trace.append(trace_id)
        self.span.append(span_id)
        self.parent.append(parent)
        self.service.append(service)
        self.name.append(name)
        self.kind.append(kind)
        self.start.append(start_ns)
        self.end.append(end_ns)
        self.status.append(status)
        self.attrs.add(attributes)

    def __len__(self) -> int:
        return len(self.trace)

    def frame(self) -> pl.DataFrame:
        start = pl.Series("s", self.start, dtype=pl.Int64)
        end = pl.Series("e", self.end, dtype=pl.Int64)
        return pl.DataFrame(
            {
                "trace_id": pl.Series(self.trace, dtype=pl.String),
                "span_id": pl.Series(self.span, dtype=pl.String),
                "parent_span_id": pl.Series(self.parent, dtype=pl.String),
                "service": pl.Series(self.service, dtype=pl.String),
                "name": pl.Series(self.name, dtype=pl.String),
                "kind": pl.Series(self.kind, dtype=pl.String),
                "start": ns_series(self.start, "start"),
                "end": ns_series(self.end, "end"),
                "duration_ms": ((end - start).cast(pl.Float64) / 1e6),
                "status": pl.Series(self.status, dtype=pl.String),
                "attributes": self.attrs.series(),
            }
        )


def check_span_times(
    start: int,
    end: int,
    problems: Problems,
    *,
    fields: tuple[str, str],
    line: int | None,
    unit: str,
) -> None:
    """Both times in 1990..2200 (reported in the source ``unit``) and end >= start."""
    check_ns(start, problems, field=fields[0], unit=unit, line=line)
    check_ns(end, problems, field=fields[1], unit=unit, line=line)
    if end < start:
        raise problems.bad(
            f"span ends {(start - end) / 1e6:.3f} ms before it starts", line=line, field=fields[1]
        )


def span_warnings(df: pl.DataFrame) -> list[str]:
    """Notes about a spans frame that do not make it partial: duplicate ids (all rows are
    kept) and parent cycles (rows kept; analysis must not follow parents blindly)."""
    out: list[str] = []
    if df.height == 0:
        return out
    dup = df.group_by("trace_id", "span_id").len().filter(pl.col("len") > 1)
    if dup.height:
        out.append(
            f"{dup.height} span id(s) appear more than once in their trace "
            f"({int(dup['len'].sum())} rows, all kept)"
        )
    cyc = cycle_span_count(df)
    if cyc:
        out.append(f"{cyc} span(s) sit on a parent cycle (rows kept)")
    return out


def cycle_span_count(df: pl.DataFrame) -> int:
    """Number of spans that lie on a parent->child cycle (linear time, no recursion)."""
    parent: dict[tuple[str | None, str | None], str | None] = {}
    for t, s, p in zip(
        df["trace_id"].to_list(),
        df["span_id"].to_list(),
        df["parent_span_id"].to_list(),
        strict=True,
    ):
        if s is not None and p is not None:
            parent.setdefault((t, s), p)
    state: dict[tuple[str | None, str | None], int] = {}  # 1 = in progress, 2 = done
    on_cycle = 0
    for key in parent:
        if key in state:
            continue
        path: list[tuple[str | None, str | None]] = []
        cur: tuple[str | None, str | None] | None = key
        while cur is not None and cur in parent and cur not in state:
            state[cur] = 1
            path.append(cur)
            cur = (cur[0], parent[cur])
        if cur is not None and state.get(cur) == 1:
            on_cycle += len(path) - path.index(cur)
        for k in path:
            state[k] = 2
    return on_cycle


# ---------------------------------------------------------------------------------------
# log levels

LEVEL_ALIASES: dict[str, str] = {
    "trace": "trace", "trc": "trace", "finest": "trace", "finer": "trace", "verbose": "trace",
    "debug": "debug", "dbg": "debug", "fine": "debug", "config": "debug",
    "info": "info", "inf": "info", "information": "info", "informational": "info",
    "notice": "info", "i": "info",
    "warn": "warn", "warning": "warn", "wrn": "warn", "w": "warn",
    "error": "error", "err": "error", "eror": "error", "severe": "error", "e": "error",
    "fatal": "fatal", "critical": "fatal", "crit": "fatal", "panic": "fatal",
    "dpanic": "fatal", "emerg": "fatal", "emergency": "fatal", "alert": "fatal",
}  # fmt: skip


def level_from_number(n: float) -> str:
    """pino/bunyan levels (10..60) or OpenTelemetry severity numbers (1..24)."""
    if n in (10, 20, 30, 40, 50, 60):
        return ("trace", "debug", "info", "warn", "error", "fatal")[int(n) // 10 - 1]
    if 1 <= n <= 24:
        return ("trace", "debug", "info", "warn", "error", "fatal")[(int(n) - 1) // 4]
    return "unknown"


def norm_level(value: Any) -> str:
    """Map a level/severity to the frame's LEVELS: lower-cased, ``warning``->``warn``,
    ``critical``->``fatal`` and common aliases; numbers as pino (10..60) or OTel severity
    numbers (1..24); anything else ``unknown``."""
    if value is None or isinstance(value, bool):
        return "unknown"
    if isinstance(value, int | float):
        return level_from_number(value) if math.isfinite(value) else "unknown"
    s = str(value).strip().lower()
    hit = LEVEL_ALIASES.get(s)
    if hit:
        return hit
    if s.isdigit():
        return level_from_number(int(s))
    # "ERROR2", "warn " "info:" ... take the leading word
    m = re.match(r"[a-z]+", s)
    return LEVEL_ALIASES.get(m.group(0), "unknown") if m else "unknown"
