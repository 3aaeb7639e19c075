"""The lab generator's revision: part of every cache key of generated lab data.

Bump :data:`GENERATOR_REVISION` whenever the generator writes different data for the
same scenario and seed (a fixed bug, a new signal), so caches written by an older
generator (the demo, the capacity history, the lab suite, the benchmarks' scenarios)
are simply not used, rather than silently kept. The package version alone is not
enough: it does not change between commits, and a cache outlives a checkout.

History: 2 = the lab suite's drawn variation (``lab-suite-v2``); 3 = a root no request
reaches is drawn again (``lab-suite-v3``); 4 = an alert's ``startsAt`` is when it
fired (its rule's ``for`` elapsed), as Prometheus sends it, not when it went pending;
5 = a memory leak that starts late fills the heap (OOM kills) before the window ends
(the unmerged ``lab12`` branch alone: its caches hold no OOM alert, hence 6); 6 = 5 and
an OOM kill pages (``KubernetesContainerOomKiller``, :mod:`workbench.lab.alerts`);
7 = packet loss as TCP shows it: a lost segment is retransmitted after 200 ms, doubled per
further loss (callers wait, or time out), never a reset; a pod's loss and delay act on
what it sends (its requests and its replies); a server's own duration histogram widens
only where it waited on retransmitted calls, not because its replies were lost.

Example::

    >>> from workbench.lab.revision import GENERATOR_REVISION
    >>> f"demo-0.1.0-r{GENERATOR_REVISION}-seed1"    # the demo's cache directory
    'demo-0.1.0-r7-seed1'
"""

from __future__ import annotations

__all__ = ["GENERATOR_REVISION"]

GENERATOR_REVISION = 7
