"""incident-workbench: metrics, logs, traces and change events around an incident,
lined up in polars frames, with the analysis and charts to find where it started.

Example::

    >>> import workbench as wb
    >>> inc = wb.Incident.demo()
    >>> inc.status()
    >>> inv = wb.Investigation(inc)      # every answer about it, computed once
    >>> inv.suspects
"""

# first: defers jsonschema's rfc3987_syntax (1.5-3.5 s) before altair/nbformat import it
import workbench._deferred  # noqa: F401
from workbench.analysis.suspects import Suspects, rank_suspects
from workbench.capacity import Usage, load_usage
from workbench.config import connect, load_config
from workbench.errors import (
    AuthError,
    BadData,
    ConfigError,
    LimitExceeded,
    QueryError,
    SourceError,
    SourceUnavailable,
    WorkbenchError,
)
from workbench.incident import Incident
from workbench.investigation import Answer, Investigation
from workbench.secrets import Secret
from workbench.sources import registry as _registry
from workbench.sources.base import Result, Source
from workbench.timewindow import Window

# The one place the version is written: pyproject.toml reads it from here
# ([tool.setuptools.dynamic]), and so do bundles, lab manifests and `workbench --version`.
__version__ = "0.1.0"

__all__ = [
    "Answer",
    "AuthError",
    "BadData",
    "ConfigError",
    "Incident",
    "Investigation",
    "LimitExceeded",
    "QueryError",
    "Result",
    "Secret",
    "Source",
    "SourceError",
    "SourceUnavailable",
    "Suspects",
    "Usage",
    "Window",
    "WorkbenchError",
    "__version__",
    "connect",
    "load_config",
    "load_usage",
    "rank_suspects",
]
__all__ = sorted([*__all__, *_registry.exported()])


def __getattr__(name: str) -> object:
    """The backends' source classes (``workbench.PrometheusSource``...), named by the
    registry and imported on first use."""
    if name in _registry.exported():
        value = _registry.export(name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
