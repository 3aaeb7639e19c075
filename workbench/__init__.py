"""incident-workbench: metrics, logs, traces and change events around an incident,
lined up in polars frames, with the analysis and charts to find where it started.

Example::

    >>> import workbench as wb
    >>> inc = wb.Incident.demo()
    >>> inc.status()
    >>> inv = wb.Investigation(inc)      # every answer about it, computed once
    >>> inv.suspects
"""

import importlib as _importlib
import typing as _typing

# first: defers jsonschema's rfc3987_syntax (1.5-3.5 s) before altair/nbformat import it
import workbench._deferred  # noqa: F401
from workbench.sources import registry as _registry

if (
    _typing.TYPE_CHECKING
):  # imported on first use (``__getattr__``): ``import workbench`` stays light
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
    from workbench.sources.base import Result, Source
    from workbench.timewindow import Window

#: public name -> the module that defines it
_LAZY = {
    "Suspects": "workbench.analysis.suspects",
    "rank_suspects": "workbench.analysis.suspects",
    "Usage": "workbench.capacity",
    "load_usage": "workbench.capacity",
    "connect": "workbench.config",
    "load_config": "workbench.config",
    **dict.fromkeys(
        (
            "AuthError",
            "BadData",
            "ConfigError",
            "LimitExceeded",
            "QueryError",
            "SourceError",
            "SourceUnavailable",
            "WorkbenchError",
        ),
        "workbench.errors",
    ),
    "Incident": "workbench.incident",
    "Answer": "workbench.investigation",
    "Investigation": "workbench.investigation",
    "Secret": "workbench.secrets",
    "Result": "workbench.sources.base",
    "Source": "workbench.sources.base",
    "Window": "workbench.timewindow",
}

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
    """The package's public names (``workbench.Incident``...) and the backends' source
    classes (``workbench.PrometheusSource``...), named by the registry: each imported on
    first use, so ``import workbench`` (every CLI command) does not load the analysis."""
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _registry.exported():
        value = _registry.export(name)
        globals()[name] = value
        return value
    if not name.startswith("_"):  # a submodule (``workbench.config``), as eager imports gave
        try:
            return _importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
