"""The seed's 90-day windows: the Application Roster asks Graph for the mailbox, OneDrive and
Microsoft 365 Apps reports over `D90` (activations take no period), the simulator serves them as
Graph does, and the Users pages say which window each column covers and its report date.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select

from seatwise.graph import endpoints
from seatwise.store.schema import UsageSnapshot
from tests.sync.conftest import Seatwise, Sim, serve
from tests.web.conftest import Web, web

__all__ = ["web"]  # the web app fixture, over the same database as the CLI


def test_period_days() -> None:
    assert endpoints.period_days(endpoints.Period.D90) == 90
    assert endpoints.period_days("D7") == 7
    with pytest.raises(ValueError):
        endpoints.period_days("D45")


def _sync(seatwise: Seatwise, tmp_path: Path, *task: str) -> tuple[Sim, dict[str, int], str]:
    with serve(tmp_path / "sim", users=60, seed=3) as sim:
        assert seatwise.add_app_only(sim).code == 0
        done = seatwise("sync", *task)
        assert done.code == 0, done.err
        stats = sim.stats()
    return sim, stats["calls"], stats["refresh_date"]


def test_roster_asks_for_the_90_day_reports(seatwise: Seatwise, tmp_path: Path) -> None:
    _, calls, _ = _sync(seatwise, tmp_path, "--task", "roster")
    for report in (endpoints.MAILBOX_USAGE, endpoints.ONEDRIVE_USAGE, endpoints.M365_APPS):
        assert calls.get(f"report:{report}(period=D90)") == 1, calls
        assert not any(k.startswith(f"report:{report}(period=D") and "D90" not in k for k in calls)
    assert calls.get(f"report:{endpoints.ACTIVATIONS}()") == 1, calls


def test_users_pages_name_each_columns_window(seatwise: Seatwise, tmp_path: Path, web: Web) -> None:
    _, _, refresh = _sync(seatwise, tmp_path)
    with web.client() as client:
        web.login(client, "viewer")
        page = client.get("/users")
        assert page.status_code == 200
        legend = page.text.split('id="report-windows"', 1)[1].split("</section>", 1)[0]
        for report in (endpoints.MAILBOX_USAGE, endpoints.ONEDRIVE_USAGE, endpoints.M365_APPS):
            item = legend.split(f'data-report="{report}"', 1)[1].split("</li>", 1)[0]
            assert "the 90 days up to the report date" in item
            # The simulator's reports lag its clock; the page shows the stored refresh date.
            assert f'<span class="report-date">{refresh}</span>' in item
        activations = legend.split(f'data-report="{endpoints.ACTIVATIONS}"', 1)[1]
        assert "no period" in activations.split("</li>", 1)[0]
        # Each column heading says the same on hover.
        head = page.text.split("</thead>", 1)[0]
        for key in ("mail_usage_mb", "onedrive_usage_mb", "windows", "mac", "mobile", "web"):
            cell = re.search(rf'<th[^>]*title="([^"]+)"[^>]*><a [^>]*data-key="{key}"', head)
            assert cell and "90 days" in cell[1] and refresh in cell[1], key
        user_id = re.findall(r'<tr data-id="([^"]+)"', page.text)[0]
        one = client.get(f"/users/{user_id}")
        assert one.status_code == 200
        assert 'id="report-windows"' in one.text and "the 90 days up to the report date" in one.text


def _snapshot_days(url: str, days: list[date] | None = None) -> set[date]:
    """The days of the usage snapshots stored; with `days`, first copy one stored snapshot
    row back to each of those days (history as earlier syncs would have left it)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if days:
                row = conn.execute(select(UsageSnapshot).limit(1)).mappings().one()
                for day in days:
                    conn.execute(insert(UsageSnapshot).values({**row, "day": day}))
            return set(conn.execute(select(UsageSnapshot.day).distinct()).scalars())
    finally:
        engine.dispose()


@pytest.mark.parametrize("retention", [None, 120])
def test_snapshots_are_kept_for_the_retention_the_settings_name(
    seatwise: Seatwise, tmp_path: Path, retention: int | None
) -> None:
    if retention is not None:
        seatwise.data_dir.mkdir(parents=True, exist_ok=True)
        (seatwise.data_dir / "seatwise.toml").write_text(f"[sync]\nretention_days = {retention}\n")
    with serve(tmp_path / "sim", users=30, seed=3) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync", "--task", "roster").code == 0
        today = datetime.now(UTC).date()
        old = [today - timedelta(days=n) for n in (89, 90, 119, 120)]
        assert set(old) <= _snapshot_days(seatwise.database_url, old)
        again = seatwise("sync", "--task", "roster")
        assert again.code == 0, again.err
    kept = _snapshot_days(seatwise.database_url)
    window = retention or 90
    # With N days kept, today - (N - 1) is the oldest day left.
    assert {d for d in old if d in kept} == {d for d in old if (today - d).days < window}


def test_retention_shorter_than_the_seeds_is_refused(seatwise: Seatwise) -> None:
    seatwise.data_dir.mkdir(parents=True, exist_ok=True)
    (seatwise.data_dir / "seatwise.toml").write_text("[sync]\nretention_days = 30\n")
    done = seatwise("tenant", "list")
    assert done.code == 3, done.err
    assert "'retention_days' in [sync] of" in done.err
    assert "greater than or equal to 90" in done.err
    assert "Traceback" not in done.err
