"""`seatwise user create` and `seatwise token create` make accounts and tokens the web app takes."""

from __future__ import annotations

import pytest

from tests.sync.conftest import Seatwise
from tests.web.conftest import Web


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
