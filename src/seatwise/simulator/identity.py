"""The simulated Microsoft identity platform (Entra ID v2.0 endpoints) as Starlette routes.

`{tenant}` is the tenant id, its domain, `organizations` or `common`; one host may serve several
directories (`tenant_routes`), each under its own id and domain. Served: OIDC discovery and
JWKS, the authorize endpoint with a small sign-in and consent page, the token endpoint
(authorization code with PKCE, refresh token with rotation, client credentials), admin consent
(v1 and v2 forms) and sign-out. Errors look like Entra's: JSON with `error`, an AADSTS
`error_description` carrying trace and correlation ids, `error_codes`, `timestamp`, `trace_id`,
`correlation_id`, `error_uri`; redirects carry `error` and `error_description`; problems that
cannot be redirected (unknown app, bad redirect URI) are an HTML error page.

The only people who can sign in are the directory's admin (`directory.admin`, with its password);
other users of the tenant have no password here. Consent: `app.delegated_permissions` is the
set consented for the organization. Asking for anything else needs an admin with the
Application Administrator role, whose acceptance adds it to that set; without the role the
redirect carries `access_denied` (AADSTS90094).
"""

from __future__ import annotations

import base64
import hmac
import html
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote_plus, urlencode, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from seatwise.simulator.model import ROLE_APP_ADMIN
from seatwise.simulator.tokens import (
    GRAPH_APP_ID,
    GRAPH_RESOURCE,
    OAuthError,
    TokenStore,
    b64url,
    pairwise_sub,
)

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
_GRAPH_ALIASES = (GRAPH_RESOURCE, GRAPH_APP_ID)
_TENANT_ALIASES = ("organizations", "common")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")

MSG_BAD_PASSWORD = (
    "Your account or password is incorrect. If you don't remember your password, reset it now."
)
MSG_NO_USERNAME = "Enter a valid email address, phone number, or Skype name."


# -- what the routes need from the tenant -----------------------------------------------------


class AppLike(Protocol):
    """The app registration (see `model.AppRegistration`)."""

    @property
    def client_id(self) -> str: ...
    @property
    def client_secret(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def application_permissions(self) -> set[str]: ...
    @property
    def delegated_permissions(self) -> set[str]: ...


class AdminLike(Protocol):
    """The administrator who signs in (see `model.Admin`)."""

    @property
    def user_id(self) -> str: ...
    @property
    def upn(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def roles(self) -> set[str]: ...


class UserLike(Protocol):
    """A directory user (see `model.User`)."""

    @property
    def id(self) -> str: ...
    @property
    def upn(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def mail(self) -> str | None: ...


class Directory(Protocol):
    """The part of the simulated tenant that identity reads (and, on consent, extends)."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def app(self) -> AppLike: ...
    @property
    def admin(self) -> AdminLike: ...
    @property
    def users_by_id(self) -> Mapping[str, UserLike]: ...
    @property
    def users_by_upn(self) -> Mapping[str, UserLike]: ...


def request_base(request: Request) -> str:
    """`https://host:port` of the request: the usual `authority_base`."""
    return f"{request.url.scheme}://{request.url.netloc}"


# -- scopes -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Scopes:
    """A parsed `scope` parameter: Graph permissions (short names) and OIDC scopes."""

    graph: set[str]
    oidc: set[str]
    default: bool  # https://graph.microsoft.com/.default was asked for
    full_urls: bool  # Graph permissions were written as URLs (the response echoes the style)
    foreign: list[str]  # resources other than Graph

    def echo_full_urls(self) -> bool:
        """Whether a response lists Graph permissions as URLs: as asked, URLs when not asked."""
        return self.full_urls or not (self.graph or self.default)


def parse_scopes(raw: str | None) -> Scopes:
    """Split a space-separated `scope` value; `https://graph.microsoft.com/X` becomes `X`."""
    parsed = Scopes(set(), set(), False, False, [])
    for item in (raw or "").split():
        if item.lower() in OIDC_SCOPES:
            parsed.oidc.add(item.lower())
            continue
        resource, slash, name = item.rpartition("/")
        if slash:
            parsed.full_urls = True
            if resource.rstrip("/").lower() not in _GRAPH_ALIASES:
                parsed.foreign.append(resource)
                continue
        if name.lower() == ".default":
            parsed.default = True
        elif name:
            parsed.graph.add(name)
    return parsed


def _format_scopes(graph: Collection[str], oidc: Collection[str], full_urls: bool) -> str:
    names = [f"{GRAPH_RESOURCE}/{p}" if full_urls else p for p in sorted(graph)]
    return " ".join(names + [s for s in OIDC_SCOPES if s in oidc])


# -- the routes ---------------------------------------------------------------------------------


def routes(
    directory: Directory,
    tokens: TokenStore,
    *,
    authority_base: Callable[[Request], str],
    redirect_uris: Collection[str] = (),
) -> list[Route]:
    """The identity platform's routes for `directory`, issuing through `tokens`.

    `authority_base(request)` gives `https://host:port` (issuer and endpoint URLs are built on it).
    `redirect_uris` are the app's registered non-loopback redirect URIs; any `http://localhost`
    or `http://127.0.0.1` URI (any port) is always accepted, as Entra does for loopback.
    """
    return tenant_routes(
        [(directory, tokens)], authority_base=authority_base, redirect_uris=redirect_uris
    )


def tenant_routes(
    tenants: Sequence[tuple[Directory, TokenStore]],
    *,
    authority_base: Callable[[Request], str],
    redirect_uris: Collection[str] = (),
) -> list[Route]:
    """The identity platform's routes for several directories, each issuing through its store.

    `/{tenant}/...` is answered by the directory with that id or domain, so its tokens carry its
    `tid` and only its app registration and admin sign in there; an unknown tenant gets Entra's
    AADSTS90002. With several directories, `organizations` and `common` go to the directory
    whose app is the request's `client_id`. Other arguments as for `routes`.
    """
    if not tenants:
        raise ValueError("the identity platform needs at least one directory")
    uris = frozenset(redirect_uris)
    return _Router([_Identity(d, t, authority_base, uris) for d, t in tenants]).routes()


_Endpoint = Callable[["_Identity", Request], Awaitable[Response]]


class _Router:
    """Sends each request to the `_Identity` of the tenant in its path."""

    def __init__(self, identities: list[_Identity]) -> None:
        self.identities = identities
        self.by_tenant: dict[str, _Identity] = {}
        self.by_client: dict[str, _Identity] = {}
        for ident in identities:
            directory = ident.directory
            self.by_tenant.setdefault(directory.tenant_id.lower(), ident)
            self.by_tenant.setdefault(directory.domain.lower(), ident)
            self.by_client.setdefault(directory.app.client_id.lower(), ident)

    def routes(self) -> list[Route]:
        serve = self._serve
        first = self.identities[0]
        get_post = ["GET", "POST"]
        return [
            Route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                serve(_Identity.openid_configuration),
            ),
            Route(
                "/{tenant}/.well-known/openid-configuration", serve(_Identity.openid_configuration)
            ),
            Route("/{tenant}/discovery/v2.0/keys", serve(_Identity.keys)),
            Route("/{tenant}/discovery/keys", serve(_Identity.keys)),
            Route("/{tenant}/oauth2/v2.0/authorize", serve(_Identity.authorize), methods=get_post),
            Route(
                "/{tenant}/oauth2/v2.0/token", serve(_Identity.token, form=True), methods=["POST"]
            ),
            Route("/{tenant}/oauth2/v2.0/logout", serve(_Identity.logout), methods=get_post),
            Route("/{tenant}/adminconsent", serve(_Identity.admin_consent), methods=get_post),
            Route("/{tenant}/v2.0/adminconsent", serve(_Identity.admin_consent), methods=get_post),
            Route("/error", first.error_page),
        ]

    def _serve(
        self, endpoint: _Endpoint, *, form: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            return await endpoint(await self._pick(request, form), request)

        return handle

    async def _pick(self, request: Request, form: bool) -> _Identity:
        """The tenant named in the path; for an alias, the one whose app is asking. Anything
        else goes to the first tenant, which answers as Entra does for an unknown tenant."""
        if len(self.identities) == 1:
            return self.identities[0]
        segment = request.path_params["tenant"].lower()
        found = self.by_tenant.get(segment)
        if found is not None:
            return found
        if segment in _TENANT_ALIASES:
            client_id = request.query_params.get("client_id")
            if not client_id and form:
                client_id = (
                    str((await request.form()).get("client_id") or "")
                    or (_basic_credentials(request.headers.get("authorization"))[0])
                )
            found = self.by_client.get((client_id or "").lower())
        return found or self.identities[0]


@dataclass(slots=True)
class _AuthRequest:
    tenant: str
    client_id: str
    redirect_uri: str
    response_mode: str
    state: str | None
    scopes: Scopes
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    login_hint: str
    client_info: bool


class _Identity:
    def __init__(
        self,
        directory: Directory,
        tokens: TokenStore,
        authority_base: Callable[[Request], str],
        redirect_uris: frozenset[str],
    ) -> None:
        self.directory = directory
        self.tokens = tokens
        self.base = authority_base
        self.redirect_uris = redirect_uris

    # -- tenant and app ------------------------------------------------------------------------

    def _tenant_segment(self, tenant: str) -> str | None:
        """The path segment endpoints use for `tenant` (the GUID, or the alias), None if unknown."""
        low = tenant.lower()
        if low in (self.directory.tenant_id.lower(), self.directory.domain.lower()):
            return self.directory.tenant_id
        if low in _TENANT_ALIASES:
            return low
        return None

    def _tenant_not_found(self, tenant: str) -> OAuthError:
        return OAuthError(
            "invalid_tenant",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
            "are signing into the correct cloud. Check with your subscription administrator, this "
            "may happen if there are no active subscriptions for the tenant.",
        )

    def _app_not_found(self, client_id: str) -> OAuthError:
        return OAuthError(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{self.directory.tenant_id}'. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any user in the "
            "tenant. You may have sent your authentication request to the wrong tenant.",
        )

    def _is_our_app(self, client_id: str) -> bool:
        return client_id.lower() == self.directory.app.client_id.lower()

    def _redirect_allowed(self, uri: str) -> bool:
        if uri in self.redirect_uris:
            return True
        parts = urlsplit(uri)
        return parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS

    def _canonical(self, names: Collection[str]) -> set[str]:
        """Permission names in the app's own spelling (Entra treats scopes case-insensitively)."""
        app = self.directory.app
        known = {p.lower(): p for p in (*app.application_permissions, *app.delegated_permissions)}
        return {known.get(n.lower(), n) for n in names}

    def _requested_delegated(self, scopes: Scopes) -> set[str]:
        asked = self._canonical(scopes.graph)
        if scopes.default:
            asked |= self.directory.app.delegated_permissions
        return asked

    # -- discovery -----------------------------------------------------------------------------

    async def openid_configuration(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        segment = self._tenant_segment(tenant)
        if segment is None:
            return self._oauth_error(request, self._tenant_not_found(tenant))
        base = self.base(request)
        host = urlsplit(base).netloc
        issuer_tenant = self.directory.tenant_id if segment not in _TENANT_ALIASES else "{tenantid}"
        root = f"{base}/{segment}"
        doc = {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "cloud_instance_name",
                "cloud_instance_host_name",
                "cloud_graph_host_name",
                "msgraph_host",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "at_hash",
                "c_hash",
                "email",
            ],
            "kerberos_endpoint": f"{root}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": host,
            "cloud_graph_host_name": host,
            "msgraph_host": host,
            "rbac_url": f"{base}/rbac",
        }
        return _json(doc)

    async def keys(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        segment = self._tenant_segment(tenant)
        if segment is None:
            return self._oauth_error(request, self._tenant_not_found(tenant))
        issuer_tenant = segment if segment not in _TENANT_ALIASES else "{tenantid}"
        return _json(self.tokens.jwks(f"{self.base(request)}/{issuer_tenant}/v2.0"))

    # -- authorize -----------------------------------------------------------------------------

    def _parse_authorize(self, request: Request) -> _AuthRequest | Response:
        """Validate an authorize request: an `_AuthRequest`, or the error page / redirect."""
        q = request.query_params
        tenant = request.path_params["tenant"]
        if self._tenant_segment(tenant) is None:
            return self._error_page(request, self._tenant_not_found(tenant))
        client_id = q.get("client_id", "")
        if not client_id:
            return self._error_page(request, _missing("client_id"))
        if not self._is_our_app(client_id):
            return self._error_page(request, self._app_not_found(client_id))
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri:
            return self._error_page(request, _missing("redirect_uri"))
        if not self._redirect_allowed(redirect_uri):
            return self._error_page(
                request,
                OAuthError(
                    "invalid_request",
                    50011,
                    f"The redirect URI '{redirect_uri}' specified in the request does not match "
                    "the redirect URIs configured for the application "
                    f"'{self.directory.app.client_id}'. Make sure the redirect URI sent in the "
                    "request matches one added to your application in the Azure portal. Navigate "
                    "to https://aka.ms/redirectUriMismatchError to learn more about how to fix "
                    "this.",
                ),
            )
        state = q.get("state")
        response_mode = q.get("response_mode") or "query"
        if response_mode not in ("query", "fragment", "form_post"):
            response_mode = "query"
        response_type = q.get("response_type", "")

        def fail(error: OAuthError) -> Response:
            return self._error_redirect(request, redirect_uri, response_mode, state, error)

        if not response_type:
            return fail(_missing("response_type"))
        if response_type != "code":
            return fail(
                OAuthError(
                    "unsupported_response_type",
                    700051,
                    f"response_type '{response_type}' is not enabled for the application.",
                )
            )
        if not q.get("scope"):
            return fail(_missing("scope"))
        scopes = parse_scopes(q.get("scope"))
        if scopes.foreign:
            return fail(self._resource_not_found(scopes.foreign[0], "invalid_resource"))
        challenge = q.get("code_challenge") or None
        method = q.get("code_challenge_method") or None
        if method is not None and method.lower() not in ("s256", "plain"):
            return fail(
                OAuthError("invalid_request", 50149, "Invalid Code_Challenge_method parameter.")
            )
        if challenge is None and method is not None:
            return fail(_missing("code_challenge"))
        if q.get("prompt") == "none":
            return fail(
                OAuthError(
                    "login_required",
                    50058,
                    "A silent sign-in request was sent but no user is signed in.",
                )
            )
        return _AuthRequest(
            tenant=tenant,
            client_id=self.directory.app.client_id,
            redirect_uri=redirect_uri,
            response_mode=response_mode,
            state=state,
            scopes=scopes,
            nonce=q.get("nonce"),
            code_challenge=challenge,
            code_challenge_method=(method or "plain") if challenge else None,
            login_hint=q.get("login_hint", ""),
            client_info=q.get("client_info") == "1",
        )

    async def authorize(self, request: Request) -> Response:
        parsed = self._parse_authorize(request)
        if isinstance(parsed, Response):
            return parsed
        permissions = sorted(self._requested_delegated(parsed.scopes))
        if request.method == "GET":
            return self._sign_in_page(request, permissions, parsed.login_hint)
        form = await request.form()
        username = str(form.get("loginfmt", "")).strip()
        password = str(form.get("passwd", ""))
        if form.get("decision") == "cancel":
            return self._error_redirect(
                request,
                parsed.redirect_uri,
                parsed.response_mode,
                parsed.state,
                OAuthError("access_denied", 65004, "User declined to consent to access the app."),
                subcode="cancel",
            )
        problem = self._authenticate(username, password)
        if problem is not None:
            return self._sign_in_page(request, permissions, username, problem)
        admin = self.directory.admin
        consented = self.directory.app.delegated_permissions
        missing = set(permissions) - consented
        if missing:
            if ROLE_APP_ADMIN not in admin.roles:
                return self._error_redirect(
                    request,
                    parsed.redirect_uri,
                    parsed.response_mode,
                    parsed.state,
                    OAuthError("access_denied", 90094, "The grant requires admin permission."),
                )
            consented.update(missing)  # the admin consents on behalf of the organization
        code = self.tokens.issue_code(
            client_id=parsed.client_id,
            redirect_uri=parsed.redirect_uri,
            user_id=admin.user_id,
            tenant_id=self.directory.tenant_id,
            scopes=set(permissions) & consented,
            oidc_scopes=parsed.scopes.oidc,
            nonce=parsed.nonce,
            code_challenge=parsed.code_challenge,
            code_challenge_method=parsed.code_challenge_method,
        )
        params = {"code": code}
        if parsed.client_info:
            params["client_info"] = self._client_info(admin.user_id)
        if parsed.state is not None:
            params["state"] = parsed.state
        params["session_state"] = str(uuid.uuid4())
        return _respond(parsed.redirect_uri, parsed.response_mode, params)

    def _authenticate(self, username: str, password: str) -> str | None:
        """None when `username`/`password` are the admin's, else the message to show."""
        if not username:
            return MSG_NO_USERNAME
        admin = self.directory.admin
        if username.lower() == admin.upn.lower():
            if hmac.compare_digest(password.encode(), admin.password.encode()):
                return None
            return MSG_BAD_PASSWORD
        if username.lower() in self.directory.users_by_upn:
            return MSG_BAD_PASSWORD  # a real user, but only the admin has a password here
        return (
            f"AADSTS50034: The user account {{EmailHidden}} does not exist in the "
            f"{self.directory.domain} directory. To sign into this application, the account must "
            "be added to the directory."
        )

    def _client_info(self, user_id: str) -> str:
        return b64url(orjson.dumps({"uid": user_id, "utid": self.directory.tenant_id}))

    # -- admin consent -------------------------------------------------------------------------

    async def admin_consent(self, request: Request) -> Response:
        q = request.query_params
        tenant = request.path_params["tenant"]
        if self._tenant_segment(tenant) is None:
            return self._error_page(request, self._tenant_not_found(tenant))
        client_id = q.get("client_id", "")
        if not client_id:
            return self._error_page(request, _missing("client_id"))
        if not self._is_our_app(client_id):
            return self._error_page(request, self._app_not_found(client_id))
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri or not self._redirect_allowed(redirect_uri):
            return self._error_page(
                request,
                OAuthError(
                    "invalid_request",
                    50011,
                    f"The redirect URI '{redirect_uri}' specified in the request does not match "
                    "the redirect URIs configured for the application "
                    f"'{self.directory.app.client_id}'.",
                ),
            )
        state = q.get("state")
        raw_scope = q.get("scope")
        scopes = parse_scopes(raw_scope)
        app = self.directory.app
        explicit = self._canonical(scopes.graph)
        shown = sorted(explicit) if explicit else sorted(app.application_permissions)
        if request.method == "GET":
            return self._sign_in_page(request, shown, q.get("login_hint", ""))
        form = await request.form()
        username = str(form.get("loginfmt", "")).strip()
        problem = self._authenticate(username, str(form.get("passwd", "")))
        if problem is not None:
            return self._sign_in_page(request, shown, username, problem)
        params: dict[str, str] = {"admin_consent": "True"}
        if form.get("decision") == "cancel":
            params["error"] = "access_denied"
            params["error_description"] = self._describe(
                request, OAuthError("access_denied", 65004, "The admin canceled the request.")
            )
        elif ROLE_APP_ADMIN not in self.directory.admin.roles:
            params["error"] = "consent_required"
            params["error_description"] = self._describe(
                request,
                OAuthError(
                    "consent_required",
                    65004,
                    "The resource owner or authorization server denied the request.",
                ),
            )
        else:
            app.delegated_permissions.update(explicit)
            params["tenant"] = self.directory.tenant_id
            if raw_scope is not None:
                params["scope"] = raw_scope
        if state is not None:
            params["state"] = state
        return _respond(redirect_uri, "query", params)

    # -- token ---------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if self._tenant_segment(tenant) is None:
            error = self._tenant_not_found(tenant)
            error.error = "invalid_request"
            return self._oauth_error(request, error)
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            body = self._token(request, form)
        except OAuthError as exc:
            return self._oauth_error(request, exc)
        return _json(body, headers=self._trace_headers(request, str(uuid.uuid4())))

    def _token(self, request: Request, form: dict[str, str]) -> dict[str, Any]:
        basic_id, basic_secret = _basic_credentials(request.headers.get("authorization"))
        client_id = form.get("client_id") or basic_id or ""
        if not client_id:
            raise _missing("client_id")
        if not self._is_our_app(client_id):
            raise self._app_not_found(client_id)
        client_id = self.directory.app.client_id
        grant_type = form.get("grant_type", "")
        if not grant_type:
            raise _missing("grant_type")
        if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
            raise OAuthError(
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        self._authenticate_client(form.get("client_secret") or basic_secret, form)
        scopes = parse_scopes(form.get("scope"))
        if grant_type == "client_credentials":
            return self._client_credentials(form.get("scope"), scopes)
        if grant_type == "authorization_code":
            if not form.get("code"):
                raise _missing("code")
            code = self.tokens.redeem_code(
                form["code"],
                client_id=client_id,
                redirect_uri=form.get("redirect_uri"),
                code_verifier=form.get("code_verifier"),
            )
            return self._user_tokens(
                request,
                user_id=code.user_id,
                graph=code.scopes,
                oidc=code.oidc_scopes,
                full_urls=scopes.echo_full_urls(),
                nonce=code.nonce,
                auth_time=code.auth_time,
                client_info=form.get("client_info") == "1",
            )
        if not form.get("refresh_token"):
            raise _missing("refresh_token")
        new_refresh, grant = self.tokens.redeem_refresh(form["refresh_token"], client_id)
        consented = self.directory.app.delegated_permissions
        asked = self._requested_delegated(scopes)
        if not asked:
            asked = set(grant.scopes)
        if asked - consented:
            raise OAuthError(
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the application with ID "
                f"'{client_id}' named '{self.directory.app.display_name}'. Send an interactive "
                "authorization request for this user and resource.",
                suberror="consent_required",
            )
        oidc = scopes.oidc if form.get("scope") else {"openid", "profile", "offline_access"}
        return self._user_tokens(
            request,
            user_id=grant.user_id,
            graph=asked,
            oidc=oidc | {"offline_access"},
            full_urls=scopes.echo_full_urls(),
            nonce=None,
            auth_time=None,
            client_info=form.get("client_info") == "1",
            refresh_token=new_refresh,
        )

    def _authenticate_client(self, secret: str | None, form: Mapping[str, str]) -> None:
        app = self.directory.app
        if form.get("client_assertion"):
            raise OAuthError(
                "invalid_client",
                700027,
                "Client assertion contains an invalid signature. [Reason - The key was not "
                f"found., Thumbprint of key used by client: '', Please visit the Azure Portal, "
                f"Graph Explorer or directly use MS Graph to see configured keys for app Id "
                f"'{app.client_id}'.]",
                status=401,
            )
        if not secret:
            raise OAuthError(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
                status=401,
            )
        if not hmac.compare_digest(secret.encode(), app.client_secret.encode()):
            raise OAuthError(
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
                status=401,
            )

    def _client_credentials(self, raw: str | None, scopes: Scopes) -> dict[str, Any]:
        if not raw:
            raise _missing("scope")
        items = raw.split()
        if scopes.foreign and all(i.endswith("/.default") for i in items):
            raise self._resource_not_found(scopes.foreign[0], "invalid_resource")
        if len(items) != 1 or not scopes.default or scopes.graph or scopes.oidc:
            raise OAuthError(
                "invalid_scope",
                1002012,
                f"The provided value for scope {raw} is not valid. Client credential flows must "
                "have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        app = self.directory.app
        access, expires_in = self.tokens.issue_access(
            tenant_id=self.directory.tenant_id,
            client_id=app.client_id,
            scopes=app.application_permissions,
            app_name=app.display_name,
        )
        return {
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": access,
        }

    def _user_tokens(
        self,
        request: Request,
        *,
        user_id: str,
        graph: Collection[str],
        oidc: Collection[str],
        full_urls: bool,
        nonce: str | None,
        auth_time: float | None,
        client_info: bool,
        refresh_token: str | None = None,
    ) -> dict[str, Any]:
        app = self.directory.app
        tenant_id = self.directory.tenant_id
        user = self.directory.users_by_id.get(user_id)
        upn = user.upn if user else self.directory.admin.upn
        name = user.display_name if user else upn
        access, expires_in = self.tokens.issue_access(
            tenant_id=tenant_id,
            client_id=app.client_id,
            scopes=graph,
            user_id=user_id,
            upn=upn,
            name=name,
            app_name=app.display_name,
        )
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": _format_scopes(graph, oidc, full_urls),
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": access,
        }
        if "offline_access" in oidc:
            body["refresh_token"] = refresh_token or self.tokens.issue_refresh(
                user_id, app.client_id, graph
            )
        if "openid" in oidc:
            claims: dict[str, Any] = {
                "aud": app.client_id,
                "iss": f"{self.base(request)}/{tenant_id}/v2.0",
                "auth_time": int(auth_time) if auth_time is not None else None,
                "nonce": nonce,
                "oid": user_id,
                "sub": pairwise_sub(user_id, app.client_id),
                "tid": tenant_id,
            }
            if "profile" in oidc:
                claims["name"] = name
                claims["preferred_username"] = upn
            if "email" in oidc and user is not None and user.mail:
                claims["email"] = user.mail
            body["id_token"] = self.tokens.issue_id_token(claims)
        if client_info:
            body["client_info"] = self._client_info(user_id)
        return body

    def _resource_not_found(self, resource: str, error: str) -> OAuthError:
        return OAuthError(
            error,
            500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{self.directory.domain}. This can happen if the application has not been installed "
            "by the administrator of the tenant or consented to by any user in the tenant. You "
            "might have sent your authentication request to the wrong tenant.",
        )

    # -- sign-out and error page ---------------------------------------------------------------

    async def logout(self, request: Request) -> Response:
        target = request.query_params.get("post_logout_redirect_uri")
        if target and self._redirect_allowed(target):
            return RedirectResponse(target, status_code=302)
        return HTMLResponse(_page("Sign out", "<p>You signed out of your account.</p>"))

    async def error_page(self, request: Request) -> Response:
        code = html.escape(request.query_params.get("code", ""))
        return HTMLResponse(_page("Error", f"<p>AADSTS{code}</p>"))

    # -- rendering -----------------------------------------------------------------------------

    def _describe(self, request: Request, error: OAuthError) -> str:
        """`AADSTSnnnn: message` followed by Entra's trace, correlation and timestamp lines."""
        trace = str(uuid.uuid4())
        correlation = _correlation_id(request)
        stamp = self._stamp()
        return (
            f"AADSTS{error.code}: {error.message}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
        )

    def _stamp(self) -> str:
        return datetime.fromtimestamp(self.tokens.clock(), UTC).strftime("%Y-%m-%d %H:%M:%SZ")

    def _trace_headers(self, request: Request, trace: str) -> dict[str, str]:
        return {
            "Cache-Control": "no-store, no-cache",
            "Pragma": "no-cache",
            "x-ms-request-id": trace,
            "client-request-id": _correlation_id(request),
        }

    def _oauth_error(self, request: Request, error: OAuthError) -> Response:
        trace = str(uuid.uuid4())
        correlation = _correlation_id(request)
        stamp = self._stamp()
        body: dict[str, Any] = {
            "error": error.error,
            "error_description": (
                f"AADSTS{error.code}: {error.message}\r\nTrace ID: {trace}\r\n"
                f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
            ),
            "error_codes": [error.code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"{self.base(request)}/error?code={error.code}",
        }
        if error.suberror:
            body["suberror"] = error.suberror
        return _json(body, error.status, self._trace_headers(request, trace))

    def _error_redirect(
        self,
        request: Request,
        redirect_uri: str,
        response_mode: str,
        state: str | None,
        error: OAuthError,
        subcode: str | None = None,
    ) -> Response:
        params = {"error": error.error}
        if subcode:
            params["error_subcode"] = subcode
        params["error_description"] = self._describe(request, error)
        params["error_uri"] = f"{self.base(request)}/error?code={error.code}"
        if state is not None:
            params["state"] = state
        return _respond(redirect_uri, response_mode, params)

    def _error_page(self, request: Request, error: OAuthError) -> Response:
        trace = str(uuid.uuid4())
        body = (
            "<h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p>"
            f'<p id="message">AADSTS{error.code}: {html.escape(error.message)}</p>'
            f"<p>Request Id: {trace}<br>Correlation Id: {html.escape(_correlation_id(request))}"
            f"<br>Timestamp: {self._stamp()}</p>"
        )
        return HTMLResponse(_page("Sign in to your account", body), status_code=400)

    def _sign_in_page(
        self, request: Request, permissions: Collection[str], username: str, problem: str = ""
    ) -> Response:
        action = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        e = html.escape
        items = "".join(f"<li>{e(p)}</li>" for p in permissions) or "<li>Sign you in</li>"
        alert = f'<p id="error" role="alert">{e(problem)}</p>' if problem else ""
        body = f"""<p class="tenant">{e(self.directory.domain)}</p>
<h1>Sign in</h1>
<p><strong>{e(self.directory.app.display_name)}</strong> wants to:</p>
<ul id="permissions">{items}</ul>
{alert}<form method="post" action="{e(action)}">
<label>Email <input name="loginfmt" type="email" value="{e(username)}"
 autocomplete="username"></label>
<label>Password <input name="passwd" type="password" autocomplete="current-password"></label>
<button type="submit" name="decision" value="accept">Accept</button>
<button type="submit" name="decision" value="cancel">Cancel</button>
</form>"""
        return HTMLResponse(_page("Sign in to your account", body))


# -- helpers -----------------------------------------------------------------------------------


def _missing(parameter: str) -> OAuthError:
    return OAuthError(
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{parameter}'.",
    )


def _correlation_id(request: Request) -> str:
    """The client's `client-request-id` when it sent one (Entra echoes it), else a new GUID."""
    given = request.headers.get("client-request-id", "")
    try:
        return str(uuid.UUID(given))
    except ValueError:
        return str(uuid.uuid4())


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    """client_id and secret from `Authorization: Basic` (each form-urlencoded, RFC 6749 2.3.1)."""
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None, None
    user, sep, secret = decoded.partition(":")
    if not sep:
        return None, None
    return unquote_plus(user), unquote_plus(secret)


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=dict(headers or {}),
    )


def _respond(redirect_uri: str, mode: str, params: Mapping[str, str]) -> Response:
    """Send `params` back to the client as `response_mode` asks: query, fragment or form_post."""
    if mode == "form_post":
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        body = (
            f'<form method="post" name="hiddenform" action="{html.escape(redirect_uri)}">{fields}'
            "<noscript><p>Script is disabled. Click Submit to continue.</p>"
            '<input type="submit" value="Submit"></noscript></form>'
            "<script>document.forms.hiddenform.submit();</script>"
        )
        return HTMLResponse(_page("Working...", body))
    if mode == "fragment":
        return RedirectResponse(f"{redirect_uri}#{urlencode(params)}", status_code=302)
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(params)}", status_code=302)


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:"Segoe UI",Helvetica,Arial,sans-serif;background:#f2f2f2;margin:0}}
main{{max-width:440px;margin:48px auto;background:#fff;padding:44px;
box-shadow:0 2px 6px rgba(0,0,0,.2)}}
h1{{font-size:24px;font-weight:600}} label{{display:block;margin:12px 0}}
input{{display:block;width:100%;padding:6px 0;border:0;border-bottom:1px solid #666}}
button{{margin:16px 8px 0 0;padding:6px 20px}} #error{{color:#e81123}}
.tenant{{color:#666}}
</style></head>
<body><main>{body}</main></body></html>
"""
