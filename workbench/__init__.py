"""incident-workbench: metrics, logs, traces and change events around an incident,
lined up in polars frames, with the analysis and charts to find where it started.

Example::

    >>> import workbench as wb
    >>> inc = wb.Incident.demo()
    >>> inc.status()
"""

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
from workbench.secrets import Secret
from workbench.sources.alertmanager import AlertmanagerSource
from workbench.sources.base import Result, Source
from workbench.sources.files import DirectorySource, FileSource
from workbench.sources.jaeger import JaegerSource
from workbench.sources.loki import LokiSource
from workbench.sources.postgres import PostgresSource
from workbench.sources.prometheus import PrometheusSource
from workbench.sources.tempo import TempoSource
from workbench.timewindow import Window

# The one place the version is written: pyproject.toml reads it from here
# ([tool.setuptools.dynamic]), and so do bundles, lab manifests and `workbench --version`.
__version__ = "0.1.0"

__all__ = [
    "AlertmanagerSource",
    "AuthError",
    "BadData",
    "ConfigError",
    "DirectorySource",
    "FileSource",
    "Incident",
    "JaegerSource",
    "LimitExceeded",
    "LokiSource",
    "PostgresSource",
    "PrometheusSource",
    "QueryError",
    "Result",
    "Secret",
    "Source",
    "SourceError",
    "SourceUnavailable",
    "Suspects",
    "TempoSource",
    "Usage",
    "Window",
    "WorkbenchError",
    "__version__",
    "connect",
    "load_config",
    "load_usage",
    "rank_suspects",
]
