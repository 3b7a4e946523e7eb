"""Alembic migrations: head equals the models on both back ends, ensure_schema is idempotent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Engine, UniqueConstraint, event, inspect, text

from seatwise.errors import StoreError
from seatwise.store.engine import (
    alembic_config,
    current_revision,
    ensure_schema,
    head_revision,
    migration_connection,
    upgrade,
)
from seatwise.store.schema import metadata

Make = Callable[[str], Engine]


def test_head_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, metadata) == []


def test_constraint_names_match_the_models(engine: Engine) -> None:
    """compare_metadata ignores CHECK constraints and names; batch migrations rely on both."""
    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        checks = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert checks == {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
        uniques = {u["name"] for u in inspector.get_unique_constraints(table.name)}
        assert uniques == {c.name for c in table.constraints if isinstance(c, UniqueConstraint)}
        fks = {fk["name"] for fk in inspector.get_foreign_keys(table.name)}
        assert fks == {fk.name for fk in table.foreign_key_constraints}
        indexes = {
            i["name"]
            for i in inspector.get_indexes(table.name)
            if "duplicates_constraint" not in i  # PostgreSQL: the index behind a UNIQUE
        }
        assert indexes == {i.name for i in table.indexes}
        assert inspector.get_pk_constraint(table.name)["name"] in (f"pk_{table.name}", None)


def test_every_tenant_table_cascades_from_tenant() -> None:
    for table in metadata.sorted_tables:
        if table.name == "tenant":
            continue
        if table.name in ("app_user", "api_token", "pending_sign_in"):  # the installation's
            assert "tenant_pk" not in table.c
            continue
        if table.name == "audit_event":  # history: it blocks the tenant's deletion instead
            (fk,) = table.foreign_key_constraints
            assert fk.referred_table.name == "tenant" and fk.ondelete is None
            continue
        fks = [fk for fk in table.foreign_key_constraints if fk.referred_table.name == "tenant"]
        assert len(fks) == 1 and fks[0].ondelete == "CASCADE", table.name
        assert "tenant_pk" in table.c and not table.c.tenant_pk.nullable, table.name
        key = [c.name for c in table.primary_key.columns]
        assert key[0] == "tenant_pk" or key == ["pk"], table.name


def test_ensure_schema_migrates_an_empty_database_once(fresh_url: str, engines: Make) -> None:
    engine = engines(fresh_url)
    assert current_revision(engine) is None
    ensure_schema(engine)
    assert current_revision(engine) == head_revision()
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())

    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    ensure_schema(engine)
    event.remove(engine, "before_cursor_execute", record)
    assert current_revision(engine) == head_revision()
    # Cheap when current: it only looks for and reads the version table.
    assert len(statements) <= 3, statements
    assert not [s for s in statements if s.split()[0].upper() not in ("BEGIN", "SELECT", "PRAGMA")]


def test_downgrade_to_base_and_up_again(fresh_url: str, engines: Make) -> None:
    engine = engines(fresh_url)
    upgrade(engine)
    with migration_connection(engine) as connection:
        command.downgrade(alembic_config(connection), "base")
    assert not set(metadata.tables) & set(inspect(engine).get_table_names())
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_a_newer_database_is_refused(fresh_url: str, engines: Make) -> None:
    engine = engines(fresh_url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(StoreError, match="revision ffff, which this version of seatwise"):
        ensure_schema(engine)
    with pytest.raises(StoreError, match="Cannot upgrade the database"):
        upgrade(engine)


def test_a_database_of_something_else_is_refused(fresh_url: str, engines: Make) -> None:
    engine = engines(fresh_url)
    with engine.begin() as connection:
        connection.execute(text('CREATE TABLE "user" (id INTEGER PRIMARY KEY)'))
    with pytest.raises(StoreError, match=r"already has tables \(user\) but no seatwise schema"):
        ensure_schema(engine)


def test_a_failed_migration_changes_nothing(fresh_url: str, engines: Make) -> None:
    """Migrations run in one transaction: a failure midway leaves no table behind."""
    engine = engines(fresh_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE sync_cursor (x INTEGER)"))  # the last table made
    with pytest.raises(StoreError, match="Cannot upgrade the database"):
        upgrade(engine)
    assert set(inspect(engine).get_table_names()) == {"sync_cursor"}
    assert current_revision(engine) is None
