"""RFC 3339 times in API responses (Alertmanager, Argo CD, Kubernetes, PagerDuty).

One parser for them all: the fraction cut to microseconds (Kubernetes' MicroTime and Go's
nanoseconds), ``Z``/``z`` as UTC, a zone required, the result in UTC; anything else is a
:class:`~workbench.errors.BadData` naming the field and the source.

>>> rfc3339("2020-11-27T12:03:04.123456789Z", field="eventTime", source="k8s")
datetime.datetime(2020, 11, 27, 12, 3, 4, 123456, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal, overload

from workbench.errors import BadData

__all__ = ["rfc3339"]

_FRACTION = re.compile(r"(\.\d{6})\d+")


@overload
def rfc3339(value: Any, *, field: str, source: str, required: Literal[True]) -> datetime: ...


@overload
def rfc3339(value: Any, *, field: str, source: str, required: bool = False) -> datetime | None: ...


def rfc3339(value: Any, *, field: str, source: str, required: bool = False) -> datetime | None:
    """``value`` (an RFC 3339 string) as an aware UTC datetime; None for an absent value
    (None or "") unless ``required``."""
    if not required and (value is None or value == ""):
        return None
    if not isinstance(value, str) or not value:
        raise BadData(
            f"{field} is {value!r}, expected an RFC 3339 time", field=field, source=source
        )
    text = _FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise BadData(
            f"{field} {value!r} is not an RFC 3339 time", field=field, source=source
        ) from None
    if t.tzinfo is None:
        raise BadData(f"{field} {value!r} has no time zone", field=field, source=source)
    return t.astimezone(UTC)
