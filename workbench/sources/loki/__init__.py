"""The Loki backend: its source, query building, response parsing and errors.

Example::

    >>> from workbench.sources.loki import LokiSource
"""

from workbench.sources.loki.source import LokiSource

__all__ = ["LokiSource"]
