"""make_engine, session_scope and the StoreErrors they raise; SQLite pragmas; stored types."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from seatwise.errors import StoreError
from seatwise.store.engine import describe_url, ensure_schema, make_engine, session_scope
from seatwise.store.schema import LicenseContract, Tenant

from .conftest import NOW, add_tenant

Make = Callable[[str], Engine]
# Nothing listens on port 1 of the loopback interface: connecting fails at once.
UNREACHABLE = "postgresql://seatwise:s3cret-pw@127.0.0.1:1/seatwise"


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path, engines: Make) -> None:
    engine = engines(f"sqlite:///{tmp_path / 'db' / 'seatwise.db'}")
    with engine.connect() as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 1,  # NORMAL
        "busy_timeout": 30000,
    }
    assert (tmp_path / "db").is_dir()  # the directory was created


def test_postgresql_urls_go_through_psycopg_3() -> None:
    for url in ("postgresql://u:p@db.example.test/x", "postgres://u:p@db.example.test/x"):
        engine = make_engine(url)
        assert engine.url.drivername == "postgresql+psycopg"
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "The database URL is not valid"),
        ("mysql://u:p@db.example.test/x", "SQLite or PostgreSQL, not mysql"),
        ("postgresql+psycopg2://u:p@db.example.test/x", "through psycopg 3, not psycopg2"),
    ],
)
def test_unusable_urls_are_store_errors(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as info:
        make_engine(url)
    assert ":p@" not in str(info.value)


def test_an_unwritable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match=r"Cannot open the database at .*: cannot create its"):
        make_engine(f"sqlite:///{blocker / 'sub' / 'seatwise.db'}")


def test_a_directory_in_place_of_the_file_is_a_store_error(tmp_path: Path, engines: Make) -> None:
    engine = engines(f"sqlite:///{tmp_path}")
    with pytest.raises(StoreError, match=f"Cannot open the database at {tmp_path}: unable to"):
        ensure_schema(engine)


def test_connection_failures_hide_the_password(engines: Make) -> None:
    engine = engines(UNREACHABLE)
    with pytest.raises(StoreError) as info:
        ensure_schema(engine)
    message = str(info.value)
    assert message.startswith("Cannot open the database at postgresql+psycopg://seatwise:***@")
    assert "s3cret-pw" not in message
    assert message.endswith(".") and "\n" not in message
    with pytest.raises(StoreError, match="failed") as info, session_scope(engine) as session:
        session.execute(select(1))
    assert "s3cret-pw" not in str(info.value)


def test_describe_url_names_the_file_or_hides_the_password() -> None:
    assert describe_url("sqlite:////srv/seatwise/seatwise.db") == "/srv/seatwise/seatwise.db"
    assert describe_url(UNREACHABLE) == "postgresql://seatwise:***@127.0.0.1:1/seatwise"


def test_session_scope_commits_or_rolls_back(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_tenant(session, "kept")
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        add_tenant(session, "dropped")
        raise RuntimeError("boom")
    with session_scope(engine) as session:
        names = session.scalars(select(Tenant.name)).all()
    assert names == ["kept"]


def test_objects_stay_usable_after_the_commit(engine: Engine) -> None:
    with session_scope(engine) as session:
        tenant = Tenant(
            name="x", tenant_id="t", client_id="c", auth_mode="app", created_at=NOW, updated_at=NOW
        )
        session.add(tenant)
    assert tenant.pk is not None and tenant.active is True


def test_timestamps_are_stored_in_utc_and_read_back_aware(engine: Engine) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 3, 29, 3, 30, 15, 123456, tzinfo=plus_two)
    with session_scope(engine) as session:
        pk = add_tenant(session)
        session.get_one(Tenant, pk).updated_at = local
    with session_scope(engine) as session:
        stored = session.get_one(Tenant, pk).updated_at
    assert stored == local and stored.utcoffset() == timedelta(0)
    assert stored.hour == 1 and stored.microsecond == 123456
    with engine.connect() as connection:
        raw = connection.exec_driver_sql("SELECT updated_at FROM tenant").scalar_one()
    if engine.dialect.name == "sqlite":  # the text SQLAlchemy's own SQLite DATETIME writes
        assert raw == "2026-03-29 01:30:15.123456"


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with pytest.raises(StatementError, match="naive datetime"), session_scope(engine) as session:
        pk = add_tenant(session)
        session.get_one(Tenant, pk).updated_at = datetime(2026, 1, 1)  # noqa: DTZ001
        session.flush()


def test_money_round_trips_as_decimal(engine: Engine) -> None:
    with session_scope(engine) as session:
        pk = add_tenant(session)
        session.add(
            LicenseContract(
                tenant_pk=pk, sku_id="s", cost=Decimal("32.8000"), currency="EUR", updated_at=NOW
            )
        )
    with session_scope(engine) as session:
        contract = session.get_one(LicenseContract, (pk, "s"))
    assert contract.cost == Decimal("32.80") and isinstance(contract.cost, Decimal)
    assert contract.managed is True


def test_check_constraints_hold(engine: Engine) -> None:
    with pytest.raises(IntegrityError, match="(?i)check"), session_scope(engine) as session:
        add_tenant(session, auth_mode="password")


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError, match="(?i)foreign key"), session_scope(engine) as session:
        session.execute(
            text(
                "INSERT INTO sync_cursor (tenant_pk, name, value, updated_at) "
                "VALUES (42, 'x', 'y', '2026-01-01 00:00:00')"
            )
        )


def test_immediate_units_of_work_take_the_sqlite_write_lock_first(
    tmp_path: Path, engines: Make
) -> None:
    engine = engines(f"sqlite:///{tmp_path / 'seatwise.db'}")
    ensure_schema(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with session_scope(engine, immediate=True) as writer:
        add_tenant(writer, "contoso")
        assert statements[0] == "BEGIN IMMEDIATE"
        with session_scope(engine) as reader:  # WAL: readers are not blocked by the writer
            assert reader.scalars(select(Tenant.name)).all() == []
    with session_scope(engine) as reader:
        assert reader.scalars(select(Tenant.name)).all() == ["contoso"]
    assert statements.count("BEGIN IMMEDIATE") == 1 and statements.count("BEGIN") == 2


def test_the_shipped_head_read_as_text_is_alembics_head() -> None:
    """`ensure_schema` skips Alembic when the stored revision is this head (a fast start)."""
    from seatwise.store.engine import head_revision, shipped_head

    assert shipped_head() == head_revision()
