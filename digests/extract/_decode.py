"""Bytes to text, robustly: BOMs, UTF-8, then charset detection; binary is refused."""

from __future__ import annotations

import codecs
import re

from digests.errors import InputError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control characters other than whitespace, and the replacement character.
_BAD_CHARS = re.compile("[\x00-\x08\x0e-\x1f\ufffd]")


def decode(content: bytes, locator: str) -> str:
    """Decode a document's bytes to text, or raise InputError if it is not text."""
    if not content.strip():
        raise InputError(f"{locator}: the document is empty")
    text = _decode(content, locator)
    # A NUL anywhere (a wide encoding included) means binary: never store one (#12).
    if "\x00" in text:
        raise InputError(
            f"{locator}: the document is binary (a NUL character at {text.index(chr(0)):,})"
        )
    sample = text[:20000]
    # Text that decodes but is mostly control characters or U+FFFD is binary in disguise.
    bad = len(_BAD_CHARS.findall(sample))
    if bad > max(8, len(sample) // 50):
        raise InputError(f"{locator}: the document is binary or in an unknown encoding")
    if not text.strip():
        raise InputError(f"{locator}: the document is empty")
    return text


def _decode(content: bytes, locator: str) -> str:
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            try:
                return content.decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(f"{locator}: invalid {encoding} text") from exc
    if b"\x00" in content:
        raise InputError(f"{locator}: the document is binary (it contains NUL bytes)")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Charset detection (trafilatura's: cchardet or charset_normalizer), then cp1252, which
    # maps nearly every byte and so only fails on the few it leaves undefined. Imported here:
    # trafilatura costs 0.25 s to import, and most texts are UTF-8.
    from trafilatura.utils import detect_encoding

    candidates = detect_encoding(content)
    # Detectors rank the Windows code pages almost at random on short Latin text; cp1252
    # is by far the most common of them, so it goes first when it is plausible at all.
    if "cp1252" in candidates:
        candidates = ["cp1252", *(c for c in candidates if c != "cp1252")]
    for encoding in [*candidates, "cp1252"]:
        try:
            return content.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    raise InputError(f"{locator}: the document is not text in any known encoding")
