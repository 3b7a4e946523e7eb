"""Protected users (the seed: users who sign in with MFA or SSO keep their licences): named with
`seatwise reclaim plan --user`, in the UI or through the API, they are refused with the reason
unless included explicitly, and a plan that includes them says why they are protected.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sync.conftest import Seatwise, Sim, serve
from tests.web.conftest import Web, web

__all__ = ["web"]  # the web app fixture, over this test's database


def _synced(seatwise: Seatwise, sim: Sim) -> None:
    assert seatwise.add_app_only(sim).code == 0
    synced = seatwise("sync")
    assert synced.code == 0, synced.err


def _direct_holders(sim: Sim) -> set[str]:
    return {
        u.upn.lower() for u in sim.tenant.users if any(not s.assigned_by_group for s in u.licenses)
    }


def _pick(seatwise: Seatwise, sim: Sim) -> tuple[dict[str, Any], dict[str, Any]]:
    """(an MFA-registered user, a user neither MFA-registered nor synced), both holding a
    direct licence, as seatwise's users view has them."""
    holders = _direct_holders(sim)
    users = [
        u
        for u in seatwise("users", "--format", "json").json()
        if u["upn"].lower() in holders and not u["block_credentials"]
    ]
    mfa = next(u for u in users if u["mfa_enabled"] and not u["on_premises_sync"])
    plain = next(u for u in users if not u["mfa_enabled"] and not u["on_premises_sync"])
    return mfa, plain


def test_a_protected_user_is_refused_unless_included(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=150) as sim:
        _synced(seatwise, sim)
        mfa, plain = _pick(seatwise, sim)

        refused = seatwise("reclaim", "plan", "--user", plain["upn"], "--user", mfa["upn"])
        assert refused.code == 2, refused.err
        assert "Protected from reclamation" in refused.err
        assert mfa["upn"] in refused.err and plain["upn"] not in refused.err
        assert "signs in with MFA" in refused.err and "--include-protected" in refused.err
        assert "Traceback" not in refused.err
        # Nothing was stored: the refused plan does not exist.
        assert seatwise("reclaim", "show", "1").code == 2

        # An unprotected user alone goes through without the option.
        alone = seatwise("reclaim", "plan", "--user", plain["upn"], "--format", "json")
        assert alone.code == 0, alone.err
        assert alone.json()["protected_users"] == 0

        made = seatwise(
            "reclaim", "plan", "--user", mfa["upn"], "--user", plain["upn"], "--include-protected"
        )
        assert made.code == 0, made.err
        assert "1 protected user(s) on purpose" in made.err
        plan = made.out.strip()
        shown = seatwise("reclaim", "show", plan, "--format", "json").json()
        assert shown["protected_users"] == 1
        by_upn: dict[str, set[Any]] = {}
        for lic in shown["licences"]:
            by_upn.setdefault(lic["upn"], set()).add(lic["protected"])
        assert by_upn[plain["upn"]] == {None}
        (reason,) = by_upn[mfa["upn"]]
        assert "signs in with MFA" in reason and "--include-protected" in reason
        reasons = {
            r for lic in shown["licences"] if lic["upn"] == mfa["upn"] for r in lic["reasons"]
        }
        assert f"protected: {reason}" in reasons
        table = seatwise("reclaim", "show", plan)
        assert table.code == 0, table.err
        assert f"Protected, included on purpose: {mfa['upn']}" in table.err
        assert "signs in with MFA" in table.err


def test_an_sso_user_is_protected_too(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=150) as sim:
        _synced(seatwise, sim)
        holders = _direct_holders(sim)
        synced = next(
            u
            for u in seatwise("users", "--format", "json").json()
            if u["on_premises_sync"] and u["upn"].lower() in holders
        )
        refused = seatwise("reclaim", "plan", "--user", synced["upn"])
        assert refused.code == 2
        assert "signs in with SSO (synced from on-premises)" in refused.err


def _csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_the_ui_and_the_api_refuse_protected_users_without_the_tick(
    seatwise: Seatwise, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim", users=150) as sim:
        _synced(seatwise, sim)
        mfa, plain = _pick(seatwise, sim)
        web: Web = request.getfixturevalue("web")
        with web.client() as client:
            web.login(client, "admin")
            page = client.get("/recommendations").text
            assert 'name="include_protected"' in page and 'name="users"' in page
            form = {"csrf_token": _csrf(client, "/recommendations"), "users": mfa["upn"]}
            refused = client.post("/recommendations/plan", data=form)
            assert refused.status_code == 400
            assert "Protected from reclamation" in refused.text
            assert "Include protected users" in refused.text
            assert "signs in with MFA" in refused.text

            form["users"] = f"{mfa['upn']}\n{plain['upn']}"
            made = client.post("/recommendations/plan", data={**form, "include_protected": "true"})
            assert made.status_code == 303, made.text
            plan_page = client.get(made.headers["location"]).text
            assert 'id="plan-protected"' in plan_page
            assert "signs in with MFA" in plan_page
            # the UPN may carry a line-break opportunity before its "@"
            local, domain = mfa["upn"].split("@", 1)
            row = re.split(rf"{re.escape(local)}(?:<wbr>)?@{re.escape(domain)}", plan_page)[1]
            assert "protected" in row.split("</tr>", 1)[0]

        headers = {"Authorization": f"Bearer {web.tokens['admin']}"}
        with web.client(headers=headers) as api:
            denied = api.post("/api/v1/plans", json={"users": [mfa["upn"]]})
            assert denied.status_code == 422
            assert "include_protected" in denied.json()["error"]["message"]
            allowed = api.post(
                "/api/v1/plans", json={"users": [mfa["upn"]], "include_protected": True}
            )
            assert allowed.status_code == 201, allowed.text
            assert allowed.json()["protected_users"] == 1
            items = api.get(f"/api/v1/plans/{allowed.json()['id']}").json()["licences"]
            assert all("signs in with MFA" in (lic["protected"] or "") for lic in items)
