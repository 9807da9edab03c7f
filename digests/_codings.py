"""HTTP content codings, decoded by us a bounded slice at a time (digests.net.fetch).

httpx inflates each network chunk through every layer of ``Content-Encoding`` before the
caller sees a byte, so ``Content-Encoding: gzip, gzip`` (a few KB on the wire) grew to
gigabytes before any size cap could count it. Here the body is inflated with
``zlib.decompressobj(...).decompress(data, max_length)``: at most :data:`STEP` bytes come out
per call, the caller counts them as they are produced, and stops at its cap. We ask for
gzip or deflate only, and accept at most one coding: a stacked coding has no honest use.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from digests.errors import FetchError

ACCEPT_ENCODING = "gzip, deflate"
STEP = 64 * 1024  # decoded bytes per inflate call: the most a chunk can add before a count


def decode_body(raw: Iterable[bytes], content_encoding: str) -> Iterator[bytes]:
    """The decoded body, in slices of at most STEP bytes (raise FetchError on a bad coding)."""
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        yield from raw
        return
    if len(codings) > 1:
        raise FetchError(
            f"content coding {content_encoding.strip()!r} refused: at most one coding is accepted"
        )
    coding = codings[0]
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(f"unsupported content coding {coding!r}")
    inflater = _Inflater(gzip=coding != "deflate")
    for chunk in raw:
        yield from inflater.feed(chunk)
    yield from inflater.finish()


class _Inflater:
    """gzip (several members allowed) or deflate (zlib-wrapped, else raw), bounded per call."""

    def __init__(self, *, gzip: bool) -> None:
        self._gzip = gzip
        self._raw_deflate = False
        self._started = False
        self._done = False
        self._last = 0  # size of the last slice out
        self._d = self._new()

    def _new(self) -> zlib._Decompress:
        if self._gzip:
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS if self._raw_deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while (data or self._pending()) and not self._done:
            try:
                out = self._d.decompress(data, STEP)
            except zlib.error as exc:
                if not self._gzip and not self._started and not self._raw_deflate:
                    self._raw_deflate = True  # "deflate" sent without its zlib header
                    self._d = self._new()
                    continue
                coding = "gzip" if self._gzip else "deflate"
                raise FetchError(f"corrupt {coding} body: {exc}") from exc
            self._started = True
            self._last = len(out)
            if out:
                yield out
            if self._d.eof:
                data = self._d.unused_data
                if self._gzip and data:
                    self._d = self._new()  # another gzip member follows
                    self._last = 0
                    continue
                self._done = True  # anything after the end of the stream is ignored
                return
            data = self._d.unconsumed_tail

    def _pending(self) -> bool:
        # A full slice with no input left may mean zlib still holds output: ask again.
        return self._last == STEP

    def finish(self) -> Iterator[bytes]:
        yield from self.feed(b"")
        if not self._done:
            tail = self._d.flush(STEP)
            if tail:
                yield tail
