"""Sign-in throttling and the password-check pool of the web app.

Failed sign-ins are counted per account and per client address in moving windows (the `limits`
library, in this process's memory). Each tier is a longer wait: a few failures cost seconds,
more cost a minute, and many lock the account (or the address) out for a quarter of an hour.
While any tier is used up, sign-in answers 429 with `Retry-After` and checks no password at all,
so a right password is refused too until the wait is over. A successful sign-in clears the
account's count (not the address's).

Checking a password costs Argon2's work (a fraction of a second to a second). It runs on a pool
of its own (`HASH_WORKERS` threads), never on the threads that serve pages and the API, and
at most `MAX_WAITING` checks wait for it: a flood of sign-ins answers 503 at once instead of
queueing, and everyone else's requests are served as usual.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

__all__ = [
    "ACCOUNT_LIMITS",
    "ADDRESS_LIMITS",
    "HASH_WORKERS",
    "MAX_WAITING",
    "LoginGuard",
    "PoolBusy",
]

T = TypeVar("T")

ACCOUNT_LIMITS = "3 per 10 seconds; 6 per minute; 10 per 15 minutes"
"""Failed sign-ins one account may have: the waits grow, the last tier is the lockout."""
ADDRESS_LIMITS = "10 per minute; 30 per 15 minutes"
"""Failed sign-ins one client address may have, whatever account names it tries."""
HASH_WORKERS = 2
MAX_WAITING = 8
BUSY_RETRY_S = 5


class PoolBusy(Exception):
    """The password-check pool and its queue are full: answer 503 now."""


def _key(text: str) -> str:
    return text.strip().casefold()[:128] or "-"


class LoginGuard:
    """The throttle and the password-check pool of one web process."""

    def __init__(
        self,
        account_limits: str | Sequence[RateLimitItem] = ACCOUNT_LIMITS,
        address_limits: str | Sequence[RateLimitItem] = ADDRESS_LIMITS,
        *,
        workers: int = HASH_WORKERS,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self.account_limits = _limits(account_limits)
        self.address_limits = _limits(address_limits)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="seatwise-password")
        self._capacity = workers + max_waiting
        self._lock = threading.Lock()
        self._pending = 0

    # -- throttling -----------------------------------------------------------------------

    def _tiers(self, account: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [
            *((limit, "account", _key(account)) for limit in self.account_limits),
            *((limit, "address", address) for limit in self.address_limits),
        ]

    def retry_after(self, account: str, address: str) -> int | None:
        """Seconds until `account` may try again from `address`, or None when it may now."""
        waits = [
            self._limiter.get_window_stats(limit, kind, key).reset_time - time.time()
            for limit, kind, key in self._tiers(account, address)
            if not self._limiter.test(limit, kind, key)
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, account: str, address: str) -> None:
        """Count a failed sign-in against the account and the address."""
        for limit, kind, key in self._tiers(account, address):
            self._limiter.hit(limit, kind, key)

    def succeeded(self, account: str) -> None:
        """A right password: the account's failures are forgiven (the address's are not)."""
        for limit in self.account_limits:
            self._limiter.clear(limit, "account", _key(account))

    # -- the password-check pool ----------------------------------------------------------

    @property
    def pending(self) -> int:
        """Password checks running or waiting now."""
        return self._pending

    async def check(self, work: Callable[[], T]) -> T:
        """Run `work` (a password check) on the pool; `PoolBusy` at once when it is full."""
        with self._lock:
            if self._pending >= self._capacity:
                raise PoolBusy
            self._pending += 1
        try:
            return await asyncio.wrap_future(self._pool.submit(work))
        finally:
            with self._lock:
                self._pending -= 1

    def submit(self, work: Callable[[], T]) -> None:
        """Run `work` on the pool without waiting for it, counted as pending."""
        with self._lock:
            self._pending += 1

        def run() -> None:
            try:
                work()
            finally:
                with self._lock:
                    self._pending -= 1

        self._pool.submit(run)

    def close(self) -> None:
        """Stop the pool's threads once their work is done."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _limits(value: str | Sequence[RateLimitItem]) -> list[RateLimitItem]:
    return parse_many(value) if isinstance(value, str) else list(value)
