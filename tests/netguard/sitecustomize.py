"""Network guard for test subprocesses: put this folder on PYTHONPATH and set
WB_NETGUARD_LOG to a file. Every Python process started that way (the CLI, the Jupyter
kernel it launches) writes ``armed pid=... argv=...`` there, then refuses and records any
socket connection or name lookup that is not loopback.

Audit hooks see what Python's socket module does; native code that opens its own
sockets (ZeroMQ between the kernel and its client, which is loopback) is not seen.
"""

from __future__ import annotations

import ipaddress
import os
import sys

_LOG = os.environ.get("WB_NETGUARD_LOG")


def _write(line: str) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in (None, "", "localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _hook(event: str, args: tuple) -> None:
    if event == "socket.connect":
        addr = args[1]
        if isinstance(addr, tuple) and not _is_loopback(addr[0]):
            _write(f"BLOCKED connect {addr!r} pid={os.getpid()}")
            raise OSError(f"network blocked by the test: connect to {addr!r}")
    elif event == "socket.getaddrinfo" and not _is_loopback(args[0]):
        _write(f"BLOCKED getaddrinfo {args[0]!r} pid={os.getpid()}")
        raise OSError(f"network blocked by the test: lookup of {args[0]!r}")


if _LOG:
    _write(f"armed pid={os.getpid()} argv={' '.join(sys.orig_argv)[:300]}")
    sys.addaudithook(_hook)
