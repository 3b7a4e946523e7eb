"""Several tenants served from one simulator host, as Microsoft serves every tenant from one:
each tenant's identity endpoints issue tokens for it alone, and a token reads only its tenant's
data. In-process against the real app, plus `seatwise simulate --tenants` as a real process.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from seatwise.cli.simulate import simulate
from seatwise.errors import UsageError
from seatwise.simulator import Tenant, create_app
from seatwise.simulator.directory import sku_json
from seatwise.simulator.generate import generate
from seatwise.simulator.odata import GraphError
from seatwise.simulator.tokens import b64url, b64url_decode, pkce_s256

from .conftest import BASE, NOW, app_token

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
REDIRECT = "http://localhost:8400/callback"
STARTUP_TIMEOUT_S = 180.0


@pytest.fixture
def tenants() -> list[Tenant]:
    return Tenant.create_many(3, users=30, seed=7, now=NOW)


@pytest.fixture
def client(tenants: list[Tenant]) -> Iterator[TestClient]:
    with TestClient(create_app(tenants), base_url=BASE, follow_redirects=False) as c:
        yield c


def claims(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = orjson.loads(b64url_decode(token.split(".")[1]))
    return payload


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client_credentials(
    client: TestClient, path_tenant: str, owner: Tenant, secret: str | None = None
) -> httpx.Response:
    """The client-credentials grant of `owner`'s app, sent to `/{path_tenant}/…/token`."""
    return client.post(
        f"/{path_tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": owner.app.client_id,
            "client_secret": secret or owner.app.client_secret,
            "scope": GRAPH_DEFAULT,
        },
    )


def user_ids(client: TestClient, token: str) -> set[str]:
    """Ids of every user `GET /v1.0/users` shows to `token`, following nextLinks."""
    found: set[str] = set()
    url: str | None = "/v1.0/users?$select=id&$top=7"
    while url:
        response = client.get(url, headers=bearer(token))
        assert response.status_code == 200, response.text
        body = response.json()
        found |= {item["id"] for item in body["value"]}
        url = body.get("@odata.nextLink")
    return found


def error_codes(response: httpx.Response) -> list[int]:
    codes: list[int] = response.json()["error_codes"]
    return codes


# -- generation ---------------------------------------------------------------------------------


def test_tenants_have_their_own_ids_apps_admins_and_domains(tenants: list[Tenant]) -> None:
    assert [t.seed for t in tenants] == [7, 8, 9]
    for attribute in ("tenant_id", "domain"):
        assert len({getattr(t, attribute) for t in tenants}) == 3
    assert len({t.app.client_id for t in tenants}) == 3
    assert len({t.app.client_secret for t in tenants}) == 3
    assert len({t.admin.upn for t in tenants}) == 3
    assert all(t.admin.upn.endswith(f"@{t.domain}") for t in tenants)
    assert {t.now for t in tenants} == {NOW}
    # Same seed, same tenant: the first is exactly what a single-tenant simulator would serve.
    assert tenants[0].tenant_id == Tenant.create(users=30, seed=7, now=NOW).tenant_id


def test_a_domain_taken_by_an_earlier_tenant_gets_a_digit() -> None:
    # Seeds 1138 and 1142 draw the same initial domain on their own.
    alone = generate(10, 1142, NOW)
    assert alone.domain == generate(10, 1138, NOW).domain
    several = Tenant.create_many(5, users=10, seed=1138, now=NOW)
    domains = [t.domain for t in several]
    assert len(set(domains)) == 5
    name = alone.domain.removesuffix(".onmicrosoft.com")
    assert domains[4] == f"{name}2.onmicrosoft.com"
    assert several[4].tenant_id == alone.tenant_id
    assert all(u.upn.endswith(f"@{domains[4]}") for u in several[4].users)


def test_one_app_refuses_the_same_tenant_twice(tenants: list[Tenant]) -> None:
    with pytest.raises(ValueError, match="already served"):
        create_app([tenants[0], tenants[0]])
    with pytest.raises(ValueError, match="at least one"):
        create_app([])


# -- identity -----------------------------------------------------------------------------------


def test_each_tenant_issues_its_own_tokens(client: TestClient, tenants: list[Tenant]) -> None:
    for tenant in tenants:
        token = app_token(client, tenant)
        found = claims(token)
        assert found["tid"] == tenant.tenant_id
        assert found["appid"] == tenant.app.client_id
        assert found["iss"] == f"https://sts.windows.net/{tenant.tenant_id}/"
    by_domain = client_credentials(client, tenants[1].domain, tenants[1])
    assert by_domain.status_code == 200, by_domain.text
    assert claims(by_domain.json()["access_token"])["tid"] == tenants[1].tenant_id


def test_credentials_of_one_tenant_are_refused_at_another(
    client: TestClient, tenants: list[Tenant]
) -> None:
    a, b, _ = tenants
    foreign_app = client_credentials(client, b.tenant_id, a)
    assert foreign_app.status_code == 400
    assert foreign_app.json()["error"] == "unauthorized_client"
    assert error_codes(foreign_app) == [700016]
    assert b.tenant_id in foreign_app.json()["error_description"]
    foreign_secret = client_credentials(client, b.tenant_id, b, secret=a.app.client_secret)
    assert foreign_secret.status_code == 401
    assert error_codes(foreign_secret) == [7000215]
    unknown = client_credentials(client, "contoso-nowhere.onmicrosoft.com", a)
    assert unknown.status_code == 400
    assert error_codes(unknown) == [90002]


def test_aliases_reach_the_tenant_of_the_asking_app(
    client: TestClient, tenants: list[Tenant]
) -> None:
    for tenant in tenants:
        response = client_credentials(client, "organizations", tenant)
        assert response.status_code == 200, response.text
        assert claims(response.json()["access_token"])["tid"] == tenant.tenant_id


def test_discovery_names_each_tenant(client: TestClient, tenants: list[Tenant]) -> None:
    for tenant in tenants:
        doc = client.get(f"/{tenant.domain}/v2.0/.well-known/openid-configuration").json()
        assert doc["issuer"] == f"{BASE}/{tenant.tenant_id}/v2.0"
        assert doc["token_endpoint"] == f"{BASE}/{tenant.tenant_id}/oauth2/v2.0/token"
    unknown = client.get(
        "/11111111-2222-3333-4444-555555555555/v2.0/.well-known/openid-configuration"
    )
    assert unknown.status_code == 400
    assert error_codes(unknown) == [90002]


def _authorize(
    client: TestClient, tenant: Tenant, upn: str, password: str, verifier: str
) -> httpx.Response:
    """The sign-in form of `tenant`'s authorize endpoint, submitted with `upn`/`password`."""
    query = {
        "client_id": tenant.app.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "https://graph.microsoft.com/User.Read.All openid profile offline_access",
        "code_challenge": pkce_s256(verifier),
        "code_challenge_method": "S256",
        "state": "s1",
    }
    return client.post(
        f"/{tenant.tenant_id}/oauth2/v2.0/authorize",
        params=query,
        data={"loginfmt": upn, "passwd": password, "decision": "accept"},
    )


def test_only_a_tenants_own_admin_signs_in_there(client: TestClient, tenants: list[Tenant]) -> None:
    a, b, _ = tenants
    verifier = "v" * 50
    outsider = _authorize(client, b, a.admin.upn, a.admin.password, verifier)
    assert outsider.status_code == 200
    assert f"does not exist in the {b.domain} directory" in outsider.text
    answer = _authorize(client, b, b.admin.upn, b.admin.password, verifier)
    assert answer.status_code == 302, answer.text
    params = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    form = {
        "grant_type": "authorization_code",
        "client_id": b.app.client_id,
        "client_secret": b.app.client_secret,
        "code": params["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        "scope": "https://graph.microsoft.com/User.Read.All offline_access",
    }
    # B's code is no good at A, even with A's own app.
    elsewhere = client.post(
        f"/{a.tenant_id}/oauth2/v2.0/token",
        data={**form, "client_id": a.app.client_id, "client_secret": a.app.client_secret},
    )
    assert elsewhere.status_code == 400
    assert elsewhere.json()["error"] == "invalid_grant"
    tokens = client.post(f"/{b.tenant_id}/oauth2/v2.0/token", data=form)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert claims(body["access_token"])["tid"] == b.tenant_id
    assert claims(body["id_token"])["iss"] == f"{BASE}/{b.tenant_id}/v2.0"
    me = client.get(f"/v1.0/users/{b.admin.upn}", headers=bearer(body["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == b.admin.user_id
    assert (
        client.get(f"/v1.0/users/{a.admin.upn}", headers=bearer(body["access_token"])).status_code
        == 404
    )


# -- Graph --------------------------------------------------------------------------------------


def test_users_are_those_of_the_tokens_tenant(client: TestClient, tenants: list[Tenant]) -> None:
    seen: list[set[str]] = []
    for tenant in tenants:
        ids = user_ids(client, app_token(client, tenant))
        assert ids == {u.id for u in tenant.users}
        seen.append(ids)
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])


def test_a_token_never_reads_another_tenants_data(
    client: TestClient, tenants: list[Tenant]
) -> None:
    a, b, _ = tenants
    token_a = app_token(client, a)
    stranger = b.users[3]
    for key in (stranger.id, stranger.upn):
        response = client.get(f"/v1.0/users/{key}", headers=bearer(token_a))
        assert response.status_code == 404, response.text
    # A's token with B's tenant id written into it is a token no tenant issued.
    head, payload, signature = token_a.split(".")
    forged_claims = {**claims(token_a), "tid": b.tenant_id}
    forged = ".".join((head, b64url(orjson.dumps(forged_claims)), signature))
    refused = client.get("/v1.0/users", headers=bearer(forged))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "InvalidAuthenticationToken"
    # Each store accepts only its own tenant's tokens.
    host = client.app.state.host  # type: ignore[attr-defined]
    with pytest.raises(GraphError):
        host.sims[0].tokens.check(f"Bearer {token_a}", b.tenant_id)


def test_subscribed_skus_are_per_tenant(client: TestClient, tenants: list[Tenant]) -> None:
    for tenant in tenants:
        response = client.get("/v1.0/subscribedSkus", headers=bearer(app_token(client, tenant)))
        assert response.status_code == 200, response.text
        value = response.json()["value"]
        expected = [sku_json(tenant, h) for h in tenant.holdings.values()]
        assert {s["id"] for s in value} == {s["id"] for s in expected}
        assert all(s["id"].startswith(tenant.tenant_id) for s in value)
        subscriptions = {sid for s in value for sid in s["subscriptionIds"]}
        assert subscriptions == {
            sid for h in tenant.holdings.values() for sid in h.subscription_ids
        }
        assert {s["skuId"]: s["consumedUnits"] for s in value} == {
            s["skuId"]: s["consumedUnits"] for s in expected
        }


def test_report_downloads_are_per_tenant(client: TestClient, tenants: list[Tenant]) -> None:
    for tenant in tenants:
        response = client.get(
            "/v1.0/reports/getOffice365ActiveUserDetail(period='D7')",
            headers=bearer(app_token(client, tenant)),
        )
        assert response.status_code == 302, response.text
        download = client.get(response.headers["location"])
        assert download.status_code == 200, download.text
        rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
        upns = {row["User Principal Name"] for row in rows}
        assert tenant.admin.upn in upns
        assert upns <= {u.upn for u in (*tenant.users, *tenant.deleted_users)}
        assert all(upn.endswith(f"@{tenant.domain}") for upn in upns)
        stats = client.get("/_control/stats", params={"tenant": tenant.tenant_id}).json()
        assert stats["calls"]["report:download"] == 1
        assert stats["calls"]["report:getOffice365ActiveUserDetail"] == 1


def test_batch_items_run_as_the_tokens_tenant(client: TestClient, tenants: list[Tenant]) -> None:
    c = tenants[2]
    response = client.post(
        "/v1.0/$batch",
        headers=bearer(app_token(client, c)),
        json={"requests": [{"id": "1", "method": "GET", "url": "/users?$select=id&$top=999"}]},
    )
    assert response.status_code == 200, response.text
    (item,) = response.json()["responses"]
    assert item["status"] == 200
    assert {u["id"] for u in item["body"]["value"]} == {u.id for u in c.users}


# -- control endpoints --------------------------------------------------------------------------


def test_control_acts_on_the_tenant_asked_for(client: TestClient, tenants: list[Tenant]) -> None:
    a, b, c = tenants
    assert client.get("/_control/stats").json()["tenant_id"] == a.tenant_id
    assert client.get("/_control/stats", params={"tenant": b.domain}).json()["tenant_id"] == (
        b.tenant_id
    )
    unknown = client.get("/_control/stats", params={"tenant": "nowhere.onmicrosoft.com"})
    assert unknown.status_code == 404

    victim = b.users[5]
    assert client.post(f"/_control/users/{victim.id}/delete").status_code == 404  # not in A
    deleted = client.post(f"/_control/users/{victim.id}/delete", params={"tenant": b.tenant_id})
    assert deleted.status_code == 200, deleted.text
    assert victim.id not in b.users_by_id
    assert len(a.users) == len(c.users) == 30
    assert user_ids(client, app_token(client, b)) == {u.id for u in b.users}

    changed = client.post(
        "/_control/settings", params={"tenant": c.tenant_id}, json={"premium": False}
    )
    assert changed.status_code == 200
    assert (a.options.premium, b.options.premium, c.options.premium) == (True, True, False)

    token_a, token_b = app_token(client, a), app_token(client, b)
    expired = client.post("/_control/tokens/expire", params={"tenant": b.tenant_id})
    assert expired.status_code == 204
    assert client.get("/v1.0/users", headers=bearer(token_b)).status_code == 401
    assert client.get("/v1.0/users", headers=bearer(token_a)).status_code == 200


def test_control_follows_a_bearer_tokens_tenant(client: TestClient, tenants: list[Tenant]) -> None:
    c = tenants[2]
    stats = client.get("/_control/stats", headers=bearer(app_token(client, c)))
    assert stats.json()["tenant_id"] == c.tenant_id


# -- seatwise simulate --tenants ----------------------------------------------------------------


def test_tenants_option_is_validated() -> None:
    for bad in (0, 51):
        with pytest.raises(UsageError, match="--tenants must be between 1 and 50"):
            simulate(tenants=bad)


def _seatwise() -> list[str]:
    """The `seatwise` console script next to this interpreter, else `python -m seatwise`."""
    script = Path(sys.executable).parent / "seatwise"
    return [str(script)] if script.exists() else [sys.executable, "-m", "seatwise"]


@contextlib.contextmanager
def _simulate(tmp_path: Path, *args: str) -> Iterator[dict[str, Any]]:
    """Run `seatwise simulate … --info-file` as a process; its info file once it is written."""
    info_file = tmp_path / "sim.json"
    command = [*_seatwise(), "simulate", *args, "--port", "0", "--info-file", str(info_file)]
    command += ["--cert-dir", str(tmp_path / "cert")]
    log = tmp_path / "simulate.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ)
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not info_file.exists():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "no info file: " + log.read_text()
                time.sleep(0.1)
            yield orjson.loads(info_file.read_bytes())
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_simulate_serves_two_tenants_and_lists_them(tmp_path: Path) -> None:
    with _simulate(tmp_path, "--tenants", "2", "--users", "20", "--seed", "3") as info:
        entries = info["tenants"]
        assert len(entries) == 2
        assert {info[k] for k in ("tenant_id", "client_id", "admin_upn")} == {
            entries[0][k] for k in ("tenant_id", "client_id", "admin_upn")
        }
        assert info["client_secret"] == entries[0]["client_secret"]
        assert info["admin_password"] == entries[0]["admin_password"]
        assert entries[0]["tenant_id"] != entries[1]["tenant_id"]
        assert entries[0]["client_id"] != entries[1]["client_id"]
        assert [e["users"] for e in entries] == [20, 20]
        expected = set(entries[0]) | set(entries[1])
        assert expected == {
            "tenant_id",
            "client_id",
            "client_secret",
            "admin_upn",
            "admin_password",
            "users",
        }
        verify = ssl.create_default_context(cafile=info["ca_bundle"])
        with httpx.Client(base_url=info["graph_url"], verify=verify, trust_env=False) as http:
            for entry in entries:
                answer = http.post(
                    f"/{entry['tenant_id']}/oauth2/v2.0/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": entry["client_id"],
                        "client_secret": entry["client_secret"],
                        "scope": GRAPH_DEFAULT,
                    },
                )
                assert answer.status_code == 200, answer.text
                token = answer.json()["access_token"]
                assert claims(token)["tid"] == entry["tenant_id"]
                users = http.get("/v1.0/users?$select=userPrincipalName", headers=bearer(token))
                assert users.status_code == 200, users.text
                domain = entry["admin_upn"].split("@")[1]
                upns = [u["userPrincipalName"] for u in users.json()["value"]]
                assert len(upns) == 20
                assert all(upn.endswith(f"@{domain}") for upn in upns)
    log = (tmp_path / "simulate.log").read_text()
    assert all(entry["tenant_id"] in log for entry in entries)
