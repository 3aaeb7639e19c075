r"""LogQL builders with escaping: a hostile service name cannot change the query.

Strings are written as Go double-quoted literals (what the LogQL lexer unquotes) and
regex alternatives are escaped like Go's ``regexp.QuoteMeta``, so any value becomes
exactly one literal in exactly one matcher.

Example::

    >>> from workbench.sources.loki import logql
    >>> print(logql.selector(["checkout", "cart.v2"]))
    {service_name=~"checkout|cart\\.v2"}
    >>> print(logql.count_over_time(logql.selector(["checkout"]), 60, by=["service_name"]))
    sum by (service_name) (count_over_time({service_name="checkout"} [60s]))
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from workbench.errors import ConfigError

__all__ = [
    "DEFAULT_ERROR_FILTER",
    "count_over_time",
    "duration",
    "line_contains",
    "quote",
    "quote_regex",
    "rate",
    "selector",
]

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REGEX_META = set("\\.+*?()|[]{}^$")

#: Line filter for error lines when the level is not a label: case-insensitive words.
DEFAULT_ERROR_FILTER = r"|~ `(?i)\b(error|err|fatal|panic|critical|exception)\b`"


def quote(value: str) -> str:
    r"""``value`` as a LogQL (Go) double-quoted string literal.

    >>> print(quote('say "hi"'))
    "say \"hi\""
    """
    out = ['"']
    for ch in value:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o <= 0xDFFF:
            raise ConfigError(
                f"value {value!r} holds a lone surrogate and cannot be sent as UTF-8",
                hint="pass a valid Unicode string",
            )
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def quote_regex(value: str) -> str:
    """Escape regex metacharacters like Go's ``regexp.QuoteMeta`` (RE2 syntax)."""
    return "".join("\\" + ch if ch in _REGEX_META else ch for ch in value)


def _label(name: str) -> str:
    if not _LABEL.fullmatch(name):
        raise ConfigError(
            f"{name!r} is not a valid Loki label name",
            hint="label names match [A-Za-z_][A-Za-z0-9_]*",
        )
    return name


def selector(
    services: Sequence[str] | None = None,
    *,
    label: str = "service_name",
    matchers: Mapping[str, str] | None = None,
) -> str:
    """A stream selector for ``services`` on ``label`` (plus exact ``matchers``).

    One service gives ``{label="x"}``, several ``{label=~"a|b"}`` with each name
    regex-escaped; no services gives ``{label=~".+"}`` (every stream with the label).
    """
    _label(label)
    parts: list[str] = []
    names = list(dict.fromkeys(services or []))
    for s in names:
        if not isinstance(s, str) or not s:
            raise ConfigError(f"service names must be non-empty strings, got {s!r}")
    if len(names) == 1:
        parts.append(f"{label}={quote(names[0])}")
    elif names:
        parts.append(f"{label}=~{quote('|'.join(quote_regex(s) for s in names))}")
    else:
        parts.append(f'{label}=~".+"')
    for k, v in (matchers or {}).items():
        parts.append(f"{_label(k)}={quote(v)}")
    return "{" + ", ".join(parts) + "}"


def line_contains(text: str) -> str:
    """A line filter keeping lines that contain ``text`` literally: ``|= "text"``."""
    return f"|= {quote(text)}"


def duration(seconds: float) -> str:
    """A LogQL duration: whole seconds as ``60s``, otherwise milliseconds."""
    if seconds <= 0:
        raise ConfigError(f"duration must be positive, got {seconds}s")
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{max(1, round(seconds * 1000))}ms"


def _agg(fn: str, sel: str, range_s: float, by: Sequence[str] | None, pipeline: str) -> str:
    pipe = f" {pipeline.strip()}" if pipeline.strip() else ""
    inner = f"{fn}({sel}{pipe} [{duration(range_s)}])"
    if by:
        return f"sum by ({', '.join(_label(b) for b in by)}) ({inner})"
    return f"sum({inner})"


def count_over_time(
    sel: str, range_s: float, *, by: Sequence[str] | None = None, pipeline: str = ""
) -> str:
    """``sum by (<by>) (count_over_time(<sel> <pipeline> [range]))``: lines per bucket."""
    return _agg("count_over_time", sel, range_s, by, pipeline)


def rate(sel: str, range_s: float, *, by: Sequence[str] | None = None, pipeline: str = "") -> str:
    """``sum by (<by>) (rate(<sel> <pipeline> [range]))``: lines per second."""
    return _agg("rate", sel, range_s, by, pipeline)
