"""The seed's 90-day windows: the Application Roster asks Graph for the mailbox, OneDrive and
Microsoft 365 Apps reports over `D90` (activations take no period), the simulator serves them as
Graph does, and the Users pages say which window each column covers and its report date.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import httpx
import pytest

from seatwise.graph import endpoints
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
        verify = ssl.create_default_context(cafile=str(sim.server.ca_bundle))
        with httpx.Client(verify=verify, trust_env=False) as client:
            stats = client.get(f"{sim.server.base_url}/_control/stats").raise_for_status().json()
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
