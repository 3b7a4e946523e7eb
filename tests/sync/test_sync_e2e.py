"""The four integration tasks end to end: seatwise's CLI against the simulator over real HTTPS,
into a real database, then `seatwise users --format json` compared with the simulated tenant.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select

from seatwise.analytics.users import KEYS
from seatwise.services import SERVICES
from seatwise.store.schema import TaskRun

from .conftest import Seatwise, execute, serve


def _expected_mfa(user) -> bool | None:  # type: ignore[no-untyped-def]
    if not user.account_enabled:
        return None  # the registration report leaves disabled users out
    return any(m != "email" for m in user.mfa_methods)


def test_app_only_sync_matches_the_tenant(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim") as sim:
        assert seatwise.add_app_only(sim).code == 0
        synced = seatwise("sync")
        assert synced.code == 0, synced.err
        users = seatwise("users", "--format", "json")
    assert users.code == 0, users.err
    records = {r["id"]: r for r in users.json()}
    tenant = sim.tenant
    assert set(records) == {u.id for u in tenant.users}
    today = tenant.today.isoformat()
    for user in tenant.users:
        record = records[user.id]
        assert list(record) == list(KEYS)
        assert record["upn"] == user.upn
        assert record["email"] == user.mail
        assert (record["first_name"], record["last_name"]) == (user.given_name, user.surname)
        assert record["display_name"] == user.display_name
        assert record["block_credentials"] is (not user.account_enabled)
        assert record["guest"] is (user.user_type == "Guest")
        assert record["title"] == user.job_title and record["country"] == user.country
        assert record["on_premises_sync"] is bool(user.on_premises_sync)
        assert record["account_created"][:19] == user.created.isoformat()[:19]
        assert {(lic["sku_id"], lic["assigned_by_group"]) for lic in record["licenses"]} == {
            (s.sku_id, s.assigned_by_group) for s in user.licenses
        }
        assert record["mfa_enabled"] == _expected_mfa(user)
        if not user.rates:
            assert record["last_activity"] is None
        if record["last_activity"] is not None:
            assert record["last_activity"] <= today  # sign-in logs run ahead of reports
            assert record["last_used_app"] in SERVICES
            assert record["days_since_last_activity"] >= 0
        if record["mail_usage_mb"] is not None and user.mailbox_mb:
            # the simulator caps storage at the mailbox quota (2 GB for F3/Kiosk)
            expected = user.mailbox_mb if user.mailbox_mb < 1900 else record["mail_usage_mb"]
            assert abs(record["mail_usage_mb"] - expected) < 1.0
            assert record["mail_usage_mb"] <= user.mailbox_mb + 1


def test_rerun_on_unchanged_tenant_writes_nothing(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.add_app_only(sim)
        assert seatwise("sync").code == 0
        first = seatwise("users", "--format", "json").out
        assert seatwise("sync").code == 0
        second = seatwise("users", "--format", "json").out
    assert first == second
    engine = create_engine(seatwise.database_url)
    with engine.connect() as conn:
        runs = conn.execute(
            select(TaskRun.task, TaskRun.counts, TaskRun.started_at).order_by(TaskRun.pk)
        ).all()
    engine.dispose()
    assert len(runs) == 8
    first_day = {task: started.date() for task, _, started in runs[:4]}
    for task, counts, started in runs[4:]:
        written = {
            k: v for k, v in counts.items() if "written" in k or "retired" in k or "pruned" in k
        }
        if started.date() != first_day[task]:  # the runs straddled midnight (UTC): a new day
            written.pop("sku history written", None)
        assert not any(written.values()), (task, written)


def test_faults_give_the_same_result(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "clean") as sim:
        seatwise.add_app_only(sim, "clean")
        assert seatwise("sync", "--tenant", "clean").code == 0
        clean = seatwise("users", "--tenant", "clean", "--format", "json").json()
    with serve(tmp_path / "faulty") as sim:
        sim.control("faults", {"spec": "throttle=0.2,unavailable=0.05,reset=0.02,retry_after=0.05"})
        # The same Microsoft 365 tenant (same seed): registered anew, it supersedes the first.
        assert seatwise.add_app_only(sim, "faulty", "--supersede", "clean").code == 0
        synced = seatwise("sync", "--tenant", "faulty")
        assert synced.code == 0, synced.err
        faulty = seatwise("users", "--tenant", "faulty", "--format", "json").json()
        injected = sim.control("faults", {})["injected"]
    assert sum(injected.values()) > 5
    assert faulty == clean


def test_failed_run_keeps_good_data_and_names_the_permission(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.add_app_only(sim)
        assert seatwise("sync").code == 0
        before = seatwise("users", "--format", "json").out
        sim.tenant.app.application_permissions.discard("AuditLog.Read.All")
        sim.control("tokens/expire")
        failed = seatwise("sync", "--task", "roster")
        after = seatwise("users", "--format", "json").out
        tasks = seatwise("tasks")
    assert failed.code == 3
    assert "needs permission AuditLog.Read.All" in failed.err
    assert "seatwise connect sim" in failed.err
    assert "Traceback" not in failed.err
    assert after == before
    assert "failed" in tasks.out and "AuditLog.Read.All" in tasks.out


def test_tenant_without_p1_degrades_with_a_note(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", premium=False) as sim:
        seatwise.add_app_only(sim)
        synced = seatwise("sync")
        users = seatwise("users", "--format", "json").json()
    assert synced.code == 0, synced.err
    assert "no Microsoft Entra ID P1" in synced.err
    assert all(u["last_sign_in"] is None and u["mfa_enabled"] is None for u in users)
    assert any(u["last_activity"] for u in users)


def test_concealed_names_are_detected_not_matched(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", concealed_names=True) as sim:
        seatwise.add_app_only(sim)
        synced = seatwise("sync")
        users = seatwise("users", "--format", "json").json()
    assert synced.code == 0, synced.err
    assert "concealed" in synced.err
    assert len(users) == len(sim.tenant.users)
    assert all(u["mail_usage_mb"] is None for u in users)


def test_token_expiry_mid_sync(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.add_app_only(sim)
        sim.control("settings", {"token_lifetime_s": 0.3})
        synced = seatwise("sync")
    assert synced.code == 0, synced.err


def test_secrets_never_stored_in_plain_text(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.add_app_only(sim)
        assert seatwise("sync").code == 0
    if seatwise.database_url.startswith("sqlite"):
        data = Path(seatwise.database_url.removeprefix("sqlite:///")).read_bytes()
        for suffix in ("-wal", "-shm"):
            extra = Path(seatwise.database_url.removeprefix("sqlite:///") + suffix)
            if extra.exists():
                data += extra.read_bytes()
        assert sim.tenant.app.client_secret.encode() not in data


def test_deleted_users_are_marked_not_dropped(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.add_app_only(sim)
        assert seatwise("sync").code == 0
        gone = next(u for u in sim.tenant.users if u.licenses and u.kind == "person")
        sim.control(f"users/{gone.id}/delete")
        assert seatwise("sync").code == 0
        users = {u["id"]: u for u in seatwise("users", "--format", "json").json()}
    assert len(users) == len(sim.tenant.users) + 1
    # the day seatwise saw the user gone (the sync's own clock, not the simulator's)
    assert users[gone.id]["deactivated_date"] >= sim.tenant.today.isoformat()
    assert users[gone.id]["licenses"]  # last known licences are kept for reclamation
    assert all(u["deactivated_date"] is None for uid, u in users.items() if uid != gone.id)


def test_a_deactivated_tenant_is_not_synced(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=30) as sim:
        assert seatwise.add_app_only(sim).code == 0
        execute(seatwise.database_url, "UPDATE tenant SET active = false")
        refused = seatwise("sync")
        assert refused.code == 2 and "is deactivated" in refused.err
        assert "Traceback" not in refused.err
