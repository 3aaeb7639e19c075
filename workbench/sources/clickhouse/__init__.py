"""The ClickHouse backend: logs and spans in the OpenTelemetry Collector exporter's schema.

Example::

    >>> from workbench.sources.clickhouse import ClickHouseSource
"""

from workbench.sources.clickhouse.source import ClickHouseSource

__all__ = ["ClickHouseSource"]
