"""Access tokens for Graph through MSAL: app-only (client credentials), delegated from a stored
refresh token (rotations handed to the caller to persist), and the interactive authorization-code
flow with PKCE and a loopback redirect listener.

Tokens live in memory only and are never logged. MSAL gets its own `requests.Session` with
`trust_env=False`, so REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE cannot override `verify`. Token-endpoint
errors become `AuthError` (the stored sign-in is unusable: connect again) or `GraphAuthError` (the
app registration or tenant is wrong), each with one sentence; an unreachable identity platform is
a `GraphError`. Imports nothing from seatwise but config and errors.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import certifi
import msal
import requests

from seatwise.config import Settings
from seatwise.errors import AppError, AuthError, GraphAuthError, GraphError, RoleMissing

__all__ = [
    "DELEGATED_PERMISSIONS",
    "DELEGATED_SCOPES",
    "GRAPH_DEFAULT_SCOPE",
    "AuthCodeLogin",
    "ClientCredentialsProvider",
    "RefreshTokenProvider",
    "TokenProvider",
    "TokenSet",
    "listen_for_redirect",
    "msal_http_client",
]

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_DEFAULT_SCOPE = f"{GRAPH_RESOURCE}/.default"
# DESIGN §2: exactly these; MSAL adds offline_access, openid and profile itself (and refuses
# them if we pass them).
DELEGATED_PERMISSIONS = (
    "AuditLog.Read.All",
    "Reports.Read.All",
    "UserAuthenticationMethod.Read.All",
    "Directory.Read.All",
    "LicenseAssignment.ReadWrite.All",
)
DELEGATED_SCOPES = tuple(f"{GRAPH_RESOURCE}/{name}" for name in DELEGATED_PERMISSIONS)

# Hosts MSAL knows (graph-facts §7); any other host (the simulator) skips instance discovery,
# which would otherwise ask login.microsoftonline.com about it.
_MICROSOFT_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login.microsoftonline.us",
        "login-us.microsoftonline.com",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    }
)
# Renew an access token this long before it expires, so a call never starts with a dying one.
_EXPIRY_MARGIN_S = 300.0

_REVOKED_CODES = frozenset({50173, 70008, 70000, 50132, 50133, 9002313})
_CONSENT_CODES = frozenset({65001, 65004, 90094, 90008, 650056, 650057})
_INTERACTION_CODES = frozenset({50076, 50079, 53003, 70043, 50158})


class TokenProvider(Protocol):
    """Something that hands out a bearer token for Graph (what `GraphClient` needs)."""

    def token(self, *, force_refresh: bool = False) -> str:
        """A valid access token; a new one, not the cached one, when `force_refresh`."""
        ...


@dataclass(frozen=True, slots=True)
class TokenSet:
    """The result of a completed sign-in. The tokens are left out of `repr`."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    scopes: tuple[str, ...]
    expires_at: datetime
    id_token_claims: dict[str, Any]


def _trust_file(settings: Settings) -> Path:
    """certifi's bundle plus `settings.ca_bundle` in one PEM file, as requests wants a path.

    Written to the data directory, and rewritten only when its content would change.
    """
    assert settings.ca_bundle is not None
    content = Path(certifi.where()).read_bytes() + b"\n" + settings.ca_bundle.read_bytes()
    target = settings.data_dir / "trusted-cas.pem"
    if not target.exists() or target.read_bytes() != content:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(content)
        temporary.replace(target)
    return target


class _TimedSession(requests.Session):
    """A `requests.Session` whose every request has (connect, read) deadlines: an identity
    platform that accepts and never answers fails the call instead of holding it for ever."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.deadlines = timeout

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.deadlines
        return super().request(method, url, *args, **kwargs)


def msal_http_client(settings: Settings) -> requests.Session:
    """The `requests.Session` MSAL sends through: environment ignored, our CA bundle or the default.

    `trust_env=False` is what stops REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, proxies and .netrc from
    overriding `verify` (requests reads them only when trust_env is on). Each request may take
    10 s to connect and `[sync] graph_timeout_s` to answer.
    """
    timeout = settings.sync.graph_timeout_s
    session = _TimedSession((min(10.0, timeout), timeout))
    session.trust_env = False
    session.verify = str(_trust_file(settings)) if settings.ca_bundle else True
    # Token calls come minutes apart: no idle keep-alive connection left behind to leak.
    session.headers["Connection"] = "close"
    return session


def _authority_host(settings: Settings) -> str:
    return (urlsplit(settings.authority_host).hostname or "").lower()


class _MsalApp:
    """A lazily built `ConfidentialClientApplication` (building one fetches OIDC metadata)."""

    def __init__(
        self, settings: Settings, tenant_id: str, client_id: str, secret: str, label: str
    ) -> None:
        self.settings = settings
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.label = label
        self.cache = msal.TokenCache()  # in memory only
        self._secret = secret
        self._session: requests.Session | None = None
        self._app: msal.ConfidentialClientApplication | None = None

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def get(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            microsoft = _authority_host(self.settings) in _MICROSOFT_AUTHORITY_HOSTS
            with _msal_errors(self.settings, self.label):
                self._session = self._session or msal_http_client(self.settings)
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self.client_id,
                        client_credential=self._secret,
                        authority=f"{self.settings.authority_host}/{self.tenant_id}",
                        http_client=self._session,
                        token_cache=self.cache,
                        instance_discovery=None if microsoft else False,
                    )
                except ValueError as exc:
                    raise GraphAuthError(
                        f"Tenant {self.label} was not found at {self.settings.authority_host} "
                        "(check the tenant id)."
                    ) from exc
        return self._app

    def check(self, result: Mapping[str, Any] | None) -> Mapping[str, Any]:
        """`result` if it holds an access token, else the error it describes, raised."""
        if result and result.get("access_token"):
            return result
        raise _token_error(result or {}, self.label, self.client_id)


@contextmanager
def _msal_errors(settings: Settings, label: str) -> Iterator[None]:
    """Turn `requests` failures inside MSAL into `GraphError` with one sentence."""
    host = settings.authority_host
    try:
        yield
    except requests.exceptions.SSLError as exc:
        raise GraphError(
            f"The TLS certificate of {host} could not be verified; if a proxy or the simulator "
            "signs it, point SEATWISE_CA_BUNDLE at its CA file."
        ) from exc
    except requests.RequestException as exc:
        raise GraphError(
            f"Cannot reach the identity platform at {host} for tenant {label}: "
            f"{type(exc).__name__}."
        ) from exc


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0].strip()


def _token_error(result: Mapping[str, Any], label: str, client_id: str) -> AppError:
    """One clear sentence for an MSAL error result (`error`, `error_description`, `error_codes`)."""
    error = str(result.get("error") or "unknown_error")
    description = _first_line(str(result.get("error_description") or ""))
    codes = {int(c) for c in result.get("error_codes") or [] if str(c).isdigit()}
    if not codes and description.startswith("AADSTS"):
        number = description[6:].split(":", 1)[0]
        codes = {int(number)} if number.isdigit() else set()
    again = f"run `seatwise connect {label}` again"
    if 7000215 in codes:
        return GraphAuthError(
            f"The client secret of app {client_id} for tenant {label} is wrong (use the "
            "secret's value, not its id)."
        )
    if 7000222 in codes:
        return GraphAuthError(
            f"The client secret of app {client_id} for tenant {label} has expired; create a new "
            "one in Entra ID."
        )
    if 7000218 in codes:
        return GraphAuthError(f"No client secret was given for app {client_id}.")
    if 700016 in codes or error == "unauthorized_client":
        return GraphAuthError(f"App {client_id} is not registered in tenant {label}.")
    if 90002 in codes or error == "invalid_tenant":
        return GraphAuthError(f"Tenant {label} was not found at the identity platform.")
    if 50011 in codes:
        return GraphAuthError(
            f"App {client_id} does not accept the loopback redirect URI; add http://localhost "
            "as a redirect URI of the app registration."
        )
    if 700082 in codes:
        return AuthError(
            f"The stored sign-in for tenant {label} expired after 90 days without use — {again}."
        )
    if codes & _REVOKED_CODES and error == "invalid_grant":
        return AuthError(
            f"The stored sign-in for tenant {label} was revoked (password changed?) — {again}."
        )
    if 54005 in codes or 501481 in codes:
        return AuthError(f"The sign-in for tenant {label} could not be completed — {again}.")
    if 90094 in codes:  # the person may consent to nothing new: a role, not a permission
        return RoleMissing(
            "consent",
            "Application Administrator",
            f"Consenting to seatwise's permissions for tenant {label} needs the Application "
            "Administrator role (or Cloud Application Administrator), which the account that "
            f"signed in does not hold — {again} as an administrator who holds it, or have a "
            "Global Administrator or Privileged Role Administrator assign it in the Microsoft "
            "Entra admin center (Roles and administrators).",
        )
    if codes & _CONSENT_CODES or error in ("consent_required", "access_denied"):
        if 65004 in codes or error == "access_denied":
            return AuthError(f"The sign-in for tenant {label} was cancelled or consent declined.")
        return AuthError(
            f"Tenant {label} has not consented to every permission seatwise needs — {again} "
            "as an administrator who can grant them."
        )
    if codes & _INTERACTION_CODES or error == "interaction_required":
        return AuthError(
            f"Tenant {label} requires a new interactive sign-in (MFA or Conditional Access) — "
            f"{again}."
        )
    if error == "invalid_client":
        return GraphAuthError(f"The identity platform refused app {client_id}: {description}")
    if error == "invalid_grant":
        return AuthError(f"The stored sign-in for tenant {label} is no longer valid — {again}.")
    detail = f": {description}" if description else ""
    return AuthError(
        f"The identity platform refused the sign-in for tenant {label} ({error}){detail}"
    )


def _expires_at(result: Mapping[str, Any], now: float) -> float:
    try:
        return now + float(result.get("expires_in") or 0)
    except (TypeError, ValueError):
        return now


class ClientCredentialsProvider:
    """App-only tokens (client credentials) for one tenant; MSAL caches them in memory."""

    def __init__(
        self,
        settings: Settings,
        tenant_id: str,
        client_id: str,
        secret: str,
        *,
        name: str | None = None,
    ) -> None:
        self._msal = _MsalApp(settings, tenant_id, client_id, secret, name or tenant_id)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ClientCredentialsProvider(tenant={self._msal.label!r})"

    def __enter__(self) -> ClientCredentialsProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session MSAL uses."""
        self._msal.close()

    def token(self, *, force_refresh: bool = False) -> str:
        """An app-only access token for Graph (`/.default`); a fresh one when `force_refresh`."""
        with self._lock:
            app = self._msal.get()
            if force_refresh:  # MSAL would hand back the cached token the server just refused
                cache = self._msal.cache
                for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                    cache.remove_at(item)
            with _msal_errors(self._msal.settings, self._msal.label):
                result = app.acquire_token_for_client(scopes=[GRAPH_DEFAULT_SCOPE])
            return str(self._msal.check(result)["access_token"])


class RefreshTokenProvider:
    """Delegated tokens from a stored refresh token, handing every rotated one to `on_rotate`.

    The identity platform usually returns a new refresh token with each access token; the caller
    must persist it (`on_rotate`), since the old one eventually stops working.
    """

    def __init__(
        self,
        settings: Settings,
        tenant_id: str,
        client_id: str,
        secret: str,
        refresh_token: str,
        on_rotate: Callable[[str], None],
        *,
        name: str | None = None,
        scopes: Sequence[str] = DELEGATED_SCOPES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._msal = _MsalApp(settings, tenant_id, client_id, secret, name or tenant_id)
        self._refresh_token = refresh_token
        self._on_rotate = on_rotate
        self._scopes = list(scopes)
        self._clock = clock
        self._access: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RefreshTokenProvider(tenant={self._msal.label!r})"

    def __enter__(self) -> RefreshTokenProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session MSAL uses."""
        self._msal.close()

    def token(self, *, force_refresh: bool = False) -> str:
        """A delegated access token; redeems the refresh token when none is cached or valid."""
        with self._lock:
            now = self._clock()
            if not force_refresh and self._access and now < self._expires_at - _EXPIRY_MARGIN_S:
                return self._access
            app = self._msal.get()
            with _msal_errors(self._msal.settings, self._msal.label):
                result = app.acquire_token_by_refresh_token(
                    self._refresh_token, scopes=self._scopes
                )
            result = self._msal.check(result)
            rotated = result.get("refresh_token")
            if rotated and rotated != self._refresh_token:
                self._on_rotate(str(rotated))
                self._refresh_token = str(rotated)
            self._access = str(result["access_token"])
            self._expires_at = _expires_at(result, now)
            return self._access


class AuthCodeLogin:
    """The interactive sign-in: authorization code with PKCE, answered by form_post.

    `start` gives the URL to open in a browser and the flow to keep; `finish` redeems what the
    redirect brought back. form_post keeps the code out of the browser history and server logs
    (and is what MSAL recommends); `listen_for_redirect` accepts both POST and GET.
    """

    def __init__(
        self,
        settings: Settings,
        tenant_id: str,
        client_id: str,
        secret: str,
        *,
        name: str | None = None,
        scopes: Sequence[str] = DELEGATED_SCOPES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._msal = _MsalApp(settings, tenant_id, client_id, secret, name or tenant_id)
        self._scopes = list(scopes)
        self._clock = clock

    def __repr__(self) -> str:
        return f"AuthCodeLogin(tenant={self._msal.label!r})"

    def __enter__(self) -> AuthCodeLogin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session MSAL uses."""
        self._msal.close()

    def start(
        self, redirect_uri: str, *, login_hint: str | None = None, prompt: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """(URL to open in the browser, flow to pass to `finish`)."""
        app = self._msal.get()
        with _msal_errors(self._msal.settings, self._msal.label):
            flow: dict[str, Any] = app.initiate_auth_code_flow(
                self._scopes,
                redirect_uri=redirect_uri,
                login_hint=login_hint,
                prompt=prompt,
                response_mode="form_post",
            )
        return str(flow["auth_uri"]), flow

    def finish(self, flow: dict[str, Any], auth_response: Mapping[str, str]) -> TokenSet:
        """Redeem the redirect's parameters (`code`, `state`, ... or `error`) for tokens."""
        app = self._msal.get()
        label = self._msal.label
        now = self._clock()
        with _msal_errors(self._msal.settings, label):
            try:
                result = app.acquire_token_by_auth_code_flow(flow, dict(auth_response))
            except ValueError as exc:  # state missing or mismatched: not our sign-in
                raise AuthError(
                    f"The sign-in answer for tenant {label} does not match this sign-in; "
                    f"run `seatwise connect {label}` again."
                ) from exc
        result = self._msal.check(result)
        refresh = result.get("refresh_token")
        if not refresh:
            raise AuthError(
                f"The sign-in for tenant {label} returned no refresh token (offline_access "
                "was not granted)."
            )
        return TokenSet(
            access_token=str(result["access_token"]),
            refresh_token=str(refresh),
            scopes=tuple(str(result.get("scope") or "").split()),
            expires_at=datetime.fromtimestamp(_expires_at(result, now), UTC),
            id_token_claims=dict(result.get("id_token_claims") or {}),
        )


# -- the loopback redirect listener -----------------------------------------------------------

_DONE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>seatwise</title></head>
<body style="font-family:sans-serif;margin:3em"><h1>{title}</h1><p>{text}</p></body></html>
"""


class _Capture:
    def __init__(self) -> None:
        self.params: dict[str, str] | None = None
        self.done = threading.Event()


def _handler(capture: _Capture) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._take(dict(parse_qsl(urlsplit(self.path).query)))

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1 << 20)).decode("utf-8", "replace")
            self._take(dict(parse_qsl(body)))

        def _take(self, params: dict[str, str]) -> None:
            if "code" not in params and "error" not in params:
                self._reply(404, "Nothing here", "This is seatwise waiting for a sign-in.")
                return
            first = capture.params is None
            if first:
                capture.params = params
            if "error" in params:
                self._reply(
                    200,
                    "Sign-in failed",
                    html.escape(params.get("error_description") or params["error"])
                    + " You can close this window.",
                )
            else:
                self._reply(200, "Signed in", "You can close this window and return to seatwise.")
            if first:  # only now: the page must reach the browser before we stop listening
                capture.done.set()

        def _reply(self, status: int, title: str, text: str) -> None:
            data = _DONE_PAGE.format(title=html.escape(title), text=text).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Silent: the request line carries the authorization code."""

    return Handler


def listen_for_redirect(
    port: int = 0, timeout: float = 300.0, *, host: str = "127.0.0.1"
) -> tuple[str, Callable[[], dict[str, str]]]:
    """Listen on loopback for the sign-in redirect: (redirect URI, `wait`).

    The listener binds `host` (the loopback IP, per RFC 8252) and the redirect URI names
    `http://localhost:<port>`, which Entra accepts for any port. `wait()` blocks until a request
    with `code` or `error` arrives (as a form_post body or a query string), answers it with a
    "you can close this window" page, stops listening and returns the parameters; it raises
    `AuthError` after `timeout` seconds without one.
    """
    capture = _Capture()
    server = ThreadingHTTPServer((host, port), _handler(capture))
    server.daemon_threads = True
    bound = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()

    def wait() -> dict[str, str]:
        try:
            if not capture.done.wait(timeout):
                raise AuthError(
                    f"No sign-in arrived within {timeout:g} seconds; run the command again."
                )
            assert capture.params is not None
            return capture.params
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)

    return f"http://localhost:{bound}", wait
