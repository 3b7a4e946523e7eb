"""Encoded API answers kept until the data behind them changes.

Users and activity pages are built from synced data alone, and only a sync changes that, so an
answer stays right until the tenant's next successful sync. Power BI refreshes and dashboards
ask for the same pages again and again; answering them from here costs a dictionary lookup
instead of five queries and a hundred records. The key holds the whole request URL (the answer's
`@odata.nextLink` names the host it was asked on), the tenant and its `sync_stamp`, so a sync
makes every older answer unreachable; the least recently used ones are dropped beyond
`max_bytes`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["AnswerCache"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class AnswerCache:
    """A thread-safe LRU of encoded answers, bounded by their total size in bytes."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._answers: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Event] = {}
        self.hits = 0
        self.misses = 0

    def fetch(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        """The answer kept for `key`, or `make()`'s, kept for next time. While one request
        builds an answer, others asking for the same key wait for it instead of building it
        again (a report refresh asks for the same pages in parallel)."""
        with self._lock:
            body = self._hit(key)
            if body is not None:
                return body
            self.misses += 1
            building = self._building.get(key)
            if building is None:
                building = self._building[key] = threading.Event()
                owner = True
            else:
                owner = False
        if not owner:
            building.wait()
            with self._lock:
                body = self._hit(key)
            if body is not None:
                return body
            return make()  # the first builder failed (its request got the error)
        try:
            body = make()
            self._keep(key, body)
        finally:
            with self._lock:
                self._building.pop(key, None)
            building.set()
        return body

    def _hit(self, key: Hashable) -> bytes | None:
        body = self._answers.get(key)
        if body is not None:
            self._answers.move_to_end(key)
            self.hits += 1
        return body

    def _keep(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._answers.pop(key, None)
            self._size -= len(old) if old is not None else 0
            self._answers[key] = body
            self._size += len(body)
            while self._size > self.max_bytes:
                _, dropped = self._answers.popitem(last=False)
                self._size -= len(dropped)

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def size(self) -> int:
        """The bytes held."""
        return self._size
