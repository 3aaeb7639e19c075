"""The Alertmanager backend: its source, query building, response parsing and errors.

Example::

    >>> from workbench.sources.alertmanager import AlertmanagerSource
"""

from workbench.sources.alertmanager.source import AlertmanagerSource

__all__ = ["AlertmanagerSource"]
