"""The PostgreSQL backend: its source, query building, response parsing and errors.

Example::

    >>> from workbench.sources.postgres import PostgresSource
"""

from workbench.sources.postgres.source import PostgresSource

__all__ = ["PostgresSource"]
