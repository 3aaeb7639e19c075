"""The Kubernetes backend: API-server events as change events.

Example::

    >>> from workbench.sources.kubernetes import KubernetesSource
"""

from workbench.sources.kubernetes.source import KubernetesSource, kube_events

__all__ = ["KubernetesSource", "kube_events"]
