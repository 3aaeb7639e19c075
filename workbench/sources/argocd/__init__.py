"""The Argo CD backend: application history and sync operations as deploy/rollback events.

Example::

    >>> from workbench.sources.argocd import ArgoCDSource
"""

from workbench.sources.argocd.source import ArgoCDSource, application_events

__all__ = ["ArgoCDSource", "application_events"]
