"""Security of the web app over real HTTP (#16): every route refuses anonymous callers (routes
enumerated from the app itself), every state-changing form needs the CSRF token, viewers cannot
write, the security headers are on every kind of answer, unexpected errors answer 500 with a
request id and no traceback, bodies are capped and API writes are authenticated before their
body is read, and signing out ends copied session cookies."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from seatwise.web.guard import CSP, FORM_LIMIT, JSON_LIMIT

from .conftest import Web

pytestmark = pytest.mark.security

# Routes anyone may call, and why; every other route must refuse an anonymous caller.
PUBLIC = {
    ("GET", "/login"): "the sign-in form",
    ("POST", "/login"): "signing in (CSRF and throttle guarded)",
    ("POST", "/settings/authorize/callback"): "the identity platform's form_post (OAuth state)",
    ("GET", "/api/docs"): "API documentation, no data",
    ("GET", "/api/redoc"): "API documentation, no data",
    ("GET", "/api/docs/assets/{name}"): "API documentation's scripts and styles",
    ("GET", "/api/v1/openapi.json"): "the API's schema, no data",
    ("GET", "/favicon.ico"): "the icon",
}
SAMPLE = {"action": "disable", "name": "x", "sku": "x", "sku_id": "x", "user_id": "x"}


def _routes(app: Any) -> Iterator[tuple[str, str]]:
    """(method, path template) of every route of the app, included routers unfolded."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included router
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif getattr(route, "methods", None):
                for method in sorted(route.methods - {"HEAD"}):
                    yield method, prefix + route.path

    yield from walk(app.routes, "")


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE.get(m.group(1), "1"), path)


def _csrf(client: httpx.Client, path: str = "/settings") -> str:
    page = client.get(path)
    return page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def _bearer(web: Web, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {web.tokens[who]}"}


def _writes(web: Web) -> list[tuple[str, str]]:
    return [(m, p) for m, p in _routes(web.app) if m in {"POST", "PUT", "PATCH", "DELETE"}]


def test_every_route_refuses_anonymous_callers(web: Web) -> None:
    routes = list(_routes(web.app))
    assert len(routes) > 60  # the enumeration found the app's routes, not a hand list
    with web.client() as anonymous:
        for method, template in routes:
            if (method, template) in PUBLIC:
                continue
            answer = anonymous.request(method, _concrete(template), json=None)
            where = f"{method} {template}"
            if template.startswith("/api/"):
                assert answer.status_code == 401, where
                assert answer.json()["error"]["message"], where
            elif method == "GET":
                assert answer.status_code == 303, where
                assert answer.headers["location"].startswith("/login?next="), where
            else:  # a form post: refused for want of the CSRF token or of a session
                assert answer.status_code in (303, 403), where


def test_every_state_changing_form_needs_the_csrf_token(web: Web) -> None:
    posts = [(m, p) for m, p in _writes(web) if not p.startswith("/api/") and (m, p) not in PUBLIC]
    assert ("POST", "/settings/accounts/{action}") in posts and len(posts) >= 15
    with web.client() as admin:
        web.login(admin, "admin")
        for method, template in posts:
            for data in ({}, {"csrf_token": "forged"}):
                answer = admin.request(method, _concrete(template), data=data)
                assert answer.status_code == 403, f"{method} {template} {data}"
                assert "reload it" in answer.text
        assert admin.get("/").status_code == 200  # still signed in: nothing was done


def test_viewers_cannot_write_anything(web: Web) -> None:
    writes = [w for w in _writes(web) if w not in PUBLIC and w[1] != "/logout"]
    with web.client() as viewer, web.client(headers=_bearer(web, "viewer")) as token:
        web.login(viewer, "viewer")
        csrf = _csrf(viewer, "/")
        for method, template in writes:
            path = _concrete(template)
            if template.startswith("/api/"):
                answer = token.request(method, path, json={})
                assert answer.status_code == 403, f"{method} {template}"
                assert answer.json()["error"]["message"] == "This token is read-only (role viewer)."
            else:
                answer = viewer.request(method, path, data={"csrf_token": csrf})
                assert answer.status_code == 403, f"{method} {template}"
                assert "Only an admin" in answer.text


def _assert_headers(answer: httpx.Response, *, hsts: bool = False) -> None:
    headers = answer.headers
    assert headers["content-security-policy"] == CSP, answer.url
    assert (
        "script-src 'self'" in CSP
        and "'unsafe-inline'" not in CSP.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in CSP
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert re.fullmatch(r"[0-9a-f]{16}", headers["x-request-id"])
    assert ("strict-transport-security" in headers) is hsts


def _boom(web: Web) -> None:
    def boom() -> None:
        raise RuntimeError("secret detail that must stay in the log")

    web.app.add_api_route("/boom", boom)
    web.app.add_api_route("/api/v1/boom", boom)


def test_security_headers_on_pages_api_static_files_and_errors(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    _boom(web)
    with web.client() as client, web.client(headers=_bearer(web, "viewer")) as api:
        answers = [
            client.get("/login"),
            client.get("/static/seatwise.css"),
            client.get("/no/such/page"),
            client.get("/api/v1/tenants"),  # 401
            api.get("/api/v1/tenants"),
            api.get("/api/v1/nothing-here"),
            client.post("/logout"),  # 403
        ]
        with caplog.at_level(logging.ERROR, logger="seatwise.web"):
            crashed_page, crashed_api = client.get("/boom"), api.get("/api/v1/boom")
        web.login(client)
        answers += [client.get("/"), client.get("/settings"), crashed_page, crashed_api]
    for answer in answers:
        _assert_headers(answer)
    assert [a.status_code for a in answers[:7]] == [200, 200, 404, 401, 200, 404, 403]
    for crashed in (crashed_page, crashed_api):
        assert crashed.status_code == 500
        request_id = crashed.headers["x-request-id"]
        assert request_id in crashed.text
        assert "secret detail" not in crashed.text and "Traceback" not in crashed.text
        assert any(
            request_id in r.getMessage() and r.exc_info and "secret detail" in str(r.exc_info[1])
            for r in caplog.records
        )
    assert crashed_api.json()["error"]["code"] == "InternalServerError"
    assert "Something went wrong on our side" in crashed_page.text


@pytest.fixture
def secure_cookies(seatwise: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    del seatwise
    monkeypatch.setenv("SEATWISE_SECURE_COOKIES", "true")


def test_hsts_when_cookies_are_secure(secure_cookies: None, web: Web) -> None:
    with web.client() as client:
        _assert_headers(client.get("/login"), hsts=True)
        _assert_headers(client.get("/static/seatwise.css"), hsts=True)


def test_the_404_page_shows_the_navigation_to_a_signed_in_user(web: Web) -> None:
    with web.client() as client:
        anonymous = client.get("/nowhere")
        assert anonymous.status_code == 404 and 'href="/login"' in anonymous.text
        assert 'href="/licenses"' not in anonymous.text
        web.login(client, "viewer")
        signed_in = client.get("/nowhere")
        assert signed_in.status_code == 404
        for href in ("/users", "/licenses", "/settings"):
            assert f'href="{href}"' in signed_in.text


def _raw(web: Web, request: bytes) -> bytes:
    """Send `request` as raw bytes and read the answer's head (the body is never sent)."""
    host, port = web.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    return head


def test_api_writes_are_refused_before_their_body_is_read(web: Web) -> None:
    # 120 MiB announced, not a byte sent: an answer at all means the body was never awaited.
    for auth, status in (
        (b"", b"401"),
        (b"Authorization: Bearer swt_nope\r\n", b"401"),
        (
            f"Authorization: Bearer {web.tokens['viewer']}\r\n".encode(),
            b"403",
        ),
    ):
        head = _raw(
            web,
            b"POST /api/v1/plans HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + auth
            + b"Content-Length: 125829120\r\n\r\n",
        )
        assert head.split(b"\r\n", 1)[0].split(b" ")[1] == status, head
    with web.client() as client:
        broken = client.post(
            "/api/v1/plans", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert broken.status_code == 401  # not 422: who asks comes first
        with web.client(headers=_bearer(web, "admin")) as admin:
            broken = admin.post(
                "/api/v1/plans", content=b"{not json", headers={"Content-Type": "application/json"}
            )
            assert broken.status_code == 400
            assert broken.json()["error"]["message"] == "The request body is not valid JSON."


def test_bodies_are_capped(web: Web) -> None:
    big_json = b'{"users": ["' + b"a" * JSON_LIMIT + b'"]}'
    with web.client(headers=_bearer(web, "admin")) as admin:
        declared = admin.post(
            "/api/v1/plans", content=big_json, headers={"Content-Type": "application/json"}
        )
        assert declared.status_code == 413
        assert (
            declared.json()["error"]["message"]
            == "The request body is too large (at most 1024 KiB)."
        )

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams in
            for start in range(0, len(big_json), 65536):
                yield big_json[start : start + 65536]

        streamed = admin.post(
            "/api/v1/plans", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413 and streamed.json()["error"]["code"]
    with web.client() as client:
        csrf = _csrf(client, "/login")
        huge = client.post(
            "/login",
            data={"username": "admin", "password": "x" * FORM_LIMIT, "csrf_token": csrf},
        )
        assert huge.status_code == 413 and "too large" in huge.text
        _assert_headers(huge)


def test_signing_out_ends_a_copied_session_cookie(web: Web) -> None:
    with web.client() as browser:
        web.login(browser, "admin")
        cookie = browser.cookies["seatwise_session"]
        with web.client(cookies={"seatwise_session": cookie}) as thief:
            assert thief.get("/settings").status_code == 200
            out = browser.post("/logout", data={"csrf_token": _csrf(browser)})
            assert out.status_code == 303
            # The epoch moved on before the answer: the copy is refused on the very next call.
            assert thief.get("/settings").status_code == 303
            assert thief.get("/api/v1/tenants").status_code == 401


def test_download_names_follow_rfc_6266() -> None:
    from seatwise.web.downloads import attachment

    assert attachment("seatwise-users-contoso.csv") == (
        'attachment; filename="seatwise-users-contoso.csv"; '
        "filename*=UTF-8''seatwise-users-contoso.csv"
    )
    hostile = attachment('Müller "AG"\r\nSet-Cookie: x=1;\\..csv')
    assert "\r" not in hostile and "\n" not in hostile
    plain, encoded = hostile.split("; filename*=UTF-8''")
    assert plain == 'attachment; filename="Muller _AG_Set-Cookie_ x_1__..csv"'
    assert encoded == "M%C3%BCller%20%22AG%22Set-Cookie%3A%20x%3D1%3B_..csv"
    assert attachment("") == "attachment; filename=\"download\"; filename*=UTF-8''download"


def test_downloads_send_both_names(web: Web) -> None:
    from seatwise.workspace.tenants import register

    register(
        web.app.state.web.workspace,
        "contoso.eu",
        "11111111-1111-1111-1111-111111111111",
        "22222222-2222-2222-2222-222222222222",
        "not a real secret",
        auth_mode="app",
        refresh=None,
    )
    with web.client() as client, web.client(headers=_bearer(web, "viewer")) as api:
        web.login(client)
        for answer in (
            client.get("/users.csv", params={"tenant": "contoso.eu"}),
            client.get("/export/itam.csv"),
            api.get("/api/v1/users", params={"$format": "csv", "tenant": "contoso.eu"}),
        ):
            assert answer.status_code == 200, answer.url
            disposition = answer.headers["content-disposition"]
            assert re.fullmatch(
                r"attachment; filename=\"[\w.-]+\"; filename\*=UTF-8''[\w.%-]+", disposition
            ), disposition


def test_sign_out_is_retried_then_fails_visibly_while_the_database_stays_busy(
    seatwise: Any, web: Web
) -> None:
    import sqlite3

    from sqlalchemy import create_engine, select

    from seatwise.errors import StoreError
    from seatwise.store.schema import AppUser
    from seatwise.workspace.accounts import end_sessions_now

    if not seatwise.database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock; PostgreSQL locks rows, not the database")
    path = seatwise.database_url.removeprefix("sqlite:///")
    impatient = create_engine(seatwise.database_url, connect_args={"timeout": 0.05})
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # a long sync holding the write lock
        with pytest.raises(StoreError, match="stayed busy"):
            end_sessions_now(impatient, "admin")
        holder.execute("ROLLBACK")
        with web.app.state.web.session() as session:
            before = session.scalar(
                select(AppUser.session_epoch).where(AppUser.username == "admin")
            )
        end_sessions_now(impatient, "admin")
        with web.app.state.web.session() as session:
            after = session.scalar(select(AppUser.session_epoch).where(AppUser.username == "admin"))
        assert after == (before or 0) + 1
    finally:
        holder.close()
        impatient.dispose()


def test_no_page_breaks_the_content_security_policy_in_chromium(page: Any, web: Web) -> None:
    from .conftest import sign_in

    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    sign_in(page, "admin")
    for path in ("/", "/users", "/licenses", "/activity", "/settings", "/tasks", "/api/docs"):
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, path
        page.wait_for_load_state("load")
    page.wait_for_selector(".swagger-ui")  # Swagger UI started from its own script
    assert violations == []
