"""The API's kept answers: hits and misses, a bound in bytes (least recently used first out),
and one build for requests that miss the same key at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from seatwise.web.api.answers import AnswerCache


def test_keeps_answers_and_drops_the_least_recently_used_beyond_the_bound() -> None:
    cache = AnswerCache(max_bytes=10)
    made: list[str] = []

    def make(text: str) -> bytes:
        made.append(text)
        return text.encode()

    assert cache.fetch("a", lambda: make("aaaa")) == b"aaaa"
    assert cache.fetch("a", lambda: make("other")) == b"aaaa"  # kept
    assert cache.fetch("b", lambda: make("bbbb")) == b"bbbb"
    assert cache.fetch("a", lambda: make("x")) == b"aaaa"  # a is now the most recent
    assert cache.fetch("c", lambda: make("cccc")) == b"cccc"  # 12 bytes: b goes
    assert len(cache) == 2 and cache.size == 8
    assert cache.fetch("b", lambda: make("BBBB")) == b"BBBB"
    assert made == ["aaaa", "bbbb", "cccc", "BBBB"]
    assert (cache.hits, cache.misses) == (2, 4)
    assert cache.fetch("huge", lambda: b"x" * 11) == b"x" * 11  # answered, never kept
    assert cache.fetch("huge", lambda: b"new") == b"new"


def test_requests_missing_the_same_key_at_once_build_it_once() -> None:
    cache = AnswerCache()
    builds = 0
    lock = threading.Lock()

    def make() -> bytes:
        nonlocal builds
        with lock:
            builds += 1
        time.sleep(0.2)
        return b"page"

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: cache.fetch("k", make), range(8)))
    assert answers == [b"page"] * 8 and builds == 1


def test_when_the_first_build_fails_the_waiting_requests_build_their_own() -> None:
    cache = AnswerCache()
    started = threading.Event()

    def failing() -> bytes:
        started.set()
        time.sleep(0.2)
        raise RuntimeError("the database went away")

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cache.fetch, "k", failing)
        started.wait(5)
        second = pool.submit(cache.fetch, "k", lambda: b"page")
        with pytest.raises(RuntimeError):
            first.result()
        assert second.result() == b"page"
    assert cache.fetch("k", lambda: b"again") == b"again"  # the failed build kept nothing
