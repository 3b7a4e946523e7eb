"""How an apply ends: "failed" when nothing was removed (every user refused, e.g. the signed-in
admin lacks the License Administrator role — each user records that sentence), "partly applied"
when some users were done and some failed, never "applied" with nothing done; `seatwise reclaim
show` and the plan page say so, and applying again retries the failed users.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, update

from seatwise.reclaim.apply import plan_outcome
from seatwise.store.schema import ReclaimItem
from tests.sync.conftest import Seatwise, Sim, serve
from tests.sync.test_connect import _connect
from tests.web.conftest import Web, web

__all__ = ["web"]  # the web app fixture, over this test's database

ROLE_SENTENCE = "Removing licences needs the License Administrator role"


def test_the_status_follows_the_users() -> None:
    assert plan_outcome(["done", "skipped"]) == "applied"
    assert plan_outcome(["done", "failed", "skipped"]) == "partly applied"
    assert plan_outcome(["failed", "failed"]) == "failed"
    assert plan_outcome(["failed", "skipped"]) == "failed"
    assert plan_outcome(["skipped"]) == "failed"  # nothing removed is never "applied"


def _holders(sim: Sim, count: int) -> list[Any]:
    found = [
        u
        for u in sim.tenant.users
        if u.licenses and all(not s.assigned_by_group for s in u.licenses)
    ]
    return found[:count]


def _direct(sim: Sim, user_id: str) -> set[str]:
    user = sim.tenant.users_by_id[user_id]
    return {s.sku_id for s in user.licenses if not s.assigned_by_group}


def _plan(seatwise: Seatwise, users: list[Any]) -> str:
    args = [a for u in users for a in ("--user", u.upn)]
    made = seatwise("reclaim", "plan", *args, "--include-protected")
    assert made.code == 0, made.err
    plan = made.out.strip()
    assert seatwise("reclaim", "approve", plan).code == 0
    return plan


def _show(seatwise: Seatwise, plan: str) -> dict[str, Any]:
    shown = seatwise("reclaim", "show", plan, "--format", "json")
    assert shown.code == 0, shown.err
    result: dict[str, Any] = shown.json()
    return result


def test_without_license_administrator_every_user_fails_with_the_sentence(
    seatwise: Seatwise, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.point_at(sim)
        code, err = _connect(seatwise, sim)
        assert code == 0, err
        assert seatwise("sync").code == 0
        users = _holders(sim, 2)
        before = {u.id: _direct(sim, u.id) for u in users}
        plan = _plan(seatwise, users)
        sim.control("admin", {"remove_roles": ["License Administrator"]})

        applied = seatwise("reclaim", "apply", plan, "--yes")
        assert applied.code == 3, applied.err
        assert "0 done" in applied.err and "2 failed" in applied.err
        assert f"Plan {plan} is now failed" in applied.err
        assert ROLE_SENTENCE in applied.err and "reauthorize" not in applied.err.lower()
        assert "Traceback" not in applied.err
        shown = _show(seatwise, plan)
        assert shown["status"] == "failed" and shown["states"] == {"failed": 2}
        for lic in shown["licences"]:
            assert lic["state"] == "failed"
            assert ROLE_SENTENCE in lic["message"], lic["message"]
            assert "Global Administrator or Privileged Role Administrator" in lic["message"]
        assert {u.id: _direct(sim, u.id) for u in users} == before  # nothing removed
        assert shown["realised_savings"] == {}
        table = seatwise("reclaim", "show", plan)
        assert f"Plan {plan} failed: no licence was removed (2 user(s) failed" in table.err

        web_app: Web = request.getfixturevalue("web")
        with web_app.client() as client:
            web_app.login(client, "admin")
            page = client.get(f"/reclamation/plans/{plan}").text
            assert '<div class="value" id="plan-status">failed</div>' in page
            assert "Nothing was removed: 2 user(s) failed" in page
            assert ROLE_SENTENCE in page
            assert "Apply the plan again" in page
            listing = client.get("/reclamation").text
            assert ">failed</span>" in listing

        # Once the role is assigned, applying again retries the failed users.
        sim.control("admin", {"add_roles": ["License Administrator"]})
        again = seatwise("reclaim", "apply", plan, "--yes")
        assert again.code == 0, again.err
        assert _show(seatwise, plan)["status"] == "applied"
        assert all(not _direct(sim, u.id) for u in users)


def test_a_mixed_apply_ends_partly_applied(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim") as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        good, bad = _holders(sim, 2)
        plan = _plan(seatwise, [good, bad])
        # Graph refuses removing a SKU the user does not hold: make the plan ask that of `bad`.
        unheld = next(sku for sku in sim.tenant.holdings if sku not in _direct(sim, bad.id))
        engine = create_engine(seatwise.database_url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    update(ReclaimItem).where(ReclaimItem.user_id == bad.id).values(remove=[unheld])
                )
        finally:
            engine.dispose()

        applied = seatwise("reclaim", "apply", plan, "--yes")
        assert applied.code == 0, applied.err
        assert "1 done" in applied.err and "1 failed" in applied.err
        assert f"Plan {plan} is now partly applied" in applied.err
        shown = _show(seatwise, plan)
        assert shown["status"] == "partly applied"
        assert shown["states"] == {"done": 1, "failed": 1}
        assert not _direct(sim, good.id)
        table = seatwise("reclaim", "show", plan)
        assert f"Plan {plan} is partly applied: 1 user(s) done, 1 failed" in table.err
        # The done user can be undone from a partly applied plan.
        undone = seatwise("reclaim", "undo", plan, "--yes")
        assert undone.code == 0, undone.err
        assert _direct(sim, good.id)
