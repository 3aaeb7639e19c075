"""The Tempo backend: its source, query building, response parsing and errors.

Example::

    >>> from workbench.sources.tempo import TempoSource
"""

from workbench.sources.tempo.source import TempoSource

__all__ = ["TempoSource"]
