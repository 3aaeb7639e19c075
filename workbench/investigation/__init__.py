"""The investigation of one incident: every answer computed once, the same everywhere.

Example::

    >>> from workbench import Incident, Investigation
    >>> inv = Investigation(Incident.demo())
    >>> inv.red_summary, inv.suspects, inv.verdict, inv.findings
"""

from workbench.investigation.answer import Answer, span_label
from workbench.investigation.core import DEFINITIONS, Investigation
from workbench.investigation.quantities import Quantity

__all__ = ["DEFINITIONS", "Answer", "Investigation", "Quantity", "span_label"]
