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
