"""The hostile-input corpus (tests/data/hostile/manifest.json): each payload served by the
simulator in Graph's place, read by the task named, which must end as the manifest says (failed
with a sentence, or succeeded with a note), never with a traceback or exit 70, never quoting a
stored user's name or UPN; what was stored before (users, their licences, SKUs) survives every
case, and hostile but valid text is stored exactly as sent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.sync.conftest import Seatwise, Sim, query, serve

pytestmark = pytest.mark.hostile

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
USERS_SQL = (
    "SELECT id, upn, display_name, account_enabled, deleted_at IS NULL FROM user "
    "WHERE id IN ({ids}) ORDER BY id"
)
LICENCES_SQL = "SELECT user_id, sku_id, via FROM license_assignment ORDER BY 1, 2, 3"
SKUS_SQL = "SELECT sku_id, part_number, enabled, consumed, retired FROM sku ORDER BY 1"


@dataclass
class World:
    sim: Sim
    seatwise: Seatwise
    url: str
    baseline_ids: list[str]
    baseline: dict[str, Any]
    personal: list[str]  # stored names and UPNs that no error or note may quote

    def canned_served(self) -> int:
        return int(self.sim.stats()["faults_injected"].get("canned", 0))

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return query(self.url, sql)

    def good_data(self) -> dict[str, Any]:
        ids = ", ".join(f"'{i}'" for i in self.baseline_ids)
        return {
            "users": self.query(USERS_SQL.format(ids=ids)),
            "licences": [
                row for row in self.query(LICENCES_SQL) if row[0] in set(self.baseline_ids)
            ],
            "skus": self.query(SKUS_SQL),
        }

    def last_run(self, task: str) -> tuple[str, str | None, list[str]]:
        status, error, notes = self.query(
            f"SELECT status, error, notes FROM task_run WHERE task = '{task}' "
            "ORDER BY pk DESC LIMIT 1"
        )[0]
        return status, error, json.loads(notes) if isinstance(notes, str) else notes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{tmp / 'seatwise.db'}"
    with pytest.MonkeyPatch.context() as monkeypatch, serve(tmp / "sim", users=20) as sim:
        seatwise = Seatwise(monkeypatch, tmp / "data", url)
        assert seatwise.add_app_only(sim).code == 0
        first = seatwise("sync")
        assert first.code == 0, first.err
        ids = [row[0] for row in query(url, "SELECT id FROM user ORDER BY id")]
        personal = [
            value
            for row in query(url, "SELECT upn, display_name FROM user")
            for value in row
            if value
        ]
        world = World(sim, seatwise, url, ids, {}, personal)
        world.baseline = world.good_data()
        assert world.baseline["licences"] and world.baseline["skus"]
        yield world
        # After the corpus a plain sync completes and the stored data is as it was.
        last = seatwise("sync")
        assert last.code == 0, last.err
        assert world.good_data() == world.baseline


def _payload(world: World, case: dict[str, Any]) -> bytes:
    data = (CORPUS / "cases" / case["file"]).read_bytes()
    upn0 = world.query(f"SELECT upn FROM user WHERE id = '{world.baseline_ids[0]}'")[0][0]
    for key, value in {
        "{base}": world.sim.server.base_url,
        "{user0}": world.baseline_ids[0],
        "{user1}": world.baseline_ids[1],
        "{upn0}": upn0,
    }.items():
        data = data.replace(key.encode(), value.encode())
    return data


def test_the_corpus_is_large_and_varied() -> None:
    assert len(MANIFEST) >= 60
    assert {c["outcome"] for c in MANIFEST} == {"failed", "succeeded"}
    assert len({c["name"] for c in MANIFEST}) == len(MANIFEST)
    for case in MANIFEST:
        assert (CORPUS / "cases" / case["file"]).is_file(), case["file"]


@pytest.mark.parametrize("case", MANIFEST, ids=[c["name"] for c in MANIFEST])
def test_hostile_payload(world: World, case: dict[str, Any]) -> None:
    served = world.canned_served()
    world.sim.control(
        "respond",
        {
            "path": case["path"],
            "status": case["status"],
            "content_type": case["content_type"],
            "body_b64": base64.b64encode(_payload(world, case)).decode(),
        },
    )
    result = world.seatwise("sync", "--task", case["task"])
    assert world.canned_served() == served + 1, "the payload was not read"
    assert "Traceback" not in result.err and result.code not in (1, 70), result.err
    status, error, notes = world.last_run(case["task"])
    assert status == case["outcome"], (status, error, notes)
    if case["outcome"] == "failed":
        assert result.code in (4, 5), result.err
        assert error is not None and case["expect"] in error, error
        assert error.count("\n") == 0
    else:
        assert result.code == 0, result.err
        assert case["expect"] in " ".join(notes), notes
    said = f"{error or ''} {' '.join(notes)} {result.err}"
    for value in world.personal:
        assert value not in said, "a stored user's name or UPN was quoted"
    for user_id, name in (case.get("stored") or {}).items():
        rows = world.query(f"SELECT display_name FROM user WHERE id = '{user_id}'")
        assert rows == [(name,)], rows
    assert world.good_data() == world.baseline
