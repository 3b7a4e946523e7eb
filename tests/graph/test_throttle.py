"""`retry_delay` and friends: pure, so tested with plain values (graph-facts §8)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from seatwise.graph.throttle import (
    DEFAULT_POLICY,
    WRITE_RETRYABLE_STATUSES,
    RetryPolicy,
    backoff,
    parse_retry_after,
    retry_delay,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp()


def rng() -> random.Random:
    return random.Random(7)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2.128", 2.128),
        ("7", 7.0),
        (" 0 ", 0.0),
        ("0.5", 0.5),
        ("", None),
        (None, None),
        ("soon", None),
        ("-3", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_parse_retry_after_http_date() -> None:
    later = format_datetime(datetime(2026, 11, 20, 12, 0, 42, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(later, NOW) == 42.0
    earlier = format_datetime(datetime(2026, 11, 20, 11, 0, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(earlier, NOW) == 0.0
    assert parse_retry_after(later, None) is None  # no clock, no date arithmetic


@pytest.mark.parametrize("status", [429, 503, 504, None])
def test_retryable_statuses_honour_retry_after(status: int | None) -> None:
    assert retry_delay(status, {"Retry-After": "2.128"}, 1, rng()) == 2.128
    assert retry_delay(status, {"retry-after": "3"}, 1, rng()) == 3.0  # any letter case


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 500, 502])
def test_other_statuses_are_not_retried(status: int) -> None:
    assert retry_delay(status, {"Retry-After": "1"}, 1, rng()) is None


def test_writes_are_not_retried_after_a_gateway_timeout() -> None:
    assert retry_delay(504, {}, 1, rng(), retryable=WRITE_RETRYABLE_STATUSES) is None
    assert retry_delay(429, {}, 1, rng(), retryable=WRITE_RETRYABLE_STATUSES) is not None


def test_backoff_is_full_jitter_capped_and_exponential() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=30.0)
    generator = rng()
    for attempt in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
        draws = [backoff(attempt, generator, policy) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8  # the whole range is used
    assert backoff(10_000, generator, policy) <= 30.0


def test_no_retry_after_means_backoff() -> None:
    delays = [retry_delay(503, {}, attempt, rng()) for attempt in (1, 2, 3)]
    assert all(d is not None for d in delays)
    assert delays == [backoff(a, rng()) for a in (1, 2, 3)]  # same seed, same draw


def test_attempts_and_total_time_are_capped() -> None:
    policy = RetryPolicy(max_attempts=3, max_total_s=10.0)
    assert retry_delay(429, {}, 2, rng(), policy) is not None
    assert retry_delay(429, {}, 3, rng(), policy) is None  # the third try was the last
    assert retry_delay(429, {"Retry-After": "4"}, 1, rng(), policy, waited_s=5.0) == 4.0
    assert retry_delay(429, {"Retry-After": "6"}, 1, rng(), policy, waited_s=5.0) is None
    assert DEFAULT_POLICY.max_attempts == 8 and DEFAULT_POLICY.base_s == 0.5
    assert DEFAULT_POLICY.cap_s == 30.0


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_s=-1)
