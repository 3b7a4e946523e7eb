"""API tokens made and revoked on the Settings page, then used against the API."""

from __future__ import annotations

import time
from typing import Any

from tests.web.conftest import Web, sign_in


def test_create_use_and_revoke_a_token_in_the_browser(page: Any, web: Web) -> None:
    sign_in(page, "admin")
    page.goto("/settings")
    page.fill("#token-form input[name=name]", "powerbi")
    page.select_option("#token-form select[name=role]", "viewer")
    page.click("#token-form button[type=submit]")
    value = page.locator("#new-token code").inner_text().strip()
    assert value.startswith("swt_")
    row = page.locator('tr[data-token="powerbi"]')
    assert row.locator("td").nth(2).inner_text() == "viewer"
    with web.client() as client:
        auth = {"Authorization": f"Bearer {value}"}
        assert client.get("/api/v1/tenants", headers=auth).status_code == 200
        write = client.patch("/api/v1/licenses/x", headers=auth, json={"cost": "1"})
        assert write.status_code == 403
    deadline = time.monotonic() + 10
    while True:  # the last use is recorded in the background
        page.goto("/settings")
        if "never" not in page.locator('tr[data-token="powerbi"]').inner_text():
            break
        assert time.monotonic() < deadline, "the token's use was never recorded"
        time.sleep(0.2)
    assert value not in page.content()  # shown once only
    page.locator('tr[data-token="powerbi"] button:has-text("Revoke")').click()
    page.wait_for_url("**/settings*")
    assert "revoked" in page.locator('tr[data-token="powerbi"]').inner_text()
    with web.client() as client:
        refused = client.get("/api/v1/tenants", headers={"Authorization": f"Bearer {value}"})
        assert refused.status_code == 401


def test_viewers_cannot_make_or_revoke_tokens(web: Web) -> None:
    with web.client() as client:
        web.login(client, "viewer")
        shown = client.get("/settings")
        assert 'id="token-form"' not in shown.text
        token = shown.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        made = client.post("/settings/tokens", data={"csrf_token": token, "name": "x"})
        assert made.status_code == 403
        assert (
            client.post("/settings/tokens/1/revoke", data={"csrf_token": token}).status_code == 403
        )
    with web.client() as client:
        auth = {"Authorization": f"Bearer {web.tokens['viewer']}"}
        assert client.get("/api/v1/tenants", headers=auth).status_code == 200
