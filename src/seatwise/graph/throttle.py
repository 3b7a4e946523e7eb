"""When to retry a Graph call and how long to wait first: `Retry-After` if Graph sent one, else
capped exponential backoff with full jitter (graph-facts §8).

Pure: no clock, no sleeping, no I/O; the caller passes the attempt count, the time already spent
waiting, the current time (for the HTTP-date form of `Retry-After`) and a random generator.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

__all__ = [
    "DEFAULT_POLICY",
    "RETRYABLE_STATUSES",
    "WRITE_RETRYABLE_STATUSES",
    "RetryPolicy",
    "backoff",
    "parse_retry_after",
    "retry_delay",
]

# 429 throttled, 503 unavailable, 504 gateway timeout (graph-facts §0, §8).
RETRYABLE_STATUSES: frozenset[int] = frozenset({429, 503, 504})
# A write answered 503 or 504 may still have been applied (a 504 can accompany a 503): only a
# 429 proves Graph did not act. Callers settle the others by reading the resource again.
WRITE_RETRYABLE_STATUSES: frozenset[int] = frozenset({429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to retry one call.

    `max_attempts` counts every try, the first included. Without `Retry-After` the wait before
    retry n is uniform in [0, min(cap_s, base_s * 2**(n-1))]. A call gives up once its waits
    would add up to more than `max_total_s`; `Retry-After` is otherwise honoured as sent,
    however long (report APIs allow 14 calls per 10 minutes and say so).
    """

    max_attempts: int = 8
    base_s: float = 0.5
    cap_s: float = 30.0
    max_total_s: float = 600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_s < 0 or self.cap_s < 0 or self.max_total_s < 0:
            raise ValueError("retry times must not be negative")


DEFAULT_POLICY = RetryPolicy()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value, or None when absent or unreadable.

    Accepts delta-seconds, including the fractional form Graph sends (`2.128`), and the HTTP-date
    form (`Wed, 21 Oct 2026 07:28:00 GMT`), which needs `now` (seconds since the epoch).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    if now is None:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(when.timestamp() - now, 0.0)


def backoff(attempt: int, rng: random.Random, policy: RetryPolicy = DEFAULT_POLICY) -> float:
    """Full-jitter exponential backoff before retry number `attempt` (1 = the first retry)."""
    ceiling = min(policy.cap_s, policy.base_s * 2.0 ** min(max(attempt - 1, 0), 60))
    return rng.uniform(0.0, ceiling)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def retry_delay(
    status: int | None,
    headers: Mapping[str, str],
    attempt: int,
    rng: random.Random,
    policy: RetryPolicy = DEFAULT_POLICY,
    *,
    waited_s: float = 0.0,
    now: float | None = None,
    retryable: Collection[int] = RETRYABLE_STATUSES,
) -> float | None:
    """Seconds to wait before trying again, or None to give up.

    `status` is the HTTP status of attempt number `attempt` (1-based), or None when the
    connection failed or dropped mid-body (always retryable here: the caller decides whether a
    dropped write may be repeated). `headers` are that response's headers (any letter case);
    `waited_s` is the time already spent waiting for this call. Gives up (None) when the status
    is not in `retryable`, after `policy.max_attempts` attempts, or when waiting would exceed
    `policy.max_total_s` in all.
    """
    if status is not None and status not in retryable:
        return None
    if attempt >= policy.max_attempts:
        return None
    delay = parse_retry_after(_header(headers, "Retry-After"), now)
    if delay is None:
        delay = backoff(attempt, rng, policy)
    if waited_s + delay > policy.max_total_s:
        return None
    return delay
