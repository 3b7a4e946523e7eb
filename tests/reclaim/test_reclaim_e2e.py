"""Reclamation end to end (DESIGN §6): plan → show → approve → apply → sync → undo against the
simulator as a real HTTPS server, counting the `assignLicense` calls it really executed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import DBAPIError

from seatwise.simulator.tenant import Tenant
from seatwise.store.schema import AuditEvent, ReclaimItem
from tests.sync.conftest import Seatwise, Sim, serve

USERS = 500


def _plan(seatwise: Seatwise, *args: str) -> int:
    # Users named here are picked for their licences, not their sign-in: MFA and SSO users are
    # included on purpose (tests/reclaim/test_protected.py covers refusing them).
    if "--user" in args:
        args = (*args, "--include-protected")
    made = seatwise("reclaim", "plan", *args)
    assert made.code == 0, made.err
    return int(made.out.strip())


def _show(seatwise: Seatwise, plan: int) -> dict[str, Any]:
    shown = seatwise("reclaim", "show", str(plan), "--format", "json")
    assert shown.code == 0, shown.err
    result: dict[str, Any] = shown.json()
    return result


def _direct(tenant: Tenant, user_id: str) -> dict[str, list[str]]:
    """The user's direct licences in the simulator now: skuId → disabled plans."""
    user = tenant.users_by_id[user_id]
    return {s.sku_id: sorted(s.disabled_plans) for s in user.licenses if not s.assigned_by_group}


def _grouped(tenant: Tenant, user_id: str) -> set[tuple[str, str]]:
    user = tenant.users_by_id[user_id]
    return {(s.sku_id, s.assigned_by_group) for s in user.licenses if s.assigned_by_group}


def _synced(seatwise: Seatwise, sim: Sim) -> None:
    assert seatwise.add_app_only(sim).code == 0
    synced = seatwise("sync")
    assert synced.code == 0, synced.err


def _removals(plan: dict[str, Any]) -> dict[str, set[str]]:
    """user id → skuIds the plan removes."""
    found: dict[str, set[str]] = {}
    for lic in plan["licences"]:
        if lic["action"].startswith("remove"):
            found.setdefault(lic["user_id"], set()).add(lic["sku_id"])
    return found


def test_full_cycle(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=USERS) as sim:
        _synced(seatwise, sim)
        priced = seatwise(
            "license", "set", "ENTERPRISEPACK", "--cost", "20.50", "--currency", "EUR",
            "--payment-frequency", "monthly", "--effective-date", "2026-01-01",
            "--expiration-date", "2027-06-30",
        )  # fmt: skip
        assert priced.code == 0, priced.err
        before_positions = {
            p["sku_id"]: p for p in seatwise("licenses", "--all", "--format", "json").json()
        }
        plan = _plan(seatwise)
        shown = _show(seatwise, plan)
        assert shown["status"] == "draft" and shown["users"] > 10
        removals = _removals(shown)
        grouped_before = {uid: _grouped(sim.tenant, uid) for uid in removals}
        direct_before = {uid: _direct(sim.tenant, uid) for uid in removals}
        # Group-inherited licences are named with their group, never removed.
        inherited = [lic for lic in shown["licences"] if lic["via"]]
        assert inherited and all(
            lic["action"].startswith("inherited from group") for lic in inherited
        )
        assert all(lic["via"] in lic["action"] for lic in inherited)

        # Dry run and unapproved: nothing reaches Graph.
        assert seatwise("reclaim", "apply", str(plan)).code == 2
        assert seatwise("reclaim", "approve", str(plan)).code == 0
        dry = seatwise("reclaim", "apply", str(plan))
        assert dry.code == 0 and "Dry run" in dry.err
        assert sim.tenant.assign_calls == 0

        applied = seatwise("reclaim", "apply", str(plan), "--yes")
        assert applied.code == 0, applied.err
        after = _show(seatwise, plan)
        assert after["status"] == "applied"
        skipped = {lic["message"] for lic in after["licences"] if lic["state"] == "skipped"}
        assert skipped <= {
            m for m in skipped if m.startswith("Nothing to remove directly: remove the user from")
        }, skipped
        assert after["states"].get("done") == len(removals), after["states"]
        for uid, skus in removals.items():
            left = _direct(sim.tenant, uid)
            assert not skus & set(left), uid
            assert set(left) == set(direct_before[uid]) - skus
            assert _grouped(sim.tenant, uid) == grouped_before[uid]
            assert sim.tenant.assign_calls_by_user[uid] == 1
        # Realised savings: 12 × 20.50 EUR per Office 365 E3 removed.
        e3 = sum(1 for skus in removals.values() if "6fd2c87f-b296-42f0-b197-1e91e994b900" in skus)
        assert e3
        assert after["realised_savings"] == {"EUR": f"{e3 * 246}.00"}

        # The next sync shows the freed units.
        assert seatwise("sync").code == 0
        positions = {
            p["sku_id"]: p for p in seatwise("licenses", "--all", "--format", "json").json()
        }
        freed: dict[str, int] = {}
        for skus in removals.values():
            for sku in skus:
                freed[sku] = freed.get(sku, 0) + 1
        for sku, count in freed.items():
            assert positions[sku]["assigned"] == before_positions[sku]["assigned"] - count, sku

        # Audit: one row per user removal with before/after and a request id.
        log = seatwise("audit", "--plan", str(plan), "--format", "json").json()
        removed = [e for e in log if e["action"] == "licence.remove" and e["outcome"] == "ok"]
        assert len(removed) == len(removals)
        assert all(e["request_id"] and e["actor"].startswith("cli:") for e in removed)
        for event in removed:
            gone = {lic["sku_id"] for lic in event["before"]} - {
                lic["sku_id"] for lic in event["after"]
            }
            assert gone == removals[event["user_id"]]
        assert {e["action"] for e in log} >= {"plan.create", "plan.approve", "licence.remove"}

        # Applying again does nothing.
        calls = sim.tenant.assign_calls
        again = seatwise("reclaim", "apply", str(plan), "--yes")
        assert again.code == 0 and "already applied" in again.err
        assert sim.tenant.assign_calls == calls

        # Undo gives back exactly the removed SKUs with their disabled plans.
        undone = seatwise("reclaim", "undo", str(plan), "--yes")
        assert undone.code == 0, undone.err
        for uid in removals:
            assert _direct(sim.tenant, uid) == direct_before[uid]
        final = _show(seatwise, plan)
        assert final["status"] == "undone" and final["realised_savings"] == {}


def test_undo_restores_disabled_plans_and_fails_alone_without_units(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=200) as sim:
        _synced(seatwise, sim)
        tenant = sim.tenant
        with_plans = [
            u
            for u in tenant.users
            if u.usage_location
            and any(s.disabled_plans and not s.assigned_by_group for s in u.licenses)
        ]
        first, second = with_plans[0], with_plans[1]
        plan = _plan(seatwise, "--user", first.upn, "--user", second.upn)
        assert seatwise("reclaim", "approve", str(plan)).code == 0
        restored = _direct(tenant, first.id)
        assert seatwise("reclaim", "apply", str(plan), "--yes").code == 0
        assert _direct(tenant, first.id) == {}
        # Someone else takes every free unit of the second user's SKUs meanwhile.
        for sku_id in _removed_skus(seatwise, plan, second.id):
            tenant.holdings[sku_id].enabled = tenant.consumed.get(sku_id, 0)
        undone = seatwise("reclaim", "undo", str(plan), "--yes")
        assert undone.code == 0, undone.err
        assert "1 done" in undone.err and "1 failed" in undone.err
        assert _direct(tenant, first.id) == restored
        shown = _show(seatwise, plan)
        failed = [lic for lic in shown["licences"] if lic["user_id"] == second.id]
        assert failed[0]["undo_state"] == "failed"
        assert shown["status"] == "applied"  # not everything is back
        log = seatwise("audit", "--format", "json").json()
        refused = [e for e in log if e["action"] == "licence.restore" and e["outcome"] == "failed"]
        assert len(refused) == 1 and "does not have any available licenses" in refused[0]["message"]


def _removed_skus(seatwise: Seatwise, plan: int, user_id: str) -> set[str]:
    return _removals(_show(seatwise, plan))[user_id]


def test_changes_since_the_plan_are_skipped(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=USERS) as sim:
        _synced(seatwise, sim)
        plan = _plan(seatwise)
        removals = _removals(_show(seatwise, plan))
        signer, changed, *_ = sorted(removals)
        sim.control(f"users/{signer}/signin")
        user = sim.tenant.users_by_id[changed]
        sim.tenant.assign_license(user, [], sorted(removals[changed])[:1])
        calls = dict(sim.tenant.assign_calls_by_user)
        assert seatwise("reclaim", "approve", str(plan)).code == 0
        assert seatwise("reclaim", "apply", str(plan), "--yes").code == 0
        shown = _show(seatwise, plan)
        state = {lic["user_id"]: (lic["state"], lic["message"]) for lic in shown["licences"]}
        assert state[signer][0] == "skipped" and "Signed in on" in state[signer][1]
        assert state[changed] == ("skipped", "Licences changed since the plan was made.")
        assert sim.tenant.assign_calls_by_user.get(signer, 0) == 0
        assert sim.tenant.assign_calls_by_user[changed] == calls[changed]  # no new call
        assert shown["states"]["done"] == len(removals) - 2


def test_throttling_during_apply_gives_the_same_result(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=USERS) as sim:
        _synced(seatwise, sim)
        plan = _plan(seatwise)
        removals = _removals(_show(seatwise, plan))
        assert seatwise("reclaim", "approve", str(plan)).code == 0
        sim.control("faults", {"spec": "throttle=0.3,retry_after=0.01"})
        applied = seatwise("reclaim", "apply", str(plan), "--yes")
        assert applied.code == 0, applied.err
        assert _show(seatwise, plan)["states"].get("done") == len(removals)
        assert all(sim.tenant.assign_calls_by_user[uid] == 1 for uid in removals)
        assert sim.tenant.assign_calls == len(removals)


def test_a_crash_between_call_and_record_does_not_remove_twice(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    """The dangerous window, made exact: Graph removed the licences but the item still says
    `sent`. The resumed apply sees it in the re-read and makes no second call."""
    with serve(tmp_path / "sim", users=200) as sim:
        _synced(seatwise, sim)
        plan = _plan(seatwise)
        removals = _removals(_show(seatwise, plan))
        victim = sorted(removals)[0]
        assert seatwise("reclaim", "approve", str(plan)).code == 0
        sim.tenant.assign_license(sim.tenant.users_by_id[victim], [], sorted(removals[victim]))
        engine = create_engine(seatwise.database_url)
        with engine.begin() as connection:
            connection.execute(
                update(ReclaimItem)
                .where(ReclaimItem.plan_pk == plan, ReclaimItem.user_id == victim)
                .values(state="sent")
            )
        engine.dispose()
        assert seatwise("reclaim", "apply", str(plan), "--yes").code == 0
        assert sim.tenant.assign_calls_by_user[victim] == 1  # the one made "before the crash"
        shown = _show(seatwise, plan)
        assert shown["states"].get("done") == len(removals)
        mine = next(lic for lic in shown["licences"] if lic["user_id"] == victim)
        assert mine["message"] == "Removal confirmed after an interrupted apply."


def test_sigkill_during_apply_then_resume_removes_each_licence_once(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=USERS) as sim:
        _synced(seatwise, sim)
        plan = _plan(seatwise)
        removals = _removals(_show(seatwise, plan))
        assert len(removals) > 20  # more than one batch
        assert seatwise("reclaim", "approve", str(plan)).code == 0
        sim.control("faults", {"spec": "latency=40ms"})
        env = {**os.environ, "COLUMNS": "120"}
        child = subprocess.Popen(
            [sys.executable, "-m", "seatwise", "reclaim", "apply", str(plan), "--yes"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while sim.tenant.assign_calls == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert 0 < sim.tenant.assign_calls < len(removals)
        sim.control("faults", {"spec": ""})
        resumed = seatwise("reclaim", "apply", str(plan), "--yes")
        assert resumed.code == 0, resumed.err
        assert _show(seatwise, plan)["states"].get("done") == len(removals)
        assert {uid: sim.tenant.assign_calls_by_user.get(uid) for uid in removals} == dict.fromkeys(
            removals, 1
        )


def test_only_managed_keeps_unmanaged_skus_and_flags_them(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=200) as sim:
        _synced(seatwise, sim)
        holder = next(
            u
            for u in sim.tenant.users
            if len({s.sku_id for s in u.licenses if not s.assigned_by_group}) >= 2
        )
        direct = sorted(_direct(sim.tenant, holder.id))
        parts = {
            p["sku_id"]: p["sku_part_number"]
            for p in seatwise("licenses", "--all", "--format", "json").json()
        }
        assert seatwise("license", "set", parts[direct[0]], "--unmanaged").code == 0
        everything = _show(seatwise, _plan(seatwise, "--user", holder.upn))
        flagged = {lic["sku_id"]: lic["action"] for lic in everything["licences"]}
        assert flagged[direct[0]] == "remove (unmanaged SKU)"
        assert everything["unmanaged_to_remove"] == 1
        narrow = _show(seatwise, _plan(seatwise, "--user", holder.upn, "--only-managed"))
        actions = {lic["sku_id"]: lic["action"] for lic in narrow["licences"]}
        assert actions[direct[0]] == "keep (unmanaged SKU, --only-managed)"
        assert actions[direct[1]] == "remove"


def test_audit_rows_cannot_be_changed_or_deleted(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=60) as sim:
        _synced(seatwise, sim)
        _plan(seatwise, "--user", next(u.upn for u in sim.tenant.users if u.licenses))
        engine = create_engine(seatwise.database_url)
        try:
            with engine.connect() as connection:
                actions = set(connection.scalars(select(AuditEvent.action)))
                assert {"tenant.register", "plan.create"} <= actions
            statements = ["UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"]
            if engine.dialect.name == "postgresql":
                statements.append("TRUNCATE audit_event")
            for statement in statements:
                with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                    connection.execute(text(statement))
        finally:
            engine.dispose()


def test_bad_requests_get_one_sentence(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=60) as sim:
        _synced(seatwise, sim)
        missing = seatwise("reclaim", "show", "42")
        assert missing.code == 2 and "no reclamation plan 42" in missing.err
        nobody = seatwise("reclaim", "plan", "--user", "nobody@example.com")
        assert nobody.code == 2 and "no user 'nobody@example.com'" in nobody.err
        rule = seatwise("reclaim", "plan", "--rule", "nope")
        assert rule.code == 2 and "Unknown rule 'nope'" in rule.err
        plan = _plan(seatwise, "--user", next(u.upn for u in sim.tenant.users if u.licenses))
        assert seatwise("reclaim", "undo", str(plan), "--yes").code == 5
        assert seatwise("reclaim", "approve", str(plan)).code == 0
        twice = seatwise("reclaim", "approve", str(plan))
        assert twice.code == 5 and "only a draft plan" in twice.err
        assert "Traceback" not in missing.err + nobody.err + rule.err + twice.err


def test_an_interrupted_removal_is_confirmed_even_if_the_user_changed_since(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    """Graph removed the licences, the item still says `sent`, and meanwhile the user got
    another licence: the resume records the removal as done, without a second call."""
    with serve(tmp_path / "sim", users=200) as sim:
        _synced(seatwise, sim)
        plan = _plan(seatwise)
        removals = _removals(_show(seatwise, plan))
        victim = sorted(removals)[0]
        assert seatwise("reclaim", "approve", str(plan)).code == 0
        user = sim.tenant.users_by_id[victim]
        sim.tenant.assign_license(user, [], sorted(removals[victim]))
        other = next(
            sku for sku in sorted(sim.tenant.holdings)
            if sku not in removals[victim] and sim.tenant.available(sku) > 0
            and sku not in {s.sku_id for s in user.licenses}
        )  # fmt: skip
        user.usage_location = user.usage_location or "US"
        sim.tenant.assign_license(user, [{"skuId": other}], [])
        engine = create_engine(seatwise.database_url)
        with engine.begin() as connection:
            connection.execute(
                update(ReclaimItem)
                .where(ReclaimItem.plan_pk == plan, ReclaimItem.user_id == victim)
                .values(state="sent")
            )
        engine.dispose()
        assert seatwise("reclaim", "apply", str(plan), "--yes").code == 0
        assert sim.tenant.assign_calls_by_user[victim] == 2  # the two made by the test
        mine = next(lic for lic in _show(seatwise, plan)["licences"] if lic["user_id"] == victim)
        assert mine["state"] == "done"
        assert mine["message"] == "Removal confirmed after an interrupted apply."


def test_a_user_left_unsettled_exits_4_and_the_next_run_finishes(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=120) as sim:
        _synced(seatwise, sim)
        holder = next(
            u for u in sim.tenant.users if any(not s.assigned_by_group for s in u.licenses)
        )
        plan = _plan(seatwise, "--user", holder.upn)
        assert seatwise("reclaim", "approve", str(plan)).code == 0
        sim.control("faults", {"spec": "throttle=1.0,retry_after=0.01"})  # Graph refuses all
        stuck = seatwise("reclaim", "apply", str(plan), "--yes")
        assert stuck.code == 4 and "run `seatwise reclaim apply" in stuck.err
        assert _show(seatwise, plan)["status"] == "applying"
        early = seatwise("reclaim", "undo", str(plan), "--yes")
        assert early.code == 5 and "still being applied" in early.err
        sim.control("faults", {"spec": ""})
        assert seatwise("reclaim", "apply", str(plan), "--yes").code == 0
        assert _show(seatwise, plan)["states"] == {"done": 1}
        assert sim.tenant.assign_calls_by_user[holder.id] == 1


def test_a_sku_also_held_through_a_group_frees_nothing_and_saves_nothing(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=300) as sim:
        _synced(seatwise, sim)
        both = next(
            (u, s.sku_id)
            for u in sim.tenant.users
            for s in u.licenses
            if not s.assigned_by_group
            and any(g.sku_id == s.sku_id and g.assigned_by_group for g in u.licenses)
        )
        user, sku = both
        part = next(
            p["sku_part_number"]
            for p in seatwise("licenses", "--all", "--format", "json").json()
            if p["sku_id"] == sku
        )
        priced = seatwise(
            "license", "set", part, "--cost", "10", "--currency", "EUR",
            "--payment-frequency", "annual", "--effective-date", "2026-01-01",
            "--expiration-date", "2027-01-01",
        )  # fmt: skip
        assert priced.code == 0, priced.err
        shown = _show(seatwise, _plan(seatwise, "--user", user.upn))
        assert "EUR" not in shown["annual_savings"]
