"""A client-side deadline for PostgreSQL reads.

``statement_timeout`` makes the *server* give up on a slow query, but when the network
or the server stops answering altogether (a dead proxy, a half-open connection) the
client would wait forever. :class:`Watchdog` shuts the connection's socket down once the
deadline has passed, so the blocked read fails and the source raises a typed error.

Example::

    with Watchdog(conn, after_s=70) as dog:
        rows = run(conn)
    # on psycopg.Error: dog.fired tells whether the deadline cut the connection
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Watchdog"]

log = logging.getLogger(__name__)


class Watchdog:
    """Cut ``conn``'s socket after ``after_s`` seconds unless the block ended first
    (``after_s=None``: no deadline). ``cut()``, if given, does the cutting instead (the
    ADBC connection, whose socket :mod:`~workbench.sources.postgres.arrow_io` finds)."""

    def __init__(
        self, conn: Any, after_s: float | None, *, cut: Callable[[], None] | None = None
    ) -> None:
        self.fired = False
        self.after_s = after_s
        self._timer: threading.Timer | None = None
        if after_s is not None:
            self._timer = threading.Timer(after_s, self._fire, (conn, cut))
            self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        if self._timer is not None:
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _fire(self, conn: Any, cut: Callable[[], None] | None) -> None:
        if cut is None:
            self._cut(conn)
            return
        self.fired = True
        try:
            cut()
        except Exception:
            log.debug("watchdog: cut failed", exc_info=True)

    def _cut(self, conn: Any) -> None:
        self.fired = True
        try:
            dup = socket.fromfd(conn.fileno(), socket.AF_INET, socket.SOCK_STREAM)
        except Exception:  # already closed
            log.debug("watchdog: no socket to cut", exc_info=True)
            return
        try:
            dup.shutdown(socket.SHUT_RDWR)
        except OSError:
            log.debug("watchdog: shutdown failed", exc_info=True)
        finally:
            dup.close()
