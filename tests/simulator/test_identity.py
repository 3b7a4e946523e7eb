"""The identity platform end to end: a real HTTPS server on loopback, driven by MSAL.

The server hosts only the identity routes plus a tiny protected `/v1.0/me` that checks the bearer
token, so these tests need nothing else of the simulator. The sign-in page is driven with plain
httpx requests, the way a browser would submit it.
"""

from __future__ import annotations

import html
import json
import os
import re
import ssl
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import msal
import pytest
import requests
from cryptography import x509
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from seatwise.simulator import identity, server
from seatwise.simulator.model import ROLE_APP_ADMIN, ROLE_REPORTS_READER, Admin, AppRegistration
from seatwise.simulator.odata import GraphError, error_response
from seatwise.simulator.tokens import TokenStore, b64url_decode

TENANT_ID = "5f1c0a3e-7c2b-4d0a-9a39-0d6f3c2b1a00"
DOMAIN = "contoso.onmicrosoft.com"
ADMIN_ID = "0b7c2f9e-51d4-4d0c-8f3a-2c6e9d1b4a77"
ADMIN_UPN = f"admin@{DOMAIN}"
PASSWORD = "Correct-Horse-7"
REDIRECT = "http://localhost:8400/callback"
SEATWISE = (
    "AuditLog.Read.All",
    "Reports.Read.All",
    "UserAuthenticationMethod.Read.All",
    "Directory.Read.All",
    "LicenseAssignment.ReadWrite.All",
)
SCOPES = [f"https://graph.microsoft.com/{p}" for p in SEATWISE]
DEFAULT = ["https://graph.microsoft.com/.default"]

# MSAL 1.39 warns on every auth-code flow not using form_post; query mode is what a loopback
# redirect uses, and both modes are tested here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:response_mode='form_post' is recommended:UserWarning"
)


@dataclass
class FakeUser:
    id: str
    upn: str
    display_name: str
    mail: str | None = None


@dataclass
class FakeDirectory:
    """The attributes identity reads from the lead's `Tenant`."""

    tenant_id: str
    domain: str
    app: AppRegistration
    admin: Admin
    users_by_id: dict[str, FakeUser] = field(default_factory=dict)
    users_by_upn: dict[str, FakeUser] = field(default_factory=dict)


def make_directory() -> FakeDirectory:
    app = AppRegistration(
        client_id="3c1f7a52-9d0e-4b6a-8e21-7f4d2c9b0e15",
        client_secret="s3cr3t~value.ABC",
        display_name="seatwise",
        application_permissions={*SEATWISE, "User.Read.All"},
        delegated_permissions=set(SEATWISE),
    )
    admin = Admin(ADMIN_ID, ADMIN_UPN, PASSWORD, {ROLE_APP_ADMIN, ROLE_REPORTS_READER})
    directory = FakeDirectory(TENANT_ID, DOMAIN, app, admin)
    for user in (
        FakeUser(ADMIN_ID, ADMIN_UPN, "Megan Admin", ADMIN_UPN),
        FakeUser("7d9e0c1b-2a3f-4e5d-8c7b-6a5f4e3d2c1b", f"adele@{DOMAIN}", "Adele Vance"),
    ):
        directory.users_by_id[user.id] = user
        directory.users_by_upn[user.upn.lower()] = user
    return directory


@dataclass
class Env:
    directory: FakeDirectory
    tokens: TokenStore
    base: str
    ca_bundle: Path

    @property
    def authority(self) -> str:
        return f"{self.base}/{TENANT_ID}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def browser(self) -> httpx.Client:
        return httpx.Client(verify=self.ssl_context(), trust_env=False, timeout=10)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    directory = make_directory()
    tokens = TokenStore()

    async def me(request: Request) -> Response:
        grant = tokens.check(request.headers.get("authorization"))
        return JSONResponse(
            {"id": grant.user_id, "app_only": grant.app_only, "scopes": sorted(grant.scopes)}
        )

    async def graph_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GraphError)
        return error_response(exc)

    app = Starlette(
        routes=[
            *identity.routes(directory, tokens, authority_base=identity.request_base),
            Route("/v1.0/me", me),
        ],
        exception_handlers={GraphError: graph_error},
    )
    with server.running(app, tmp_path_factory.mktemp("cert")) as handle:
        yield Env(directory, tokens, handle.base_url, handle.ca_bundle)


@pytest.fixture
def session(env: Env) -> Iterator[requests.Session]:
    """MSAL's transport: its own session, so REQUESTS_CA_BUNDLE cannot override `verify`."""
    with requests.Session() as s:
        s.trust_env = False
        s.verify = str(env.ca_bundle)
        yield s


def msal_app(
    env: Env, session: requests.Session, secret: str | None = None
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        env.directory.app.client_id,
        client_credential=secret or env.directory.app.client_secret,
        authority=env.authority,
        instance_discovery=False,
        http_client=session,
        token_cache=msal.TokenCache(),
    )


def submit_sign_in(
    env: Env, auth_uri: str, username: str = ADMIN_UPN, password: str = PASSWORD
) -> httpx.Response:
    """GET the sign-in page, then POST its form as a browser would."""
    with env.browser() as browser:
        page = browser.get(auth_uri)
        assert page.status_code == 200, page.text
        match = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert match, page.text
        action = urljoin(auth_uri, html.unescape(match.group(1)))
        return browser.post(
            action, data={"loginfmt": username, "passwd": password, "decision": "accept"}
        )


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return dict(parse_qsl(urlsplit(location).query))


def sign_in(
    env: Env, app: msal.ConfidentialClientApplication, scopes: list[str] = SCOPES
) -> tuple[dict[str, Any], dict[str, str]]:
    flow = app.initiate_auth_code_flow(scopes, redirect_uri=REDIRECT)
    return flow, redirect_params(submit_sign_in(env, flow["auth_uri"]))


def claims(jwt: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(b64url_decode(jwt.split(".")[1]))
    return payload


def me(env: Env, token: str) -> httpx.Response:
    with env.browser() as client:
        return client.get(f"{env.base}/v1.0/me", headers={"Authorization": f"Bearer {token}"})


def error_code(result: dict[str, Any]) -> int:
    assert "access_token" not in result, result
    codes: list[int] = result["error_codes"]
    assert result["error_description"].startswith(f"AADSTS{codes[0]}: ")
    return codes[0]


# -- discovery ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tenant", [TENANT_ID, DOMAIN, "CONTOSO.onmicrosoft.com"])
def test_openid_configuration(env: Env, tenant: str) -> None:
    with env.browser() as client:
        doc = client.get(f"{env.base}/{tenant}/v2.0/.well-known/openid-configuration").json()
        keys = client.get(doc["jwks_uri"]).json()
    assert doc["issuer"] == f"{env.base}/{TENANT_ID}/v2.0"
    assert doc["token_endpoint"] == f"{env.base}/{TENANT_ID}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == f"{env.base}/{TENANT_ID}/oauth2/v2.0/authorize"
    assert doc["end_session_endpoint"] == f"{env.base}/{TENANT_ID}/oauth2/v2.0/logout"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "code" in doc["response_types_supported"] and "tenant_region_scope" in doc
    assert keys["keys"][0]["kty"] == "RSA"


def test_openid_configuration_aliases_and_unknown_tenant(env: Env) -> None:
    with env.browser() as client:
        doc = client.get(f"{env.base}/organizations/.well-known/openid-configuration").json()
        missing = client.get(f"{env.base}/fabrikam.com/v2.0/.well-known/openid-configuration")
    assert doc["issuer"] == f"{env.base}/{{tenantid}}/v2.0"
    assert doc["token_endpoint"] == f"{env.base}/organizations/oauth2/v2.0/token"
    assert missing.status_code == 400
    body = missing.json()
    assert body["error"] == "invalid_tenant" and body["error_codes"] == [90002]
    assert "\r\nTrace ID: " in body["error_description"]
    assert "\r\nCorrelation ID: " in body["error_description"]
    assert body["error_uri"] == f"{env.base}/error?code=90002"


# -- authorization code flow with MSAL ------------------------------------------------------------


def test_auth_code_flow_refresh_and_graph_call(env: Env, session: requests.Session) -> None:
    app = msal_app(env, session)
    flow, response = sign_in(env, app)
    assert set(response) >= {"code", "state", "session_state", "client_info"}
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer" and result["expires_in"] > 3000
    assert result["refresh_token"]
    assert set(result["scope"].split()) >= {*SCOPES, "openid", "profile", "offline_access"}

    id_claims = result["id_token_claims"]
    assert id_claims["aud"] == env.directory.app.client_id
    assert id_claims["iss"] == f"{env.base}/{TENANT_ID}/v2.0"
    assert id_claims["tid"] == TENANT_ID and id_claims["oid"] == ADMIN_ID
    assert id_claims["preferred_username"] == ADMIN_UPN and id_claims["name"] == "Megan Admin"
    assert app.get_accounts()[0]["home_account_id"] == f"{ADMIN_ID}.{TENANT_ID}"

    access = claims(result["access_token"])
    assert set(access["scp"].split()) == set(SEATWISE)
    assert access["aud"] == "https://graph.microsoft.com" and access["oid"] == ADMIN_ID
    reply = me(env, result["access_token"])
    assert reply.status_code == 200
    assert reply.json() == {"id": ADMIN_ID, "app_only": False, "scopes": sorted(SEATWISE)}

    account = app.get_accounts()[0]
    cached = app.acquire_token_silent(SCOPES, account)
    assert cached is not None and cached["access_token"] == result["access_token"]
    forced = app.acquire_token_silent(SCOPES, account, force_refresh=True)
    assert forced is not None and forced["access_token"] != result["access_token"]
    assert me(env, forced["access_token"]).status_code == 200

    # Rotation: every use returns a new refresh token; the old one keeps working.
    first = result["refresh_token"]
    second = app.acquire_token_by_refresh_token(first, SCOPES)
    assert "access_token" in second, second
    assert second["refresh_token"] != first
    third = app.acquire_token_by_refresh_token(first, SCOPES[:1])
    assert set(claims(third["access_token"])["scp"].split()) == {SEATWISE[0]}
    assert me(env, third["access_token"]).status_code == 200


def test_scope_style_is_echoed(env: Env, session: requests.Session) -> None:
    app = msal_app(env, session)
    flow, response = sign_in(env, app, ["Directory.Read.All", "auditlog.read.all"])
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result["scope"].split() == [
        "AuditLog.Read.All",
        "Directory.Read.All",
        "openid",
        "profile",
        "offline_access",
    ]
    assert claims(result["access_token"])["scp"] == "AuditLog.Read.All Directory.Read.All"


def test_form_post_response_mode(env: Env, session: requests.Session) -> None:
    app = msal_app(env, session)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT, response_mode="form_post")
    response = submit_sign_in(env, flow["auth_uri"])
    assert response.status_code == 200
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', response.text))
    assert f'action="{REDIRECT}"' in response.text
    result = app.acquire_token_by_auth_code_flow(
        flow, {k: html.unescape(v) for k, v in fields.items()}
    )
    assert "access_token" in result, result


def test_refresh_asking_for_unconsented_scope_needs_consent(
    env: Env, session: requests.Session
) -> None:
    app = msal_app(env, session)
    flow, response = sign_in(env, app)
    result = app.acquire_token_by_auth_code_flow(flow, response)
    other = app.acquire_token_by_refresh_token(
        result["refresh_token"], ["https://graph.microsoft.com/Calendars.Read"]
    )
    assert error_code(other) == 65001 and other["suberror"] == "consent_required"


# -- client credentials ---------------------------------------------------------------------------


def test_client_credentials(env: Env, session: requests.Session) -> None:
    result = msal_app(env, session).acquire_token_for_client(DEFAULT)
    assert "access_token" in result, result
    assert "refresh_token" not in result and "id_token" not in result
    token = claims(result["access_token"])
    assert set(token["roles"]) == env.directory.app.application_permissions
    assert "scp" not in token and token["idtyp"] == "app"
    assert me(env, result["access_token"]).json()["app_only"] is True

    wrong = msal_app(env, session).acquire_token_for_client(
        ["https://graph.microsoft.com/User.Read.All"]
    )
    assert wrong["error"] == "invalid_scope" and error_code(wrong) == 1002012


def test_client_credentials_with_http_basic(env: Env) -> None:
    app = env.directory.app
    with env.browser() as client:
        reply = client.post(
            f"{env.base}/{DOMAIN}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "scope": DEFAULT[0]},
            auth=(app.client_id, app.client_secret),
        )
    assert reply.status_code == 200, reply.text
    assert set(reply.json()) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert reply.headers["cache-control"] == "no-store, no-cache"


def test_wrong_and_missing_client_secret(env: Env, session: requests.Session) -> None:
    wrong = msal_app(env, session, secret="not-the-secret").acquire_token_for_client(DEFAULT)
    assert wrong["error"] == "invalid_client" and error_code(wrong) == 7000215
    with env.browser() as client:
        reply = client.post(
            f"{env.base}/{TENANT_ID}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": env.directory.app.client_id,
                "scope": DEFAULT[0],
            },
            headers={"client-request-id": "12345678-1234-1234-1234-123456789abc"},
        )
    assert reply.status_code == 401
    body = reply.json()
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000218]
    assert body["correlation_id"] == "12345678-1234-1234-1234-123456789abc"
    assert set(body) >= {"timestamp", "trace_id", "error_uri"}


def test_unknown_client(env: Env) -> None:
    with env.browser() as client:
        reply = client.post(
            f"{env.base}/{TENANT_ID}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": "nope", "scope": DEFAULT[0]},
        )
        page = client.get(
            f"{env.base}/{TENANT_ID}/oauth2/v2.0/authorize",
            params={"client_id": "nope", "redirect_uri": REDIRECT, "response_type": "code"},
        )
    assert reply.status_code == 400 and reply.json()["error_codes"] == [700016]
    assert page.status_code == 400 and "AADSTS700016" in page.text


# -- failures with their AADSTS codes -------------------------------------------------------------


def test_wrong_pkce_verifier(env: Env, session: requests.Session) -> None:
    app = msal_app(env, session)
    flow, response = sign_in(env, app)
    flow["code_verifier"] = "x" * 43
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result["error"] == "invalid_grant" and error_code(result) == 501481


def test_reused_code(env: Env, session: requests.Session) -> None:
    app = msal_app(env, session)
    flow, response = sign_in(env, app)
    assert "access_token" in app.acquire_token_by_auth_code_flow(dict(flow), response)
    again = app.acquire_token_by_auth_code_flow(dict(flow), response)
    assert again["error"] == "invalid_grant" and error_code(again) == 54005


def test_wrong_password_and_unknown_user(env: Env, session: requests.Session) -> None:
    flow = msal_app(env, session).initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT)
    wrong = submit_sign_in(env, flow["auth_uri"], password="guess")
    assert wrong.status_code == 200
    assert "Your account or password is incorrect." in wrong.text
    assert 'value="admin@contoso.onmicrosoft.com"' in wrong.text
    stranger = submit_sign_in(env, flow["auth_uri"], username="eve@fabrikam.com")
    assert stranger.status_code == 200 and "AADSTS50034" in stranger.text
    member = submit_sign_in(env, flow["auth_uri"], username=f"adele@{DOMAIN}")
    assert "Your account or password is incorrect." in member.text


def test_sign_in_page_escapes_and_lists_permissions(env: Env, session: requests.Session) -> None:
    flow = msal_app(env, session).initiate_auth_code_flow(
        SCOPES, redirect_uri=REDIRECT, state='"><script>x</script>', login_hint="<b>@x"
    )
    with env.browser() as browser:
        page = browser.get(flow["auth_uri"])
    assert "<script>x</script>" not in page.text and "<b>@x" not in page.text
    assert "&lt;b&gt;@x" in page.text
    for permission in SEATWISE:
        assert f"<li>{permission}</li>" in page.text


def test_consent_needs_an_application_administrator(env: Env, session: requests.Session) -> None:
    admin = env.directory.admin
    app = msal_app(env, session)
    admin.roles.discard(ROLE_APP_ADMIN)
    try:
        flow = app.initiate_auth_code_flow(
            ["https://graph.microsoft.com/Sites.Read.All"], redirect_uri=REDIRECT
        )
        denied = redirect_params(submit_sign_in(env, flow["auth_uri"]))
        assert denied["error"] == "access_denied"
        assert denied["error_description"].startswith("AADSTS90094: ")
        assert denied["state"] == flow["state"]
        # Already-consented permissions need no role.
        flow, response = sign_in(env, app)
        assert "access_token" in app.acquire_token_by_auth_code_flow(flow, response)
    finally:
        admin.roles.add(ROLE_APP_ADMIN)
    assert "Sites.Read.All" not in env.directory.app.delegated_permissions

    # With the role, accepting consents for the organization.
    flow, response = sign_in(env, app, ["https://graph.microsoft.com/Mail.Read"])
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert claims(result["access_token"])["scp"] == "Mail.Read"
    assert "Mail.Read" in env.directory.app.delegated_permissions


def test_refresh_fails_after_password_change(env: Env, session: requests.Session) -> None:
    app = msal_app(env, session)
    flow, response = sign_in(env, app)
    result = app.acquire_token_by_auth_code_flow(flow, response)
    admin = env.directory.admin
    admin.password = "New-Password-8"
    env.tokens.revoke_user(admin.user_id)
    try:
        refreshed = app.acquire_token_by_refresh_token(result["refresh_token"], SCOPES)
        assert refreshed["error"] == "invalid_grant" and error_code(refreshed) == 50173
        assert "The grant was issued on '" in refreshed["error_description"]
        revoked = me(env, result["access_token"])
        assert revoked.status_code == 401
        assert revoked.json()["error"]["code"] == "InvalidAuthenticationToken"
        old = submit_sign_in(env, flow["auth_uri"])
        assert "Your account or password is incorrect." in old.text
        flow, response = sign_in_with(env, app, "New-Password-8")
        assert "access_token" in app.acquire_token_by_auth_code_flow(flow, response)
    finally:
        admin.password = PASSWORD


def sign_in_with(
    env: Env, app: msal.ConfidentialClientApplication, password: str
) -> tuple[dict[str, Any], dict[str, str]]:
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT)
    return flow, redirect_params(submit_sign_in(env, flow["auth_uri"], password=password))


def test_expired_access_token_gets_graphs_401(env: Env, session: requests.Session) -> None:
    result = msal_app(env, session).acquire_token_for_client(DEFAULT)
    assert me(env, result["access_token"]).status_code == 200
    env.tokens.expire_all_access()
    reply = me(env, result["access_token"])
    assert reply.status_code == 401
    error = reply.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["message"] == "Lifetime validation failed, the token is expired."
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert reply.headers["www-authenticate"].startswith('Bearer realm=""')


def test_bad_bearer_headers(env: Env) -> None:
    with env.browser() as client:
        empty = client.get(f"{env.base}/v1.0/me")
        garbled = client.get(f"{env.base}/v1.0/me", headers={"Authorization": "Bearer abc"})
    assert empty.status_code == 401 and empty.json()["error"]["message"] == "Access token is empty."
    assert garbled.json()["error"]["message"].startswith("IDX14100: JWT is not well formed")


def test_authorize_rejects_foreign_redirect_and_prompt_none(env: Env) -> None:
    query = {
        "client_id": env.directory.app.client_id,
        "response_type": "code",
        "scope": "openid " + SCOPES[0],
        "state": "s1",
    }
    url = f"{env.base}/{TENANT_ID}/oauth2/v2.0/authorize"
    with env.browser() as client:
        page = client.get(url, params={**query, "redirect_uri": "https://evil.example/cb"})
        silent = client.get(url, params={**query, "redirect_uri": REDIRECT, "prompt": "none"})
        token = client.get(
            url, params={**query, "redirect_uri": REDIRECT, "response_type": "token"}
        )
    assert page.status_code == 400 and "AADSTS50011" in page.text
    assert redirect_params(silent)["error"] == "login_required"
    assert redirect_params(silent)["state"] == "s1"
    assert redirect_params(token)["error"] == "unsupported_response_type"


# -- admin consent --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["adminconsent", "v2.0/adminconsent"])
def test_admin_consent(env: Env, path: str) -> None:
    params = {
        "client_id": env.directory.app.client_id,
        "redirect_uri": REDIRECT,
        "state": "42",
        "scope": DEFAULT[0],
    }
    url = str(httpx.URL(f"{env.base}/{TENANT_ID}/{path}", params=params))
    granted = redirect_params(submit_sign_in(env, url))
    assert granted == {
        "admin_consent": "True",
        "tenant": TENANT_ID,
        "scope": DEFAULT[0],
        "state": "42",
    }
    env.directory.admin.roles.discard(ROLE_APP_ADMIN)
    try:
        refused = redirect_params(submit_sign_in(env, url))
    finally:
        env.directory.admin.roles.add(ROLE_APP_ADMIN)
    assert refused["admin_consent"] == "True" and refused["error"] == "consent_required"
    assert refused["error_description"].startswith("AADSTS65004: ")
    assert refused["state"] == "42" and "tenant" not in refused


# -- server helpers -------------------------------------------------------------------------------


def test_certificate_and_info_file(tmp_path: Path) -> None:
    cert_path, key_path = server.make_certificate(tmp_path / "certs")
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert 29 <= days <= 30

    info = tmp_path / "info.json"
    server.write_info_file(info, {"client_secret": "x", "tenant_id": TENANT_ID})
    server.write_info_file(info, {"client_secret": "y", "tenant_id": TENANT_ID})
    assert json.loads(info.read_text()) == {"client_secret": "y", "tenant_id": TENANT_ID}
    assert stat.S_IMODE(os.stat(info).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["certs", "info.json"]
