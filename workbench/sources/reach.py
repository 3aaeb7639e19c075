"""Is a configured source reachable at all? A cheap check before a notebook is written.

A source that talks to a server is reachable when a TCP connection to its host and port
opens within the timeout; a files source when its path exists. Nothing is queried and no
credential is sent: the check only says "nobody answers at this address".

Example::

    >>> from workbench.sources.reach import unreachable
    >>> unreachable(load_config("workbench.toml").values(), timeout_s=2)
    {'prom': 'nothing answers at 127.0.0.1:9090 (connection refused)'}
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from workbench.sources.base import Source

__all__ = ["address", "problem", "unreachable"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432}


def address(source: Source) -> tuple[str, int] | Path | None:
    """Where ``source`` lives: ``(host, port)`` for a server, a ``Path`` for files, or
    None when it does not say (a source wrapping a client the user built)."""
    info = source.describe()
    url = info.get("url")
    if isinstance(url, str) and "://" in url:
        parts = urlsplit(url)
        scheme = parts.scheme.split("+")[-1]
        try:
            port = parts.port or _DEFAULT_PORTS.get(scheme)
        except ValueError:
            return None
        if parts.hostname and port:
            return parts.hostname, port
        return None
    path = info.get("path")
    if isinstance(path, str) and path:
        return Path(path)
    return None


def problem(source: Source, *, timeout_s: float = 2.0) -> str | None:
    """Why ``source`` is unreachable, in words, or None if it answers (or cannot be checked)."""
    where = address(source)
    if where is None:
        return None
    if isinstance(where, Path):
        return None if where.exists() else f"{where} does not exist"
    host, port = where
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError | socket.timeout):
            reason = f"no answer within {timeout_s:g}s"
        return f"nothing answers at {host}:{port} ({reason.lower()})"


def unreachable(sources: Iterable[Source], *, timeout_s: float = 2.0) -> dict[str, str]:
    """The sources that cannot be reached, by name, with the reason (checked concurrently)."""
    srcs = list(sources)
    if not srcs:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(srcs))) as pool:
        reasons = list(pool.map(lambda s: problem(s, timeout_s=timeout_s), srcs))
    return {s.name: r for s, r in zip(srcs, reasons, strict=True) if r}
