"""Fault-suite fixtures: a simulated tenant over HTTPS in this process, a SQLite database, and
`seatwise` run as a separate process (so it can be killed) or in-process; readiness comes from
the simulator's request counters, never from sleeping."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sync.conftest import Seatwise, Sim, query, serve

READY_S = 120.0  # the longest any readiness wait may take on a loaded machine


class Faults:
    """A tenant, its database and ways to run and disturb `seatwise` against it."""

    def __init__(self, sim: Sim, seatwise: Seatwise) -> None:
        self.sim = sim
        self.seatwise = seatwise
        self.url = seatwise.database_url

    def requests_served(self) -> int:
        """How many requests the simulator has answered or started on (all routes)."""
        return sum(int(n) for n in self.sim.stats()["calls"].values())

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        """Poll `condition` until it holds (a readiness signal), at most `READY_S`."""
        deadline = time.monotonic() + READY_S
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.01)

    def spawn(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """`seatwise ARGS` as a child process with this test's environment."""
        return subprocess.Popen(
            [sys.executable, "-m", "seatwise", *args],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return query(self.url, sql)

    def good_data(self) -> dict[str, Any]:
        """What a good sync stored and any later failure must leave readable and unchanged."""
        return {
            "users": self.query(
                "SELECT id, upn, display_name, account_enabled FROM user ORDER BY id"
            ),
            "licences": self.query(
                "SELECT user_id, sku_id, via FROM license_assignment ORDER BY 1, 2, 3"
            ),
            "skus": self.query("SELECT sku_id, enabled, consumed FROM sku ORDER BY 1"),
        }


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Faults]:
    url = f"sqlite:///{tmp_path / 'data' / 'seatwise.db'}"
    with serve(tmp_path / "sim", users=30) as sim:
        seatwise = Seatwise(monkeypatch, tmp_path / "data", url)
        seatwise.point_at(sim)
        yield Faults(sim, seatwise)
