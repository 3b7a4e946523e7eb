"""Token providers and the interactive sign-in against the simulated identity platform over HTTPS:
the authorization-code flow through the loopback listener, refresh-token rotation, revocation and
the errors a user sees (graph-facts §7).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from seatwise.errors import (
    AuthError,
    GraphAuthError,
    GraphError,
    GraphForbidden,
    RoleMissing,
    exit_code_for,
)
from seatwise.graph import (
    DELEGATED_SCOPES,
    AuthCodeLogin,
    ClientCredentialsProvider,
    RefreshTokenProvider,
    TokenSet,
    endpoints,
    listen_for_redirect,
)
from seatwise.simulator.model import ROLE_APP_ADMIN

from .conftest import Sim, form_action, hidden_fields, serve, settings_for, sign_in_page_post


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """This module's own tenant: a test here changes the admin's password."""
    with serve(tmp_path_factory.mktemp("auth"), users=40, seed=5) as running_sim:
        yield running_sim


def login(sim: Sim) -> AuthCodeLogin:
    app = sim.tenant.app
    return AuthCodeLogin(sim.settings, sim.tenant.tenant_id, app.client_id, app.client_secret)


def browser_sign_in(sim: Sim, auth_uri: str, decision: str = "accept") -> httpx.Response:
    """Sign in as the admin on the simulator's page, then let the form_post reach its target."""
    admin = sim.tenant.admin
    with sim.browser() as browser:
        answer = sign_in_page_post(browser, auth_uri, admin.upn, admin.password, decision)
        assert answer.status_code == 200, answer.text  # form_post: a self-submitting form
        with httpx.Client(trust_env=False, timeout=10) as loopback:  # plain http to localhost
            return loopback.post(form_action(answer.text), data=hidden_fields(answer.text))


def connect(sim: Sim) -> TokenSet:
    """The whole `seatwise connect`: listener, browser sign-in, code redemption."""
    redirect_uri, wait = listen_for_redirect(timeout=10)
    with login(sim) as flow_login:
        auth_uri, flow = flow_login.start(redirect_uri)
        assert "response_mode=form_post" in auth_uri and "code_challenge=" in auth_uri
        page = browser_sign_in(sim, auth_uri)
        assert page.status_code == 200 and "You can close this window" in page.text
        return flow_login.finish(flow, wait())


def test_auth_code_flow_then_refresh_tokens_rotate(sim: Sim) -> None:
    tokens = connect(sim)
    assert tokens.refresh_token and tokens.access_token
    assert set(DELEGATED_SCOPES) <= set(tokens.scopes)
    assert tokens.id_token_claims["preferred_username"] == sim.tenant.admin.upn
    assert tokens.access_token not in repr(tokens) and tokens.refresh_token not in repr(tokens)

    rotated: list[str] = []
    app = sim.tenant.app
    provider = RefreshTokenProvider(
        sim.settings,
        sim.tenant.tenant_id,
        app.client_id,
        app.client_secret,
        tokens.refresh_token,
        rotated.append,
    )
    with provider, sim.client(provider=provider) as client:
        ids = [u["id"] for page in client.iter_pages(endpoints.USERS, {"$top": "15"}) for u in page]
        assert len(ids) == len(sim.tenant.users)
        assert len(rotated) == 1 and rotated[0] != tokens.refresh_token
        provider.token()  # cached: no new refresh token
        assert len(rotated) == 1
        provider.token(force_refresh=True)
        assert len(rotated) == 2 and len(set(rotated)) == 2
        # Delegated tokens carry exactly seatwise's five scopes: no ReportSettings.Read.All.
        assert client.report_settings() is None
        with pytest.raises(GraphForbidden) as caught:
            client.get_json(endpoints.REPORT_SETTINGS)
        assert caught.value.code == "Authorization_RequestDenied"
        assert caught.value.path == endpoints.REPORT_SETTINGS


def test_expired_delegated_token_is_refreshed_on_401(sim: Sim) -> None:
    tokens = connect(sim)
    rotated: list[str] = []
    app = sim.tenant.app
    with (
        RefreshTokenProvider(
            sim.settings,
            sim.tenant.tenant_id,
            app.client_id,
            app.client_secret,
            tokens.refresh_token,
            rotated.append,
        ) as provider,
        sim.client(provider=provider) as client,
    ):
        assert client.get_json(endpoints.SUBSCRIBED_SKUS)["value"]
        sim.control("tokens/expire", {})
        assert client.get_json(endpoints.SUBSCRIBED_SKUS)["value"]
        assert client.stats.token_refreshes == 1 and len(rotated) == 2


def test_cancelled_sign_in_is_a_clear_error(sim: Sim) -> None:
    redirect_uri, wait = listen_for_redirect(timeout=10)
    with login(sim) as flow_login:
        auth_uri, flow = flow_login.start(redirect_uri)
        page = browser_sign_in(sim, auth_uri, decision="cancel")
        assert "You can close this window" in page.text
        with pytest.raises(AuthError, match="cancelled"):
            flow_login.finish(flow, wait())


def test_consent_without_the_role_names_the_role(sim: Sim) -> None:
    """AADSTS90094: the admin who signs in may not consent to a permission not yet granted.
    That is a missing directory role (RoleMissing, exit 3), not a declined consent."""
    permissions = sim.tenant.app.delegated_permissions
    admin = sim.tenant.admin
    removed = "AuditLog.Read.All"
    assert removed in permissions and ROLE_APP_ADMIN in admin.roles
    permissions.discard(removed)
    admin.roles.discard(ROLE_APP_ADMIN)
    try:
        redirect_uri, wait = listen_for_redirect(timeout=10)
        with login(sim) as flow_login:
            auth_uri, flow = flow_login.start(redirect_uri)
            page = browser_sign_in(sim, auth_uri)
            assert "AADSTS90094" in page.text
            with pytest.raises(RoleMissing) as caught:
                flow_login.finish(flow, wait())
    finally:
        admin.roles.add(ROLE_APP_ADMIN)
        permissions.add(removed)
    message = str(caught.value)
    assert "Application Administrator role" in message
    assert "declined" not in message and "cancelled" not in message
    assert exit_code_for(caught.value) == 3


def test_an_answer_for_another_sign_in_is_refused(sim: Sim) -> None:
    with login(sim) as flow_login:
        _, flow = flow_login.start("http://localhost:1")
        with pytest.raises(AuthError, match="does not match"):
            flow_login.finish(flow, {"code": "x", "state": "someone-else"})


def test_listener_accepts_a_query_redirect_and_ignores_other_requests() -> None:
    redirect_uri, wait = listen_for_redirect(timeout=10)
    with httpx.Client(trust_env=False) as browser:
        assert browser.get(f"{redirect_uri}/favicon.ico").status_code == 404
        page = browser.get(redirect_uri, params={"code": "abc", "state": "s1"})
    assert page.status_code == 200 and "You can close this window" in page.text
    assert wait() == {"code": "abc", "state": "s1"}


def test_listener_times_out_clearly() -> None:
    _, wait = listen_for_redirect(timeout=0.1)
    with pytest.raises(AuthError, match="No sign-in arrived"):
        wait()


def test_wrong_secret_and_unknown_tenant(sim: Sim) -> None:
    app = sim.tenant.app
    with ClientCredentialsProvider(
        sim.settings, sim.tenant.tenant_id, app.client_id, "not-the-secret", name="contoso"
    ) as wrong:
        with pytest.raises(GraphAuthError, match="client secret .* is wrong"):
            wrong.token()
    with ClientCredentialsProvider(
        sim.settings, "fabrikam.example", app.client_id, app.client_secret
    ) as unknown:
        with pytest.raises(GraphAuthError, match="not found"):
            unknown.token()


def test_msal_ignores_ca_variables_in_the_environment(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "bogus.pem"))
    with sim.provider() as provider:
        assert provider.token().count(".") == 2


def test_revoked_sign_in_is_a_clear_auth_error(sim: Sim) -> None:
    """Last in the module: the admin's password changes, which revokes every grant."""
    tokens = connect(sim)
    app = sim.tenant.app
    provider = RefreshTokenProvider(
        sim.settings,
        sim.tenant.tenant_id,
        app.client_id,
        app.client_secret,
        tokens.refresh_token,
        lambda token: None,
        name="contoso",
    )
    with provider, sim.client(provider=provider) as client:
        assert client.get_json(endpoints.SUBSCRIBED_SKUS)["value"]
        sim.control("admin", {"password": "A-new-password-1"})
        with pytest.raises(AuthError) as caught:
            client.get_json(endpoints.SUBSCRIBED_SKUS)  # 401 (revoked), refresh refused
    assert str(caught.value) == (
        "The stored sign-in for tenant contoso was revoked (password changed?) — run "
        "`seatwise connect contoso` again."
    )
    assert caught.value.exit_code == 3


def test_providers_are_safe_across_threads(sim: Sim) -> None:
    with sim.provider() as provider:
        seen: list[str] = []
        threads = [threading.Thread(target=lambda: seen.append(provider.token())) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(seen) == 8 and len(set(seen)) == 1


def test_untrusted_identity_platform_is_a_clear_error(sim: Sim, tmp_path: Path) -> None:
    settings = settings_for(sim.base_url, None, tmp_path)  # no CA bundle: certifi only
    app = sim.tenant.app
    with ClientCredentialsProvider(
        settings, sim.tenant.tenant_id, app.client_id, app.client_secret
    ) as provider:
        with pytest.raises(GraphError, match="SEATWISE_CA_BUNDLE"):
            provider.token()
