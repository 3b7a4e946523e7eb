"""Roles are not permissions: Graph answers 403 both when a consented permission is missing and
when the signed-in admin (delegated access) lacks a directory role. A missing role is reported as
"needs the … role", with who must assign it (never "reauthorize", which cannot fix it), in the
task run, on `seatwise sync`'s stderr (exit 3) and on the Settings page; a missing permission
still asks to reauthorize.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from seatwise.graph.client import unwrap_error
from seatwise.store.schema import TaskRun
from seatwise.sync.context import missing_role
from tests.sync.conftest import Seatwise, serve
from tests.sync.test_connect import _connect
from tests.web.conftest import Web, web

__all__ = ["web"]  # the web app fixture, over this test's database

GRAPH = "https://graph.microsoft.com/"
SCOPES = " ".join(
    GRAPH + p for p in ("Reports.Read.All", "AuditLog.Read.All", "Directory.Read.All")
)


def test_a_403_is_a_role_only_with_the_permission_granted_to_a_delegated_sign_in() -> None:
    denied = "Authorization_RequestDenied"
    assert missing_role("delegated", SCOPES, "Reports.Read.All", denied) == "Reports Reader"
    assert missing_role("delegated", SCOPES, "AuditLog.Read.All", denied) == "Reports Reader"
    # Not granted: the permission is what is missing.
    assert (
        missing_role("delegated", GRAPH + "Directory.Read.All", "Reports.Read.All", denied) is None
    )
    # Graph's own code decides when it names the cause.
    assert missing_role("delegated", "", "Reports.Read.All", "S2SUnauthorized") == "Reports Reader"
    assert (
        missing_role(
            "delegated", SCOPES, "AuditLog.Read.All", "Authentication_MSGraphPermissionMissing"
        )
        is None
    )
    # App-only access needs no directory role.
    assert missing_role("app", SCOPES, "Reports.Read.All", "S2SUnauthorized") is None
    # Reading users needs no role: a 403 there is a permission.
    assert missing_role("delegated", SCOPES, "Directory.Read.All", denied) is None


def test_the_reports_api_wraps_its_error_in_unknown_error() -> None:
    wrapped = '{"error":{"code":"S2SUnauthorized","message":"Invalid permission."}}'
    assert unwrap_error("UnknownError", wrapped) == ("S2SUnauthorized", "Invalid permission.")
    assert unwrap_error("Authorization_RequestDenied", "Insufficient privileges.") == (
        "Authorization_RequestDenied",
        "Insufficient privileges.",
    )
    assert unwrap_error("UnknownError", "{not json") == ("UnknownError", "{not json")


def _last_error(seatwise: Seatwise) -> str:
    engine = create_engine(seatwise.database_url)
    try:
        with engine.connect() as connection:
            error = connection.scalar(
                select(TaskRun.error)
                .where(TaskRun.status == "failed")
                .order_by(TaskRun.pk.desc())
                .limit(1)
            )
    finally:
        engine.dispose()
    return str(error or "")


def _hint(page: str) -> str:
    return page.split('class="reauthorize-hint"', 1)[1].split("</tr>", 1)[0]


def test_an_admin_without_reports_reader_is_told_to_get_the_role(
    seatwise: Seatwise, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.point_at(sim)
        code, err = _connect(seatwise, sim)
        assert code == 0, err
        sim.control("admin", {"remove_roles": ["Reports Reader"]})
        failed = seatwise("sync")
        assert failed.code == 3, failed.err
        for said in (failed.err, _last_error(seatwise)):
            assert "needs the Reports Reader role" in said, said
            assert "Global Administrator or Privileged Role Administrator must assign" in said
            assert "reauthorize" not in said.lower() and "seatwise connect" not in said
        assert "Traceback" not in failed.err

        web_app: Web = request.getfixturevalue("web")
        with web_app.client() as client:
            web_app.login(client, "admin")
            hint = _hint(client.get("/settings").text)
        assert "needs the Reports Reader role" in hint
        assert "Reauthorizing cannot fix this" in hint
        assert "Use <strong>Reauthorize</strong>" not in hint

        # Once an administrator assigns the role, the same sign-in syncs.
        sim.control("admin", {"add_roles": ["Reports Reader"]})
        synced = seatwise("sync")
        assert synced.code == 0, synced.err
        with web_app.client() as client:
            web_app.login(client, "admin")
            assert 'class="reauthorize-hint"' not in client.get("/settings").text


def test_a_missing_permission_still_asks_to_reauthorize(
    seatwise: Seatwise, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim") as sim:
        assert seatwise.add_app_only(sim).code == 0
        sim.tenant.app.application_permissions.discard("Reports.Read.All")
        failed = seatwise("sync")
        assert failed.code == 3, failed.err
        for said in (failed.err, _last_error(seatwise)):
            assert "needs permission Reports.Read.All" in said, said
            assert "reauthorize" in said and " role" not in said
        web_app: Web = request.getfixturevalue("web")
        with web_app.client() as client:
            web_app.login(client, "admin")
            hint = _hint(client.get("/settings").text)
        assert "needs permission Reports.Read.All" in hint
        assert "Use <strong>Reauthorize</strong>" in hint
