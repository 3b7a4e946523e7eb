"""The Overview, Licenses and Activity pages against a synced simulated tenant, over real HTTP
and in real Chromium, compared with what the `seatwise` CLI prints as JSON for the same data.
"""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from markupsafe import escape as markupsafe_escape
from sqlalchemy import create_engine, select

from seatwise.analytics.licenses import FREE_SKUS, license_type
from seatwise.store.schema import Sku, SkuSnapshot
from seatwise.web import formats
from seatwise.web.formats import money
from tests.sync.conftest import Seatwise, serve
from tests.sync.test_license_history import license_info_runner
from tests.web.conftest import Web, screenshot, sign_in

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


def _spaced(shown: str) -> str:
    """A formatted amount as `_text` reads it (no-break spaces as spaces)."""
    return shown.replace("\u00a0", " ")


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
        # Amounts as people read them: "$133,584 USD" (web.formats, Babel).
        assert _spaced(money(total["annual_cost"], currency, whole=True)) in text
        assert f"unused: {_spaced(money(total['unused_annual_cost'], currency))} a year" in text
    savings: dict[str, Decimal] = defaultdict(Decimal)
    for item in found:
        if item["annual_savings"] is not None:
            savings[item["currency"]] += Decimal(item["annual_savings"])
    assert savings, "the simulated tenant should have priced recommendations"
    for currency, amount in savings.items():
        shown = _spaced(money(amount, currency, whole=True))
        assert f"Potential savings ({currency}) {shown}" in text
    assert re.search(rf'id="stat-recommendations">{len(found)}<', html)
    # The seats chart: one stacked bar per SKU, assigned and unused.
    licences = [item for item in licences if item["license_type"] != "free"]
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
        assert re.search(
            rf"<td>{title}</td>\s*<td><time [^>]+>"
            rf"\d{{1,2}} \w{{3}} \d{{4}} \d\d:\d\d</time> UTC</td>",
            html,
        )
    assert "never run" not in text and ">failed<" not in html
    assert re.search(r'<td><time class="date" datetime="\d{4}-\d\d-\d\d"', html)  # refresh date


def _licence_section(client: httpx.Client) -> str:
    html = client.get("/").text
    return html.split('id="licence-trend"', 1)[1].split("</section>", 1)[0]


def _stored_licence_days(database_url: str) -> tuple[dict[date, tuple[int, int]], int]:
    """Per day of stored history, (assigned, purchased) summed over the non-free SKUs; and how
    many free-SKU rows the history holds (left out of the chart)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    SkuSnapshot.day,
                    Sku.sku_id,
                    Sku.part_number,
                    SkuSnapshot.assigned,
                    SkuSnapshot.purchased,
                ).join(
                    Sku,
                    (Sku.tenant_pk == SkuSnapshot.tenant_pk) & (Sku.sku_id == SkuSnapshot.sku_id),
                )
            ).all()
    finally:
        engine.dispose()
    days: dict[date, tuple[int, int]] = {}
    free = 0
    for day, sku_id, part, assigned, purchased in rows:
        if license_type(sku_id, part) == "free":
            free += 1
            continue
        old = days.get(day, (0, 0))
        days[day] = (old[0] + assigned, old[1] + purchased)
    return days, free


def test_overview_draws_the_licence_history(seatwise: Seatwise, web: Web, tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    free = set(FREE_SKUS.values())
    with serve(tmp_path / "sim", users=USERS) as sim:
        assert seatwise.add_app_only(sim).code == 0
        with _signed_in(web) as client:
            assert "No licence history yet: run a sync." in _licence_section(client)
            with license_info_runner(seatwise) as run_at:
                run_at(datetime.combine(today - timedelta(days=2), datetime.min.time(), UTC))
                one = _licence_section(client)
                first = (today - timedelta(days=2)).isoformat()
                # One day: the two figures, not two lone dots.
                assert f"On {first}; the trend is drawn from the second day on." in one
                assert "<circle" not in one and one.count('class="figure"') == 2
                # The tenant buys units and loses a licensed user between the days.
                paid = [h for h in sim.tenant.holdings.values() if h.sku_id not in free]
                paid[0].enabled += 9
                run_at(datetime.combine(today - timedelta(days=1), datetime.min.time(), UTC))
                leaver = next(u for u in sim.tenant.users if set(u.sku_ids()) - free)
                sim.control(f"users/{leaver.id}/delete")
            synced = seatwise("sync", "--task", "license-info")  # today, on the real clock
            assert synced.code == 0, synced.err
            section = _licence_section(client)
    stored, free_rows = _stored_licence_days(seatwise.database_url)
    assert len(stored) == 3 and free_rows > 0  # the simulated tenant has free SKUs
    assert len(set(stored.values())) == 3  # three different days
    assert "Licences assigned and purchased per day" in section
    drawn: dict[str, dict[str, int]] = defaultdict(dict)
    for day, series, value in re.findall(
        r"<title>(\d{4}-\d\d-\d\d) · (Assigned|Purchased): ([\d,]+)</title>", section
    ):
        drawn[day][series] = int(value.replace(",", ""))
    assert drawn == {
        day.isoformat(): {"Assigned": assigned, "Purchased": purchased}
        for day, (assigned, purchased) in stored.items()
    }
    # The latest day is what `seatwise licenses` says now (paid and trial SKUs).
    latest = max(stored)
    licences = [p for p in _json(seatwise, "licenses", "--all") if p["license_type"] != "free"]
    assert stored[latest] == (
        sum(p["assigned"] for p in licences),
        sum(p["purchased"] for p in licences),
    )
    assigned, purchased = stored[latest]
    assert f"On {formats.day(latest)}: {assigned:,} assigned of {purchased:,} purchased." in section


def _rows(html: str) -> dict[str, dict[str, str]]:
    """The licence table: part number → {cell class → text} (the name is the row's heading)."""
    rows: dict[str, dict[str, str]] = {}
    for sku, body in re.findall(r'<tr data-sku="([^"]+)"[^>]*>(.*?)</tr>', html, re.S):
        cells = re.findall(
            r'<(?:td|th scope="row") class="(?:num )?([a-z]+)">(.*?)</t[dh]>', body, re.S
        )
        rows[sku] = {name: _text(value).strip() for name, value in cells}
    return rows


def test_licenses_page_shows_the_cli_positions(
    seatwise: Seatwise, web: Web, tmp_path: Path
) -> None:
    _synced(seatwise, tmp_path)
    _price(seatwise, "ENTERPRISEPACK", "20.50", "EUR", "monthly")
    expected = _json(seatwise, "licenses", "--all")
    totals = _json(seatwise, "licenses", "--totals")
    with _signed_in(web) as client:
        html = client.get("/licenses").text
    rows = _rows(html)
    assert set(rows) == {p["sku_part_number"] for p in expected}
    for item in expected:
        row = rows[item["sku_part_number"]]
        assert row["name"].startswith(item["name"])
        assert item["sku_part_number"] in row["name"]
        assert row["purchased"] == f"{item['purchased']:,}"
        assert row["assigned"] == f"{item['assigned']:,}"
        assert row["available"] == f"{item['available']:,}"
        assert ("unmanaged" in row["name"]) == (not item["managed"])
        cost = money(item["cost"], item["currency"], exact=True)
        frequency = item["payment_frequency"] or ""
        assert row["cost"] == _spaced(f"{cost} {frequency}".strip() if cost else "")
        assert row["annual"] == _spaced(money(item["annual_cost"], item["currency"], whole=True))
        assert row["unused"] == _spaced(
            money(item["unused_annual_cost"], item["currency"], whole=True)
        )
    [eur] = totals
    assert re.search(
        r'data-currency="EUR"><td>EUR</td><td class="num">'
        + re.escape(money(eur["annual_cost"], "EUR"))
        + r'</td><td class="num">'
        + re.escape(money(eur["unused_annual_cost"], "EUR"))
        + "</td>",
        html,
    )
    assert "Edit</a>" in html


def test_an_admin_edits_a_contract_in_the_browser(
    seatwise: Seatwise, web: Web, page: Any, tmp_path: Path
) -> None:
    _synced(seatwise, tmp_path)
    sign_in(page)
    page.goto("/licenses")
    row = page.locator('tr[data-sku="ENTERPRISEPACK"]')
    assert row.locator("td.cost").inner_text() == ""
    row.locator("text=Edit").click()
    page.fill("input[name=cost]", "31.25")
    page.fill("input[name=currency]", "GBP")
    page.select_option("select[name=payment_frequency]", "monthly")
    page.fill("input[name=effective_date]", "2026-01-01")
    page.fill("input[name=expiration_date]", "2027-12-31")
    page.click("button:has-text('Save')")
    page.wait_for_url("**/licenses?*saved=ENTERPRISEPACK*")
    assert "Saved the contract of ENTERPRISEPACK" in page.locator("p.flash.ok").inner_text()
    [stored] = [p for p in _json(seatwise, "licenses") if p["sku_part_number"] == "ENTERPRISEPACK"]
    assert stored["cost"] == "31.25" and stored["currency"] == "GBP"
    assert stored["payment_frequency"] == "monthly"
    assert stored["effective_date"] == "2026-01-01" and stored["expiration_date"] == "2027-12-31"
    expected = Decimal("31.25") * 12 * stored["purchased"]
    assert stored["annual_cost"] == f"{expected:.2f}"
    row = page.locator('tr[data-sku="ENTERPRISEPACK"]')
    assert row.locator("td.cost .nowrap").inner_text() == money("31.25", "GBP", exact=True)
    assert row.locator("td.annual").inner_text() == money(stored["annual_cost"], "GBP", whole=True)
    unused = money(stored["unused_annual_cost"], "GBP", whole=True)
    assert row.locator("td.unused").inner_text() == unused
    assert page.locator('#totals tr[data-currency="GBP"]').count() == 1
    screenshot(page, "licenses")


def test_invalid_contract_input_shows_errors_and_stores_nothing(
    seatwise: Seatwise, web: Web, page: Any, tmp_path: Path
) -> None:
    _synced(seatwise, tmp_path)
    _price(seatwise, "ENTERPRISEPACK", "20.50", "EUR", "monthly")
    before = _json(seatwise, "licenses", "--all")
    sign_in(page)
    page.goto("/licenses")
    page.locator('tr[data-sku="ENTERPRISEPACK"]').locator("text=Edit").click()
    page.fill("input[name=cost]", "abc")
    page.fill("input[name=currency]", "EURO")
    page.fill("input[name=expiration_date]", "2027-02-30")
    page.click("button:has-text('Save')")
    cost_error = page.locator('.field-error[data-field="cost"]').inner_text()
    assert cost_error == "Cost must be a number such as 12.50, not 'abc'."
    currency_error = page.locator('.field-error[data-field="currency"]').inner_text()
    assert "Currency must be three upper-case letters such as EUR, not 'EURO'" in currency_error
    assert (
        "Expiration date must be an ISO date"
        in page.locator('.field-error[data-field="expiration_date"]').inner_text()
    )
    assert page.input_value("input[name=cost]") == "abc"  # what was typed is shown again
    assert page.input_value("input[name=currency]") == "EURO"
    screenshot(page, "licenses-invalid")
    # Valid fields that do not add up: an expiration before the effective date.
    page.fill("input[name=cost]", "99")
    page.fill("input[name=currency]", "USD")
    page.fill("input[name=effective_date]", "2027-01-01")
    page.fill("input[name=expiration_date]", "2026-01-01")
    page.click("button:has-text('Save')")
    assert "is before its effective date" in page.locator("p.flash.error").inner_text()
    assert _json(seatwise, "licenses", "--all") == before


def test_viewers_see_no_edit_controls_and_cannot_post(
    seatwise: Seatwise, web: Web, tmp_path: Path
) -> None:
    _synced(seatwise, tmp_path, users=60)
    before = _json(seatwise, "licenses", "--all")
    sku = next(p["sku_id"] for p in before if p["sku_part_number"] == "ENTERPRISEPACK")
    with _signed_in(web, "viewer") as client:
        html = client.get("/licenses").text
        assert "ENTERPRISEPACK" in html and "Edit</a>" not in html and "/managed" not in html
        token = _csrf(html)  # the sign-out form's token: valid for this session
        refused = client.post(
            f"/licenses/{sku}",
            data={
                "csrf_token": token,
                "cost": "1",
                "currency": "EUR",
                "payment_frequency": "annual",
            },
        )
        assert refused.status_code == 403 and "Only an admin" in refused.text
        refused = client.post(
            f"/licenses/{sku}/managed", data={"csrf_token": token, "managed": "no"}
        )
        assert refused.status_code == 403
        assert client.get(f"/licenses/{sku}/edit").status_code == 403
    assert _json(seatwise, "licenses", "--all") == before


def test_an_admin_toggles_managed(seatwise: Seatwise, web: Web, tmp_path: Path) -> None:
    _synced(seatwise, tmp_path, users=60)
    _price(seatwise, "ENTERPRISEPACK", "20.50", "EUR", "monthly")
    sku = next(
        p["sku_id"] for p in _json(seatwise, "licenses") if p["sku_part_number"] == "ENTERPRISEPACK"
    )
    with _signed_in(web) as client:
        token = _csrf(client.get("/licenses").text)
        done = client.post(f"/licenses/{sku}/managed", data={"csrf_token": token, "managed": "no"})
        assert done.status_code == 303
        html = client.get(done.headers["location"]).text
        assert "unmanaged" in _rows(html)["ENTERPRISEPACK"]["name"]
        assert 'id="totals"' not in html  # its cost no longer counts
    [stored] = [p for p in _json(seatwise, "licenses", "--all") if p["sku_id"] == sku]
    assert stored["managed"] is False and stored["cost"] == "20.50"
    assert _json(seatwise, "licenses", "--totals") == []
    assert all(p["sku_id"] != sku for p in _json(seatwise, "licenses"))


def _activity_rows(html: str) -> dict[str, dict[str, str]]:
    """The users table: UPN → {service → shown value}."""
    rows: dict[str, dict[str, str]] = {}
    for upn, body in re.findall(r'<tr data-upn="([^"]+)">(.*?)</tr>', html, re.S):
        cells = re.findall(r'<td data-service="([^"]+)"[^>]*>(.*?)</td>', body, re.S)
        rows[upn] = {service: value.strip() for service, value in cells}
    return rows


def _shown(value: str | None) -> str:
    """A service's last activity as the page's cell holds it: a short date, or the word."""
    if value is None:
        return "—"
    return value if value in ("never", "not available") else str(formats.day(value, short=True))


def _shown_text(value: str | None) -> str:
    """The same as a reader sees it."""
    return re.sub(r"<[^>]+>", "", _shown(value))


def test_activity_page_shows_the_cli_activity(seatwise: Seatwise, web: Web, tmp_path: Path) -> None:
    _synced(seatwise, tmp_path)
    per_user = _json(seatwise, "activity")
    summary = _json(seatwise, "activity", "--summary")
    licences = _json(seatwise, "activity", "--differentiation")
    assert len(per_user) > 100  # more than two pages of 50
    with _signed_in(web) as client:
        first = client.get("/activity").text
        second = client.get("/activity?page=2").text
        marked = next(i for i, r in enumerate(per_user) if "<" in (r["display_name"] or ""))
        escaped = client.get(f"/activity?page={marked // 50 + 1}").text
    assert f"Users 1–50 of {len(per_user)}" in first and "page 1 of 3" in first
    assert f"Users 51–100 of {len(per_user)}" in second
    for html, chunk in ((first, per_user[:50]), (second, per_user[50:100])):
        rows = _activity_rows(html)
        assert list(rows) == [r["upn"] for r in chunk]
        for record in chunk:
            for service in ("Exchange", "Teams", "SharePoint", "Power BI", "Visio"):
                assert rows[record["upn"]][service] == _shown(record[service]), (record, service)
    visio = {r["Visio"] for r in per_user} - {None}
    assert visio == {"not available"}
    assert any(r["Teams"] == "never" for r in per_user)
    # Directory data with markup is shown as text.
    name = per_user[marked]["display_name"]
    main = escaped.split("<main>", 1)[1].split("</main>", 1)[0]
    assert "<script" not in main and "<img" not in escaped
    assert str(markupsafe_escape(name)) in escaped
    # The summary (distribution) as --summary prints it.
    for record in summary:
        row = re.search(rf'<tr data-service="{record["service"]}">(.*?)</tr>', first, re.S)
        assert row is not None
        numbers = re.findall(r'<td class="num">(\d+)</td>', row.group(1))
        keys = ("licensed", "active_7d", "active_30d", "active_90d", "inactive", "never")
        assert numbers == [str(record[k]) for k in (*keys, "not_available")]
    teams = next(r for r in summary if r["service"] == "Teams")
    assert f"Teams · Never: {teams['never']}" in first
    # Licence differentiation as --differentiation prints it.
    assert licences
    for record in licences:
        cell = (
            rf'<tr data-sku="{record["sku_part_number"]}">.*?data-service="{record["service"]}"'
            rf"[^>]*>{record['active_users']} / {record['holders']}</td>"
        )
        assert re.search(cell, first, re.S), record


def test_the_service_filter_in_the_browser(
    seatwise: Seatwise, web: Web, page: Any, tmp_path: Path
) -> None:
    _synced(seatwise, tmp_path)
    expected = _json(seatwise, "activity", "--service", "Teams", "--service", "Visio")
    sign_in(page)
    page.goto("/")
    assert page.locator("#stat-users").inner_text() != ""
    screenshot(page, "overview")
    page.goto("/activity")
    assert page.locator("#activity thead th").count() == 11 + 2
    screenshot(page, "activity")
    for box in page.locator("#service-filter input[type=checkbox]").all():
        if box.get_attribute("value") not in ("Teams", "Visio"):
            box.uncheck()
    page.click("#service-filter button[type=submit]")
    page.wait_for_url("**/activity?service=Teams&service=Visio")
    headers = page.locator("#activity thead th").all_inner_texts()
    assert headers == ["User", "Teams", "Visio", "As of"]
    assert page.locator("#summary tbody tr").all_inner_texts()[0].startswith("Teams")
    assert page.locator("#summary tbody tr").count() == 2
    rows = page.locator("#activity tbody tr")
    assert rows.count() == 50
    for i, record in enumerate(expected[:50]):
        row = rows.nth(i)
        assert row.locator(".upn").inner_text() == record["upn"]
        assert row.locator('td[data-service="Teams"]').inner_text() == _shown_text(record["Teams"])
        assert row.locator('td[data-service="Visio"]').inner_text() == _shown_text(record["Visio"])
    page.click("#next-page")
    page.wait_for_url("**/activity?service=Teams&service=Visio&page=2")
    assert page.locator("#activity tbody tr .upn").first.inner_text() == expected[50]["upn"]
    assert page.locator("#activity thead th").count() == 4  # the filter survives paging
    screenshot(page, "activity-filtered")


def test_an_unknown_service_is_a_clear_error(web: Web) -> None:
    with _signed_in(web) as client:
        answer = client.get("/activity?service=Fax")
    assert answer.status_code == 400 and "Unknown service &#39;Fax&#39;" in answer.text


def _section(html: str, rule: str) -> str:
    start = html.index(f'id="rule-{rule}"')
    return html[start : html.index("</section>", start)]


def test_recommendations_show_the_first_results_of_each_rule_and_count_them_all(
    seatwise: Seatwise, web: Web, tmp_path: Path
) -> None:
    _synced(seatwise, tmp_path)
    found = _json(seatwise, "recommendations")
    by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in found:
        by_rule[item["rule"]].append(item)
    rule, items = max(by_rule.items(), key=lambda pair: len(pair[1]))
    assert len(items) >= 3, "the simulated tenant should give one rule several results"
    with _signed_in(web) as client:
        capped = client.get("/recommendations", params={"per_rule": 2}).text
        section = _section(capped, rule)
        assert f'<span class="badge">{len(items)}</span>' in section
        shown = [i["upn"] for i in items if f'data-upn="{i["upn"]}"' in section]
        assert shown == [i["upn"] for i in items[:2]]
        assert f"Showing the first 2 of {len(items)}." in _text(section)
        link = re.search(r'href="(/recommendations\?[^"]+)">Show all', section)
        assert link is not None
        everything = _section(client.get(link.group(1).replace("&amp;", "&")).text, rule)
        assert all(f'data-upn="{i["upn"]}"' in everything for i in items)
        assert "Showing the first" not in everything
        refused = client.get("/recommendations", params={"per_rule": 0})
        assert refused.status_code == 422
