"""The Jaeger backend: its source, query building, response parsing and errors.

Example::

    >>> from workbench.sources.jaeger import JaegerSource
"""

from workbench.sources.jaeger.source import JaegerSource

__all__ = ["JaegerSource"]
