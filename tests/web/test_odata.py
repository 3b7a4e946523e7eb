"""The reporting API as an OData v4 service, read by real OData clients over real HTTP against a
synced simulated tenant (SQLite and PostgreSQL): the service and `$metadata` documents, paging,
`$count`, `$select`, keys, the `$filter` expressions Power Query folds (row counts checked
against the CLI's records filtered in plain Python), and hostile options answering 400/501.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from lxml import etree

from tests.sync.conftest import Seatwise, serve
from tests.web.conftest import Web

USERS = 150
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
SETS = {
    "tenants",
    "users",
    "licenses",
    "activity",
    "recommendations",
    "plans",
    "plan_items",
    "task_runs",
    "audit",
    "license_differentiation",
    "itam",
    "itam_consumption",
}
PRIMITIVES = {
    "Edm.String",
    "Edm.Boolean",
    "Edm.Int32",
    "Edm.Double",
    "Edm.Decimal",
    "Edm.Date",
    "Edm.DateTimeOffset",
}


def _bearer(web: Web, role: str = "viewer") -> dict[str, str]:
    return {"Authorization": f"Bearer {web.tokens[role]}"}


def _synced(seatwise: Seatwise, tmp_path: Path) -> list[dict[str, Any]]:
    with serve(tmp_path / "sim", users=USERS) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
    done = seatwise("users", "--format", "json")
    assert done.code == 0, done.err
    users: list[dict[str, Any]] = done.json()
    return users


def _all(client: httpx.Client, url: str, headers: dict[str, str] | None = None, **params: Any):
    answer = client.get(url, params=params, headers=headers or {})
    assert answer.status_code == 200, answer.text
    page = answer.json()
    records, pages = list(page["value"]), 1
    while "@odata.nextLink" in page:
        answer = client.get(page["@odata.nextLink"], headers=headers or {})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        records += page["value"]
        pages += 1
        assert pages < 500
    return records, pages


def test_service_and_metadata_documents(web: Web, seatwise: Seatwise, tmp_path: Path) -> None:
    _synced(seatwise, tmp_path)
    with web.client(headers=_bearer(web)) as client:
        service = client.get("/api/v1/")
        assert service.status_code == 200 and service.headers["odata-version"] == "4.0"
        assert service.headers["content-type"].startswith("application/json;odata.metadata=minimal")
        body = service.json()
        assert body["@odata.context"] == f"{web.base_url}/api/v1/$metadata"
        assert {s["name"] for s in body["value"]} == SETS
        assert all(s["kind"] == "EntitySet" and s["url"] == s["name"] for s in body["value"])

        metadata = client.get("/api/v1/$metadata")
        assert metadata.status_code == 200
        assert metadata.headers["content-type"].startswith("application/xml")
        root = etree.fromstring(metadata.content)
        assert root.tag == f"{EDMX}Edmx" and root.get("Version") == "4.0"
        (schema,) = root.iter(f"{EDM}Schema")
        namespace = schema.get("Namespace")
        defined = {
            f"{namespace}.{t.get('Name')}"
            for kind in ("EntityType", "ComplexType", "EnumType")
            for t in schema.iter(f"{EDM}{kind}")
        }
        entity_types = {t.get("Name"): t for t in schema.iter(f"{EDM}EntityType")}
        for name, entity_type in entity_types.items():
            keys = [r.get("Name") for r in entity_type.iter(f"{EDM}PropertyRef")]
            declared = {p.get("Name"): p for p in entity_type.iter(f"{EDM}Property")}
            assert keys and all(k in declared for k in keys), name
            assert all(declared[k].get("Nullable") == "false" for k in keys), name
        for prop in schema.iter(f"{EDM}Property"):
            kind = prop.get("Type")
            element = kind[11:-1] if kind.startswith("Collection(") else kind
            assert element in PRIMITIVES or element in defined, (prop.get("Name"), kind)
        container = {s.get("Name"): s.get("EntityType") for s in schema.iter(f"{EDM}EntitySet")}
        assert set(container) == SETS
        assert all(t in defined for t in container.values())

        # Every set answers in the v4 form, and its rows name only declared properties
        # (open types may add the dynamic ones: the per-currency amounts, counts).
        for name, type_name in container.items():
            answer = client.get(f"/api/v1/{name}")
            assert answer.status_code == 200, (name, answer.text)
            page = answer.json()
            assert page["@odata.context"] == f"{web.base_url}/api/v1/$metadata#{name}"
            entity_type = entity_types[type_name.split(".", 1)[1]]
            declared = {p.get("Name") for p in entity_type.iter(f"{EDM}Property")}
            for row in page["value"]:
                extra = set(row) - declared
                assert not extra or entity_type.get("OpenType") == "true", (name, extra)
                assert all(isinstance(row[k], dict | list) or k not in extra for k in row), (
                    name,
                    extra,
                )


def test_python_odata_reads_the_service(web: Web, seatwise: Seatwise, tmp_path: Path) -> None:
    """python-odata (an OData v4 client) reflects `$metadata` and pages through the sets."""
    from odata import ODataService

    cli_users = _synced(seatwise, tmp_path)
    session = requests.Session()
    session.trust_env = False
    session.headers.update(_bearer(web))
    session.headers["Prefer"] = "odata.maxpagesize=40"  # several pages of users
    service = ODataService(
        f"{web.base_url}/api/v1/", session=session, reflect_entities=True, quiet_progress=True
    )
    assert set(service.entities) == SETS
    user_type = service.entities["users"]
    everyone = list(service.query(user_type))
    assert len(everyone) == len(cli_users) == service.query(user_type).count()
    assert [u.id for u in everyone] == [u["id"] for u in cli_users]

    guests = service.query(user_type).filter(user_type.guest == True)  # noqa: E712
    assert {u.id for u in guests} == {u["id"] for u in cli_users if u["guest"]}
    by_country = list(
        service.query(user_type).order_by(user_type.country.desc(), user_type.upn.asc())
    )
    expected = sorted(cli_users, key=lambda u: u["upn"])
    expected = sorted(
        [u for u in expected if u["country"] is not None], key=lambda u: u["country"], reverse=True
    ) + [u for u in expected if u["country"] is None]
    assert [u.id for u in by_country] == [u["id"] for u in expected]
    one = service.query(user_type).get(cli_users[3]["id"])
    assert one.upn == cli_users[3]["upn"]


def test_pyodata_reads_the_metadata(web: Web, seatwise: Seatwise, tmp_path: Path) -> None:
    """pyodata (an OData v2 client: its entity reads expect v2's `d.results`) reads the v4
    `$metadata` with every entity set, entity type and key."""
    import pyodata
    from pyodata.v2.model import Config, PolicyIgnore

    _synced(seatwise, tmp_path)
    session = requests.Session()
    session.trust_env = False
    session.headers.update(_bearer(web))
    # Edm.Date and enumerations are v4 types pyodata's v2 type table lacks.
    config = Config(default_error_policy=PolicyIgnore())
    client = pyodata.Client(f"{web.base_url}/api/v1/", session, config=config)
    assert {s.name for s in client.schema.entity_sets} == SETS
    users = client.schema.entity_set("users").entity_type
    assert [k.name for k in users.key_proprties] == ["id"]
    activity = client.schema.entity_set("activity").entity_type
    assert [k.name for k in activity.key_proprties] == ["user_id", "service"]


def test_paging_count_select_and_keys(web: Web, seatwise: Seatwise, tmp_path: Path) -> None:
    cli_users = _synced(seatwise, tmp_path)
    total = len(cli_users)
    with web.client(headers=_bearer(web)) as client:
        paged, pages = _all(client, "/api/v1/users", {"Prefer": "odata.maxpagesize=25"})
        assert paged == cli_users and pages == -(-total // 25)
        first = client.get("/api/v1/users", headers={"Prefer": "odata.maxpagesize=25"})
        assert first.headers["preference-applied"] == "odata.maxpagesize=25"
        # $top bounds the whole answer; the server pages within it.
        bounded, pages = _all(
            client, "/api/v1/users", {"Prefer": "odata.maxpagesize=20"}, **{"$top": 50}
        )
        assert bounded == cli_users[:50] and pages == 3
        top = client.get("/api/v1/users", params={"$top": 5000, "$skip": 10}).json()
        assert top["value"] == cli_users[10:] and "@odata.nextLink" not in top
        counted = client.get("/api/v1/users", params={"$count": "true", "$top": 3}).json()
        assert counted["@odata.count"] == total and len(counted["value"]) == 3
        assert client.get("/api/v1/users/$count").text == str(total)
        guests = sum(1 for u in cli_users if u["guest"])
        assert client.get("/api/v1/users/$count", params={"$filter": "guest"}).text == str(guests)

        chosen = client.get("/api/v1/users", params={"$select": "upn,id", "$top": 2}).json()
        assert chosen["@odata.context"].endswith("/$metadata#users(id,upn)")
        assert chosen["value"] == [{"id": u["id"], "upn": u["upn"]} for u in cli_users[:2]]
        csv = client.get("/api/v1/users", params={"$select": "upn", "$format": "csv"})
        assert csv.text.split() == ["upn", *(u["upn"] for u in cli_users)]

        one = cli_users[7]
        keyed = client.get(f"/api/v1/users('{one['id']}')").json()
        assert keyed.pop("@odata.context").endswith("/$metadata#users/$entity")
        assert keyed == one
        assert client.get("/api/v1/users('nobody')").status_code == 404
        licence = client.get("/api/v1/licenses").json()["value"][0]
        by_key = client.get(f"/api/v1/licenses('{licence['sku_id']}')").json()
        assert {k: v for k, v in by_key.items() if k != "@odata.context"} == licence
        runs = client.get("/api/v1/task_runs").json()["value"]
        assert client.get(f"/api/v1/task_runs({runs[0]['id']})").json()["id"] == runs[0]["id"]
        assert client.get("/api/v1/task_runs/$count").text == str(len(runs))


def _first_date(users: list[dict[str, Any]], key: str) -> str:
    days = sorted(u[key] for u in users if u[key])
    return days[len(days) // 2][:10]


def _cases(users: list[dict[str, Any]]) -> list[tuple[str, Callable[[dict[str, Any]], bool]]]:
    """Filters as Power Query folds them, each with the plain-Python test of a record."""
    middle = _first_date(users, "last_activity")
    signed = _first_date(users, "last_sign_in")
    country = next(u["country"] for u in users if u["country"])
    other = next(u["country"] for u in users if u["country"] and u["country"] != country)
    upns = [u["upn"] for u in users[:3]]
    year = int(middle[:4])

    def after(key: str, day: str) -> Callable[[dict[str, Any]], bool]:
        return lambda u: u[key] is not None and u[key][:10] >= day

    return [
        ("guest eq true", lambda u: u["guest"] is True),
        ("guest eq false and mfa_enabled eq true", lambda u: not u["guest"] and u["mfa_enabled"]),
        (f"country eq '{country}'", lambda u: u["country"] == country),
        (f"country ne '{country}'", lambda u: u["country"] != country),
        (f"country in ('{country}','{other}')", lambda u: u["country"] in (country, other)),
        (
            " or ".join(f"upn eq '{upn}'" for upn in upns),
            lambda u: u["upn"] in upns,
        ),
        (f"last_activity ge {middle}", after("last_activity", middle)),
        (
            f"last_activity ge {middle} and last_activity lt {year + 1}-01-01",
            lambda u: (
                u["last_activity"] is not None
                and middle <= u["last_activity"] < f"{year + 1}-01-01"
            ),
        ),
        (f"last_sign_in ge {signed}T00:00:00Z", after("last_sign_in", signed)),
        (
            f"last_sign_in lt {signed}T00:00:00Z",
            lambda u: u["last_sign_in"] is not None and u["last_sign_in"][:10] < signed,
        ),
        (f"year(last_activity) eq {year}", lambda u: (u["last_activity"] or "")[:4] == str(year)),
        ("last_activity eq null", lambda u: u["last_activity"] is None),
        ("email ne null", lambda u: u["email"] is not None),
        ("startswith(upn,'a')", lambda u: u["upn"].startswith("a")),
        ("endswith(upn,'.test')", lambda u: u["upn"].endswith(".test")),
        (
            "contains(tolower(display_name),'an')",
            lambda u: "an" in (u["display_name"] or "").lower(),
        ),
        ("toupper(country) eq 'GERMANY'", lambda u: (u["country"] or "").upper() == "GERMANY"),
        (
            "not (guest eq true) and (mfa_enabled eq true or block_credentials eq true)",
            lambda u: (
                not u["guest"] and (u["mfa_enabled"] is True or u["block_credentials"] is True)
            ),
        ),
        (
            "licenses/any(l: l/sku_part_number eq 'ENTERPRISEPACK')",
            lambda u: any(x["sku_part_number"] == "ENTERPRISEPACK" for x in u["licenses"]),
        ),
        ("licenses/any()", lambda u: bool(u["licenses"])),
        ("not licenses/any()", lambda u: not u["licenses"]),
        (
            "days_since_last_activity ge 30",
            lambda u: (
                u["days_since_last_activity"] is not None and u["days_since_last_activity"] >= 30
            ),
        ),
        ("mail_usage_mb gt 100", lambda u: (u["mail_usage_mb"] or 0) > 100),
        ("deactivated_date eq null", lambda u: u["deactivated_date"] is None),
        ("on_premises_sync eq false", lambda u: u["on_premises_sync"] is False),
        # The older shorthands.
        (
            "license eq 'enterprisepack'",
            lambda u: any(x["sku_part_number"] == "ENTERPRISEPACK" for x in u["licenses"]),
        ),
        ("blocked eq false", lambda u: u["block_credentials"] is False),
    ]


def test_filters_power_query_folds(web: Web, seatwise: Seatwise, tmp_path: Path) -> None:
    users = _synced(seatwise, tmp_path)
    with web.client(headers=_bearer(web)) as client:
        for expression, test in _cases(users):
            expected = [u for u in users if test(u)]
            found, _ = _all(client, "/api/v1/users", **{"$filter": expression})
            assert [u["id"] for u in found] == [u["id"] for u in expected], expression
            count = client.get("/api/v1/users/$count", params={"$filter": expression})
            assert count.text == str(len(expected)), expression
        nonzero = [e for e, t in _cases(users) if 0 < sum(1 for u in users if t(u)) < len(users)]
        assert len(nonzero) >= 15  # the table tells filters apart, not only all-or-nothing

        # Python-built sets speak the same grammar.
        licences = client.get("/api/v1/licenses").json()["value"]
        paid = [x for x in licences if x["license_type"] == "paid" and x["purchased"] >= 10]
        got = client.get(
            "/api/v1/licenses", params={"$filter": "license_type eq 'paid' and purchased ge 10"}
        ).json()["value"]
        assert got == paid
        teams = client.get(
            "/api/v1/activity",
            params={"$filter": "service eq 'Teams' and status eq 'never'", "$count": "true"},
        ).json()
        assert teams["@odata.count"] == len(teams["value"]) > 0
        assert all(r["last_activity"] is None and r["licensed"] for r in teams["value"])
        ordered = client.get(
            "/api/v1/licenses", params={"$orderby": "available desc,sku_part_number"}
        ).json()["value"]
        assert ordered == sorted(licences, key=lambda x: (-x["available"], x["sku_part_number"]))


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"$filter": "guest eq true or"}, 400, "could not be read"),
        ({"$filter": "colour eq 'red'"}, 400, "cannot use 'colour'"),
        ({"$filter": "guest eq 'yes'"}, 400, "compares guest"),
        ({"$filter": "upn eq 'x'; DROP TABLE user_summary"}, 400, "could not be read"),
        ({"$filter": "upn eq 'x'' or ''1''=''1'"}, 200, ""),
        ({"$filter": "(" * 300 + "guest" + ")" * 300}, 200, ""),
        ({"$filter": "not (" * 300 + "guest" + ")" * 300}, 400, "nests deeper"),
        ({"$filter": "x" * 9000}, 400, "longer than"),
        ({"$filter": "upn add 1 eq 2"}, 501, "not support"),
        ({"$filter": "substringof('a',upn)"}, 400, "$filter"),
        ({"$orderby": "colour"}, 400, "Cannot order by 'colour'"),
        ({"$orderby": "upn sideways"}, 400, "asc or desc"),
        ({"$orderby": "licenses"}, 400, "not a single value"),
        ({"$orderby": "tolower(upn)"}, 501, "property names"),
        ({"$select": "upn,colour"}, 400, "colour"),
        ({"$expand": "licenses"}, 501, "$expand"),
        ({"$search": "x"}, 501, "$search"),
        ({"$whatever": "1"}, 400, "Unknown query option"),
        ({"$format": "xml"}, 400, "json or csv"),
        ({"$top": "-1"}, 422, "$top"),
    ],
)
def test_hostile_options_answer_an_odata_error(
    web: Web, params: dict[str, str], status: int, words: str
) -> None:
    with web.client(headers=_bearer(web)) as client:
        # No tenant yet: option errors are found before the data is read.
        answer = client.get("/api/v1/users", params=params)
    if status == 200:  # a quote inside a literal is data, not SQL
        assert answer.status_code == 404 and "no tenant yet" in answer.text
        return
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert words in error["message"], error
