"""The IPython kernel a headless notebook run starts: ipykernel without its debugger.

``python -m workbench.headless_kernel -f CONNECTION_FILE`` runs ipykernel's own launcher
with ``debugpy`` unavailable: ipykernel then starts without the debugger (it imports
debugpy, ~0.1 s, when it creates the kernel, for a client that might attach one; nobody
does in a headless run). Everything else is ipykernel's: arguments, exec lines, IPC
sockets, outputs. :func:`workbench.notebook.execute` starts this instead of
``-m ipykernel_launcher`` when the kernelspec runs this interpreter.

Example::

    $ python -m workbench.headless_kernel -f /tmp/kernel.json
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Run an ipykernel that reports no debugger support (``debugpy`` not importable)."""
    # a None entry makes "import debugpy" raise ImportError
    sys.modules.setdefault("debugpy", None)  # type: ignore[arg-type]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
