"""`seatwise demo` serves a simulated tenant, syncs it and says where to look."""

from __future__ import annotations

import pytest

from .conftest import Seatwise


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_demo_syncs_a_simulated_tenant(seatwise: Seatwise) -> None:
    result = seatwise("demo", "--users", "40", "--no-keep-running")
    assert result.code == 0, result.err
    assert "Where to look" in result.err
    assert result.err.count("succeeded") == 4
    assert (seatwise.data_dir / "demo" / "seatwise.db").exists()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_demo_with_several_tenants_shows_the_roll_up(seatwise: Seatwise) -> None:
    result = seatwise("demo", "--users", "20", "--tenants", "3", "--no-keep-running")
    assert result.code == 0, result.err
    assert result.err.count("succeeded") == 12  # four tasks of each tenant
    assert "seatwise tenant list" in result.err and "--tenant demo" in result.err
    seatwise.monkeypatch.setenv("SEATWISE_DATA_DIR", str(seatwise.data_dir / "demo"))
    seatwise.monkeypatch.delenv("SEATWISE_DATABASE_URL")
    listed = seatwise("tenant", "list", "--format", "json")
    assert listed.code == 0, listed.err
    rows = listed.json()
    assert [r["name"] for r in rows] == ["demo", "demo-2", "demo-3"]
    assert len({r["tenant_id"] for r in rows}) == 3
    assert all(r["users"] > 0 and r["last_sync_status"] == "succeeded" for r in rows)
    refused = seatwise("demo", "--tenants", "0", "--no-keep-running")
    assert refused.code == 2 and "--tenants must be between 1 and 20" in refused.err
