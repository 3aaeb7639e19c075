"""PagerDuty: an incident as the start of an investigation, its log entries as events.

Example::

    >>> from workbench.sources.pagerduty import PagerDutyIncidents
"""

from workbench.sources.pagerduty.source import (
    PagerDutyIncidents,
    incident_facts,
    log_entry_events,
    pagerduty_auth,
)

__all__ = ["PagerDutyIncidents", "incident_facts", "log_entry_events", "pagerduty_auth"]
