r"""TraceQL builders with escaping: a hostile service name cannot change the query.

Strings are Go double-quoted literals (what the TraceQL lexer unquotes); several services
become ``||`` of exact comparisons, so no regex is involved.

Example::

    >>> from workbench.sources.tempo import traceql
    >>> print(traceql.spanset(["checkout", "cart"], errors_only=True))
    { (resource.service.name = "checkout" || resource.service.name = "cart") && status = error }
    >>> print(traceql.spanset(None))
    { }
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.errors import ConfigError
from workbench.sources.loki.logql import quote

__all__ = ["quote", "spanset"]

SERVICE = "resource.service.name"


def spanset(
    services: Sequence[str] | None = None,
    *,
    errors_only: bool = False,
    min_duration_ms: float | None = None,
) -> str:
    """A TraceQL spanset filter for spans of ``services`` (all if none), optionally only
    those with ``status = error`` or at least ``min_duration_ms`` long."""
    names = list(dict.fromkeys(services or []))
    for s in names:
        if not isinstance(s, str) or not s:
            raise ConfigError(f"service names must be non-empty strings, got {s!r}")
    conds: list[str] = []
    if names:
        alts = " || ".join(f"{SERVICE} = {quote(s)}" for s in names)
        conds.append(f"({alts})" if len(names) > 1 and (errors_only or min_duration_ms) else alts)
    if errors_only:
        conds.append("status = error")
    if min_duration_ms is not None:
        if min_duration_ms < 0:
            raise ConfigError("min_duration_ms must be >= 0")
        conds.append(f"duration >= {min_duration_ms:g}ms")
    return "{ " + " && ".join(conds) + (" }" if conds else "}")
