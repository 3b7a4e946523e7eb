"""Signing in, roles, CSRF and API tokens, over real HTTP and in real Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sync.conftest import Seatwise
from tests.web.conftest import Web, screenshot, sign_in


@pytest.fixture
def secure_cookies(seatwise: Seatwise, monkeypatch: pytest.MonkeyPatch) -> None:
    """`secure_cookies = true` for the web app (requested before `web`)."""
    del seatwise  # its environment first, then this setting over it
    monkeypatch.setenv("SEATWISE_SECURE_COOKIES", "true")


def _session_cookie(web: Web) -> str:
    with web.client() as client:
        cookie = client.get("/login").headers["set-cookie"]
    assert cookie.startswith("seatwise_session=")
    return cookie.lower()


def test_the_session_cookie_is_https_only_when_set(secure_cookies: None, web: Web) -> None:
    cookie = _session_cookie(web)
    assert "; secure" in cookie and "; httponly" in cookie and "samesite=lax" in cookie


def test_the_session_cookie_works_over_plain_http_by_default(web: Web) -> None:
    cookie = _session_cookie(web)
    assert "; secure" not in cookie and "; httponly" in cookie


def test_pages_need_a_login(web: Web) -> None:
    with web.client() as client:
        answer = client.get("/?tenant=x")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/%3Ftenant%3Dx"


def test_wrong_password_is_refused(web: Web) -> None:
    with web.client() as client:
        form = client.get("/login")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        answer = client.post(
            "/login", data={"username": "admin", "password": "nope", "csrf_token": token}
        )
        assert answer.status_code == 401 and "Wrong user name or password" in answer.text
        assert client.get("/").status_code == 303


def test_a_form_post_without_csrf_token_is_refused(web: Web) -> None:
    with web.client() as client:
        web.login(client)
        refused = client.post("/logout", data={})
        assert refused.status_code == 403 and "reload it" in refused.text
        forged = client.post("/logout", data={"csrf_token": "forged"})
        assert forged.status_code == 403
        assert client.get("/").status_code == 200  # still signed in


def test_login_does_not_redirect_off_site(web: Web) -> None:
    with web.client() as client:
        for target in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
            form = client.get("/login", params={"next": target})
            assert 'name="next" value="/"' in form.text, target


def test_api_needs_a_token_and_viewers_cannot_write(web: Web) -> None:
    with web.client() as client:
        assert client.get("/api/v1/tenants").status_code == 401
        bad = client.get("/api/v1/tenants", headers={"Authorization": "Bearer swt_nope"})
        assert bad.status_code == 401 and bad.json()["error"]["message"]


def test_sign_in_and_out_in_the_browser(page: Any, web: Web) -> None:
    page.goto("/")
    assert "/login" in page.url
    screenshot(page, "login")
    sign_in(page)
    assert page.locator("header .user").inner_text().startswith("admin")
    page.click("text=Sign out")
    page.wait_for_url("**/login")


def test_signing_in_does_not_wait_for_a_sync_holding_the_write_lock(web: Web) -> None:
    """A sync holds SQLite's write lock for a whole task; signing in must still work."""
    import sqlite3
    import time

    url = web.settings.effective_database_url
    if not url.startswith("sqlite"):
        return  # PostgreSQL has no database-wide write lock
    holder = sqlite3.connect(url.split("///", 1)[1], timeout=1)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with web.client() as client:
            started = time.monotonic()
            web.login(client)
            assert time.monotonic() - started < 5
            assert client.get("/").status_code == 200
            auth = {"Authorization": f"Bearer {web.tokens['viewer']}"}
            assert client.get("/api/v1/tenants", headers=auth).status_code == 200
    finally:
        holder.rollback()
        holder.close()


def test_a_browser_session_cannot_write_through_the_api_whatever_its_name(web: Web) -> None:
    from seatwise.workspace.accounts import create_user
    from tests.web.conftest import PASSWORD

    with web.app.state.web.session() as session:
        create_user(session, "token:evil", PASSWORD, "admin")
    with web.client() as client:
        web.login(client, "token:evil")
        refused = client.patch("/api/v1/licenses/ENTERPRISEPACK", json={"cost": "1"})
        assert refused.status_code == 403


def test_out_of_range_numbers_get_a_clear_answer_not_a_500(web: Web) -> None:
    with web.client() as client:
        web.login(client)
        for path, status in (
            ("/users?inactive_days=1000000", 400),
            ("/users?page=100000000000000000000", 400),
            ("/activity?page=100000000000000000000", 422),
            ("/reclamation/plans/100000000000000000000", 422),
            ("/reclamation/audit?plan=100000000000000000000", 422),
        ):
            answer = client.get(path)
            assert answer.status_code == status, (path, answer.text[:200])


def test_a_copied_session_cookie_dies_with_sign_out(web: Web) -> None:
    import time

    with web.client() as client:
        web.login(client)
        copied = dict(client.cookies)
        token = client.get("/").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    with web.client(cookies=copied) as thief:
        deadline = time.monotonic() + 10
        while thief.get("/").status_code != 303:  # sign-out is recorded in the background
            assert time.monotonic() < deadline, "the copied session still works"
            time.sleep(0.1)
        assert thief.get("/api/v1/tenants").status_code == 401


def test_a_role_change_or_deactivation_takes_effect_at_once(web: Web) -> None:
    from sqlalchemy import update

    from seatwise.store.schema import AppUser

    with web.client() as client:
        web.login(client)
        assert "Create a token" in client.get("/settings").text
        with web.app.state.web.session() as session:
            session.execute(
                update(AppUser).where(AppUser.username == "admin").values(role="viewer")
            )
        assert "Create a token" not in client.get("/settings").text
        with web.app.state.web.session() as session:
            session.execute(update(AppUser).where(AppUser.username == "admin").values(active=False))
        assert client.get("/").status_code == 303
