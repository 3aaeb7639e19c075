"""How much of the spans' and logs' ``attributes`` a files source holds (issue 18).

The investigation's views read the spans' and logs' narrow columns (ids, service, name,
kind, times, status; level, message, trace and span ids) and, of the attributes, only
the keys naming a client span's callee (:data:`~workbench.analysis._util.PEER_KEYS`:
the service graph and the suspects' blame of a call). The attributes are most of what is
held (1,000 lab services: 58 of 78 MiB of spans, 45 of 65 MiB of logs), so a large
directory is loaded *lean*:

* ``"all"``: every attribute (the frame contract as read);
* ``"used"``: spans keep only the peer keys, logs no attributes (empty lists); the
  result's ``warnings`` and ``extra["attributes"]`` say so, and
  :meth:`~workbench.sources.files.directory.DirectorySource.detail` reads the rows a
  user drills into again with every attribute;
* ``"auto"`` (default): ``"all"`` unless the spans and logs files of the source weigh
  more than :data:`AUTO_ALL_BYTES` together.

Example::

    >>> lean(spans, "spans")["attributes"]   # only peer.service, server.address, ...
"""

from __future__ import annotations

import polars as pl

from workbench import frames
from workbench.errors import ConfigError

__all__ = ["AUTO_ALL_BYTES", "DETAILS", "check_detail", "kept_keys", "lean", "note"]

DETAILS = ("all", "used", "auto")

#: ``attributes="auto"`` holds every attribute up to this many bytes of spans and logs
#: files (the demo: 64 MB; 1,000 lab services: 251 MB; 300: 149 MB)
AUTO_ALL_BYTES = 128 * 2**20


def check_detail(name: str, detail: str) -> None:
    """Raise :class:`ConfigError` unless ``detail`` is one of :data:`DETAILS`."""
    if detail not in DETAILS:
        raise ConfigError(
            f"source {name!r}: attributes must be one of {', '.join(map(repr, DETAILS))}, "
            f"not {detail!r}"
        )


def kept_keys(signal: str) -> tuple[str, ...]:
    """The attribute keys a lean load keeps for ``signal`` (the ones analysis reads)."""
    if signal == "spans":
        from workbench.analysis._util import PEER_KEYS

        return PEER_KEYS
    return ()


def lean(df: pl.DataFrame, signal: str) -> pl.DataFrame:
    """``df`` with its ``attributes`` cut to :func:`kept_keys` (spans and logs; any other
    signal as it is)."""
    if signal not in ("spans", "logs") or "attributes" not in df.columns:
        return df
    keys = kept_keys(signal)
    if not keys:
        return df.with_columns(
            pl.repeat(pl.lit([], dtype=frames.KV), df.height, eager=True).alias("attributes")
        )
    kept = pl.col("attributes").list.eval(
        pl.element().filter(pl.element().struct.field("key").is_in(list(keys)))
    )
    return df.with_columns(kept.cast(frames.KV))


def note(signal: str) -> str:
    """The warning a lean result carries."""
    held = (
        f"only {', '.join(kept_keys(signal))}" if kept_keys(signal) else "none"
    )  # what analysis reads
    return (
        f"{signal} loaded without their attributes ({held} kept: what the investigation "
        "reads); every attribute of the services and traces drilled into is read again on "
        "demand (Investigation.detailed, frames())"
    )
