"""Rate limits per address: a public site must not let one address try tokens or book a day's slots away.

A fixed budget of requests per minute per address and per kind of request (`bucket`: "lookup", "booking"…),
counted over the last 60 seconds. Behind a reverse proxy the address is the citizen's only when uvicorn is told
to trust the proxy's X-Forwarded-For (docs/public.md); otherwise every phone shares the proxy's address.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0


class RateLimits:
    MAX_ADDRESSES = 100_000  # the oldest addresses are forgotten past this: memory stays bounded under a flood

    def __init__(self, per_minute: dict[str, int], clock: Callable[[], float] = time.monotonic):
        self.per_minute = dict(per_minute)
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def take(self, bucket: str, address: str) -> float | None:
        """Count one request; None when it is allowed, else the seconds until the address may ask again."""
        limit = self.per_minute.get(bucket)
        if limit is None:
            return None
        now = self.clock()
        with self._lock:
            times = self._seen.pop((bucket, address), None) or deque()
            self._seen[(bucket, address)] = times  # newest last: the first key is the address quiet longest
            while times and now - times[0] >= WINDOW_S:
                times.popleft()
            if len(times) >= limit:
                return max(1.0, math.ceil(WINDOW_S - (now - times[0])))
            times.append(now)
            while len(self._seen) > self.MAX_ADDRESSES:
                del self._seen[next(iter(self._seen))]
        return None
