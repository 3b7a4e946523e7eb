"""An unmanaged SKU in the web UI and the API (DESIGN §5): the Users page, its CSV and a user's
page, the Activity page, the Overview's licence trend, and `/api/v1/users`, `/api/v1/activity`,
`/api/v1/license_differentiation` leave it out unless asked to include unmanaged licences; over
real HTTP against a synced simulated tenant, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.sync.conftest import Seatwise, serve
from tests.web.conftest import Web


@dataclass
class Unmanaged:
    """The SKU marked unmanaged after the sync, and the ids of its holders."""

    sku: dict[str, Any]
    holders: set[str]
    assigned_before: int  # the Overview trend's latest "assigned" before the change


def _json(seatwise: Seatwise, *args: str) -> Any:
    result = seatwise(*args, "--format", "json")
    assert result.code == 0, result.err
    return result.json()


def _latest_assigned(text: str) -> int:
    found = re.search(r"On <time [^>]+>[^<]+</time>: ([\d,]+) assigned of", text)
    assert found, "the Overview names the latest day of licence history"
    return int(found[1].replace(",", ""))


@pytest.fixture
def synced(seatwise: Seatwise, tmp_path: Path) -> Iterator[Seatwise]:
    """A synced simulated tenant (requested before `web`, so the app sees its settings)."""
    with serve(tmp_path / "sim", users=120, seed=7) as sim:
        assert seatwise.add_app_only(sim).code == 0
        done = seatwise("sync")
        assert done.code == 0, done.err
        yield seatwise


@pytest.fixture
def unmanaged(synced: Seatwise, web: Web) -> Unmanaged:
    users = _json(synced, "users")
    licences = [lic for lic in _json(synced, "licenses") if lic["assigned"]]

    def holders(sku_id: str) -> set[str]:
        return {u["id"] for u in users if any(x["sku_id"] == sku_id for x in u["licenses"])}

    sku = max(licences, key=lambda lic: len(holders(lic["sku_id"])))
    with web.client() as client:
        web.login(client, "viewer")
        before = _latest_assigned(client.get("/").text)
    assert synced("license", "set", sku["sku_part_number"], "--unmanaged").code == 0
    return Unmanaged(sku, holders(sku["sku_id"]), before)


def _badge(part: str) -> re.Pattern[str]:
    """A licence badge of the Users table: the product's name, its part number as tooltip."""
    return re.compile(rf'<span class="badge[^"]*" title="{re.escape(part)}[ "]')


def test_users_pages_and_csv(synced: Seatwise, web: Web, unmanaged: Unmanaged) -> None:
    part, name = unmanaged.sku["sku_part_number"], unmanaged.sku["name"].casefold()
    holder = sorted(unmanaged.holders)[0]
    with web.client() as client:
        web.login(client, "viewer")
        page = client.get("/users", params={"sort": "upn"})
        assert page.status_code == 200
        assert not _badge(part).search(page.text)
        assert f'<option value="{part}"' not in page.text  # not offered as a filter either
        assert (
            'name="include_unmanaged"' in page.text
            and "checked" not in page.text.split('id="include-unmanaged"', 1)[1].split(">", 1)[0]
        )
        assert "No user matches" in client.get("/users", params={"license": part}).text
        wide = client.get("/users", params={"include_unmanaged": "1"})
        assert _badge(part).search(wide.text)
        assert f'<option value="{part}"' in wide.text
        matched = client.get("/users", params={"license": part, "include_unmanaged": "1"})
        assert set(re.findall(r'<tr data-id="([^"]+)"', matched.text)) <= unmanaged.holders
        assert (
            "include_unmanaged=1" in wide.text.split('id="users-csv"', 1)[0].rsplit("href=", 1)[1]
        )

        csv = client.get("/users.csv")
        assert csv.status_code == 200 and name not in csv.text.casefold()
        assert name in client.get("/users.csv", params={"include_unmanaged": "1"}).text.casefold()

        one = client.get(f"/users/{holder}")
        assert one.status_code == 200
        licences = one.text.split('id="user-licences"', 1)[1].split("</table>", 1)[0]
        assert f"<td>{part}</td>" not in licences
        assert 'id="unmanaged-note"' in one.text
        shown = client.get(f"/users/{holder}", params={"include_unmanaged": "1"}).text
        assert f"<td>{part}</td>" in shown.split('id="user-licences"', 1)[1].split("</table>")[0]


def _cell_total(text: str) -> int:
    """The sum of the holders in the Activity page's License Differentiation grid."""
    return sum(int(h) for h in re.findall(r">\d+ / (\d+)</td>", text))


def test_activity_page_and_overview_trend(synced: Seatwise, web: Web, unmanaged: Unmanaged) -> None:
    name = unmanaged.sku["name"]
    with web.client() as client:
        web.login(client, "viewer")
        narrow = client.get("/activity")
        wide = client.get("/activity", params={"include_unmanaged": "1"})
        assert narrow.status_code == wide.status_code == 200
        grid = narrow.text.split("License Differentiation", 1)[-1]
        wide_grid = wide.text.split("License Differentiation", 1)[-1]
        assert f"<td>{name}</td>" not in grid and name in wide_grid
        assert _cell_total(narrow.text) < _cell_total(wide.text)
        assert "include_unmanaged=1" in wide.text  # the pager keeps the choice

        after = _latest_assigned(client.get("/").text)
    assert after == unmanaged.assigned_before - unmanaged.sku["assigned"]


def _api(web: Web, path: str, **params: Any) -> Any:
    with web.client(headers={"Authorization": f"Bearer {web.tokens['viewer']}"}) as client:
        answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return answer


def test_api_users_activity_and_differentiation(
    synced: Seatwise, web: Web, unmanaged: Unmanaged
) -> None:
    sku_id, part = unmanaged.sku["sku_id"], unmanaged.sku["sku_part_number"]

    def every(path: str, **params: Any) -> list[dict[str, Any]]:
        body = _api(web, path, **params, **{"$top": 100000}).json()
        assert "@odata.nextLink" not in body
        return body["value"]  # type: ignore[no-any-return]

    def held(users: list[dict[str, Any]]) -> set[str]:
        return {u["id"] for u in users if any(x["sku_id"] == sku_id for x in u["licenses"])}

    assert held(every("/api/v1/users")) == set()
    assert held(every("/api/v1/users", include_unmanaged="true")) == unmanaged.holders
    assert every("/api/v1/users", **{"$filter": f"license eq '{part}'"}) == []
    matched = every(
        "/api/v1/users", include_unmanaged="true", **{"$filter": f"license eq '{part}'"}
    )
    assert {u["id"] for u in matched} == unmanaged.holders
    one = sorted(unmanaged.holders)[0]
    assert not held([_api(web, f"/api/v1/users/{one}").json()])
    assert held([_api(web, f"/api/v1/users/{one}", include_unmanaged="true").json()])
    csv = _api(web, "/api/v1/users", **{"$format": "csv"}).text.casefold()
    assert unmanaged.sku["name"].casefold() not in csv
    wide_csv = _api(web, "/api/v1/users", include_unmanaged="true", **{"$format": "csv"}).text
    assert unmanaged.sku["name"].casefold() in wide_csv.casefold()

    kept = every("/api/v1/license_differentiation")
    wide = every("/api/v1/license_differentiation", include_unmanaged="true")
    assert sku_id not in {r["sku_id"] for r in kept}
    assert sku_id in {r["sku_id"] for r in wide}

    licensed = sum(r["licensed"] for r in every("/api/v1/activity"))
    assert licensed < sum(r["licensed"] for r in every("/api/v1/activity", include_unmanaged="1"))
    with web.client(headers={"Authorization": f"Bearer {web.tokens['viewer']}"}) as client:
        bad = client.get("/api/v1/license_differentiation", params={"include_unmanaged": "maybe"})
        assert bad.status_code == 400 and "include_unmanaged" in bad.json()["error"]["message"]
