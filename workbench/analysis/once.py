"""A lazily computed attribute that is computed once per object, even when threads ask.

``functools.cached_property`` stopped locking in Python 3.12: two threads reading the
same attribute of one object at the same time both compute it (same value, twice the
work). Up to 3.11 it locked, but with one lock for the whole class, so two *different*
objects (the ranking's context and a placebo window's) computed their pieces one after
the other. :func:`once_property` locks per object and per attribute: the first reader
computes, readers of the same attribute of the same object wait for its value, every
other attribute and object goes on side by side (:mod:`workbench.analysis.threads`).

Example::

    >>> class Piece:
    ...     @once_property
    ...     def total(self) -> int:
    ...         return sum(range(10**6))
    >>> p = Piece(); p.total == p.total   # computed once
    True
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

__all__ = ["once_property"]

_T = TypeVar("_T")

#: guards the creation of an object's lock table (held for a dictionary look-up only)
_GUARD = threading.Lock()
#: where an object keeps its locks, one per attribute, in its ``__dict__``
_LOCKS = "_once_property_locks"


class once_property(Generic[_T]):
    """``cached_property`` that computes once per object whatever the threads (see the
    module doc). The value is kept in the object's ``__dict__`` under the attribute's
    name, as ``cached_property`` does (``del obj.name`` forgets it)."""

    def __init__(self, fn: Callable[[Any], _T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> once_property[_T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> _T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        cache = obj.__dict__
        try:
            return cache[self.name]
        except KeyError:
            pass
        with _GUARD:
            locks = cache.setdefault(_LOCKS, {})
            lock = locks.setdefault(self.name, threading.RLock())
        with lock:  # the first reader computes; the others wait for its value
            try:
                return cache[self.name]
            except KeyError:
                value = cache[self.name] = self.fn(obj)
                return value
