"""Which report files a task may leave unread: `reportdata.unchanged` and `remember`, against a
real SQLite store (the sync tests prove the whole path against the simulator)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from seatwise.store import ensure_schema, make_engine, session_scope
from seatwise.store.schema import Tenant
from seatwise.sync import reportdata
from seatwise.sync.context import TaskContext

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[TaskContext]:
    engine = make_engine(f"sqlite:///{tmp_path / 'seatwise.db'}")
    ensure_schema(engine)
    try:
        with session_scope(engine) as session:
            tenant = Tenant(
                name="t",
                tenant_id="t",
                client_id="c",
                auth_mode="app",
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(tenant)
            session.flush()
            client: Any = None  # these functions never call Graph
            yield TaskContext(task="roster", session=session, client=client, tenant=tenant, now=NOW)
    finally:
        engine.dispose()


def test_the_same_files_naming_the_same_users_are_unchanged(ctx: TaskContext) -> None:
    assert not reportdata.unchanged(ctx, "d1", {})  # never read
    reportdata.remember(ctx, "d1", {"gone@contoso.test"})
    assert reportdata.unchanged(ctx, "d1", {"ann@contoso.test": "id-1"})
    assert not reportdata.unchanged(ctx, "d2", {"ann@contoso.test": "id-1"})  # other files
    # a UPN the reports named that matched nobody now names a user who joined: read again
    assert not reportdata.unchanged(ctx, "d1", {"gone@contoso.test": "id-9"})


def test_forgetting_and_too_many_unmatched_names(ctx: TaskContext) -> None:
    reportdata.remember(ctx, "d1")
    assert reportdata.unchanged(ctx, "d1", {})
    reportdata.remember(ctx, None)  # e.g. names were concealed
    assert not reportdata.unchanged(ctx, "d1", {})
    many = {f"u{n}@contoso.test" for n in range(reportdata.MAX_UNMATCHED + 1)}
    reportdata.remember(ctx, "d1", many)
    assert not reportdata.unchanged(ctx, "d1", {})


def test_other_tasks_keep_their_own_digest(ctx: TaskContext) -> None:
    reportdata.remember(ctx, "d1")
    ctx.task = "access"
    assert not reportdata.unchanged(ctx, "d1", {})
