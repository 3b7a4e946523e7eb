"""`seatwise user …` and `seatwise token …`: accounts and tokens made, listed, disabled, given
a new password or role, deleted and revoked from the command line take effect in the web app
at once, are audited, and bad input gets one sentence and exit 2."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.sync.conftest import Seatwise
from tests.web.conftest import PASSWORD, Web


def test_user_and_token_from_the_command_line(
    seatwise: Seatwise, web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALICE_PASSWORD", "a long enough password")
    made = seatwise(
        "user", "create", "alice", "--role", "admin", "--password-env", "ALICE_PASSWORD"
    )
    assert made.code == 0, made.err
    assert "a long enough password" not in made.out + made.err
    with web.client() as client:
        form = client.get("/login")
        csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        signed = client.post(
            "/login",
            data={"username": "alice", "password": "a long enough password", "csrf_token": csrf},
        )
        assert signed.status_code == 303
        assert "alice" in client.get("/").text

    token = seatwise("token", "create", "ci", "--role", "viewer")
    assert token.code == 0, token.err
    value = token.out.strip()
    assert value.startswith("swt_")
    with web.client() as client:
        auth = {"Authorization": f"Bearer {value}"}
        assert client.get("/api/v1/tenants", headers=auth).status_code == 200


def test_bad_accounts_get_one_sentence(seatwise: Seatwise, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHORT", "short")
    monkeypatch.setenv("GOOD", "a long enough password")
    short = seatwise("user", "create", "bob", "--password-env", "SHORT")
    assert short.code == 2 and "at least 10 characters" in short.err
    role = seatwise("user", "create", "bob", "--role", "boss", "--password-env", "GOOD")
    assert role.code == 2 and "Unknown role 'boss'" in role.err
    unset = seatwise("user", "create", "bob", "--password-env", "NOT_SET_ANYWHERE")
    assert unset.code == 2 and "NOT_SET_ANYWHERE is not set" in unset.err
    assert seatwise("user", "create", "bob", "--password-env", "GOOD").code == 0
    again = seatwise("user", "create", "bob", "--password-env", "GOOD")
    assert again.code == 2 and "already a user called 'bob'" in again.err
    token = seatwise("token", "create", "x", "--role", "root")
    assert token.code == 2 and "Unknown role 'root'" in token.err
    assert "Traceback" not in short.err + role.err + unset.err + again.err + token.err


def _sign_in(web: Web, client: httpx.Client, username: str, password: str) -> int:
    form = client.get("/login")
    csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf}
    )
    return answer.status_code


def _audit(session: Any) -> list[tuple[str, str, Any, Any]]:
    from sqlalchemy import select

    from seatwise.store.schema import AuditEvent

    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.pk))
    return [(e.action, e.actor, e.before, e.after) for e in rows if e.tenant_pk is None]


def test_managing_accounts_from_the_command_line(
    seatwise: Seatwise, web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEW_PASSWORD", "another long password")
    listed = seatwise("user", "list", "--format", "json")
    assert listed.code == 0, listed.err
    accounts = {a["username"]: a for a in json.loads(listed.out)}
    assert accounts["admin"]["role"] == "admin" and accounts["viewer"]["active"] is True
    assert "password" not in listed.out and "argon2" not in listed.out

    with web.client() as copied:
        web.login(copied, "viewer")
        assert copied.get("/").status_code == 200
        assert seatwise("user", "disable", "viewer").code == 0
        assert copied.get("/").status_code == 303  # its session ended with it
        assert _sign_in(web, copied, "viewer", PASSWORD) == 401
        again = seatwise("user", "disable", "viewer")
        assert again.code == 0 and "already disabled" in again.err
        assert seatwise("user", "enable", "viewer").code == 0
        web.login(copied, "viewer")
        changed = seatwise("user", "set-password", "viewer", "--password-env", "NEW_PASSWORD")
        assert changed.code == 0 and "another long password" not in changed.out + changed.err
        assert copied.get("/").status_code == 303
        assert _sign_in(web, copied, "viewer", PASSWORD) == 401
        assert _sign_in(web, copied, "viewer", "another long password") == 303
        assert seatwise("user", "set-role", "viewer", "admin").code == 0
        assert copied.get("/").status_code == 303  # a new role: sign in again
        assert _sign_in(web, copied, "viewer", "another long password") == 303
        assert "(admin)" in copied.get("/").text
    assert seatwise("user", "set-role", "viewer", "viewer").code == 0
    assert seatwise("user", "delete", "viewer", "--yes").code == 0
    gone = seatwise("user", "list", "--format", "json")
    assert [a["username"] for a in json.loads(gone.out)] == ["admin"]

    with web.app.state.web.session() as session:
        actions = _audit(session)
    names = [a for a, *_ in actions]
    for action in (
        "account.disable",
        "account.enable",
        "account.password",
        "account.role",
        "account.delete",
    ):
        assert action in names, action
    disable = next(a for a in actions if a[0] == "account.disable")
    assert disable[1].startswith("cli:")
    assert disable[2] == [{"account": "viewer", "role": "viewer", "active": True}]
    assert disable[3] == [{"account": "viewer", "role": "viewer", "active": False}]
    assert "another long password" not in repr(actions)


def test_the_last_admin_is_kept_and_bad_names_get_one_sentence(
    seatwise: Seatwise, web: Web
) -> None:
    del web  # its accounts: one admin, one viewer
    for args, text in (
        (("user", "disable", "admin"), "admin is the last active admin"),
        (("user", "set-role", "admin", "viewer"), "last active admin"),
        (("user", "delete", "admin", "--yes"), "last active admin"),
        (("user", "disable", "nobody"), "There is no user called 'nobody'"),
        (("user", "set-role", "viewer", "root"), "Unknown role 'root'"),
        (("token", "revoke", "999"), "There is no API token 999"),
    ):
        result = seatwise(*args)
        assert result.code == 2, (args, result.err)
        assert text in result.err and "Traceback" not in result.err
    assert seatwise("token", "revoke", "0").code == 2  # below the ids' range: usage
    unasked = seatwise("user", "delete", "viewer")  # no terminal to ask on
    assert unasked.code == 2 and "Give --yes" in unasked.err


def test_listing_and_revoking_tokens_from_the_command_line(seatwise: Seatwise, web: Web) -> None:
    listed = seatwise("token", "list", "--format", "json")
    assert listed.code == 0, listed.err
    tokens = {t["name"]: t for t in json.loads(listed.out)}
    viewer = tokens["viewer token"]
    assert viewer["role"] == "viewer" and viewer["revoked"] is False
    assert web.tokens["viewer"].startswith(viewer["prefix"])
    assert web.tokens["viewer"] not in listed.out and web.tokens["admin"] not in listed.out
    auth = {"Authorization": f"Bearer {web.tokens['viewer']}"}
    with web.client() as client:
        assert client.get("/api/v1/tenants", headers=auth).status_code == 200
        revoked = seatwise("token", "revoke", str(viewer["id"]))
        assert revoked.code == 0 and "viewer token" in revoked.err
        assert client.get("/api/v1/tenants", headers=auth).status_code == 401
    after = {t["name"]: t for t in json.loads(seatwise("token", "list", "--format", "json").out)}
    assert after["viewer token"]["revoked"] is True
    table = seatwise("token", "list")
    assert table.code == 0 and "viewer token" in table.out
    with web.app.state.web.session() as session:
        actions = _audit(session)
    revoke = next(a for a in actions if a[0] == "token.revoke")
    assert revoke[2][0]["revoked"] is False and revoke[3][0]["revoked"] is True
    assert web.tokens["viewer"] not in repr(actions)
