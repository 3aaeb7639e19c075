"""Reading one HTTP response body within a deadline and a decoded-size cap.

:func:`read_body` pulls the raw bytes of a streamed ``httpx`` response and decodes them
itself, so that

* no read can outlast the overall deadline: before every read the read timeout is
  lowered to the time left (a server dripping one byte a second cannot stretch a load);
* the *decoded* size is capped (a 1 MB gzip bomb stops at the cap, not at 5 GB):
  :class:`~workbench.errors.LimitExceeded` names the source and the cap;
* only the content-codings that were asked for (``Accept-Encoding``) are decoded;
  anything else is :class:`~workbench.errors.BadData`.

Example::

    >>> resp = client.send(request, stream=True)
    >>> body = read_body(resp, source="prom", deadline=time.monotonic() + 30,
    ...                  read_timeout=10, cap=64 << 20)
"""

from __future__ import annotations

import time
import zlib

import httpx

from workbench.errors import BadData, LimitExceeded

__all__ = ["DeadlinePassed", "read_body"]


class DeadlinePassed(Exception):
    """The overall deadline passed while the body was still arriving."""


def _asked(request: httpx.Request) -> set[str]:
    raw = request.headers.get("accept-encoding", "identity")
    out = {"identity"}
    for part in raw.split(","):
        coding = part.split(";")[0].strip().lower()
        if coding and ";q=0" not in part.replace(" ", "") and coding != "*":
            out.add(coding)
    if "gzip" in out:
        out.add("x-gzip")
    return out


class _Inflater:
    """gzip (several members allowed) or zlib-wrapped deflate, never producing more than
    the room it is given."""

    def __init__(self, coding: str) -> None:
        self.wbits = 16 + zlib.MAX_WBITS if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self.dec = zlib.decompressobj(wbits=self.wbits)

    def feed(self, data: bytes, room: int, source: str, cap: int) -> bytes:
        out: list[bytes] = []
        produced = 0
        try:
            while data:
                piece = self.dec.decompress(data, max(1, room - produced + 1))
                produced += len(piece)
                out.append(piece)
                if produced > room:
                    raise _too_big(source, cap, "decoded")
                data = self.dec.unconsumed_tail
                if not data and self.dec.eof and self.dec.unused_data:  # next gzip member
                    data = self.dec.unused_data
                    self.dec = zlib.decompressobj(wbits=self.wbits)
        except zlib.error as exc:  # the HTTP layer reports it as "could not be read"
            raise httpx.DecodingError(f"compressed body does not decode: {exc}") from None
        return b"".join(out)

    def flush(self) -> bytes:
        return self.dec.flush()


def read_body(
    resp: httpx.Response, *, source: str, deadline: float, read_timeout: float, cap: int
) -> bytes:
    """The decoded body of ``resp`` (opened with ``stream=True``); see the module doc."""
    codings = [
        c.strip().lower()
        for c in resp.headers.get("content-encoding", "").split(",")
        if c.strip() and c.strip().lower() != "identity"
    ]
    asked = _asked(resp.request)
    foreign = [c for c in codings if c not in asked or c not in ("gzip", "x-gzip", "deflate")]
    if foreign:
        raise BadData(
            f"{source} sent a body in Content-Encoding {', '.join(codings)}, which was not "
            f"asked for (asked: {', '.join(sorted(asked))})",
            source=source,
            hint="a proxy may be re-encoding responses; it is not decoded",
        )
    declared = resp.headers.get("content-length")
    if not codings and declared and declared.isdigit() and int(declared) > cap:
        raise _too_big(source, cap, f"announces {int(declared):,} bytes")
    timeouts = resp.request.extensions.get("timeout")
    decoders = [_Inflater(c) for c in reversed(codings)]
    parts: list[bytes] = []
    size = 0
    raw_iter = resp.iter_raw()  # as the network gives it: no waiting for a full chunk
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed
        if isinstance(timeouts, dict):  # httpcore reads this before every socket read
            timeouts["read"] = min(read_timeout, left)
        try:
            chunk = next(raw_iter)
        except StopIteration:
            break
        for dec in decoders:
            chunk = dec.feed(chunk, cap - size, source, cap)
        size += len(chunk)
        if size > cap:
            raise _too_big(source, cap, "decoded")
        parts.append(chunk)
    for dec in decoders:  # flush what the decoders still hold (bounded by the cap)
        tail = dec.flush()
        size += len(tail)
        if size > cap:
            raise _too_big(source, cap, "decoded")
        parts.append(tail)
    return b"".join(parts)


def _too_big(source: str, cap: int, what: str) -> LimitExceeded:
    return LimitExceeded(
        f"{source}: the response {what} is over the cap of {cap:,} bytes; stopped reading",
        source=source,
        limit=f"max_response_bytes={cap}",
        hint="narrow the window or the query, or raise WORKBENCH_MAX_RESPONSE_BYTES",
    )
