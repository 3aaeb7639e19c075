"""The Grafana backend: annotations in the window as events, and notes written back.

Example::

    >>> from workbench.sources.grafana import GrafanaSource, annotation_events
"""

from workbench.sources.grafana.source import (
    GrafanaSource,
    annotation_events,
    post_annotation,
)

__all__ = ["GrafanaSource", "annotation_events", "post_annotation"]
