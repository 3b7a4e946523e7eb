"""TokenStore on its own: issuing, checking, rotating, revoking; a fake clock, no HTTP."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from seatwise.simulator.odata import GraphError
from seatwise.simulator.tokens import (
    CODE_LIFETIME_S,
    REFRESH_INACTIVITY_S,
    OAuthError,
    TokenStore,
    b64url_decode,
    pkce_s256,
)

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
USER = "99999999-8888-7777-6666-555555555555"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> TokenStore:
    return TokenStore(lifetime_s=3600, clock=clock)


def jwt_parts(token: str) -> tuple[dict[str, object], dict[str, object]]:
    header, payload, signature = token.split(".")
    assert signature
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def delegated(store: TokenStore, scopes: tuple[str, ...] = ("Directory.Read.All",)) -> str:
    token, _ = store.issue_access(
        tenant_id=TENANT, client_id=CLIENT, scopes=scopes, user_id=USER, upn="a@b.c", name="A"
    )
    return token


def graph_error(store: TokenStore, header: str | None) -> GraphError:
    with pytest.raises(GraphError) as info:
        store.check(header)
    assert info.value.status == 401
    assert info.value.code == "InvalidAuthenticationToken"
    assert info.value.headers["WWW-Authenticate"].startswith("Bearer realm=")
    return info.value


def oauth_error(call: object, *args: object, **kwargs: object) -> OAuthError:
    assert callable(call)
    with pytest.raises(OAuthError) as info:
        call(*args, **kwargs)
    return info.value


# -- access tokens --------------------------------------------------------------------------------


def test_delegated_access_token_looks_like_a_graph_jwt(store: TokenStore, clock: Clock) -> None:
    token, expires_in = store.issue_access(
        tenant_id=TENANT,
        client_id=CLIENT,
        scopes={"Directory.Read.All", "AuditLog.Read.All"},
        user_id=USER,
        upn="admin@contoso.onmicrosoft.com",
        name="Admin",
        app_name="seatwise",
    )
    header, claims = jwt_parts(token)
    assert header["typ"] == "JWT" and header["alg"] == "RS256"
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["iss"] == f"https://sts.windows.net/{TENANT}/"
    assert claims["tid"] == TENANT and claims["oid"] == USER and claims["appid"] == CLIENT
    assert claims["scp"] == "AuditLog.Read.All Directory.Read.All"
    assert "roles" not in claims
    assert claims["upn"] == "admin@contoso.onmicrosoft.com"
    assert claims["exp"] == int(clock.now) + 3600 and claims["iat"] == claims["nbf"]
    assert expires_in == 3600

    grant = store.check(f"Bearer {token}")
    assert not grant.app_only
    assert grant.scopes == {"Directory.Read.All", "AuditLog.Read.All"}
    assert grant.user_id == USER and grant.client_id == CLIENT and grant.token == token


def test_app_only_access_token_carries_roles(store: TokenStore) -> None:
    token, _ = store.issue_access(
        tenant_id=TENANT, client_id=CLIENT, scopes={"User.Read.All", "Reports.Read.All"}
    )
    _, claims = jwt_parts(token)
    assert claims["roles"] == ["Reports.Read.All", "User.Read.All"]
    assert "scp" not in claims and claims["idtyp"] == "app"
    grant = store.check(f"bearer {token}")
    assert grant.app_only and grant.user_id is None
    assert grant.scopes == {"User.Read.All", "Reports.Read.All"}


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic abc"])
def test_missing_token_is_empty(store: TokenStore, header: str | None) -> None:
    assert graph_error(store, header).message == "Access token is empty."


def test_garbled_and_unknown_tokens(store: TokenStore) -> None:
    assert graph_error(store, "Bearer nodots").message.startswith(
        "IDX14100: JWT is not well formed, there are no dots (.)."
    )
    token = delegated(store)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert graph_error(store, f"Bearer {forged}").message == "Access token validation failure."
    other = TokenStore()
    assert graph_error(other, f"Bearer {token}").message == "Access token validation failure."


def test_expiry_by_clock_and_by_control_hook(store: TokenStore, clock: Clock) -> None:
    token = delegated(store)
    clock.now += 3599
    store.check(f"Bearer {token}")
    clock.now += 1
    expired = "Lifetime validation failed, the token is expired."
    assert graph_error(store, f"Bearer {token}").message == expired

    fresh = delegated(store)
    store.expire_all_access()
    assert graph_error(store, f"Bearer {fresh}").message == expired
    later = delegated(store)
    assert store.check(f"Bearer {later}").token == later  # only tokens issued before the hook


# -- refresh tokens -------------------------------------------------------------------------------


def test_refresh_rotates_and_the_old_token_stays_valid(store: TokenStore, clock: Clock) -> None:
    first = store.issue_refresh(USER, CLIENT, {"Directory.Read.All"})
    clock.now += 60
    second, grant = store.redeem_refresh(first, CLIENT)
    assert second != first
    assert grant.user_id == USER and grant.scopes == {"Directory.Read.All"}
    third, _ = store.redeem_refresh(second, CLIENT)
    again, _ = store.redeem_refresh(first, CLIENT)
    assert len({first, second, third, again}) == 4


def test_refresh_errors(store: TokenStore, clock: Clock) -> None:
    token = store.issue_refresh(USER, CLIENT, set())
    error = oauth_error(store.redeem_refresh, "0.Anonsense", CLIENT)
    assert (error.error, error.code) == ("invalid_grant", 9002313)
    error = oauth_error(store.redeem_refresh, token, "another-client")
    assert (error.error, error.code) == ("invalid_grant", 70000)
    clock.now += REFRESH_INACTIVITY_S + 1
    error = oauth_error(store.redeem_refresh, token, CLIENT)
    assert (error.error, error.code) == ("invalid_grant", 700082)


def test_revoke_user_revokes_refresh_codes_and_access(store: TokenStore, clock: Clock) -> None:
    refresh = store.issue_refresh(USER, CLIENT, {"Directory.Read.All"})
    other_refresh = store.issue_refresh("someone-else", CLIENT, set())
    code = store.issue_code(
        client_id=CLIENT,
        redirect_uri="http://localhost/cb",
        user_id=USER,
        tenant_id=TENANT,
        scopes=set(),
    )
    access = delegated(store)
    clock.now += 10
    store.revoke_user(USER)

    error = oauth_error(store.redeem_refresh, refresh, CLIENT)
    assert (error.error, error.code) == ("invalid_grant", 50173)
    assert "The user might have changed or reset their password." in error.message
    assert "TokensValidFrom date (before which tokens are not valid)" in error.message
    assert str(error).startswith("AADSTS50173: The provided grant has expired")
    error = oauth_error(
        store.redeem_code,
        code,
        client_id=CLIENT,
        redirect_uri="http://localhost/cb",
        code_verifier=None,
    )
    assert error.code == 50173
    revoked = graph_error(store, f"Bearer {access}")
    assert "TokenIssuedBeforeRevocationTimestamp" in revoked.message
    assert 'error="insufficient_claims"' in revoked.headers["WWW-Authenticate"]

    store.redeem_refresh(other_refresh, CLIENT)  # other users are untouched
    new_refresh = store.issue_refresh(USER, CLIENT, set())  # after a new sign-in all is well
    store.redeem_refresh(new_refresh, CLIENT)
    store.check(f"Bearer {delegated(store)}")


# -- authorization codes --------------------------------------------------------------------------


def issue_code(store: TokenStore, challenge: str | None, method: str | None) -> str:
    return store.issue_code(
        client_id=CLIENT,
        redirect_uri="http://localhost:8400/cb",
        user_id=USER,
        tenant_id=TENANT,
        scopes={"Directory.Read.All"},
        oidc_scopes={"openid", "offline_access"},
        nonce="n-1",
        code_challenge=challenge,
        code_challenge_method=method,
    )


def redeem(store: TokenStore, code: str, verifier: str | None, redirect: str = "") -> object:
    return store.redeem_code(
        code,
        client_id=CLIENT,
        redirect_uri=redirect or "http://localhost:8400/cb",
        code_verifier=verifier,
    )


def test_code_is_redeemed_once_with_pkce_s256(store: TokenStore) -> None:
    verifier = "v" * 43
    code = issue_code(store, pkce_s256(verifier), "S256")
    grant = store.redeem_code(
        code, client_id=CLIENT, redirect_uri="http://localhost:8400/cb", code_verifier=verifier
    )
    assert grant.user_id == USER and grant.nonce == "n-1"
    assert grant.scopes == {"Directory.Read.All"} and grant.oidc_scopes == {
        "openid",
        "offline_access",
    }
    error = oauth_error(redeem, store, code, verifier)
    assert (error.error, error.code) == ("invalid_grant", 54005)


def test_code_pkce_plain_and_mismatches(store: TokenStore) -> None:
    plain = issue_code(store, "plain-verifier-" + "x" * 30, "plain")
    redeem(store, plain, "plain-verifier-" + "x" * 30)

    code = issue_code(store, pkce_s256("right" * 10), "S256")
    for verifier in ("wrong" * 10, None):
        error = oauth_error(redeem, store, code, verifier)
        assert (error.error, error.code) == ("invalid_grant", 501481)
    error = oauth_error(redeem, store, code, "right" * 10, "http://localhost:9999/other")
    assert error.code == 70000
    redeem(store, code, "right" * 10)  # failures do not consume the code


def test_code_expires_after_ten_minutes(store: TokenStore, clock: Clock) -> None:
    code = issue_code(store, None, None)
    clock.now += CODE_LIFETIME_S + 1
    error = oauth_error(redeem, store, code, None)
    assert (error.error, error.code) == ("invalid_grant", 70008)
    error = oauth_error(redeem, store, "1.Aunknown", None)
    assert error.code == 9002313


# -- ID tokens ------------------------------------------------------------------------------------


def test_id_token_is_rs256_and_verifies_with_the_jwks(store: TokenStore, clock: Clock) -> None:
    token = store.issue_id_token({"aud": CLIENT, "iss": "https://x/t/v2.0", "nonce": None})
    header, claims = jwt_parts(token)
    assert header["alg"] == "RS256"
    assert claims["aud"] == CLIENT and "nonce" not in claims
    assert claims["iat"] == int(clock.now) and claims["ver"] == "2.0"
    key = next(k for k in store.jwks("https://x/t/v2.0")["keys"] if k["kid"] == header["kid"])
    assert (
        key["kid"] == header["kid"] and key["kty"] == "RSA" and key["issuer"] == "https://x/t/v2.0"
    )
    public = rsa.RSAPublicNumbers(
        int.from_bytes(b64url_decode(key["e"]), "big"),
        int.from_bytes(b64url_decode(key["n"]), "big"),
    ).public_key()
    signing_input, _, signature = token.rpartition(".")
    public.verify(
        b64url_decode(signature), signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
