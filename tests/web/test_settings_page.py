"""The Settings page: authorizing a tenant from Chromium through the simulator's real sign-in and
consent page, adding one for app-only access, the reauthorize hint, deactivating and
reactivating, viewers kept read-only, and no secret or token in the database in plain text. A
sign-in started by one web process is finished by another (they share it through the database).
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from seatwise.store.schema import PendingSignIn, Tenant
from tests.sync.conftest import Seatwise, Sim, serve

from .conftest import Web, screenshot, sign_in, start_authorize


def _csrf(client: httpx.Client, path: str = "/settings") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def _stored(seatwise: Seatwise, web: Web) -> bytes:
    """What the database holds: the SQLite files' bytes, or every tenant row on PostgreSQL."""
    if seatwise.database_url.startswith("sqlite"):
        db = Path(seatwise.database_url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    with web.app.state.web.session() as session:
        rows = session.scalars(select(Tenant)).all()
        return b"".join(
            b"|".join(
                str(getattr(row, column.key)).encode()
                if not isinstance(getattr(row, column.key), bytes)
                else getattr(row, column.key)
                for column in Tenant.__table__.columns
            )
            for row in rows
        )


def _tenant(web: Web, name: str) -> Tenant:
    with web.app.state.web.session() as session:
        row = session.scalar(select(Tenant).where(Tenant.name == name))
        assert row is not None
        session.expunge(row)
        return row


def _sign_in_at_simulator(tab: Any, sim: Sim) -> None:
    """Type the admin's credentials into the simulator's sign-in + consent page and accept."""
    tab.wait_for_url(re.compile(r"https://127\.0\.0\.1:\d+/.+/oauth2/v2\.0/authorize\?"))
    tab.fill("input[name=loginfmt]", sim.tenant.admin.upn)
    tab.fill("input[name=passwd]", sim.tenant.admin.password)
    tab.click("button[name=decision][value=accept]")
    tab.wait_for_url(re.compile(r"/settings$"))


def test_authorize_in_chromium_then_sync_and_reauthorize(
    seatwise: Seatwise, tmp_path: Path, browser: Any, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.point_at(sim)
        web: Web = request.getfixturevalue("web")
        context = browser.new_context(
            base_url=web.base_url, viewport={"width": 1400, "height": 900}, ignore_https_errors=True
        )
        tab = context.new_page()
        tab.set_default_timeout(20_000)
        try:
            sign_in(tab, "admin")
            start_authorize(tab, sim, "contoso")
            _sign_in_at_simulator(tab, sim)
            assert "Tenant contoso is authorized" in tab.locator(".flash.ok").inner_text()
            row = tab.locator("tr[data-tenant=contoso]")
            assert row.locator(".auth-mode").inner_text().strip() == "delegated"
            scopes = row.locator(".scopes").inner_text()
            assert "UserAuthenticationMethod.Read.All" in scopes
            assert not row.locator(".scopes .badge.bad").count()
            assert sim.tenant.app.client_secret not in tab.content()

            synced = seatwise("sync", "--tenant", "contoso")
            assert synced.code == 0, synced.err
            first = _tenant(web, "contoso")
            assert first.auth_mode == "delegated" and first.refresh_token_enc

            tab.goto("/settings")
            assert tab.locator("tr[data-tenant=contoso] .last-sync").inner_text() != "never"
            screenshot(tab, "settings")

            # reauthorize the existing tenant: its stored ids and secret, a new refresh token
            tab.locator("tr[data-tenant=contoso] button[name=reauthorize]").click()
            _sign_in_at_simulator(tab, sim)
            assert "Tenant contoso is authorized" in tab.locator(".flash.ok").inner_text()
            again = _tenant(web, "contoso")
            assert again.refresh_token_enc != first.refresh_token_enc
            assert again.secret_enc == first.secret_enc or again.secret_enc
            assert seatwise("sync", "--tenant", "contoso", "--task", "license-info").code == 0
        finally:
            context.close()
        tokens = sim.server_app_tokens()
    stored = _stored(seatwise, web)
    assert len(tokens) >= 3  # two sign-ins, then rotated tokens
    for token in tokens:
        assert token.encode() not in stored
    assert sim.tenant.app.client_secret.encode() not in stored


def test_cancelled_sign_in_is_reported_and_stores_nothing(
    seatwise: Seatwise, tmp_path: Path, browser: Any, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.point_at(sim)
        web: Web = request.getfixturevalue("web")
        context = browser.new_context(base_url=web.base_url, ignore_https_errors=True)
        tab = context.new_page()
        tab.set_default_timeout(20_000)
        try:
            sign_in(tab, "admin")
            start_authorize(tab, sim, "declined")
            tab.wait_for_url(re.compile(r"/oauth2/v2\.0/authorize\?"))
            tab.click("button[name=decision][value=cancel]")
            tab.wait_for_url(re.compile(r"/settings$"))
            assert "cancelled" in tab.locator(".flash.error").inner_text()
            assert not tab.locator("tr[data-tenant=declined]").count()
        finally:
            context.close()


def test_callback_without_a_sign_in_in_progress_is_refused(seatwise: Seatwise, web: Web) -> None:
    with web.client() as client:
        forged = client.post(
            "/settings/authorize/callback", data={"code": "stolen", "state": "made-up"}
        )
        assert forged.status_code == 400
        web.login(client, "admin")
        done = client.get("/settings/authorize/complete")
        assert done.status_code == 303
        assert "No sign-in was in progress" in client.get("/settings").text


def test_app_only_add_then_missing_permission_asks_to_reauthorize(
    seatwise: Seatwise, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.point_at(sim)
        web: Web = request.getfixturevalue("web")
        with web.client() as client:
            web.login(client, "admin")
            fields = {
                "name": "fabrikam",
                "tenant_id": sim.tenant.tenant_id,
                "client_id": sim.tenant.app.client_id,
                "csrf_token": _csrf(client),
            }
            wrong = client.post("/settings/tenants", data={**fields, "client_secret": "nope"})
            assert wrong.status_code == 303
            page = client.get("/settings").text
            assert "Tenant fabrikam was not added" in page
            assert 'data-tenant="fabrikam"' not in page

            secret = sim.tenant.app.client_secret
            added = client.post("/settings/tenants", data={**fields, "client_secret": secret})
            assert added.status_code == 303
            page = client.get("/settings").text
            assert "Tenant fabrikam added for app-only access" in page
            assert secret not in page
            listed = seatwise("tenant", "list", "--format", "json").json()
            assert [(t["name"], t["auth_mode"], t["status"]) for t in listed] == [
                ("fabrikam", "app", "active")
            ]
            assert seatwise("sync", "--tenant", "fabrikam").code == 0

            duplicate = client.post("/settings/tenants", data={**fields, "client_secret": secret})
            assert duplicate.status_code == 303
            assert "already a tenant called fabrikam" in client.get("/settings").text

            sim.tenant.app.application_permissions.discard("AuditLog.Read.All")
            sim.control("tokens/expire")
            failed = seatwise("sync", "--tenant", "fabrikam", "--task", "roster")
            assert failed.code == 3
            page = client.get("/settings").text
            hint = page.split('class="reauthorize-hint"', 1)[1].split("</tr>", 1)[0]
            assert "needs permission AuditLog.Read.All" in hint
            assert "Reauthorize" in hint
    assert sim.tenant.app.client_secret.encode() not in _stored(seatwise, web)


def test_viewer_reads_but_every_form_is_forbidden(seatwise: Seatwise, web: Web) -> None:
    seatwise("tenant", "list")
    with web.client() as client:
        web.login(client, "viewer")
        page = client.get("/settings")
        assert page.status_code == 200
        assert "Recommendation settings in effect" in page.text
        assert "inactive_days" in page.text and "[recommendations]" in page.text
        assert 'id="authorize-form"' not in page.text and 'id="app-only-form"' not in page.text
        token = _csrf(client)
        form = {"csrf_token": token, "name": "x", "tenant_id": "t", "client_id": "c"}
        for path in (
            "/settings/tenants",
            "/settings/authorize",
            "/settings/tenants/x/deactivate",
            "/settings/tenants/x/reactivate",
        ):
            answer = client.post(path, data={**form, "client_secret": "s"})
            assert answer.status_code == 403, (path, answer.status_code)
        assert client.get("/settings/authorize/complete").status_code == 403
    with web.client() as client:
        web.login(client, "admin")
        no_token = client.post("/settings/tenants/x/deactivate", data={})
        assert no_token.status_code == 403
        bad_name = client.post(
            "/settings/tenants",
            data={
                "csrf_token": _csrf(client),
                "name": "<b>x</b>",
                "tenant_id": "t",
                "client_id": "c",
                "client_secret": "s",
            },
        )
        assert bad_name.status_code == 303
        assert "A tenant name must be 1 to 64 letters" in client.get("/settings").text


def test_signed_out_user_is_sent_to_login(web: Web) -> None:
    with web.client() as client:
        answer = client.get("/settings")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


@contextlib.contextmanager
def _another_process() -> Iterator[str]:
    """The web app served by a uvicorn process of its own, over the same data directory and
    database (from the environment the `seatwise` fixture set); its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [sys.executable, "-m", "uvicorn", "--factory", "seatwise.web.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=dict(os.environ))
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the second web process ended"
            assert time.monotonic() < deadline, "the second web process did not start"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base_url}/login", trust_env=False).status_code == 200:
                    break
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _pending_count(web: Web) -> int:
    with web.app.state.web.session() as session:
        return session.scalar(select(func.count()).select_from(PendingSignIn)) or 0


def test_sign_in_started_in_one_process_is_finished_in_another(
    seatwise: Seatwise, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.point_at(sim)
        web: Web = request.getfixturevalue("web")
        verify = ssl.create_default_context(cafile=str(sim.server.ca_bundle))
        with (
            _another_process() as other,
            web.client() as browser,
            httpx.Client(verify=verify, trust_env=False) as idp,
        ):
            web.login(browser, "admin")
            started = browser.post(
                "/settings/authorize",
                data={
                    "csrf_token": _csrf(browser),
                    "name": "contoso",
                    "tenant_id": sim.tenant.tenant_id,
                    "client_id": sim.tenant.app.client_id,
                    "client_secret": sim.tenant.app.client_secret,
                },
            )
            assert started.status_code == 303, started.text
            assert _pending_count(web) == 1

            # The admin signs in and consents at the identity platform, which answers with a
            # form that the browser posts back (form_post): here, to the other process.
            consent = idp.post(
                started.headers["location"],
                data={
                    "loginfmt": sim.tenant.admin.upn,
                    "passwd": sim.tenant.admin.password,
                    "decision": "accept",
                },
            )
            assert consent.status_code == 200, consent.text
            action = html.unescape(
                re.findall(r'<form method="post" [^>]*action="([^"]+)"', consent.text)[0]
            )
            assert action == f"{web.base_url}/settings/authorize/callback"
            fields = {
                html.unescape(name): html.unescape(value)
                for name, value in re.findall(
                    r'<input type="hidden" name="([^"]*)" value="([^"]*)">', consent.text
                )
            }
            assert {"code", "state"} <= fields.keys()
            with httpx.Client(trust_env=False) as cross_site:  # no session cookie
                parked = cross_site.post(f"{other}/settings/authorize/callback", data=fields)
            assert parked.status_code == 303, parked.text
            assert parked.headers["location"] == "/settings/authorize/complete"

            done = browser.get(f"{other}/settings/authorize/complete")
            assert done.status_code == 303, done.text
            page = browser.get(f"{other}/settings").text
            assert "Tenant contoso is authorized" in page, page
            assert _pending_count(web) == 0
            replayed = browser.post(f"{web.base_url}/settings/authorize/callback", data=fields)
            assert replayed.status_code == 400
        listed = seatwise("tenant", "list", "--format", "json").json()
        assert [(t["name"], t["auth_mode"], t["status"]) for t in listed] == [
            ("contoso", "delegated", "active")
        ]
        assert seatwise("sync", "--tenant", "contoso", "--task", "license-info").code == 0
    assert sim.tenant.app.client_secret.encode() not in _stored(seatwise, web)


def _flashes(client: httpx.Client) -> list[str]:
    page = client.get("/settings")
    return [html.unescape(m) for m in re.findall(r'<p class="flash \w+">(.*?)</p>', page.text)]


def _account_post(client: httpx.Client, action: str, **fields: str) -> list[str]:
    path = "/settings/accounts" + (f"/{action}" if action else "")
    answer = client.post(path, data={"csrf_token": _csrf(client), **fields})
    assert answer.status_code == 303 and answer.headers["location"] == "/settings#accounts"
    return _flashes(client)


def test_admins_manage_accounts_on_settings(web: Web) -> None:
    with web.client() as viewer:
        web.login(viewer, "viewer")
        assert 'id="accounts"' not in viewer.get("/settings").text
    with web.client() as admin, web.client() as carol:
        web.login(admin, "admin")
        page = admin.get("/settings").text
        assert 'id="account-list"' in page and 'data-account="viewer"' in page
        assert _account_post(
            admin, "", username="carol", password="carol's long password", role="viewer"
        ) == ["Account carol created with role viewer."]
        assert _account_post(admin, "", username="dave", password="short", role="viewer") == [
            "A password needs at least 10 characters."
        ]
        web_login = _sign(carol, "carol", "carol's long password")
        assert web_login == 303 and carol.get("/").status_code == 200
        assert _account_post(admin, "role", username="carol", role="admin") == [
            "Account carol is admin; its sessions have ended."
        ]
        assert carol.get("/").status_code == 303
        assert _sign(carol, "carol", "carol's long password") == 303
        assert _account_post(
            admin, "password", username="carol", password="a brand new password"
        ) == ["New password set for carol; its sessions have ended."]
        assert carol.get("/").status_code == 303
        assert _sign(carol, "carol", "carol's long password") == 401
        assert _account_post(admin, "disable", username="carol") == ["Account carol disabled."]
        assert _sign(carol, "carol", "a brand new password") == 401
        assert 'data-account="carol"' in admin.get("/settings").text
        assert _account_post(admin, "enable", username="carol") == ["Account carol enabled."]
        assert _account_post(admin, "enable", username="carol") == [
            "Account carol was already enabled."
        ]
        assert _sign(carol, "carol", "a brand new password") == 303
        assert _account_post(admin, "delete", username="carol") == ["Account carol deleted."]
        assert carol.get("/").status_code == 303
        assert 'data-account="carol"' not in admin.get("/settings").text
        refused = _account_post(admin, "disable", username="admin")
        assert refused == [
            "admin is the last active admin and cannot be disabled; make another account admin "
            "first."
        ]
        assert _account_post(admin, "role", username="admin", role="viewer")[0].startswith(
            "admin is the last active admin"
        )
        assert admin.get("/settings").status_code == 200  # still an admin, still signed in
        nothing = admin.post(
            "/settings/accounts/promote", data={"csrf_token": _csrf(admin), "username": "viewer"}
        )
        assert nothing.status_code == 404


def _sign(client: httpx.Client, username: str, password: str) -> int:
    form = client.get("/login")
    csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf}
    )
    return answer.status_code


def test_disabling_an_account_in_chromium(page: Any, web: Web) -> None:
    sign_in(page, "admin")
    page.goto("/settings#accounts")
    row = page.locator('tr[data-account="viewer"]')
    row.locator('button[data-action="disable"]').click()
    page.wait_for_url("**/settings#accounts")
    assert "Account viewer disabled." in page.locator("main").inner_text()
    assert page.locator('tr[data-account="viewer"] .badge').inner_text() == "disabled"
    screenshot(page, "settings-accounts")
