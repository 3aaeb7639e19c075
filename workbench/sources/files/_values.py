"""Values in telemetry files: ids (hex/base64), numbers, timestamps, attribute strings,
log levels."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from workbench.sources.files._problems import Problems

# Plausible range for telemetry timestamps: 1990-01-01 .. 2200-01-01 (in ns). A value
# outside is almost always a number in the wrong unit (seconds read as nanoseconds...).
MIN_NS = 631_152_000 * 10**9
MAX_NS = 7_258_118_400 * 10**9


_HEX = re.compile(r"^[0-9a-fA-F]+$")


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
    if isinstance(value, int):  # math.isfinite(10**400) overflows
        return level_from_number(value)
    if isinstance(value, float):
        return level_from_number(value) if math.isfinite(value) else "unknown"
    s = str(value).strip().lower()
    hit = LEVEL_ALIASES.get(s)
    if hit:
        return hit
    if s.isdigit() and len(s) < 10:  # int() refuses more than 4,300 digits
        return level_from_number(int(s))
    # "ERROR2", "warn " "info:" ... take the leading word
    m = re.match(r"[a-z]+", s)
    return LEVEL_ALIASES.get(m.group(0), "unknown") if m else "unknown"
