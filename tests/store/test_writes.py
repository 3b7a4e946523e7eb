"""Write helpers on both back ends: upserts, child replacement, soft deletes, cascades, runs."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from seatwise.store import reads, writes
from seatwise.store.engine import session_scope
from seatwise.store.schema import (
    Activation,
    LicenseAssignment,
    LicenseContract,
    LicenseUsage,
    ServiceActivity,
    Sku,
    SkuPlan,
    SyncCursor,
    TaskRun,
    Tenant,
    UsageSnapshot,
    User,
    metadata,
)

from .conftest import NOW, TODAY, add_tenant, count

USER_KEY = ("tenant_pk", "id")


def user_row(tenant_pk: int, n: int, **changes: Any) -> dict[str, Any]:
    """A user row as the sync would write it, with a fingerprint of its Graph facts."""
    row: dict[str, Any] = {
        "tenant_pk": tenant_pk,
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "upn": f"user{n}@contoso.test",
        "mail": f"user{n}@contoso.test",
        "display_name": f"User {n}",
        "account_enabled": True,
        "created_at": NOW - timedelta(days=n),
        "last_sign_in": NOW - timedelta(hours=n),
        "mfa_methods": ["microsoftAuthenticatorPush"] if n % 2 else None,
        "first_seen": TODAY,
        "deleted_at": None,
        "kind": "person",
    }
    row.update(changes)
    facts = repr(sorted((k, v) for k, v in row.items() if k not in ("first_seen", "deleted_at")))
    row["fingerprint"] = hashlib.sha256(facts.encode()).hexdigest()
    return row


def assignment(
    tenant_pk: int, n: int, sku: str = "sku-e3", via: str = "", **changes: Any
) -> dict[str, Any]:
    """A direct (or, with `via`, group-inherited) licence of user `n`."""
    row: dict[str, Any] = {
        "tenant_pk": tenant_pk,
        "user_id": user_row(tenant_pk, n)["id"],
        "sku_id": sku,
        "via": via,
        "disabled_plans": [],
        "state": "Active",
        "error": None,
        "last_updated": NOW,
    }
    row.update(changes)
    return row


def upsert_users(engine: Engine, rows: list[dict[str, Any]], **options: Any) -> int:
    update = options.pop(
        "update_columns", [c for c in rows[0] if c not in (*USER_KEY, "first_seen")]
    )
    with session_scope(engine) as session:
        return writes.upsert_rows(session, User, rows, USER_KEY, update, **options)


@pytest.fixture
def tenant(engine: Engine) -> int:
    with session_scope(engine) as session:
        return add_tenant(session)


def test_upsert_inserts_updates_and_then_changes_nothing(engine: Engine, tenant: int) -> None:
    rows = [user_row(tenant, n) for n in range(2500)]  # more than one chunk
    assert upsert_users(engine, rows) == 2500
    assert upsert_users(engine, rows) == 0  # identical: nothing rewritten

    changed = list(rows)
    changed[7] = user_row(tenant, 7, display_name="Renamed", first_seen=TODAY + timedelta(1))
    changed[2400] = user_row(tenant, 2400, mfa_methods=["fido2"])  # a JSON column
    assert upsert_users(engine, changed) == 2
    assert upsert_users(engine, changed) == 0

    with session_scope(engine) as session:
        seven = session.get_one(User, (tenant, rows[7]["id"]))
        other = session.get_one(User, (tenant, rows[2400]["id"]))
        assert seven.display_name == "Renamed" and seven.fingerprint == changed[7]["fingerprint"]
        assert seven.first_seen == TODAY  # not among the update columns: kept
        assert other.mfa_methods == ["fido2"]
        assert session.scalar(select(User.mfa_methods).where(User.id == rows[0]["id"])) is None
    assert count(engine, "user", "mfa_methods IS NULL") == 1249  # None is SQL NULL, not 'null'


TEXTS = ["", "007", "1e3", 'Zoë 李 "quoted" \\ back', "true", "null", "   "]
TYPED_COLUMNS = (
    "tenant_pk",
    "id",
    "upn",
    "display_name",
    "account_enabled",
    "created_at",
    "first_seen",
    "mfa_methods",
    "fingerprint",
)


def typed_rows(tenant_pk: int, count: int, renamed: int | None = None) -> list[tuple[Any, ...]]:
    """`count` user rows in key order, of every type the user table binds."""
    made = []
    for n in range(count):
        text = TEXTS[n % len(TEXTS)]
        name = "Renamed" if n == renamed else text
        flag = None if n % 3 == 0 else n % 2 == 0
        made.append((tenant_pk, f"id-{n:05d}", f"u{n}@x.test", name, flag, NOW, TODAY, [text], "f"))
    return made


def stored_typed(engine: Engine, tenant_pk: int) -> list[Any]:
    """The tenant's users as stored (with each value's SQLite type)."""
    listed = ", ".join(TYPED_COLUMNS[1:])
    typed = ", ".join(f"{c}, typeof({c})" for c in TYPED_COLUMNS[1:])
    query = f'SELECT {typed if engine.dialect.name == "sqlite" else listed} FROM "user"'
    with engine.connect() as connection:
        return list(
            connection.exec_driver_sql(f"{query} WHERE tenant_pk = {tenant_pk} ORDER BY id").all()
        )


def test_one_statement_upserts_store_what_executemany_stores(engine: Engine) -> None:
    """`one_statement` (SQLite: the rows as one JSON parameter) stores the same values, of
    the same types, as a row at a time; changes and counts alike; ignored elsewhere."""
    with session_scope(engine) as session:
        tenants = [add_tenant(session, "row-by-row"), add_tenant(session, "one-statement")]
    count = 5600  # more than one chunk of either way
    assert count > writes.JSON_CHUNK_ROWS

    def upsert(tenant_pk: int, one: bool, renamed: int | None = None) -> int:
        rows = typed_rows(tenant_pk, count, renamed)
        with session_scope(engine) as session:
            return writes.upsert_tuples(
                session, User, TYPED_COLUMNS, rows, USER_KEY, one_statement=one
            )

    for renamed, expected in ((None, count), (None, 0), (7, 1)):
        written = [upsert(pk, one, renamed) for pk, one in zip(tenants, (False, True), strict=True)]
        assert written == [expected, expected]
    stored = [stored_typed(engine, pk) for pk in tenants]
    assert stored[0] == stored[1]
    assert len(stored[0]) == count


def test_rows_bound_ahead_are_stored_as_rows_bound_when_written(engine: Engine) -> None:
    """`json_rows` made ahead (on SQLite; None elsewhere) and given as `as_json` stores what
    binding at the write stores; rows with a key twice are put in order (the last listing
    kept) and bound again, not sent as made."""
    with session_scope(engine) as session:
        tenants = [add_tenant(session, "bound-when-written"), add_tenant(session, "bound-ahead")]
    dialect = engine.dialect

    def upsert(tenant_pk: int, rows: list[tuple[Any, ...]], ahead: bool) -> int:
        made = writes.json_rows(dialect, User, TYPED_COLUMNS, rows) if ahead else None
        assert (made is not None) == (ahead and dialect.name == "sqlite")
        with session_scope(engine) as session:
            return writes.upsert_tuples(
                session, User, TYPED_COLUMNS, rows, USER_KEY, one_statement=True, as_json=made
            )

    # all new; user 3 renamed; user 3 back, user 5 renamed and user 0 listed twice, renamed
    for renamed, twice, expected in ((None, False, 120), (3, False, 1), (5, True, 3)):
        written = []
        for pk, ahead in zip(tenants, (False, True), strict=True):
            rows = typed_rows(pk, 120, renamed)
            if twice:  # user 0 listed first as "First", last as "Again": stored as "Again"
                first, again = ((*rows[0][:3], name, *rows[0][4:]) for name in ("First", "Again"))
                rows = [first, *rows[1:], again]
            written.append(upsert(pk, rows, ahead))
        assert written[0] == written[1] == expected
        assert stored_typed(engine, tenants[0]) == stored_typed(engine, tenants[1])
    assert writes.json_rows(dialect, User, TYPED_COLUMNS, typed_rows(1, 5001)) is None


def test_one_statement_goes_row_by_row_where_json_would_not_carry_the_rows(
    engine: Engine,
) -> None:
    """Rows `one_statement` cannot send as JSON exactly go as a row at a time, with the same
    result: Python-side column defaults (Activation's counts) are stored; an integer too large
    for the column (on SQLite past 63 bits, which its JSON would read as a real) and text that
    is not UTF-8 fail alike."""
    with session_scope(engine) as session:
        tenant = add_tenant(session)
    upsert_users(engine, [user_row(tenant, 1)])
    uid = user_row(tenant, 1)["id"]
    too_large = 2**63 if engine.dialect.name == "sqlite" else 2**31

    def upsert(table: Any, columns: tuple[str, ...], row: tuple[Any, ...], one: bool) -> int:
        key = tuple(c.name for c in table.__table__.primary_key.columns)
        with session_scope(engine) as session:
            return writes.upsert_tuples(session, table, columns, [row], key, one_statement=one)

    errors: dict[bool, list[type[BaseException]]] = {False: [], True: []}
    for one in (False, True):
        defaults = (tenant, uid, f"defaults {one}")
        assert upsert(Activation, ("tenant_pk", "user_id", "product_type"), defaults, one) == 1
        usage = ("tenant_pk", "sku_id", "service", "holders", "active_users")
        for table, columns, row in (
            (LicenseUsage, usage, (tenant, f"sku-{one}", "Teams", too_large, 0)),
            (
                User,
                (*USER_KEY, "upn", "created_at", "fingerprint"),
                (tenant, "u", "\ud800", NOW, "f"),
            ),
        ):
            with pytest.raises(Exception) as raised:
                upsert(table, columns, row, one)
            errors[one].append(type(raised.value))
    assert errors[False] == errors[True]
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT windows, mac FROM activation").all()
    assert [tuple(row) for row in stored] == [(0, 0), (0, 0)]


def test_upsert_compares_only_what_it_is_told(engine: Engine, tenant: int) -> None:
    rows = [user_row(tenant, n) for n in range(3)]
    upsert_users(engine, rows)
    same_fingerprint = [dict(row, display_name="Not compared") for row in rows]
    assert upsert_users(engine, same_fingerprint, compare_columns=["fingerprint"]) == 0
    assert upsert_users(engine, same_fingerprint) == 3


def test_bookkeeping_columns_alone_do_not_rewrite_a_row(engine: Engine, tenant: int) -> None:
    def sku(consumed: int, updated_at: Any) -> dict[str, Any]:
        return {
            "tenant_pk": tenant,
            "sku_id": "sku-e3",
            "part_number": "ENTERPRISEPACK",
            "enabled": 25,
            "consumed": consumed,
            "fingerprint": f"f{consumed}",
            "updated_at": updated_at,
        }

    with session_scope(engine) as session:
        key = ("tenant_pk", "sku_id")
        assert writes.upsert_rows(session, Sku, [sku(10, NOW)], key) == 1
        assert writes.upsert_rows(session, Sku, [sku(10, NOW + timedelta(days=1))], key) == 0
        assert writes.upsert_rows(session, Sku, [sku(11, NOW + timedelta(days=2))], key) == 1
    with session_scope(engine) as session:
        stored = session.get_one(Sku, (tenant, "sku-e3"))
    assert (stored.consumed, stored.updated_at) == (11, NOW + timedelta(days=2))
    assert stored.retired is False and stored.suspended == 0  # server defaults


def test_upsert_keeps_the_last_of_duplicate_keys(engine: Engine, tenant: int) -> None:
    rows = [user_row(tenant, 1), user_row(tenant, 1, display_name="Last")]
    assert upsert_users(engine, rows) == 1
    with session_scope(engine) as session:
        assert session.get_one(User, (tenant, rows[0]["id"])).display_name == "Last"


def test_upsert_without_update_columns_inserts_or_ignores(engine: Engine, tenant: int) -> None:
    upsert_users(engine, [user_row(tenant, 1)])
    rows = [user_row(tenant, 1, display_name="Ignored"), user_row(tenant, 2)]
    assert upsert_users(engine, rows, update_columns=[]) == 1
    with session_scope(engine) as session:
        assert session.get_one(User, (tenant, rows[0]["id"])).display_name == "User 1"


def test_upsert_refuses_ragged_or_unknown_columns(engine: Engine, tenant: int) -> None:
    row = user_row(tenant, 1)
    with pytest.raises(ValueError, match="same columns"):
        upsert_users(engine, [row, {k: v for k, v in row.items() if k != "mail"}])
    with pytest.raises(ValueError, match="no column"):
        upsert_users(engine, [dict(row, shoe_size=44)])
    with pytest.raises(ValueError, match="lack key"):
        upsert_users(engine, [{k: v for k, v in row.items() if k != "id"}])
    with session_scope(engine) as session:
        assert writes.upsert_rows(session, User, [], USER_KEY) == 0


def test_tenants_live_side_by_side(engine: Engine, tenant: int) -> None:
    with session_scope(engine) as session:
        other = add_tenant(session, "fabrikam")
    upsert_users(engine, [user_row(tenant, 1), user_row(other, 1, display_name="Fabrikam's")])
    with session_scope(engine) as session:
        names = session.scalars(select(User.display_name).order_by(User.tenant_pk)).all()
    assert names == ["User 1", "Fabrikam's"]


def test_replace_children_diffs_against_what_is_stored(engine: Engine, tenant: int) -> None:
    upsert_users(engine, [user_row(tenant, n) for n in range(1, 5)])
    ids = [user_row(tenant, n)["id"] for n in range(1, 5)]
    rows = [assignment(tenant, n) for n in range(1, 5)] + [
        assignment(tenant, 1, "sku-pbi", via="group-1", disabled_plans=["plan-a"])
    ]

    def replace(user_ids: list[str], new: list[dict[str, Any]]) -> writes.Changes:
        with session_scope(engine) as session:
            return writes.replace_children(session, LicenseAssignment, tenant, user_ids, new)

    assert replace(ids, rows) == (5, 0, 0)
    assert replace(ids, rows).total == 0  # unchanged: nothing written
    # User 2 loses the licence, user 3's plans change, user 4 is not being replaced.
    new = [r for r in rows if r["user_id"] != ids[1] and r["user_id"] != ids[3]]
    assert new[1]["user_id"] == ids[2]
    new[1] = dict(new[1], disabled_plans=["plan-x"])  # user 3
    assert replace(ids[:3], new) == (0, 1, 1)
    with session_scope(engine) as session:
        held = session.execute(
            select(LicenseAssignment.user_id, LicenseAssignment.sku_id, LicenseAssignment.via)
        ).all()
        plans = session.scalar(
            select(LicenseAssignment.disabled_plans).where(LicenseAssignment.user_id == ids[2])
        )
    assert sorted(held) == sorted(
        [(ids[0], "sku-e3", ""), (ids[0], "sku-pbi", "group-1"), (ids[2], "sku-e3", "")]
        + [(ids[3], "sku-e3", "")]
    )
    assert plans == ["plan-x"]


def test_replace_children_refuses_rows_of_other_users(engine: Engine, tenant: int) -> None:
    upsert_users(engine, [user_row(tenant, 1), user_row(tenant, 2)])
    with pytest.raises(ValueError, match="not replaced"), session_scope(engine) as session:
        rows = [assignment(tenant, 2)]
        writes.replace_children(
            session, LicenseAssignment, tenant, [user_row(tenant, 1)["id"]], rows
        )


def test_replace_tuples_checks_every_row(engine: Engine, tenant: int) -> None:
    upsert_users(engine, [user_row(tenant, 1)])
    uid = user_row(tenant, 1)["id"]
    columns = ("tenant_pk", "user_id", "sku_id", "via", "disabled_plans")
    good = (tenant, uid, "sku-e3", "", [])
    for rows, message in (
        ([good, (tenant, uid, "sku-e5", "")], "must all have 5 values"),
        ([good, (tenant + 1, uid, "sku-e5", "", [])], "belongs to tenant"),
        ([(tenant, "someone-else", "sku-e5", "", [])], "not replaced"),
        # the first wrong row is named
        ([(tenant, "someone-else", "sku-e5", "", []), (tenant + 1, uid, "sku-e5", "", [])], "not"),
        (
            [(tenant + 1, uid, "sku-e5", "", []), (tenant, "someone-else", "sku-e5", "", [])],
            "tenant",
        ),
    ):
        with pytest.raises(ValueError, match=message), session_scope(engine) as session:
            writes.replace_tuples(session, LicenseAssignment, tenant, columns, rows, [uid])
    with session_scope(engine) as session:
        changes = writes.replace_tuples(session, LicenseAssignment, tenant, columns, [good], [uid])
    assert changes == (1, 0, 0)
    with session_scope(engine) as session:
        assert writes.replace_tuples(session, LicenseAssignment, tenant, columns, [good]).total == 0


def test_replace_rows_of_a_whole_tenant(engine: Engine, tenant: int) -> None:
    def plans(*names: str) -> list[dict[str, Any]]:
        return [
            {"tenant_pk": tenant, "sku_id": "sku-e3", "plan_id": f"id-{n}", "plan_name": n}
            for n in names
        ]

    sku = {"tenant_pk": tenant, "sku_id": "sku-e3", "part_number": "E3"}
    with session_scope(engine) as session:
        writes.upsert_rows(
            session, Sku, [dict(sku, fingerprint="f", updated_at=NOW)], ("tenant_pk", "sku_id")
        )
        assert writes.replace_rows(session, SkuPlan, tenant, plans("EXCHANGE", "TEAMS1")) == (
            2,
            0,
            0,
        )
    with session_scope(engine) as session:
        changes = writes.replace_rows(session, SkuPlan, tenant, plans("TEAMS1", "YAMMER"))
    assert changes == (1, 0, 1)
    with session_scope(engine) as session:
        assert writes.replace_rows(session, SkuPlan, tenant, []) == (0, 0, 2)


def test_deleting_a_tenant_cascades_to_every_table(engine: Engine, tenant: int) -> None:
    upsert_users(engine, [user_row(tenant, 1)])
    uid = user_row(tenant, 1)["id"]
    with session_scope(engine) as session:
        session.add_all(
            [
                Sku(
                    tenant_pk=tenant, sku_id="s", part_number="E3", fingerprint="f", updated_at=NOW
                ),
                SkuPlan(tenant_pk=tenant, sku_id="s", plan_id="p", plan_name="TEAMS1"),
                LicenseContract(tenant_pk=tenant, sku_id="s", updated_at=NOW),
                LicenseAssignment(
                    tenant_pk=tenant, user_id=uid, sku_id="s", via="", disabled_plans=[]
                ),
                ServiceActivity(
                    tenant_pk=tenant, user_id=uid, service="Teams", source="teams", as_of=TODAY
                ),
                UsageSnapshot(tenant_pk=tenant, user_id=uid, day=TODAY),
                Activation(tenant_pk=tenant, user_id=uid, product_type="MICROSOFT 365 APPS"),
                SyncCursor(tenant_pk=tenant, name="n", value="v", updated_at=NOW),
            ]
        )
        writes.start_run(session, tenant, "roster", NOW)
    with session_scope(engine) as session:
        session.delete(session.get_one(Tenant, tenant))
    for table in metadata.sorted_tables:
        assert count(engine, table.name) == 0, table.name


def test_deleting_a_sku_keeps_its_contract(engine: Engine, tenant: int) -> None:
    with session_scope(engine) as session:
        session.add(
            Sku(tenant_pk=tenant, sku_id="s", part_number="E3", fingerprint="f", updated_at=NOW)
        )
        session.flush()
        session.add(SkuPlan(tenant_pk=tenant, sku_id="s", plan_id="p", plan_name="TEAMS1"))
        session.add(LicenseContract(tenant_pk=tenant, sku_id="s", updated_at=NOW))
    with session_scope(engine) as session:
        session.delete(session.get_one(Sku, (tenant, "s")))
    assert (count(engine, "sku_plan"), count(engine, "license_contract")) == (0, 1)


def test_deleting_a_user_removes_their_assignments(engine: Engine, tenant: int) -> None:
    upsert_users(engine, [user_row(tenant, 1), user_row(tenant, 2)])
    with session_scope(engine) as session:
        rows = [assignment(tenant, 1), assignment(tenant, 2)]
        writes.replace_rows(session, LicenseAssignment, tenant, rows)
        session.delete(session.get_one(User, (tenant, rows[0]["user_id"])))
    assert count(engine, "license_assignment") == 1


def test_missing_users_are_marked_deleted_not_removed(engine: Engine, tenant: int) -> None:
    rows = [user_row(tenant, n) for n in range(5)]
    upsert_users(engine, rows)
    seen = {row["id"] for row in rows[:3]}
    with session_scope(engine) as session:
        assert writes.mark_missing_users_deleted(session, tenant, seen, NOW) == 2
    later = NOW + timedelta(days=1)
    with session_scope(engine) as session:  # already deleted: not stamped again
        assert writes.mark_missing_users_deleted(session, tenant, seen, later) == 0
    assert count(engine, "user") == 5
    with session_scope(engine) as session:
        deleted = session.scalars(select(User.deleted_at).where(User.deleted_at.is_not(None))).all()
    assert deleted == [NOW, NOW]
    assert upsert_users(engine, rows) == 2  # they came back: deleted_at is cleared
    assert count(engine, "user", "deleted_at IS NOT NULL") == 0


def test_prune_snapshots_keeps_the_last_days(engine: Engine, tenant: int) -> None:
    with session_scope(engine) as session:
        other = add_tenant(session, "fabrikam")
        for days_ago in range(10):
            day = TODAY - timedelta(days=days_ago)
            session.add(UsageSnapshot(tenant_pk=tenant, user_id="u", day=day, mail_mb=1.5))
            session.add(UsageSnapshot(tenant_pk=other, user_id="u", day=day))
    with session_scope(engine) as session:
        assert writes.prune_snapshots(session, tenant, keep_days=3, today=TODAY) == 7
        with pytest.raises(ValueError, match="at least 1"):
            writes.prune_snapshots(session, tenant, keep_days=0, today=TODAY)
    with session_scope(engine) as session:
        days = session.scalars(
            select(UsageSnapshot.day).where(UsageSnapshot.tenant_pk == tenant)
        ).all()
    assert sorted(days) == [TODAY - timedelta(days=2), TODAY - timedelta(days=1), TODAY]
    assert count(engine, "usage_snapshot") == 13


def test_a_run_is_recorded_even_when_its_work_rolls_back(engine: Engine, tenant: int) -> None:
    with session_scope(engine) as session:
        run = writes.start_run(session, tenant, "access", NOW)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        upsert_users(engine, [user_row(tenant, 1)])  # a separate, committed unit of work
        writes.set_cursor(session, tenant, "signins", "2026-11-20T00:00:00Z", NOW)
        raise RuntimeError("Graph went away")
    end = NOW + timedelta(seconds=90)
    note = "Tenant has no Entra ID P1: last sign-in comes from report dates."
    with session_scope(engine) as session:
        writes.finish_run(session, run, "failed", {"users": 0}, [note], "Graph went away.", end)
        with pytest.raises(ValueError, match="succeeded or failed"):
            writes.finish_run(session, run, "running", {}, [], None, end)
    with session_scope(engine) as session:
        stored = session.get_one(TaskRun, run)
        assert writes.get_cursor(session, tenant, "signins") is None
    assert (stored.status, stored.counts, stored.notes) == ("failed", {"users": 0}, [note])
    assert (stored.error, stored.duration_s, stored.finished_at) == ("Graph went away.", 90.0, end)


def test_recent_runs_newest_first(engine: Engine, tenant: int) -> None:
    with session_scope(engine) as session:
        for hours, task in enumerate(["roster", "access", "license-info"]):
            started = NOW + timedelta(hours=hours)
            run = writes.start_run(session, tenant, task, started)
            writes.finish_run(session, run, "succeeded", {}, [], None, started + timedelta(1))
    with session_scope(engine) as session:
        runs = reads.recent_runs(session, tenant, limit=2)
    assert [r.task for r in runs] == ["license-info", "access"]


def test_cursors(engine: Engine, tenant: int) -> None:
    with session_scope(engine) as session:
        assert writes.get_cursor(session, tenant, "delta") is None
        writes.set_cursor(session, tenant, "delta", "link-1", NOW)
        writes.set_cursor(session, tenant, "delta", "link-1", NOW + timedelta(1))  # unchanged
    with session_scope(engine) as session:
        assert writes.get_cursor(session, tenant, "delta") == "link-1"
        assert session.get_one(SyncCursor, (tenant, "delta")).updated_at == NOW
        writes.set_cursor(session, tenant, "delta", "link-2", NOW + timedelta(2))
    with session_scope(engine) as session:
        assert writes.get_cursor(session, tenant, "delta") == "link-2"


def test_tenant_lookups(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert reads.only_tenant(session) is None
        add_tenant(session, "contoso")
        assert reads.only_tenant(session) is not None
        add_tenant(session, "fabrikam")
        assert reads.only_tenant(session) is None
        found = reads.tenant_by_name(session, "fabrikam")
        assert found is not None and found.name == "fabrikam"
        assert reads.tenant_by_name(session, "northwind") is None


def test_bulk_rows_survive_the_round_trip(engine: Engine, tenant: int) -> None:
    """Every type through the bulk path (executemany on SQLite, COPY on PostgreSQL)."""
    rows = [
        {
            "tenant_pk": tenant,
            "user_id": f"u{n}",
            "day": date(2026, 11, 1) + timedelta(days=n % 20),
            "mail_mb": n / 3 if n % 5 else None,
            "onedrive_mb": 0.0,
            "windows": n % 2 == 0,
            "mac": None,
            "mobile": False,
            "web": True,
            "activations": n,
            "exchange_active": None,
            "onedrive_active": True,
        }
        for n in range(3000)
    ]
    key = ("tenant_pk", "user_id", "day")
    with session_scope(engine) as session:
        assert writes.upsert_rows(session, UsageSnapshot, rows, key) == 3000
        assert writes.upsert_rows(session, UsageSnapshot, rows, key) == 0
    with session_scope(engine) as session:
        stored = session.scalars(select(UsageSnapshot).order_by(UsageSnapshot.activations)).all()
        columns = list(rows[0])
        assert [{c: getattr(s, c) for c in columns} for s in stored] == rows


def test_replace_children_in_bulk(engine: Engine, tenant: int) -> None:
    """Enough rows for the bulk paths (COPY into a temporary table on PostgreSQL)."""
    users = [user_row(tenant, n) for n in range(1500)]
    upsert_users(engine, users)
    ids = [row["id"] for row in users]
    rows = [assignment(tenant, n) for n in range(1500)]
    with session_scope(engine) as session:
        assert writes.replace_children(session, LicenseAssignment, tenant, ids, rows) == (
            1500,
            0,
            0,
        )
    kept = rows[:1000]
    kept[:300] = [
        dict(row, state="Error", error="MutuallyExclusiveViolation") for row in kept[:300]
    ]
    with session_scope(engine) as session:
        changes = writes.replace_children(session, LicenseAssignment, tenant, ids, kept)
    assert changes == (0, 300, 500)
    assert count(engine, "license_assignment") == 1000
    assert count(engine, "license_assignment", "state = 'Error'") == 300


def test_the_sync_stamp_is_the_data_version_moved_by_writes_alone(
    engine: Engine, tenant: int
) -> None:
    def stamp() -> int:
        with session_scope(engine) as session:
            return reads.sync_stamp(session, tenant)

    first = stamp()
    for status in ("failed", "succeeded"):
        with session_scope(engine) as session:
            run = writes.start_run(session, tenant, "roster", NOW)
        with session_scope(engine) as session:
            writes.finish_run(session, run, status, {}, [], None, NOW)
        assert stamp() == first  # bookkeeping alone: the task's data commit moves it
    with session_scope(engine) as session:
        writes.bump_data_version(session, tenant)
        writes.bump_data_version(session, tenant)
    assert stamp() == first + 2
    try:
        with session_scope(engine) as session:
            writes.bump_data_version(session, tenant)
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert stamp() == first + 2  # a rolled-back transaction moves nothing


def test_upsert_changed_tuples_sends_only_rows_that_differ(engine: Engine, tenant: int) -> None:
    from sqlalchemy import event

    from seatwise.store.schema import UserSummary
    from seatwise.sync.summary import COLUMNS

    def summary(n: int, **changes: Any) -> tuple[Any, ...]:
        values: dict[str, Any] = dict.fromkeys(COLUMNS)
        values.update(
            tenant_pk=tenant,
            user_id=f"00000000-0000-0000-0000-{n:012d}",
            upn=f"user{n}@contoso.test",
            account_enabled=n % 2 == 0,
            mfa_registered=None,
            last_sign_in=NOW - timedelta(hours=n),
            guest=False,
            created_at=NOW - timedelta(days=n),
            active_date=TODAY - timedelta(days=n),
            last_activity=TODAY,
            mail_mb=1.5 * n,
            windows=True,
            licenses=n % 3,
            activations=0,
        )
        values.update(changes)
        return tuple(values[c] for c in COLUMNS)

    rows = [summary(n) for n in range(50)]
    scope = [UserSummary.tenant_pk == tenant]
    key = ("tenant_pk", "user_id")
    sent: list[int] = []

    def watch(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.startswith("INSERT INTO user_summary"):
            sent.append(len(params) if isinstance(params, list) else 1)

    event.listen(engine, "before_cursor_execute", watch)
    try:
        with session_scope(engine) as session:
            assert (
                writes.upsert_changed_tuples(session, UserSummary, COLUMNS, rows, key, scope) == 50
            )
        first = sum(sent)
        with session_scope(engine) as session:
            assert (
                writes.upsert_changed_tuples(session, UserSummary, COLUMNS, rows, key, scope) == 0
            )
        assert sum(sent) == first  # identical rows are not even sent to the database
        changed = [*rows[:10], summary(10, mail_mb=99.0), summary(11, last_sign_in=NOW), *rows[12:]]
        with session_scope(engine) as session:
            written = writes.upsert_changed_tuples(
                session, UserSummary, COLUMNS, changed, key, scope
            )
        assert written == 2
        assert sum(sent) - first == 2 or engine.dialect.name == "postgresql"
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    with session_scope(engine) as session:
        stored = session.scalar(
            select(UserSummary.mail_mb).where(UserSummary.user_id.endswith("000000000010"))
        )
    assert stored == 99.0
