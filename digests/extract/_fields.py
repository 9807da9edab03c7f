"""What every extraction path finds in a document, before hints fill the gaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Fields:
    """Body and metadata found in the document itself (empty/None when absent)."""

    title: str
    body: str
    author: str | None = None
    published: datetime | None = None
    source: str | None = None
    url: str | None = None
    tags: tuple[str, ...] = ()
