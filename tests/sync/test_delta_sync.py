"""The roster through `/users/delta`: later runs apply only what changed (edits, joiners,
soft-deleted and permanently deleted users), an expired delta link falls back to a full round
with a note, and after several working days of churn a delta-based sync equals a fresh full
sync of the same tenant, user for user (SQLite and PostgreSQL).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from seatwise.store.schema import TaskRun, User

from .conftest import Seatwise, _postgres_schema_url, execute, query, serve


def _runs(database_url: str, task: str) -> list[tuple[dict[str, int], list[str]]]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(TaskRun.counts, TaskRun.notes)
            .where(TaskRun.task == task, TaskRun.status == "succeeded")
            .order_by(TaskRun.pk)
        ).all()
    engine.dispose()
    return [(dict(counts), list(notes)) for counts, notes in rows]


def _users(seatwise: Seatwise) -> dict[str, dict[str, Any]]:
    result = seatwise("users", "--format", "json")
    assert result.code == 0, result.err
    return {u["id"]: u for u in result.json()}


def test_later_runs_apply_only_what_changed(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim") as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        tenant = sim.tenant
        edited, left, purged = [u for u in tenant.users[10:] if u.licenses and u.kind == "person"][
            :3
        ]
        edited.job_title = "Head of Delta"
        tenant._changed(edited)
        sim.control(f"users/{left.id}/delete")
        sim.control(f"users/{purged.id}/purge")
        changed = sim.control("churn", {"fraction": 0.05})["changed"]
        synced = seatwise("sync")
        assert synced.code == 0, synced.err
        users = _users(seatwise)
        live = {u.id for u in tenant.users}
    assert {uid for uid, u in users.items() if u["deactivated_date"] is None} == live
    assert users[edited.id]["title"] == "Head of Delta"
    assert users[left.id]["deactivated_date"] is not None
    assert users[left.id]["licenses"]  # soft-deleted: last licences kept for reclamation
    assert users[purged.id]["deactivated_date"] is not None
    assert users[purged.id]["licenses"] == []  # gone for good: nothing left to reclaim
    (first, _), (second, notes) = _runs(seatwise.database_url, "roster")
    assert first["users read"] == len(live) + 2 + changed["leave"] - changed["join"]
    assert "users read" not in second  # no full round
    # the delta round lists edits, joiners and licence changes (sign-ins are not in delta)
    assert 3 <= second["users changed"] <= 3 + sum(changed.values())
    assert second["users deleted"] == 2 + changed["leave"]
    assert second["sign-ins read"] < first["sign-ins read"] == len(live) + 2 - changed["join"]
    assert not any("full round" in n for n in notes)


def test_the_first_run_reads_every_user_once_with_sign_ins(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=60) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync", "--task", "roster").code == 0
        calls = sim.stats()["calls"]
        tenant = sim.tenant
        signed_in = {u.id for u in tenant.users if tenant.last_sign_in(u) is not None}
        everyone = len(tenant.users)
        engine = create_engine(seatwise.database_url)
        with engine.connect() as conn:
            stored = set(
                conn.execute(select(User.id).where(User.last_sign_in.is_not(None))).scalars()
            )
        engine.dispose()
        sim.control("churn", {"fraction": 0.1})
        assert seatwise("sync", "--task", "roster").code == 0
        later = sim.stats()["calls"]
    # one delta call for a link from now on, one enumeration of /users with signInActivity
    assert calls["users.delta"] == 1
    assert calls["users"] == 1  # 60 users: one page
    assert stored == signed_in
    first = _runs(seatwise.database_url, "roster")[0][0]
    assert first["users read"] == first["sign-ins read"] == everyone
    assert later["users.delta"] == 2  # the second run follows the link


def test_a_refused_delta_link_falls_back_to_a_full_round(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=60) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        sim.control("churn", {"fraction": 0.1})
        sim.control("delta/expire")
        synced = seatwise("sync")
        assert synced.code == 0, synced.err
        users = _users(seatwise)
        live = {u.id for u in sim.tenant.users}
        again = seatwise("sync")  # the new link works
    assert "full round" in synced.err
    assert {uid for uid, u in users.items() if u["deactivated_date"] is None} == live
    runs = _runs(seatwise.database_url, "roster")
    assert any("full round" in n for n in runs[1][1])
    assert runs[1][0]["users read"] == len(live)
    assert again.code == 0 and "users read" not in runs[2][0]


def test_delta_sync_equals_a_fresh_full_sync_after_churn(
    seatwise: Seatwise, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    # the server of this test's PostgreSQL schema (the fixture's URL, less its search_path)
    base = database_url.split("options=-csearch_path")[0].rstrip("?&")
    with serve(tmp_path / "sim", users=300) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        for days in (0, 0, 1):  # two working days' churn, then the next day's reports too
            if days:
                sim.control("clock", {"advance_days": days})
            sim.control("churn", {"fraction": 0.05})
            synced = seatwise("sync")
            assert synced.code == 0, synced.err
        incremental = _users(seatwise)
        with contextlib.ExitStack() as stack:
            if database_url.startswith("sqlite"):
                fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
            else:
                fresh_url = stack.enter_context(
                    contextlib.contextmanager(_postgres_schema_url)(base)
                )
            fresh = Seatwise(monkeypatch, tmp_path / "fresh-data", fresh_url)
            assert fresh.add_app_only(sim).code == 0
            assert fresh("sync").code == 0
            full = _users(fresh)
            live = {u.id for u in sim.tenant.users}
            usage_sql = (
                "SELECT sku_id, service, holders, active_users, as_of FROM license_usage "
                "ORDER BY sku_id, service"
            )
            usage = query(seatwise.database_url, usage_sql)
            fresh_usage = query(fresh.database_url, usage_sql)
    rosters = _runs(seatwise.database_url, "roster")
    assert all("users read" not in counts for counts, _ in rosters[1:])  # delta, not full
    derived = _runs(seatwise.database_url, "differentiation")
    # after a churn round on the same day only the users whose rows changed were derived again
    assert all(0 < c["user summaries derived again"] < len(live) for c, _ in derived[1:3])
    assert usage == fresh_usage and usage
    current = {uid: u for uid, u in incremental.items() if u["deactivated_date"] is None}
    assert set(current) == set(full) == live
    assert len(incremental) > len(current)  # leavers are kept, marked
    for user_id in sorted(live):
        assert current[user_id] == full[user_id], user_id


def test_an_unchanged_tenant_is_read_but_nothing_is_rewritten(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=80) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        before = _users(seatwise)
        again = seatwise("sync")
        assert again.code == 0, again.err
        unchanged = _users(seatwise)
        sim.control("clock", {"advance_days": 1})  # the next day's reports
        next_day = seatwise("sync")
        assert next_day.code == 0, next_day.err
    assert unchanged == before
    (_, (roster, _), (roster_next, _)) = _runs(seatwise.database_url, "roster")
    (_, (access, _), (access_next, _)) = _runs(seatwise.database_url, "access")
    runs = _runs(seatwise.database_url, "differentiation")
    # the same report files matched to the same users: not parsed, nothing written
    assert roster["reports unchanged"] == 4 and not any(k.startswith("rows:") for k in roster)
    assert access["reports unchanged"] == 2 and access.get("activity written", 0) == 0
    assert not any(v for k, v in roster.items() if k.endswith(" written"))
    assert any("Nothing this task reads changed" in n for n in runs[1][1])
    assert runs[1][0] == {}
    # a new day: new report files, read and stored, and the Users view derived again
    assert "reports unchanged" not in roster_next and roster_next["snapshots written"] > 0
    assert "reports unchanged" not in access_next and access_next["activity written"] > 0
    assert not any("Nothing this task reads changed" in n for n in runs[2][1])
    assert runs[2][0]["user summaries written"] > 0


def test_a_renamed_user_makes_reports_be_matched_again(seatwise: Seatwise, tmp_path: Path) -> None:
    def upn_changes() -> int:
        rows = query(
            seatwise.database_url, "SELECT value FROM sync_cursor WHERE name = 'upns-changed'"
        )
        return int(rows[0][0]) if rows else 0

    with serve(tmp_path / "sim", users=60) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync", "--task", "roster").code == 0
        after_first = upn_changes()
        assert seatwise("sync", "--task", "roster").code == 0
        unchanged = upn_changes()
        tenant = sim.tenant
        user = next(u for u in tenant.users[5:] if u.kind == "person")
        tenant.users_by_upn.pop(user.upn.lower())
        user.upn = f"renamed.{user.upn}"
        tenant.users_by_upn[user.upn.lower()] = user
        tenant._changed(user)
        assert seatwise("sync", "--task", "roster").code == 0
        renamed = upn_changes()
    assert after_first == unchanged == 1  # a whole read, then a round with no rename
    assert renamed == 2
    runs = _runs(seatwise.database_url, "roster")
    assert runs[1][0]["reports unchanged"] == 4
    assert "reports unchanged" not in runs[2][0]


USAGE_SQL = (
    "SELECT sku_id, service, holders, active_users, as_of FROM license_usage "
    "ORDER BY sku_id, service"
)


def test_changed_service_plans_make_every_holder_counted_again(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    url = seatwise.database_url
    with serve(tmp_path / "sim", users=80) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        expected = query(url, USAGE_SQL)
        # the counts derived from plans other than Graph lists: the Teams plans left the store
        execute(
            url,
            "DELETE FROM sku_plan WHERE plan_name LIKE 'TEAMS%'",
            "UPDATE sync_cursor SET value = '*' WHERE name = 'derived-dirty'",
            "DELETE FROM sync_cursor WHERE name = 'derived-from'",
        )
        assert seatwise("sync", "--task", "differentiation").code == 0
        without_teams = query(url, USAGE_SQL)
        # the next sync stores the plans Graph lists again: every holder is counted again
        synced = seatwise("sync")
        assert synced.code == 0, synced.err
        again = query(url, USAGE_SQL)
    assert "Teams" in {row[1] for row in expected}
    assert "Teams" not in {row[1] for row in without_teams}
    assert again == expected


def test_counts_that_do_not_add_up_are_derived_from_every_user(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    url = seatwise.database_url
    with serve(tmp_path / "sim", users=80) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        expected = query(url, USAGE_SQL)
        holder = next(u.id for u in sim.tenant.users if u.licenses)
        garbled = (
            "not json",
            '{"pairs": [], "reports": {}}',  # the licensed user's share is not in it
            '{"pairs": [["x", 99, 1, {}]], "reports": {}}',  # no such service
            '{"pairs": [], "reports": {"not a day": 1}}',
        )
        for counts in garbled:
            # the next run takes one licensed user out of counts that do not hold them
            execute(
                url,
                f"UPDATE sync_cursor SET value = '{counts}' WHERE name = 'derived-counts'",
                f"""UPDATE sync_cursor SET value = '["{holder}"]' WHERE name = 'derived-dirty'""",
                "UPDATE sync_cursor SET value = value || '0' WHERE name = 'derived-inputs'",
            )
            synced = seatwise("sync", "--task", "differentiation")
            assert synced.code == 0, synced.err
            assert query(url, USAGE_SQL) == expected, counts
    runs = _runs(url, "differentiation")
    assert len(runs) == 1 + len(garbled)
    assert all("user summaries derived again" not in c for c, _ in runs)  # every user, each time
