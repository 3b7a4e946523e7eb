"""SIGKILL at random points of `seatwise sync` (a child process against the simulator, ten
seeded trials): the last good data stays readable and unchanged, and the next sync completes
and marks the killed run interrupted."""

from __future__ import annotations

import random
import signal

import pytest

from .conftest import Faults

pytestmark = pytest.mark.fault

TRIALS = 10
SEED = 16


def test_sigkill_mid_sync_keeps_the_last_good_data(
    faults: Faults, record_property: pytest.RecordProperty
) -> None:
    assert faults.seatwise.add_app_only(faults.sim).code == 0
    assert faults.seatwise("sync").code == 0
    start = faults.requests_served()
    again = faults.seatwise("sync")  # a sync after the first: what the trials interrupt
    assert again.code == 0, again.err
    per_sync = faults.requests_served() - start
    good = faults.good_data()
    assert good["users"] and good["licences"] and good["skus"]
    rng = random.Random(SEED)
    killed = left_running = 0
    for trial in range(TRIALS):
        point = rng.randint(1, max(1, per_sync - 1))
        base = faults.requests_served()
        child = faults.spawn("sync")
        faults.wait_for(
            lambda: faults.requests_served() >= base + point or child.poll() is not None,  # noqa: B023
            f"request {point} of trial {trial}",
        )
        child.send_signal(signal.SIGKILL)
        child.communicate()
        killed += child.returncode == -signal.SIGKILL
        assert faults.good_data() == good, f"trial {trial}: stored data changed after a kill"
        left_running += faults.query("SELECT count(*) FROM task_run WHERE status = 'running'")[0][0]
        after = faults.seatwise("sync")
        assert after.code == 0, f"trial {trial}: {after.err}"
        assert faults.good_data() == good
    interrupted = faults.query(
        "SELECT count(*) FROM task_run WHERE status = 'failed' AND error LIKE '%interrupted%'"
    )[0][0]
    running = faults.query("SELECT count(*) FROM task_run WHERE status = 'running'")[0][0]
    record_property("trials", TRIALS)
    record_property("killed_mid_sync", killed)
    record_property("runs_left_running_by_a_kill", left_running)
    record_property("runs_marked_interrupted", interrupted)
    assert killed >= TRIALS - 2, f"only {killed} of {TRIALS} kills landed mid-sync"
    # A kill before the first task started leaves no run behind; every other is marked.
    assert interrupted == left_running >= killed // 2 and running == 0
