"""The Users pages over real HTTP and in real Chromium, against a synced simulated tenant: the
same users, in the same order, as `seatwise users --format json`; the CSV export byte for byte
as `seatwise users --format csv`; a user's detail; markup in directory data shown as text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seatwise.web import formats
from seatwise.web.pages.users import SHOWN
from tests.sync.conftest import Seatwise, Sim, serve
from tests.web.conftest import Web, screenshot, sign_in

USERS = 240


@pytest.fixture
def sim(seatwise: Seatwise, tmp_path: Path) -> Iterator[Sim]:
    """A synced simulated tenant (requested before `web`, so the app sees its settings)."""
    with serve(tmp_path / "sim", users=USERS) as served:
        assert seatwise.add_app_only(served).code == 0
        synced = seatwise("sync")
        assert synced.code == 0, synced.err
        yield served


def _cli_users(seatwise: Seatwise, *args: str) -> list[dict[str, Any]]:
    result = seatwise("users", "--format", "json", *args)
    assert result.code == 0, result.err
    users: list[dict[str, Any]] = result.json()
    return users


def _row_ids(page_html: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)"', page_html)


def _cells(page_html: str, user_id: str) -> list[str]:
    """The text of a row's cells, its heading (the user) first."""
    row = page_html.split(f'<tr data-id="{user_id}">', 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


def _headings(page_html: str) -> list[str]:
    return re.findall(r'data-key="([a-z_]+)"', page_html.split("</thead>", 1)[0])


def test_filtered_sorted_paged_users_are_the_clis(sim: Sim, web: Web, seatwise: Seatwise) -> None:
    everyone = _cli_users(seatwise, "--no-guest", "--sort", "-mail_usage_mb")
    assert len(everyone) > 100, "the filter must leave more than one page"
    with web.client() as client:
        web.login(client, "viewer")
        answer = client.get("/users", params={"guest": "no", "sort": "-mail_usage_mb", "page": 2})
        assert answer.status_code == 200, answer.text
        text = answer.text
    assert f"{len(everyone):,} users" in text
    assert _row_ids(text) == [u["id"] for u in everyone[100:200]]
    assert 'rel="prev"' in text
    # Every §4 column but the id (the UPN links to the detail page) is a sort link; the most
    # useful come first, and the sorted column is shown although it is not one of them.
    keys = _headings(text)
    assert keys[: len(SHOWN)] == list(SHOWN) and len(keys) == 26
    shown = re.findall(r'<th scope="col" data-col="([a-z_]+)" class="(?:asc|desc)?"', text)
    assert shown == [*SHOWN, "mail_usage_mb"]
    assert "Sorted by <strong>Mailbox</strong>, descending" in text
    # Values as the CLI has them, for people: booleans as Yes/No, sizes in MB or GB, dates.
    record = everyone[100]
    cells = dict(zip(keys, _cells(text, record["id"]), strict=True))
    assert cells["upn"] == record["upn"] + (record["display_name"] or "")
    assert cells["mfa_enabled"] == {True: "Yes", False: "No", None: ""}[record["mfa_enabled"]]
    assert cells["guest"] == "No"
    assert cells["mail_usage_mb"] == html.unescape(formats.size_mb(record["mail_usage_mb"]))
    last = record["last_activity"]
    assert cells["last_activity"] == (
        re.sub(r"<[^>]+>", "", formats.day(last)) if last else "Never"
    )
    names = {lic["name"] for lic in record["licenses"]}
    assert all(name in cells["licenses"] for name in names)


def test_other_filters_and_sort_match_the_cli(sim: Sim, web: Web, seatwise: Seatwise) -> None:
    licensed = [u for u in _cli_users(seatwise) if u["licenses"]]
    sku = licensed[0]["licenses"][0]["sku_part_number"]
    country = next(u["country"] for u in licensed if u["country"])
    expected = _cli_users(
        seatwise, "--license", sku, "--country", country, "--mfa", "--sort", "-last_sign_in"
    )
    assert expected, "the filter must keep someone"
    with web.client() as client:
        web.login(client)
        answer = client.get(
            "/users",
            params={"license": sku, "country": country, "mfa": "yes", "sort": "-last_sign_in"},
        )
        assert answer.status_code == 200
        assert _row_ids(answer.text) == [u["id"] for u in expected]
        inactive = _cli_users(seatwise, "--inactive-days", "30", "--blocked", "--sort", "upn")
        answer = client.get("/users", params={"inactive_days": "30", "blocked": "yes"})
        assert _row_ids(answer.text) == [u["id"] for u in inactive]
        bad = client.get("/users", params={"sort": "password"})
        assert bad.status_code == 400 and "Cannot sort by" in bad.text


def test_csv_export_is_the_clis_csv(sim: Sim, web: Web, seatwise: Seatwise) -> None:
    cli = seatwise(
        "users",
        "--format",
        "csv",
        "--no-guest",
        "--inactive-days",
        "10",
        "--sort",
        "-days_since_last_activity",
    )
    assert cli.code == 0, cli.err
    with web.client() as client:
        web.login(client, "viewer")
        answer = client.get(
            "/users.csv",
            params={"guest": "no", "inactive_days": "10", "sort": "-days_since_last_activity"},
        )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.text == cli.out
    assert cli.out.count("\n") > 2


def test_user_detail_page(sim: Sim, web: Web, seatwise: Seatwise) -> None:
    everyone = _cli_users(seatwise, "--no-guest", "--no-blocked")
    target = next(u for u in everyone if u["licenses"] and u["last_activity"] and u["activations"])
    # A change through seatwise, so the user has audit events: reclaim their licences.
    # (picked for their activity, not their sign-in: an MFA or SSO user is included on purpose)
    planned = seatwise("reclaim", "plan", "--user", target["upn"], "--include-protected")
    assert planned.code == 0, planned.err
    plan = planned.out.strip()
    assert seatwise("reclaim", "approve", plan).code == 0
    applied = seatwise("reclaim", "apply", plan, "--yes")
    assert applied.code == 0, applied.err
    with web.client() as client:
        web.login(client, "viewer")
        answer = client.get(f"/users/{target['id']}")
        assert answer.status_code == 200, answer.text
        text = html.unescape(answer.text)
        missing = client.get("/users/no-such-user")
        assert missing.status_code == 404
    assert target["upn"] in text
    for lic in target["licenses"]:
        assert lic["sku_part_number"] in text
    assert text.count('<tr data-service="') == 11
    visio = text.split('data-service="Visio"', 1)[1].split("</tr>", 1)[0]
    assert "not available" in visio
    assert target["activations"][0]["product"] in text
    history = text.split('id="user-history"', 1)[1].split("</table>", 1)[0]
    assert history.count("<tr>") >= 2  # header + at least one snapshot
    audit = text.split('id="user-audit"', 1)[1].split("</table>", 1)[0]
    assert "No changes were made" not in audit
    assert f"<td>{plan}</td>" in audit


def test_markup_in_directory_data_is_shown_as_text(
    sim: Sim, web: Web, seatwise: Seatwise, page: Any
) -> None:
    hostile = next(
        u for u in _cli_users(seatwise) if u["display_name"] and "<script>" in u["display_name"]
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, "viewer")
    page.goto("/users")
    assert page.locator("#users-table tbody tr").count() == 100
    assert not page.locator("#users-table th[data-col=title]").is_visible()
    screenshot(page, "users")
    # The column chooser: ticking a column shows it at once, and it is remembered.
    for key in ("title", "display_name"):
        page.click("#col-chooser summary")
        with page.expect_navigation():
            page.check(f"#col-chooser input[value={key}]")
        assert page.locator(f"#users-table th[data-col={key}]").is_visible()
    page.click("#users-table th a[data-key=display_name]")
    page.wait_for_url("**sort=display_name**")
    assert "Display name" in page.locator("#sort-cue").inner_text()
    page.goto(f"/users?upn={hostile['upn'][:-1]}")  # no columns named: the remembered ones
    page.wait_for_url("**cols=**")
    row = page.locator(f'tr[data-id="{hostile["id"]}"]')
    assert hostile["display_name"] in row.inner_text()
    assert hostile["title"] and hostile["title"] in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_url(f"**/users/{hostile['id']}**")
    assert page.locator("h1").inner_text() == hostile["display_name"]
    assert html.escape(hostile["display_name"], quote=False) in page.content()
    assert page.locator("main script").count() == 0
    screenshot(page, "user-detail")
    assert dialogs == []
