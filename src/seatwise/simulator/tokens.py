"""Tokens of the simulated identity platform: authorization codes, refresh and access tokens.

Pure of HTTP: `identity.py` turns `OAuthError` into the token endpoint's JSON error, and Graph
routes call `TokenStore.check` with the `Authorization` header, which raises `GraphError` with
Graph's own 401 messages.

Access tokens look like Graph's (v1.0 JWTs: `aud` https://graph.microsoft.com, `iss`
https://sts.windows.net/{tid}/, `scp` or `roles`), signed RS256 as Entra signs them, with an RSA
key of the tenant's that the JWKS endpoint publishes (generated once per tenant id and process:
key generation takes ~50 ms). Clients must still treat Graph tokens as opaque. ID tokens are RS256
with a per-process RSA key, also in the JWKS. Every issued token is remembered, so `check` is a
dictionary lookup and revocation or forced expiry is exact.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from seatwise.simulator.odata import GraphError

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph's appId

CODE_LIFETIME_S = 600.0  # "authorization codes are short lived, typically ~10 minutes"
REFRESH_INACTIVITY_S = 90 * 86400.0  # refresh tokens expire after 90 days without use
ID_TOKEN_LIFETIME_S = 3600.0

# What Graph answers on a 401 (its WWW-Authenticate header, verbatim).
_WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize",'
    f' client_id="{GRAPH_APP_ID}"'
)
MSG_EMPTY = "Access token is empty."
MSG_NOT_WELL_FORMED = (
    "IDX14100: JWT is not well formed, there are no dots (.).\n"
    "The token needs to be in JWS or JWE Compact Serialization Format. "
    "(JWS): 'EncodedHeader.EncodedPayload.EncodedSignature'. "
    "(JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector."
    "EncodedCiphertext.EncodedAuthenticationTag'."
)
MSG_VALIDATION_FAILURE = "Access token validation failure."
MSG_EXPIRED = "Lifetime validation failed, the token is expired."
MSG_REVOKED = (
    "Continuous access evaluation resulted in claims challenge with result: InteractionRequired "
    "and code: TokenIssuedBeforeRevocationTimestamp"
)


class OAuthError(Exception):
    """A token-endpoint error: OAuth `error`, AADSTS number and message (without the prefix)."""

    def __init__(
        self,
        error: str,
        code: int,
        message: str,
        status: int = 400,
        suberror: str | None = None,
    ) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.error = error
        self.code = code
        self.message = message
        self.status = status
        self.suberror = suberror


@dataclass(frozen=True, slots=True)
class Grant:
    """What an access token lets its bearer do (Graph permissions are short names)."""

    token: str
    app_only: bool
    scopes: frozenset[str]  # `scp` for delegated tokens, `roles` for app-only ones
    user_id: str | None
    client_id: str
    expires_at: float
    tenant_id: str = ""
    issued_at: float = 0.0


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """What a refresh token stands for: a user, a client and the scopes consented at issue."""

    user_id: str
    client_id: str
    scopes: frozenset[str]
    issued_at: float


@dataclass(frozen=True, slots=True)
class CodeGrant:
    """An authorization code's payload, checked and handed back once by `redeem_code`."""

    client_id: str
    redirect_uri: str
    user_id: str
    tenant_id: str
    scopes: frozenset[str]  # granted Graph permissions (short names)
    oidc_scopes: frozenset[str]  # the granted subset of openid, profile, email, offline_access
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: float
    auth_time: float


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs and `client_info` use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of `b64url` (tolerates missing padding)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pkce_s256(verifier: str) -> str:
    """The S256 code challenge of a PKCE code verifier (RFC 7636)."""
    return b64url(hashlib.sha256(verifier.encode()).digest())


def iso_stamp(epoch: float) -> str:
    """`2021-01-05T05:09:31.5970000Z`: how AADSTS messages print instants (7 decimals)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


@cache
def _rsa_key() -> rsa.RSAPrivateKey:
    """One RSA key per process for ID tokens (generated on first use)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def _tenant_key(tenant_id: str) -> rsa.RSAPrivateKey:  # noqa: ARG001 (the cache key)
    """The RSA key that signs a tenant's access tokens (one per tenant id and process)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _kid_of(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b64url(hashlib.sha1(der).digest())  # a thumbprint, as `x5t` is


def _rsa_kid() -> str:
    return _kid_of(_rsa_key())


def _jwk(key: rsa.RSAPrivateKey, issuer: str | None) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    kid = _kid_of(key)
    jwk: dict[str, Any] = {
        "kty": "RSA",
        "use": "sig",
        "kid": kid,
        "x5t": kid,
        "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
    }
    if issuer:
        jwk["issuer"] = issuer
    return jwk


def _jwt(
    header: Mapping[str, Any], claims: Mapping[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    signing_input = f"{b64url(orjson.dumps(header))}.{b64url(orjson.dumps(claims))}".encode()
    return f"{signing_input.decode()}.{b64url(sign(signing_input))}"


def _opaque(prefix: str) -> str:
    """A long opaque token in the shape of Entra's (`0.A` + base64url)."""
    return prefix + secrets.token_urlsafe(96)


def pairwise_sub(object_id: str, client_id: str) -> str:
    """A stable per-app subject, like Entra's pairwise `sub`."""
    return b64url(hashlib.sha256(f"{object_id}|{client_id}".encode()).digest())


def service_principal_id(tenant_id: str, client_id: str) -> str:
    """A stable object id for the app's service principal (the `oid` of app-only tokens)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp:{tenant_id}:{client_id}"))


@dataclass(slots=True)
class _Access:
    grant: Grant
    revoked: bool = False


@dataclass(slots=True)
class _Refresh:
    grant: RefreshGrant
    revoked: bool = False


@dataclass(slots=True)
class _Code:
    grant: CodeGrant
    redeemed: bool = False
    revoked: bool = False


class TokenStore:
    """Issues, redeems, revokes and checks every token of one simulated tenant (a simulator
    serving several tenants has one store per tenant).

    Thread-safe: the server answers on its own thread while tests call the control hooks.
    """

    def __init__(
        self,
        lifetime_s: float = 3600,
        clock: Callable[[], float] = time.time,
        tenant_id: str | None = None,
    ) -> None:
        self.lifetime_s = lifetime_s
        self.clock = clock
        # Tenants whose access tokens this store signed (their keys are in `jwks`).
        self._signers: list[str] = [tenant_id] if tenant_id else []
        self._lock = threading.Lock()
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._codes: dict[str, _Code] = {}
        self._valid_from: dict[str, float] = {}  # user id -> TokensValidFrom
        self._issued = 0

    # -- access tokens -------------------------------------------------------------------------

    def issue_access(
        self,
        *,
        tenant_id: str,
        client_id: str,
        scopes: Iterable[str],
        user_id: str | None = None,
        upn: str | None = None,
        name: str | None = None,
        app_name: str | None = None,
    ) -> tuple[str, int]:
        """A Graph access token: delegated when `user_id` is given, app-only otherwise.

        Returns the token and `expires_in` (seconds, as the token endpoint reports it).
        """
        now = self.clock()
        expires_at = now + self.lifetime_s
        perms = frozenset(scopes)
        app_only = user_id is None
        issuer = f"https://sts.windows.net/{tenant_id}/"
        claims: dict[str, Any] = {
            "aud": GRAPH_RESOURCE,
            "iss": issuer,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(expires_at),
            "app_displayname": app_name,
            "appid": client_id,
            "appidacr": "1",  # client authenticated with a secret
            "idtyp": "app" if app_only else "user",
            "tid": tenant_id,
            "uti": b64url(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        if app_only:
            sp_id = service_principal_id(tenant_id, client_id)
            claims.update(idp=issuer, oid=sp_id, sub=sp_id, roles=sorted(perms))
        else:
            assert user_id is not None
            claims.update(
                name=name,
                oid=user_id,
                scp=" ".join(sorted(perms)),
                sub=pairwise_sub(user_id, client_id),
                unique_name=upn,
                upn=upn,
            )
        claims = {k: v for k, v in claims.items() if v is not None}
        key = _tenant_key(tenant_id)
        if tenant_id not in self._signers:
            self._signers.append(tenant_id)
        header = {"typ": "JWT", "alg": "RS256", "kid": _kid_of(key), "x5t": _kid_of(key)}
        token = _jwt(
            header, claims, lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        )
        grant = Grant(
            token=token,
            app_only=app_only,
            scopes=perms,
            user_id=user_id,
            client_id=client_id,
            expires_at=expires_at,
            tenant_id=tenant_id,
            issued_at=now,
        )
        with self._lock:
            self._access[token] = _Access(grant)
            self._issued += 1
            if self._issued % 1000 == 0:  # forget tokens expired a week ago
                stale = [t for t, r in self._access.items() if r.grant.expires_at < now - 7 * 86400]
                for old in stale:
                    del self._access[old]
        return token, max(int(expires_at) - math.ceil(now), 0)

    def issued(self, authorization_header: str | None) -> bool:
        """Whether this store issued the access token in `Authorization: Bearer …` (valid or not).

        A simulator serving several tenants asks each tenant's store in turn: the one that
        issued a token is the only one that can accept it.
        """
        token = _bearer(authorization_header)
        with self._lock:
            return token in self._access

    def check(self, authorization_header: str | None, tenant_id: str | None = None) -> Grant:
        """The grant behind `Authorization: Bearer …`, else a 401 InvalidAuthenticationToken.

        With `tenant_id`, a token issued for another tenant is refused like an unknown one.
        """
        token = _bearer(authorization_header)
        if not token:
            raise _unauthorized(MSG_EMPTY)
        if "." not in token:
            raise _unauthorized(MSG_NOT_WELL_FORMED)
        with self._lock:
            record = self._access.get(token)
        if record is None or (tenant_id is not None and record.grant.tenant_id != tenant_id):
            raise _unauthorized(MSG_VALIDATION_FAILURE)
        if record.revoked:
            grant = record.grant
            nbf = str(int(grant.issued_at) + 1)
            claims = {"access_token": {"nbf": {"essential": True, "value": nbf}}}
            challenge = (
                f'{_WWW_AUTHENTICATE}, error="insufficient_claims", '
                f'claims="{base64.b64encode(orjson.dumps(claims)).decode()}"'
            )
            raise GraphError(
                401, "InvalidAuthenticationToken", MSG_REVOKED, {"WWW-Authenticate": challenge}
            )
        if self.clock() >= record.grant.expires_at:
            raise _unauthorized(MSG_EXPIRED)
        return record.grant

    def expire_all_access(self) -> None:
        """Control hook: every access token issued so far is now expired."""
        now = self.clock()
        with self._lock:
            for record in self._access.values():
                if record.grant.expires_at > now:
                    record.grant = replace(record.grant, expires_at=now)

    # -- refresh tokens ------------------------------------------------------------------------

    def issue_refresh(self, user_id: str, client_id: str, scopes: Iterable[str]) -> str:
        """A new refresh token for `user_id` and `client_id`, remembering the consented scopes."""
        token = _opaque("0.A")
        grant = RefreshGrant(user_id, client_id, frozenset(scopes), self.clock())
        with self._lock:
            self._refresh[token] = _Refresh(grant)
        return token

    def redeem_refresh(self, token: str, client_id: str) -> tuple[str, RefreshGrant]:
        """Rotate: a new refresh token plus what the old one stood for.

        The old token stays valid (Entra does not revoke a refresh token on use) until the
        user's tokens are revoked or it has been idle for 90 days.
        """
        now = self.clock()
        with self._lock:
            record = self._refresh.get(token)
            if record is None:
                raise _malformed()
            grant = record.grant
            if grant.client_id != client_id:
                raise OAuthError("invalid_grant", 70000, "Provided grant is invalid or malformed.")
            if record.revoked:
                raise self._revoked_error(grant.user_id, grant.issued_at)
            if now - grant.issued_at > REFRESH_INACTIVITY_S:
                idle = int(now - grant.issued_at)
                raise OAuthError(
                    "invalid_grant",
                    700082,
                    "The refresh token has expired due to inactivity. The token was issued on "
                    f"{iso_stamp(grant.issued_at)} and was inactive for "
                    f"{idle // 86400}.{idle % 86400 // 3600:02d}:{idle % 3600 // 60:02d}:00.",
                )
            new = _opaque("0.A")
            self._refresh[new] = _Refresh(replace(grant, issued_at=now))
        return new, grant

    # -- authorization codes -------------------------------------------------------------------

    def issue_code(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        user_id: str,
        tenant_id: str,
        scopes: Iterable[str],
        oidc_scopes: Iterable[str] = (),
        nonce: str | None = None,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
    ) -> str:
        """A one-time authorization code (valid ten minutes)."""
        now = self.clock()
        code = _opaque("1.A")
        grant = CodeGrant(
            client_id=client_id,
            redirect_uri=redirect_uri,
            user_id=user_id,
            tenant_id=tenant_id,
            scopes=frozenset(scopes),
            oidc_scopes=frozenset(oidc_scopes),
            nonce=nonce,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            issued_at=now,
            auth_time=now,
        )
        with self._lock:
            self._prune_codes(now)
            self._codes[code] = _Code(grant)
        return code

    def redeem_code(
        self, code: str, *, client_id: str, redirect_uri: str | None, code_verifier: str | None
    ) -> CodeGrant:
        """Check and consume an authorization code (AADSTS54005 when it was redeemed before)."""
        now = self.clock()
        with self._lock:
            record = self._codes.get(code)
            if record is None:
                raise _malformed()
            grant = record.grant
            if record.redeemed:
                raise OAuthError(
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid "
                    "code or use an existing refresh token.",
                )
            if grant.client_id != client_id:
                raise OAuthError("invalid_grant", 70000, "Provided grant is invalid or malformed.")
            if record.revoked:
                raise self._revoked_error(grant.user_id, grant.issued_at)
            if now - grant.issued_at > CODE_LIFETIME_S:
                raise OAuthError(
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to "
                    "inactivity. Send a new interactive authorization request for this user and "
                    "resource.",
                )
            if redirect_uri != grant.redirect_uri:
                raise OAuthError(
                    "invalid_grant",
                    70000,
                    "The provided value for the 'redirect_uri' is not valid. The value must "
                    "exactly match the redirect URI used to obtain the authorization code.",
                )
            if grant.code_challenge is not None and not _pkce_matches(grant, code_verifier):
                raise OAuthError(
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the "
                    "authorization request.",
                )
            record.redeemed = True
        return grant

    # -- revocation ----------------------------------------------------------------------------

    def refresh_tokens(self) -> list[str]:
        """Every refresh token issued so far (tests check none is ever stored in plain text)."""
        with self._lock:
            return list(self._refresh)

    def revoke_user(self, user_id: str) -> None:
        """Revoke every refresh token, code and access token of `user_id` (password change)."""
        now = self.clock()
        with self._lock:
            self._valid_from[user_id] = now
            for refresh in self._refresh.values():
                if refresh.grant.user_id == user_id:
                    refresh.revoked = True
            for code in self._codes.values():
                if code.grant.user_id == user_id:
                    code.revoked = True
            for access in self._access.values():
                if access.grant.user_id == user_id:
                    access.revoked = True

    def _revoked_error(self, user_id: str, issued_at: float) -> OAuthError:
        valid_from = self._valid_from.get(user_id, issued_at)
        return OAuthError(
            "invalid_grant",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
            "The user might have changed or reset their password. The grant was issued on "
            f"'{iso_stamp(issued_at)}' and the TokensValidFrom date (before which tokens are not "
            f"valid) for this user is '{iso_stamp(math.floor(valid_from))}'.",
        )

    def _prune_codes(self, now: float) -> None:
        stale = [c for c, r in self._codes.items() if now - r.grant.issued_at > 86400]
        for code in stale:
            del self._codes[code]

    # -- ID tokens -----------------------------------------------------------------------------

    def issue_id_token(self, claims: Mapping[str, Any]) -> str:
        """An RS256 ID token with `claims` plus `iat`, `nbf`, `exp`, `uti` and `ver` 2.0."""
        now = int(self.clock())
        body = {
            **claims,
            "iat": now,
            "nbf": now,
            "exp": now + int(ID_TOKEN_LIFETIME_S),
            "uti": b64url(secrets.token_bytes(16)),
            "ver": "2.0",
        }
        body = {k: v for k, v in body.items() if v is not None}
        kid = _rsa_kid()
        header = {"typ": "JWT", "alg": "RS256", "kid": kid}
        return _jwt(
            header, body, lambda data: _rsa_key().sign(data, padding.PKCS1v15(), hashes.SHA256())
        )

    def jwks(self, issuer: str | None = None) -> dict[str, Any]:
        """The JSON Web Key Set (`/discovery/v2.0/keys`): the keys that verify this store's
        access tokens and every ID token."""
        keys = [_jwk(_tenant_key(tenant_id), issuer) for tenant_id in self._signers]
        keys.append(_jwk(_rsa_key(), issuer))
        return {"keys": keys}


def _bearer(header: str | None) -> str:
    if not header:
        return ""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return value.strip()


def _unauthorized(message: str) -> GraphError:
    headers = {"WWW-Authenticate": _WWW_AUTHENTICATE}
    return GraphError(401, "InvalidAuthenticationToken", message, headers)


def _malformed() -> OAuthError:
    return OAuthError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")


def _pkce_matches(grant: CodeGrant, verifier: str | None) -> bool:
    if not verifier or grant.code_challenge is None:
        return False
    if (grant.code_challenge_method or "plain").lower() == "s256":
        expected = pkce_s256(verifier)
    else:
        expected = verifier
    return hmac.compare_digest(expected, grant.code_challenge)
