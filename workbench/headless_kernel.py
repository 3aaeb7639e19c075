"""The IPython kernel a headless notebook run starts: ipykernel without its debugger and
without writing IPython's history.

``python -m workbench.headless_kernel -f CONNECTION_FILE`` runs ipykernel's own launcher
with ``debugpy`` unavailable: ipykernel then starts without the debugger (it imports
debugpy, ~0.1 s, when it creates the kernel, for a client that might attach one; nobody
does in a headless run). It also keeps the run's cells out of the user's IPython history
(``--HistoryManager.enabled=False``: ``In``/``Out`` stay, in memory): a headless run's
cells are nobody's history, and each write is an SQLite commit, synced to disk: four
``fdatasync`` calls on the kernel's main thread as it starts (20-160 ms measured on a
busy disk) and two to four per cell in a thread beside the cells. Everything else is
ipykernel's: arguments, exec lines, IPC sockets, outputs. :func:`workbench.notebook.execute` starts this instead of
``-m ipykernel_launcher`` when the kernelspec runs this interpreter.

Example::

    $ python -m workbench.headless_kernel -f /tmp/kernel.json
"""

from __future__ import annotations

import sys

__all__ = ["NO_HISTORY", "main"]


#: the kernel's own option: its history in memory, never written (unless the command
#: line sets the history manager's switch itself)
NO_HISTORY = "--HistoryManager.enabled=False"


def main() -> None:
    """Run an ipykernel that reports no debugger support (``debugpy`` not importable) and
    writes no IPython history (:data:`NO_HISTORY`)."""
    # a None entry makes "import debugpy" raise ImportError
    sys.modules.setdefault("debugpy", None)  # type: ignore[arg-type]
    if not any(arg.startswith("--HistoryManager.enabled") for arg in sys.argv[1:]):
        sys.argv.insert(1, NO_HISTORY)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
