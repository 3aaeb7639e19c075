"""The lab generator's revision: part of every cache key of generated lab data.

Bump :data:`GENERATOR_REVISION` whenever the generator writes different data for the
same scenario and seed (a fixed bug, a new signal), so caches written by an older
generator (the demo, the capacity history, the lab suite, the benchmarks' scenarios)
are simply not used, rather than silently kept. The package version alone is not
enough: it does not change between commits, and a cache outlives a checkout.

History: 2 = the lab suite's drawn variation (``lab-suite-v2``); 3 = a root no request
reaches is drawn again (``lab-suite-v3``); 4 = an alert's ``startsAt`` is when it
fired (its rule's ``for`` elapsed), as Prometheus sends it, not when it went pending;
5 = a memory leak that starts late fills the heap (OOM kills) before the window ends.

Example::

    >>> from workbench.lab.revision import GENERATOR_REVISION
    >>> f"demo-0.1.0-r{GENERATOR_REVISION}-seed1"    # the demo's cache directory
    'demo-0.1.0-r5-seed1'
"""

from __future__ import annotations

__all__ = ["GENERATOR_REVISION"]

GENERATOR_REVISION = 5
