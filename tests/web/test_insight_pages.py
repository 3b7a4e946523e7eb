"""The Overview, Licenses and Activity pages against a synced simulated tenant, over real HTTP
and in real Chromium, compared with what the `seatwise` CLI prints as JSON for the same data.
"""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.sync.conftest import Seatwise, serve
from tests.web.conftest import Web

USERS = 120


def _synced(seatwise: Seatwise, tmp_path: Path, users: int = USERS) -> None:
    with serve(tmp_path / "sim", users=users) as sim:
        assert seatwise.add_app_only(sim).code == 0
        synced = seatwise("sync")
        assert synced.code == 0, synced.err


def _json(seatwise: Seatwise, *args: str) -> Any:
    done = seatwise(*args, "--format", "json")
    assert done.code == 0, done.err
    return done.json()


def _price(seatwise: Seatwise, sku: str, cost: str, currency: str, frequency: str) -> None:
    done = seatwise(
        "license", "set", sku, "--cost", cost, "--currency", currency,
        "--payment-frequency", frequency,
    )  # fmt: skip
    assert done.code == 0, done.err


def _text(html: str) -> str:
    """The page's text with tags removed and white space collapsed (for number checks)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _csrf(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


@contextlib.contextmanager
def _signed_in(web: Web, who: str = "admin") -> Iterator[httpx.Client]:
    with web.client() as client:
        web.login(client, who)
        yield client


def test_overview_without_a_tenant_points_at_settings(web: Web) -> None:
    with _signed_in(web) as client:
        answer = client.get("/")
    assert answer.status_code == 200
    assert 'href="/settings"' in answer.text and "No tenant is connected yet" in answer.text


def test_overview_shows_the_cli_numbers(seatwise: Seatwise, web: Web, tmp_path: Path) -> None:
    _synced(seatwise, tmp_path)
    _price(seatwise, "ENTERPRISEPACK", "20.50", "EUR", "monthly")
    _price(seatwise, "SPE_E5", "600", "USD", "annual")
    users = _json(seatwise, "users")
    licences = _json(seatwise, "licenses")
    totals = {t["currency"]: t for t in _json(seatwise, "licenses", "--totals")}
    found = _json(seatwise, "recommendations")
    assert set(totals) == {"EUR", "USD"}
    with _signed_in(web) as client:
        html = client.get("/").text
    text = _text(html)
    assert re.search(rf'id="stat-users">{len(users):,}<', html)
    licensed = sum(1 for u in users if u["licenses"])
    assert 0 < licensed < len(users)
    assert re.search(rf'id="stat-licensed">{licensed:,}<', html)
    for currency, total in totals.items():
        assert f"{total['annual_cost']} {currency}" in text
        assert f"unused: {total['unused_annual_cost']} {currency}" in text
    savings: dict[str, Decimal] = defaultdict(Decimal)
    for item in found:
        if item["annual_savings"] is not None:
            savings[item["currency"]] += Decimal(item["annual_savings"])
    assert savings, "the simulated tenant should have priced recommendations"
    for currency, amount in savings.items():
        assert f"Potential savings ({currency}) {amount:.2f} {currency}" in text
    assert re.search(rf'id="stat-recommendations">{len(found)}<', html)
    # The seats chart: one stacked bar per SKU, assigned and unused.
    assert any(item["available"] > 0 for item in licences)
    for item in licences:
        if item["assigned"]:
            assert f"{item['name']} · Assigned: {item['assigned']:,}" in html
        if item["available"] > 0:
            assert f"{item['name']} · Unused: {item['available']:,}" in html
    # Freshness: every task's last run and the reports' refresh dates.
    for title in (
        "License Information",
        "Application Roster",
        "Application Access",
        "License Differentiation",
    ):
        assert re.search(rf"<td>{title}</td>\s*<td>\d{{4}}-\d\d-\d\d \d\d:\d\d UTC</td>", html)
    assert "never run" not in text and ">failed<" not in html
    assert re.search(r"<td>\d{4}-\d\d-\d\d</td>", html)  # a report refresh date
