"""Web replicas are stateless: two apps over one database (as N `seatwise serve` processes on
several machines behind a proxy) keep answers and recommendations under the tenant's data
version in the database, so a contract edit made through one replica, or a sync run by another
process, is seen by the other at once, never a stale page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from seatwise.web.app import create_app
from tests.sync.conftest import Seatwise, serve
from tests.web.conftest import Web


def _all(client: Any, url: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    page = client.get(url).json()
    records.extend(page["value"])
    while "@odata.nextLink" in page:
        page = client.get(page["@odata.nextLink"]).json()
        records.extend(page["value"])
    return records


def test_a_replica_never_serves_what_another_changed(
    web: Web, seatwise: Seatwise, tmp_path: Path
) -> None:
    token = {"Authorization": f"Bearer {web.tokens['admin']}"}
    other_app = create_app(web.settings)  # a second replica over the same database
    try:
        with (
            serve(tmp_path / "sim", users=60) as sim,
            web.client(headers=token) as first,
            TestClient(other_app, base_url="http://127.0.0.1", headers=token) as second,
        ):
            assert seatwise.add_app_only(sim).code == 0
            assert seatwise("sync").code == 0
            kept = web.app.state.web.findings
            before = _all(first, "/api/v1/recommendations")
            licences = _all(first, "/api/v1/licenses")
            users = first.get("/api/v1/users", params={"$top": 5}).json()
            assert _all(first, "/api/v1/recommendations") == before  # kept: no new evaluation
            evaluations = kept.evaluations
            assert all(r["annual_savings"] is None for r in before)  # no prices yet

            priced = second.patch(
                "/api/v1/licenses/enterprisepack",
                json={"cost": "36.00", "currency": "USD", "payment_frequency": "monthly"},
            )
            assert priced.status_code == 200, priced.text
            after = _all(first, "/api/v1/recommendations")
            assert kept.evaluations == evaluations + 1
            assert after != before and any(r["annual_savings"] for r in after)
            assert after == _all(second, "/api/v1/recommendations")
            shown = {p["sku_part_number"]: p for p in _all(first, "/api/v1/licenses")}
            assert shown["ENTERPRISEPACK"]["cost"] == "36.00"
            assert licences != list(shown.values())

            # A sync in another process (the CLI here) moves the data version too.
            signed = users["value"][0]
            sim.control(f"users/{signed['id']}/signin")
            assert seatwise("sync", "--task", "roster").code == 0
            fresh = first.get("/api/v1/users", params={"$top": 5}).json()
            assert fresh["value"][0]["last_sign_in"] != signed["last_sign_in"]
            assert fresh["value"] == second.get("/api/v1/users", params={"$top": 5}).json()["value"]
    finally:
        other_app.state.web.engine.dispose()
