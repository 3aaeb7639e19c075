"""Fixture: ``fault_proxy(target)`` starts a :class:`tests.faultproxy.FaultProxy` in front
of ``(host, port)`` (or a server with ``.port``); every proxy stops after the test.

Example::

    def test_reset(fault_proxy, prometheus_server):
        proxy = fault_proxy(prometheus_server)
        proxy.set("reset")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faultproxy import FaultProxy


@pytest.fixture
def fault_proxy() -> Iterator[Callable[..., FaultProxy]]:
    made: list[FaultProxy] = []

    def make(target: Any, *, tls: tuple[Path, Path] | None = None) -> FaultProxy:
        addr = target if isinstance(target, tuple) else ("127.0.0.1", int(target.port))
        proxy = FaultProxy(addr, tls=tls, idle_timeout_s=20, lifetime_s=300).start()
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.stop()
