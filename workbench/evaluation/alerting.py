"""When the user looks: the alert-time constants every evaluation layout shares.

An evaluation case is what an on-call engineer has when an alert fires: the alert's time
and the data up to shortly after it. A layout whose data holds the alerts (the lab's
Alertmanager webhook payloads, PetShop's trigger) takes the alert from there; a layout
without alerts (Nezha) takes the fault's start plus :data:`DETECTION_DELAY`. The engineer
opens the notebook :data:`LOOK_AHEAD` after the alert: no data after that is seen.

Example::

    >>> from workbench.evaluation.alerting import DETECTION_DELAY, LOOK_AHEAD
    >>> LOOK_AHEAD.total_seconds()
    120.0
"""

from __future__ import annotations

from datetime import timedelta

__all__ = ["DETECTION_DELAY", "LOOK_AHEAD"]

#: an alert fires this long after the fault starts when the data holds no alert
#: (default of ``workbench eval rca --detection-delay``)
DETECTION_DELAY = timedelta(seconds=60)
#: the engineer opens the notebook this long after the alert: the window ends here
LOOK_AHEAD = timedelta(minutes=2)
