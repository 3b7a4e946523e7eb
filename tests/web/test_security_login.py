"""Sign-in throttling and the password-check pool (#16), over real HTTP: wrong passwords lead to
429 with Retry-After and then even the right password is refused; a flood of sign-ins cannot
hold up anyone else's pages and API calls, and answers 503 at once when the pool is full."""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import httpx
import pytest

from seatwise.web.throttle import ACCOUNT_LIMITS, LoginGuard

from .conftest import PASSWORD, Web

pytestmark = pytest.mark.security


def _try(web: Web, client: httpx.Client, username: str, password: str) -> httpx.Response:
    form = client.get("/login")
    csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf}
    )


def test_wrong_passwords_lead_to_429_and_then_the_right_one_is_refused(web: Web) -> None:
    first_tier = int(ACCOUNT_LIMITS.split()[0])
    with web.client() as client:
        for _ in range(first_tier):
            assert _try(web, client, "admin", "wrong password").status_code == 401
        throttled = _try(web, client, "admin", "wrong password")
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 10
        assert "Too many failed sign-ins; try again in" in throttled.text
        refused = _try(web, client, "admin", PASSWORD)  # the right one, while throttled
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        assert client.get("/").status_code == 303  # not signed in
        # Another account is not locked by the first one's failures.
        assert _try(web, client, "viewer", PASSWORD).status_code == 303


def test_the_lockout_holds_for_its_whole_window(web: Web) -> None:
    web.app.state.login_guard = LoginGuard("2 per 15 minutes", "100 per hour")
    with web.client() as client:
        for _ in range(2):
            assert _try(web, client, " Admin ", "wrong password").status_code == 401
        for password in ("wrong password", PASSWORD):
            locked = _try(web, client, "admin", password)
            assert locked.status_code == 429
            assert 60 < int(locked.headers["Retry-After"]) <= 900
            assert "minutes" in locked.text


def test_one_address_is_throttled_whatever_names_it_tries(web: Web) -> None:
    web.app.state.login_guard = LoginGuard("100 per hour", "3 per 15 minutes")
    with web.client() as client:
        for name in ("a", "b", "c"):
            assert _try(web, client, name, "wrong password").status_code == 401
        assert _try(web, client, "d", "wrong password").status_code == 429
        assert _try(web, client, "admin", PASSWORD).status_code == 429


def test_a_sign_in_flood_does_not_hold_up_other_requests(web: Web) -> None:
    """The password pool's one worker is kept busy (blocked until the test lets go) while 16
    sign-ins pour in: those beyond the queue answer 503 at once, and another user's page and
    API calls are answered while the queued checks still wait, before any of them ends."""
    guard = LoginGuard("1000 per minute", "1000 per minute", workers=1, max_waiting=4)
    web.app.state.login_guard = guard
    with web.client() as viewer, web.client(headers=_viewer_token(web)) as api:
        web.login(viewer, "viewer")  # before the pool is taken
        release = threading.Event()
        guard.submit(lambda: release.wait(300))
        pool = ThreadPoolExecutor(16)
        try:
            flood = [pool.submit(_flood_attempt, web, n) for n in range(16)]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # until 12 answered and 4 are queued
                done = [f for f in flood if f.done()]
                if len(done) >= 12 and guard.pending >= 5:
                    break
                wait([f for f in flood if not f.done()], 0.5, FIRST_COMPLETED)
            waiting = [f for f in flood if not f.done()]
            assert [f.result() for f in flood if f.done()] == [(503, True)] * 12
            assert guard.pending == 5  # four checks queued behind the blocked one
            # Meanwhile another user is served, while the queued sign-ins are still waiting.
            assert viewer.get("/").status_code == 200
            assert api.get("/api/v1/tenants").status_code == 200
            assert viewer.get("/settings").status_code == 200
            assert not any(f.done() for f in waiting) and guard.pending == 5
        finally:
            release.set()
            pool.shutdown(wait=True)
    assert sorted(f.result()[0] for f in flood) == [401] * 4 + [503] * 12
    assert guard.pending == 0


def _viewer_token(web: Web) -> dict[str, str]:
    return {"Authorization": f"Bearer {web.tokens['viewer']}"}


def _flood_attempt(web: Web, n: int) -> tuple[int, bool]:
    with web.client() as client:
        answer = _try(web, client, f"flood{n}", "wrong password")
    return answer.status_code, "Retry-After" in answer.headers or answer.status_code != 503
