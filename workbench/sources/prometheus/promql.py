"""Building PromQL safely: label values and regexes escaped so no input changes a query.

A label value is written as a PromQL double-quoted string. PromQL reads those with Go's
escape rules (``\\\\``, ``\\"``, ``\\n``, ``\\xNN``, ...), so :func:`quote` escapes the
backslash, the double quote and every control character; nothing a service name holds
(quotes, ``}``, newlines, ``=~``) can end the string early. For ``=~`` matchers
:func:`regex_literal` first escapes RE2's metacharacters, so ``a.*`` matches only the
text ``a.*``.

Example::

    >>> from workbench.sources.prometheus.promql import selector, eq, any_of
    >>> selector("up", eq("service", 'we"ird'))
    'up{service="we\\\\"ird"}'
    >>> selector("up", any_of("service", ["a.b", "c"]))
    'up{service=~"a\\\\\\\\.b|c"}'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from workbench.errors import ConfigError

__all__ = [
    "any_of",
    "eq",
    "escape",
    "label_name",
    "matcher",
    "quote",
    "regex_literal",
    "selector",
]

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_RE2_META = frozenset("\\.+*?()|[]{}^$")
_SIMPLE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(value: str) -> str:
    """Escape ``value`` for the inside of a PromQL double-quoted string."""
    if not isinstance(value, str):
        raise ConfigError(f"label values must be strings, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(
            f"label value {value!r} is not valid UTF-8 (lone surrogate)",
            hint="Prometheus label values are UTF-8 text",
        ) from None
    out = []
    for ch in value:
        rep = _SIMPLE.get(ch)
        if rep is not None:
            out.append(rep)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def quote(value: str) -> str:
    """``value`` as a PromQL string literal, quotes included."""
    return f'"{escape(value)}"'


def regex_literal(value: str) -> str:
    """An RE2 pattern matching exactly ``value`` (metacharacters escaped)."""
    return "".join(f"\\{ch}" if ch in _RE2_META else ch for ch in value)


def label_name(name: str) -> str:
    """Check a label name (they cannot be quoted in PromQL, so they must be valid)."""
    if not _LABEL_NAME.match(name or ""):
        raise ConfigError(
            f"{name!r} is not a valid Prometheus label name",
            hint="label names match [a-zA-Z_][a-zA-Z0-9_]*",
        )
    return name


def metric_name(name: str) -> str:
    if not _METRIC_NAME.match(name or ""):
        raise ConfigError(
            f"{name!r} is not a valid Prometheus metric name",
            hint="metric names match [a-zA-Z_:][a-zA-Z0-9_:]*",
        )
    return name


def matcher(name: str, op: str, value: str) -> str:
    """One label matcher, e.g. ``matcher("code", "=~", "5..")``. ``value`` is quoted;
    for ``=~``/``!~`` it is a regex the caller means (use :func:`any_of` for literals)."""
    if op not in ("=", "!=", "=~", "!~"):
        raise ConfigError(f"unknown matcher operator {op!r}")
    return f"{label_name(name)}{op}{quote(value)}"


def eq(name: str, value: str) -> str:
    """``name="value"`` with ``value`` escaped."""
    return matcher(name, "=", value)


def any_of(name: str, values: Iterable[str]) -> str:
    """``name=~"v1|v2"`` matching exactly the given literal values."""
    vals = list(dict.fromkeys(values))
    if not vals:
        raise ConfigError(f"any_of({name!r}) needs at least one value")
    if len(vals) == 1:
        return eq(name, vals[0])
    return matcher(name, "=~", "|".join(regex_literal(v) for v in vals))


def selector(metric: str | None, *matchers: str | None) -> str:
    """A series selector: ``metric{m1,m2}``; ``None`` matchers are skipped."""
    ms: Sequence[str] = [m for m in matchers if m]
    name = metric_name(metric) if metric else ""
    if not ms:
        if not name:
            raise ConfigError("a selector needs a metric name or a matcher")
        return name
    return f"{name}{{{','.join(ms)}}}"
