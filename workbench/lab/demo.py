"""The embedded demo incident, generated deterministically on first use and cached.

The cache lives in ``$WORKBENCH_CACHE`` (or ``~/.cache/incident-workbench``) as
``demo-<package version>-r<generator revision>-seed<N>``
(:data:`~workbench.lab.revision.GENERATOR_REVISION`: data of an older generator is not
reused); it is written to a temporary directory first and
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
from collections.abc import Callable
from pathlib import Path

from workbench.lab.revision import GENERATOR_REVISION

__all__ = ["DEFAULT_SEED", "cache_dir", "demo_path", "history_path"]

DEFAULT_SEED = 1


def cache_dir() -> Path:
    """Where generated lab data is cached."""
    env = os.environ.get("WORKBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "incident-workbench"


def demo_path(seed: int | None = None) -> Path:
    """The directory holding the demo scenario for ``seed`` (default 1), generated on first use."""
    seed = DEFAULT_SEED if seed is None else int(seed)

    def make(out: Path) -> None:
        # imported only to generate: the generator (and polars) is not needed on a hit
        from workbench.lab.runner import generate

        generate("demo", seed, out)

    return _cached(f"demo-{_version()}-r{GENERATOR_REVISION}-seed{seed}", make)


def history_path(seed: int | None = None) -> Path:
    """The default capacity history (28 days at 5 minutes, the shop), generated on first use.

    >>> truth = json.loads((history_path() / "truth.json").read_text())
    """
    from workbench.lab.history import generate_history

    seed = DEFAULT_SEED if seed is None else int(seed)
    return _cached(
        f"history-{_version()}-r{GENERATOR_REVISION}-seed{seed}",
        lambda out: generate_history(seed, out),
    )


def _version() -> str:
    from workbench import __version__

    return __version__


def _cached(name: str, make: Callable[[Path], object]) -> Path:
    root = cache_dir()
    target = root / name
    if (target / "scenario.json").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        make(tmp)
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
