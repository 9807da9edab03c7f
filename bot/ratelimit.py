"""Token buckets per key (a client address), bounded in memory: for ``GET /slack/install``.

Each install link writes an OAuth state row; without a limit one client wrote 463 rows/s
(issue 24). A key may spend ``burst`` at once, then ``rate`` per second; all keys together
may spend ``overall`` per second (many addresses cannot add up to a flood). At most
``max_keys`` buckets are remembered: the least recently used are forgotten (a forgotten key
starts full, which is what an idle one would be anyway).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimit:
    """``allow(key)``: True while ``key`` (and everyone together) is within its budget."""

    def __init__(
        self,
        *,
        rate: float = 0.2,
        burst: float = 10,
        overall: float = 50,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self.overall, self.max_keys = rate, burst, overall, max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._all = (overall, clock())  # tokens, when
        self._lock = threading.Lock()
        self.refused = 0

    def allow(self, key: str) -> bool:
        """Spend one token of ``key`` (and of the overall budget); False when either is empty."""
        now = self._clock()
        with self._lock:
            tokens, when = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - when) * self.rate)
            total, total_when = self._all
            total = min(self.overall, total + (now - total_when) * self.overall)
            ok = tokens >= 1 and total >= 1
            if ok:
                tokens, total = tokens - 1, total - 1
            else:
                self.refused += 1
            self._buckets[key] = (tokens, now)
            self._all = (total, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return ok

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` (and everyone together) may spend a token again."""
        now = self._clock()
        with self._lock:
            tokens, when = self._buckets.get(key, (self.burst, now))
            total, total_when = self._all
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        total = min(self.overall, total + (now - total_when) * self.overall)
        return max(0.0, (1 - tokens) / self.rate, (1 - total) / self.overall)
