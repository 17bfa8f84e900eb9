"""Reading a token endpoint's body with a bound on what it may cost, compressed or not.

A token response is a few hundred bytes; a server (or whatever answers in its place) may send a
decompression bomb: a megabyte of gzip that inflates to a gigabyte. httpx decodes each raw chunk
whole before a caller can count it, so a cap on the decoded body comes too late (one chunk of a
bomb took a process from 38 to 230 MB). Here the raw stream is read and inflated with
``zlib``'s ``max_length``, so no more than the cap plus one byte is ever produced, whatever the
ratio: the caller sees "over the limit" and the rest is never inflated.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

__all__ = ["ACCEPT_ENCODING", "read_bounded"]

ACCEPT_ENCODING = "gzip, deflate"
"""What we ask for: the encodings read here (httpx would add ``br`` and ``zstd`` when their
packages are installed, which it would decode unbounded)."""


class _Inflater:
    """One content encoding, inflated at most ``room`` bytes at a time."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._raw_deflate_tried = False
        if encoding == "gzip":
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:  # deflate: RFC 9110 says zlib-wrapped; some servers send it raw
            self._z = zlib.decompressobj(zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        """Up to ``room`` (>= 1) bytes inflated from ``data``; the rest of it is dropped (the
        caller stops reading once the cap is passed)."""
        try:
            return self._z.decompress(data, room)
        except zlib.error:
            if self.encoding != "deflate" or self._raw_deflate_tried:
                raise
            self._raw_deflate_tried = True
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._z.decompress(data, room)


def _encodings(header: str | None) -> list[str]:
    if header is None:
        return []
    names = [name.strip().lower() for name in header.split(",")]
    return ["gzip" if name == "x-gzip" else name for name in names if name and name != "identity"]


async def read_bounded(
    raw: AsyncIterator[bytes], content_encoding: str | None, limit: int
) -> tuple[bytes, str | None]:
    """The body, at most ``limit + 1`` bytes of it (more than ``limit``: it was over), and why
    it could not be read whole, if so (an unknown or corrupt encoding), naming the encoding."""
    encodings = _encodings(content_encoding)
    if len(encodings) > 1 or (encodings and encodings[0] not in ("gzip", "deflate")):
        shown = (content_encoding or "")[:40]
        return b"", f"content encoding {shown!r} is not one this client reads (gzip, deflate)"
    inflater = _Inflater(encodings[0]) if encodings else None
    body = bytearray()
    async for chunk in raw:
        room = limit + 1 - len(body)
        if inflater is None:
            body += chunk[:room]
        else:
            try:
                body += inflater.feed(chunk, room)
            except zlib.error:
                return bytes(body), f"the body is not valid {inflater.encoding} data"
        if len(body) > limit:
            break
    return bytes(body), None
