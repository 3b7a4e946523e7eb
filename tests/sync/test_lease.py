"""One sync of a tenant at a time across processes: `seatwise sync` is refused while another
process holds the tenant's lease, and takes it at once when that process was killed; a lease
that was not renewed in time is free; the web app's Run now is refused the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from seatwise.errors import SyncBusy
from seatwise.store import make_engine, session_scope
from seatwise.store.schema import SyncLease, TaskRun, Tenant
from seatwise.sync.lease import Lease

from .conftest import Seatwise, serve

HOLD = textwrap.dedent(
    """
    import sys, time
    from seatwise.store import make_engine
    from seatwise.sync.lease import Lease
    lease = Lease.take(make_engine(sys.argv[1]), int(sys.argv[2]), "a test holding it")
    print("held", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def engines() -> Iterator[Callable[[str], Engine]]:
    """Engines made by the test, disposed of at its end."""
    made: list[Engine] = []

    def make(url: str) -> Engine:
        made.append(make_engine(url))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


def _tenant_pk(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalars(select(Tenant.pk)).one())


def test_a_sync_waits_for_another_process_and_not_for_a_dead_one(
    seatwise: Seatwise, tmp_path: Path, engines: Callable[[str], Engine]
) -> None:
    with serve(tmp_path / "sim", users=30) as sim:
        assert seatwise.add_app_only(sim).code == 0
        engine = engines(seatwise.database_url)
        tenant_pk = _tenant_pk(engine)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD, seatwise.database_url, str(tenant_pk)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            refused = seatwise("sync")
            assert refused.code == 5, refused.err
            assert "Tenant sim is already being synced (a test holding it, since" in refused.err
            assert "Traceback" not in refused.err
        finally:
            holder.kill()
            holder.communicate()
        with session_scope(engine) as session:
            assert session.scalars(select(TaskRun)).all() == []  # nothing ran
            assert session.get(SyncLease, tenant_pk) is not None  # a killed holder's lease
        synced = seatwise("sync", "--task", "license-info")
        assert synced.code == 0, synced.err
        with session_scope(engine) as session:
            assert session.get(SyncLease, tenant_pk) is None  # given back
            assert [r.status for r in session.scalars(select(TaskRun))] == ["succeeded"]


@pytest.mark.parametrize("expired", [True, False])
def test_a_lease_not_renewed_in_time_is_free(
    seatwise: Seatwise, tmp_path: Path, engines: Callable[[str], Engine], expired: bool
) -> None:
    with serve(tmp_path / "sim", users=10) as sim:
        assert seatwise.add_app_only(sim).code == 0
    engine = engines(seatwise.database_url)
    tenant_pk = _tenant_pk(engine)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.add(
            SyncLease(
                tenant_pk=tenant_pk,
                holder="another-machine:4242:abcd",
                purpose="a worker elsewhere",
                acquired_at=now - timedelta(hours=1),
                expires_at=now + timedelta(minutes=-1 if expired else 5),
            )
        )
    if expired:
        with Lease.take(engine, tenant_pk, "this test") as lease:
            with session_scope(engine) as session:
                row = session.get(SyncLease, tenant_pk)
                assert row is not None and row.holder == lease.holder
                assert row.expires_at > now + timedelta(minutes=10)
            with pytest.raises(SyncBusy, match=r"\(this test, since"):
                Lease.take(engine, tenant_pk, "a second one")
        with session_scope(engine) as session:
            assert session.get(SyncLease, tenant_pk) is None
    else:
        with pytest.raises(SyncBusy, match="already being synced \\(a worker elsewhere"):
            Lease.take(engine, tenant_pk, "this test")
