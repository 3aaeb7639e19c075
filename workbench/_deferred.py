"""Defer third-party imports that cost seconds and are almost never used.

``jsonschema`` (imported by altair and by nbformat, so by every chart and every headless
notebook run) imports ``rfc3987_syntax`` when it is installed (Jupyter installs it through
``jsonschema[format-nongpl]``) to check the ``iri`` / ``iri-reference`` string formats.
That module builds ~40 Lark Earley parsers at import time: 1.5-3.5 s on a 2-core machine,
for a format neither the Vega-Lite nor the notebook schema uses (upstream:
python-jsonschema/jsonschema#1428, #1392).

:func:`defer_rfc3987_syntax` puts a stand-in module in ``sys.modules`` that imports the
real one on first use (a call of ``is_valid_syntax``, or any other attribute): the format
checks behave exactly as before, the grammar is only built when an IRI is checked.

Example::

    >>> import workbench               # calls defer_rfc3987_syntax() first thing
    >>> import jsonschema              # no Lark grammar built
    >>> from workbench._deferred import defer_rfc3987_syntax
    >>> defer_rfc3987_syntax()         # already deferred
    True
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

__all__ = ["defer_rfc3987_syntax"]

_NAME = "rfc3987_syntax"
_lock = threading.Lock()


class _DeferredModule(types.ModuleType):
    """Stands in for a module until one of its attributes is used, then imports it."""

    def __init__(self, name: str) -> None:
        super().__init__(name, f"deferred import of {name} (see workbench._deferred)")
        self._wb_real: types.ModuleType | None = None

    def _wb_load(self) -> types.ModuleType:
        with _lock:
            if self._wb_real is None:
                if sys.modules.get(self.__name__) is self:
                    del sys.modules[self.__name__]
                try:
                    self._wb_real = importlib.import_module(self.__name__)
                except BaseException:
                    sys.modules.setdefault(self.__name__, self)
                    raise
            return self._wb_real

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr.startswith("_wb_"):
            raise AttributeError(attr)
        return getattr(self._wb_load(), attr)


def defer_rfc3987_syntax() -> bool:
    """Make ``import rfc3987_syntax`` cheap until it is used; True if it is now deferred.

    Does nothing (False) when the module is not installed or already imported.
    """
    if _NAME in sys.modules:
        return isinstance(sys.modules[_NAME], _DeferredModule)
    try:
        spec = importlib.util.find_spec(_NAME)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    stand_in = _DeferredModule(_NAME)
    stand_in.__spec__ = spec  # find_spec() and friends see the real module's
    stand_in.__file__ = spec.origin
    if spec.submodule_search_locations is not None:  # a package: submodules still import
        stand_in.__path__ = list(spec.submodule_search_locations)

    def is_valid_syntax(term: str, value: str) -> bool:
        return bool(stand_in._wb_load().is_valid_syntax(term=term, value=value))

    # `from rfc3987_syntax import is_valid_syntax` (jsonschema) must not trigger the import
    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    sys.modules[_NAME] = stand_in
    return True


defer_rfc3987_syntax()  # on import: `import workbench` does it before anything else
