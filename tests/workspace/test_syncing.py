"""Syncing a tenant through the application layer (`sync_tenant`), as the CLI, the web app
and the worker do: against the simulator over HTTPS, on SQLite and PostgreSQL. Every successful
task moves the tenant's data version; a failed one moves nothing and is the report's failure;
the lease keeps a second sync out; a retired tenant is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from seatwise.config import load_settings
from seatwise.errors import PermissionMissing, SyncBusy, UsageError
from seatwise.store import reads
from seatwise.sync import TASKS
from seatwise.sync.lease import Lease
from seatwise.workspace import Workspace
from seatwise.workspace.syncing import ordered_tasks, sync_tenant
from seatwise.workspace.tenants import set_active
from tests.sync.conftest import Seatwise, serve


def _version(workspace: Workspace, tenant_pk: int) -> int:
    with workspace.session() as session:
        return reads.sync_stamp(session, tenant_pk)


def test_sync_moves_the_data_version_once_per_good_task(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=30) as sim:
        assert seatwise.add_app_only(sim).code == 0  # also points the settings at it
        workspace = Workspace(load_settings())
        with workspace.session() as session:
            tenant_pk = workspace.tenant(session, None).pk
        start = _version(workspace, tenant_pk)
        seen: list[str] = []
        report = sync_tenant(
            workspace, tenant_pk, ["access", "roster", "license-info"], started_by="a test",
            on_task=seen.append,
        )  # fmt: skip
        assert report.failure is None and report.tenant == "sim"
        assert seen == ["license-info", "roster", "access"] == [r.task for r in report.results]
        assert _version(workspace, tenant_pk) == start + 3

        sim.tenant.app.application_permissions.discard("AuditLog.Read.All")
        sim.control("tokens/expire")
        failed = sync_tenant(workspace, tenant_pk, ["access"], started_by="a test")
        assert isinstance(failed.failure, PermissionMissing)
        assert "AuditLog.Read.All" in str(failed.failure) and failed.results == []
        assert _version(workspace, tenant_pk) == start + 3  # nothing committed

        with Lease.take(workspace.engine, tenant_pk, "another sync"):
            with pytest.raises(SyncBusy, match="another sync"):
                sync_tenant(workspace, tenant_pk, ["roster"], started_by="a test")

        set_active(workspace, "sim", False)
        with pytest.raises(UsageError, match="deactivated"):
            sync_tenant(workspace, tenant_pk, ["roster"], started_by="a test")
        assert _version(workspace, tenant_pk) == start + 3
        workspace.close()


def test_unknown_tasks_are_refused_in_one_sentence() -> None:
    assert ordered_tasks(["differentiation", "roster"]) == ["roster", "differentiation"]
    assert ordered_tasks(TASKS) == list(TASKS)
    with pytest.raises(UsageError, match="Unknown task nope; choose from license-info"):
        ordered_tasks(["roster", "nope"])
    with pytest.raises(UsageError, match="none given"):
        ordered_tasks([])
