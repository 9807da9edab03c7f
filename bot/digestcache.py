"""Compose and render once per slot for subscriptions that get the same digest.

Subscriptions due in the same minute with the same watermark, topics and renderer get the
same digest: 1,000 of them due together composed, rendered and validated it 1,000 times
(most of a run's cost; see docs/lab/history.md, "1,000 subscriptions in one minute"). A
:class:`DigestCache` (one per scheduler process) keeps, for one slot (due instant) only:

* the articles since a watermark and their composed digest, by (watermark, topics, limit):
  a later run of that slot reuses the first run's snapshot (articles stored
  meanwhile go to the next digest; the watermark moves only to what was shown, and each run
  still commits it guarded, so nothing is sent twice or skipped);
* the rendered parts of that digest, by renderer name: a plain memo, since rendered messages
  carry no outbox key (each platform's sender adds it from the outbox row when it posts).

Runs that carry parts refused earlier, have an ``after`` bound or several destinations, and
runs taken over from a dead replica, do not use it. Thread-safe (runs compose in worker
threads); at most ``size`` entries.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.render import RenderedPart
from digests.models import Digest


class DigestCache:
    """Digests (and their rendered parts) of the current slot, shared by its runs."""

    def __init__(self, *, size: int = 256) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._slot: datetime | None = None
        self._entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._making: dict[tuple[Any, ...], threading.Lock] = {}
        self.hits = 0

    def _lookup(self, key: tuple[Any, ...], slot: datetime) -> Any:
        with self._lock:
            if slot != self._slot:  # a new slot: nothing of the last one is valid
                self._slot = slot
                self._entries.clear()
            return self._entries.get(key)

    def _get_or_make(self, key: tuple[Any, ...], slot: datetime, make: Callable[[], Any]) -> Any:
        """The entry, or ``make()``'s, made once however many runs ask at the same time."""
        found = self._lookup(key, slot)
        if found is None:
            with self._lock:
                making = self._making.setdefault(key, threading.Lock())
            with making:  # a run making this entry: wait for it rather than make it again
                found = self._lookup(key, slot)
                if found is None:
                    try:
                        found = make()
                        with self._lock:
                            if slot == self._slot:
                                self._entries[key] = found
                                while len(self._entries) > self._size:
                                    self._entries.popitem(last=False)
                    finally:
                        with self._lock:
                            self._making.pop(key, None)
                    return found
        with self._lock:
            self.hits += 1
        return found

    def digest(
        self,
        watermark: int,
        topics: Sequence[str],
        limit: int,
        slot: datetime,
        make: Callable[[], tuple[Digest, int]],
    ) -> tuple[Digest, int]:
        """(digest, new watermark) since ``watermark`` for ``slot``, ``make()`` on a miss."""
        return self._get_or_make(("digest", watermark, tuple(topics), limit), slot, make)

    def render(
        self,
        name: str,
        digest: Digest,
        slot: datetime,
        render: Callable[[Digest], list[RenderedPart]],
    ) -> list[RenderedPart]:
        """``render(digest)``, once per renderer ``name`` and digest of ``slot``."""
        # The entry holds the digest itself, so its id cannot be reused while the entry lives.
        _, parts = self._get_or_make(
            ("render", name, id(digest)), slot, lambda: (digest, render(digest))
        )
        return list(parts)
