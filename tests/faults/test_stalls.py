"""Faults around a sync: access tokens expiring and the sign-in revoked mid-run, a database
locked by another process, and a Graph that accepts connections and never answers."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from seatwise.config import SyncSettings
from seatwise.graph import client as graph_client
from seatwise.graph.throttle import DEFAULT_POLICY
from tests.sync.test_connect import _connect

from .conftest import Faults

pytestmark = pytest.mark.fault


def _interrupt_mid_run(faults: Faults, *controls: tuple[str, dict[str, str]]) -> tuple[int, str]:
    """Start `seatwise sync` as a child; once it has made a few Graph requests, apply the
    simulator `controls`; return its exit code and stderr."""
    base = faults.requests_served()
    child = faults.spawn("sync")
    faults.wait_for(
        lambda: faults.requests_served() >= base + 3 or child.poll() is not None,
        "the sync's first requests",
    )
    assert child.poll() is None, "the sync ended before it could be disturbed"
    for path, body in controls:
        faults.sim.control(path, body)
    _, err = child.communicate(timeout=120)
    return child.returncode, err


def test_expired_access_tokens_mid_run_are_renewed(faults: Faults) -> None:
    assert faults.seatwise.add_app_only(faults.sim).code == 0
    assert faults.seatwise("sync").code == 0
    code, err = _interrupt_mid_run(faults, ("tokens/expire", {}))
    assert code == 0, err


def test_sign_in_revoked_mid_run_ends_in_reauthorize(faults: Faults) -> None:
    code, err = _connect(faults.seatwise, faults.sim)
    assert code == 0, err
    assert faults.seatwise("sync").code == 0
    good = faults.good_data()
    code, err = _interrupt_mid_run(
        faults, ("admin", {"password": "A-new-password-16"}), ("tokens/expire", {})
    )
    assert code == 3, err
    assert "seatwise connect sim" in err and "Traceback" not in err
    (error,) = faults.query(
        "SELECT error FROM task_run WHERE status = 'failed' ORDER BY pk DESC LIMIT 1"
    )[0:1]
    assert "seatwise connect sim" in str(error[0])
    again = faults.seatwise("sync")  # the state stays clear until someone reconnects
    assert again.code == 3 and "seatwise connect sim" in again.err
    assert faults.good_data() == good


def test_a_database_locked_by_another_process_is_one_sentence(faults: Faults) -> None:
    assert faults.seatwise.add_app_only(faults.sim).code == 0
    assert faults.seatwise("sync").code == 0
    path = faults.url.removeprefix("sqlite:///")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"db = sqlite3.connect({path!r}, isolation_level=None)\n"
            "db.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        faults.seatwise.monkeypatch.setenv("SEATWISE_DATABASE_URL", faults.url + "?timeout=1")
        result = faults.seatwise("sync")
    finally:
        holder.communicate("done\n", timeout=60)
    assert result.code == 5, result.err
    assert "is locked by another process (waited 1 s)" in result.err
    assert "Traceback" not in result.err and result.err.count("Error:") == 1


def test_a_hung_graph_fails_the_task_within_the_deadline(faults: Faults) -> None:
    assert faults.seatwise.add_app_only(faults.sim).code == 0
    assert faults.seatwise("sync").code == 0
    good = faults.good_data()
    faults.seatwise.data_dir.mkdir(parents=True, exist_ok=True)
    (faults.seatwise.data_dir / "seatwise.toml").write_text("[sync]\ngraph_timeout_s = 2\n")
    faults.sim.control("hang", {"path": "/v1.0/subscribedSkus", "on": True})
    try:
        started = time.monotonic()
        result = faults.seatwise("sync", "--task", "license-info")
        took = time.monotonic() - started
    finally:
        faults.sim.control("hang", {"path": "/v1.0/subscribedSkus", "on": False})
    assert result.code == 4, result.err
    assert "did not answer GET /v1.0/subscribedSkus within 2 s, 2 times in a row" in result.err
    # Two reads of 2 s and one backoff (at most 0.5 s) with room for a loaded machine.
    assert took < 20, took
    assert faults.good_data() == good


def test_the_default_deadlines_end_a_hung_call_within_two_minutes() -> None:
    timeout = SyncSettings.model_fields["graph_timeout_s"].default
    worst = graph_client.MAX_TIMEOUTS * timeout + DEFAULT_POLICY.base_s * 2
    assert worst < 120, worst
