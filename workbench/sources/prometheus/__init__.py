"""The Prometheus backend: its source, query building, response parsing and errors.

Example::

    >>> from workbench.sources.prometheus import PrometheusSource
"""

from workbench.sources.prometheus.source import PrometheusSource

__all__ = ["PrometheusSource"]
