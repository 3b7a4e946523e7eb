"""The licence history (`sku_snapshot`) the License Information task keeps: one row per subscribed
SKU for the UTC day of the run, replaced by a later run that day, a new row on another day, and
days past the history window pruned. Against the simulator over real HTTPS; the sync's clock
is the real one (the simulator's `/_control/clock` moves only the tenant), so other days are
run through `run_task` with an explicit clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from seatwise.cli.context import Context
from seatwise.simulator import Tenant as SimTenant
from seatwise.store.schema import Sku, SkuSnapshot
from seatwise.sync import RunResult, run_task
from seatwise.sync.license_info import HISTORY_DAYS

from .conftest import Seatwise, serve

Counts = tuple[int, int, int, int, int]


@contextmanager
def license_info_runner(seatwise: Seatwise) -> Iterator[Any]:
    """A function running License Information at a given moment, as `seatwise sync` would
    (the only tenant, its stored credentials, the CLI's settings and database)."""
    del seatwise  # its environment is what the Context reads
    ctx = Context()
    try:
        with ctx.session() as session:
            tenant = ctx.tenant(session, None)
            tenant_pk = tenant.pk
            client = ctx.graph_client(tenant)
        with client:

            def run(when: datetime) -> RunResult:
                return run_task(ctx.engine, client, tenant_pk, "license-info", clock=lambda: when)

            yield run
    finally:
        ctx.close()


def history(seatwise: Seatwise) -> dict[date, dict[str, Counts]]:
    """The stored licence history: day → sku_id → (purchased, assigned, suspended, warning,
    locked out)."""
    ctx = Context()
    try:
        with ctx.session() as session:
            rows = session.execute(
                select(
                    SkuSnapshot.day,
                    SkuSnapshot.sku_id,
                    SkuSnapshot.purchased,
                    SkuSnapshot.assigned,
                    SkuSnapshot.suspended,
                    SkuSnapshot.warning,
                    SkuSnapshot.locked_out,
                )
            ).all()
    finally:
        ctx.close()
    found: dict[date, dict[str, Counts]] = {}
    for day, sku_id, *counts in rows:
        found.setdefault(day, {})[sku_id] = tuple(counts)  # type: ignore[assignment]
    return found


def tenant_counts(tenant: SimTenant) -> dict[str, Counts]:
    """What the simulated tenant's subscribedSkus says now, per SKU."""
    return {
        h.sku_id: (
            h.enabled,
            tenant.consumed.get(h.sku_id, 0),
            h.suspended,
            h.warning,
            h.locked_out,
        )
        for h in tenant.holdings.values()
    }


def test_a_run_writes_the_day_then_replaces_it_then_adds_the_next(
    seatwise: Seatwise, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=60) as sim:
        assert seatwise.add_app_only(sim).code == 0
        before = datetime.now(UTC).date()
        synced = seatwise("sync", "--task", "license-info")
        after = datetime.now(UTC).date()
        assert synced.code == 0, synced.err
        expected = tenant_counts(sim.tenant)
        (today,) = history(seatwise)
        assert today in (before, after)  # the sync's own clock, in UTC
        assert history(seatwise)[today] == expected  # one row per subscribed SKU

        first_day = today + timedelta(days=1)

        def at(day: date, hour: int, minute: int = 0, tz: timezone = UTC) -> datetime:
            return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)

        with license_info_runner(seatwise) as run_at:
            # 00:30 at UTC+2 is 22:30 the day before in UTC: the history is dated in UTC.
            first = run_at(at(first_day + timedelta(days=1), 0, 30, timezone(timedelta(hours=2))))
            assert first.counts["sku history written"] == len(expected)
            assert history(seatwise)[first_day] == expected

            # The tenant changes during the day: a user leaves, units are bought, a SKU goes.
            leaver = next(u for u in sim.tenant.users if u.licenses and u.kind == "person")
            sim.control(f"users/{leaver.id}/delete")
            bought = next(h for h in sim.tenant.holdings.values() if h.enabled > 5)
            bought.enabled += 7
            ended = next(
                h
                for h in sim.tenant.holdings.values()
                if h is not bought and h.sku_id not in leaver.sku_ids()
            )
            del sim.tenant.holdings[ended.sku_id]
            changed = tenant_counts(sim.tenant)
            assert changed != {k: v for k, v in expected.items() if k != ended.sku_id}

            again = run_at(at(first_day, 23))
            stored = history(seatwise)
            assert stored[first_day] == changed  # the day's numbers replaced, the ended SKU gone
            assert ended.sku_id not in stored[first_day]
            assert stored[today] == expected  # other days untouched
            rewritten = sum(changed[k] != expected[k] for k in changed) + 1  # + the ended SKU
            assert again.counts["sku history written"] == rewritten
            assert again.counts["skus retired"] == 1

            # The same numbers again the same day: nothing is written.
            same = run_at(at(first_day, 23, 30))
            assert same.counts["sku history written"] == 0
            assert same.counts["sku history pruned"] == 0

            second_day = first_day + timedelta(days=1)
            next_day = run_at(at(second_day, 0, 15))
            stored = history(seatwise)
            assert set(stored) == {today, first_day, second_day}
            assert stored[second_day] == changed and stored[first_day] == changed
            assert next_day.counts["sku history written"] == len(changed)

            # Two years on, the days before the history window are pruned.
            later = second_day + timedelta(days=HISTORY_DAYS - 1)
            pruned = run_at(at(later, 6))
            stored = history(seatwise)
            assert set(stored) == {second_day, later}
            assert pruned.counts["sku history pruned"] == len(expected) + len(changed)

    # Retired SKUs keep their row in `sku` but get no history.
    ctx = Context()
    try:
        with ctx.session() as session:
            retired = set(session.scalars(select(Sku.sku_id).where(Sku.retired.is_(True))))
    finally:
        ctx.close()
    assert retired == {ended.sku_id}
    assert not retired & set(stored[later])
