"""The embedded demo incident, generated deterministically on first use and cached.

The cache lives in ``$WORKBENCH_CACHE`` (or ``~/.cache/incident-workbench``) as
``demo-<package version>-seed<N>``; it is written to a temporary directory first and
renamed into place, so a crash or a concurrent first use never leaves half a demo.

Example::

    >>> from workbench.lab.demo import demo_path
    >>> path = demo_path()            # generates once (a few seconds), then reuses
    >>> (path / "truth.json").exists()
    True
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["DEFAULT_SEED", "cache_dir", "demo_path"]

DEFAULT_SEED = 1


def cache_dir() -> Path:
    """Where generated lab data is cached."""
    env = os.environ.get("WORKBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "incident-workbench"


def demo_path(seed: int | None = None) -> Path:
    """The directory holding the demo scenario for ``seed`` (default 1), generated on first use."""
    from workbench import __version__
    from workbench.lab.generate import generate

    seed = DEFAULT_SEED if seed is None else int(seed)
    root = cache_dir()
    target = root / f"demo-{__version__}-seed{seed}"
    if (target / "scenario.json").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".demo-seed{seed}-", dir=root))
    try:
        generate("demo", seed, tmp)
        try:
            tmp.rename(target)
        except OSError:
            # someone else finished first (or a stale partial dir): keep theirs if complete
            if not (target / "scenario.json").exists():
                shutil.rmtree(target, ignore_errors=True)
                tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
