"""The Settings page: the tenants and how they are connected, adding one for app-only access,
authorizing one in the browser (authorization code with PKCE, DESIGN §2), deactivating and
reactivating a tenant integration, and the recommendation settings in effect (read-only).

Everyone signed in may look; only admins may change anything (every form also carries the CSRF
token). Secrets typed into the forms are sealed at once and never shown, logged or put in the
session cookie.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from seatwise.config import RecommendationSettings, Settings
from seatwise.errors import AppError, UsageError
from seatwise.graph.auth import (
    DELEGATED_PERMISSIONS,
    GRAPH_RESOURCE,
    AuthCodeLogin,
    ClientCredentialsProvider,
)
from seatwise.store import reads
from seatwise.store.schema import ROLES, TaskRun, Tenant
from seatwise.sync import TASK_TITLES, TASKS
from seatwise.web import oauth
from seatwise.web.oauth import PendingSignIn
from seatwise.web.render import page
from seatwise.web.security import Admin, Csrf, User
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants, pick_tenant
from seatwise.workspace.accounts import Principal, account_rows, token_rows
from seatwise.workspace.schedules import disabled_tasks, set_schedule
from seatwise.workspace.tenants import check_ids, check_name, check_new, register, set_active

router = APIRouter(include_in_schema=False)

SESSION_KEY = "authorize"
FLASH_KEY = "flash"
# What the identity platform's form_post answer may carry (anything else is dropped).
ANSWER_FIELDS = (
    "code",
    "state",
    "session_state",
    "client_info",
    "error",
    "error_description",
    "error_uri",
    "error_codes",
)

Text = Annotated[str, Form()]


# -- flash messages (kept in the signed session between a post and the page it redirects to) --


def flash(request: Request, kind: str, text: str) -> None:
    """Keep a message ("ok" or "error") for the next Settings page this session sees."""
    found = request.session.get(FLASH_KEY)
    items = found if isinstance(found, list) else []
    request.session[FLASH_KEY] = [*items[-4:], [kind, text]]


_flash = flash


def _messages(request: Request) -> list[tuple[str, str]]:
    found = request.session.pop(FLASH_KEY, None)
    if not isinstance(found, list):
        return []
    return [(str(kind), str(text)) for kind, text in found]


def back(anchor: str = "") -> Response:
    """Back to the Settings page (at `anchor`, e.g. "#accounts") after a change."""
    return RedirectResponse(f"/settings{anchor}", status_code=303)


def _back() -> Response:
    return back()


# -- what the page shows ---------------------------------------------------------------------


def _short_scope(scope: str) -> str:
    return scope.removeprefix(f"{GRAPH_RESOURCE}/")


def _last_syncs(session: Session) -> dict[int, datetime]:
    """Per tenant, when its last successful task run finished."""
    query = (
        select(TaskRun.tenant_pk, func.max(TaskRun.finished_at))
        .where(TaskRun.status == "succeeded")
        .group_by(TaskRun.tenant_pk)
    )
    return {pk: when for pk, when in session.execute(query).all() if when is not None}


@dataclass(frozen=True)
class _Hint:
    """Why a tenant's tasks fail for want of access: the failed run's sentence, and the
    directory role it asks an administrator to assign (None: a permission, or the sign-in)."""

    text: str
    role: str | None = None

    def __str__(self) -> str:
        return self.text


def _reauthorize_reason(session: Session, tenant: Tenant) -> _Hint | None:
    """The error of the tenant's latest failed run per task when it asks to reauthorize
    (a missing permission, or a sign-in that is no longer valid) or asks an administrator to
    assign a directory role (`role` set: reauthorizing cannot fix that); else None."""
    latest: dict[str, TaskRun] = {}
    for run in reads.recent_runs(session, tenant.pk, limit=40):
        latest.setdefault(run.task, run)
    role_hint: _Hint | None = None
    for run in latest.values():
        error = run.error or ""
        if run.status != "failed":
            continue
        if "needs permission" in error or "seatwise connect" in error:
            return _Hint(error)
        needed = re.search(r"needs the (.+?) role\b", error)
        if needed and role_hint is None:
            role_hint = _Hint(error, needed.group(1))
    return role_hint


def tenant_rows(session: Session) -> list[dict[str, Any]]:
    """Every tenant as the Settings page lists it."""
    synced = _last_syncs(session)
    rows = []
    for tenant in all_tenants(session):
        granted = [_short_scope(s) for s in (tenant.granted_scopes or "").split()]
        missing = (
            [p for p in DELEGATED_PERMISSIONS if p not in granted]
            if tenant.auth_mode == "delegated"
            else []
        )
        rows.append(
            {
                "name": tenant.name,
                "tenant_id": tenant.tenant_id,
                "client_id": tenant.client_id,
                "auth_mode": tenant.auth_mode,
                "granted": [s for s in granted if s in DELEGATED_PERMISSIONS],
                "missing": missing,
                "active": tenant.active,
                "premium": tenant.premium,
                "concealed_names": tenant.concealed_names,
                "last_sync": synced.get(tenant.pk),
                "reauthorize": _reauthorize_reason(session, tenant),
                "signed_in": tenant.refresh_token_enc is not None,
                "superseded_by": tenant.superseded_by,
                "sync_hour": tenant.sync_hour,
                "disabled_tasks": disabled_tasks(tenant),
            }
        )
    return rows


def recommendation_rows(settings: Settings) -> list[tuple[str, str, str]]:
    """(setting, value in effect, what it means) for each [recommendations] setting."""
    current = settings.recommendations
    rows = []
    for key, info in RecommendationSettings.model_fields.items():
        value = getattr(current, key)
        if isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, tuple):
            shown = ", ".join(value) if value else "none"
        else:
            shown = str(value)
        rows.append((key, shown, info.description or ""))
    return rows


def _callback_url(request: Request) -> str:
    return str(request.url_for("authorize_callback"))


@router.get("/settings")
def settings_page(request: Request, user: User) -> Response:
    """The Settings page."""
    return render_settings(request, user)


def render_settings(request: Request, user: Principal, **extra: Any) -> Response:
    """The Settings page, with `extra` context (e.g. a token just created, shown once)."""
    state = web_state(request)
    with state.session() as session:
        tenants = all_tenants(session)
        return page(
            request,
            "settings.html",
            {
                "rows": tenant_rows(session),
                "recommendations": recommendation_rows(state.settings),
                "retention_days": state.settings.sync.retention_days,
                "callback_url": _callback_url(request),
                "permissions": DELEGATED_PERMISSIONS,
                "messages": _messages(request),
                "api_tokens": token_rows(session) if user.is_admin else [],
                "accounts": account_rows(session) if user.is_admin else [],
                "roles": ROLES,
                "new_token": None,
                "task_titles": list(TASK_TITLES.items()),
                **extra,
            },
            user=user,
            tenant=pick_tenant(request, session),
            tenants=tenants,
            title="Settings",
        )


# -- changes (admins only) -------------------------------------------------------------------


def _clean(name: str, tenant_id: str, client_id: str) -> tuple[str, str, str]:
    """The form's name and ids checked as the CLI checks them; ValueError says what is wrong."""
    try:
        return check_name(name), *check_ids(tenant_id, client_id)
    except UsageError as exc:
        raise ValueError(str(exc)) from None


@router.post("/settings/tenants", dependencies=[Csrf])
def add_tenant(
    request: Request,
    user: Admin,
    name: Text,
    tenant_id: Text,
    client_id: Text,
    client_secret: Text,
    supersede: Text = "",
) -> Response:
    """Register a tenant for app-only access, once its credentials earned a token; with
    `supersede`, retire that older registration of the same Microsoft 365 tenant."""
    state = web_state(request)
    try:
        name, tenant_id, client_id = _clean(name, tenant_id, client_id)
    except ValueError as exc:
        _flash(request, "error", str(exc))
        return _back()
    if not client_secret:
        _flash(request, "error", "Give the app registration's client secret.")
        return _back()
    with state.session() as session:
        if reads.tenant_by_name(session, name) is not None:
            _flash(request, "error", f"There is already a tenant called {name}.")
            return _back()
        try:
            check_new(session, name, tenant_id, supersede=supersede.strip() or None)
        except UsageError as exc:
            _flash(request, "error", _form_wording(str(exc)))
            return _back()
    try:
        with ClientCredentialsProvider(
            state.settings, tenant_id, client_id, client_secret, name=name
        ) as provider:
            provider.token()
    except AppError as exc:
        _flash(request, "error", f"Tenant {name} was not added: {exc}")
        return _back()
    try:
        register(
            state.workspace,
            name,
            tenant_id,
            client_id,
            client_secret,
            auth_mode="app",
            refresh=None,
            supersede=supersede.strip() or None,
            actor=f"web:{user.name}",
        )
    except UsageError as exc:
        _flash(request, "error", _form_wording(str(exc)))
        return _back()
    _flash(request, "ok", f"Tenant {name} added for app-only access by {user.name}.")
    if supersede.strip():
        _flash(request, "ok", f"Tenant {supersede.strip()} is retired: {name} took over.")
    return _back()


def _form_wording(message: str) -> str:
    """A CLI-worded sentence as the Settings form says it."""
    return message.replace("--supersede", "“Supersede”")


@router.post("/settings/authorize", dependencies=[Csrf])
def authorize(
    request: Request,
    user: Admin,
    tenant: Text = "",
    name: Text = "",
    tenant_id: Text = "",
    client_id: Text = "",
    client_secret: Text = "",
) -> Response:
    """Start the sign-in (authorization code with PKCE) for an existing tenant (`tenant`) or a
    new one (name, ids, secret), and send the browser to the identity platform."""
    state = web_state(request)
    try:
        name, tenant_id, client_id, secret = _credentials_for(
            request, tenant, name, tenant_id, client_id, client_secret
        )
    except ValueError as exc:
        _flash(request, "error", str(exc))
        return _back()
    try:
        with AuthCodeLogin(state.settings, tenant_id, client_id, secret, name=name) as login:
            url, flow = login.start(_callback_url(request))
    except AppError as exc:
        _flash(request, "error", str(exc))
        return _back()
    pending = PendingSignIn(
        name, tenant_id, client_id, secret, flow, user.name, started_at=datetime.now(UTC)
    )
    with state.session(write=True) as session:
        request.session[SESSION_KEY] = oauth.add(session, state.secrets, pending)
    return RedirectResponse(url, status_code=303)


def _credentials_for(
    request: Request, existing: str, name: str, tenant_id: str, client_id: str, secret: str
) -> tuple[str, str, str, str]:
    """(name, tenant id, client id, secret) of the sign-in to start: an existing tenant's stored
    ones, or the form's."""
    state = web_state(request)
    with state.session() as session:
        if existing:
            row = reads.tenant_by_name(session, existing)
            if row is None:
                raise ValueError(f"There is no tenant called {existing}.")
            if row.secret_enc is None:
                raise ValueError(f"Tenant {existing} has no stored client secret.")
            stored = state.secrets.open(row.secret_enc)
            return row.name, row.tenant_id, row.client_id, stored
        name, tenant_id, client_id = _clean(name, tenant_id, client_id)
        if not secret:
            raise ValueError("Give the app registration's client secret.")
        if reads.tenant_by_name(session, name) is not None:
            raise ValueError(
                f"There is already a tenant called {name}: use its Reauthorize button."
            )
        try:
            check_new(session, name, tenant_id, supersede=None)
        except UsageError as exc:
            raise ValueError(
                str(exc).split("; use that name", 1)[0] + ": use its Reauthorize button."
            ) from None
    return name, tenant_id, client_id, secret


@router.post("/settings/authorize/callback", name="authorize_callback")
async def authorize_callback(request: Request) -> Response:
    """Where the identity platform posts the sign-in's answer (form_post). It cannot carry our
    CSRF token, nor, cross-site, the session cookie: the answer is parked with the sign-in its
    OAuth `state` names, and the browser goes on to a same-site page that redeems it."""
    form = await request.form()
    params = {
        key: value
        for key in ANSWER_FIELDS
        if isinstance(value := form.get(key), str) and len(value) <= 16384
    }
    if not await run_in_threadpool(_park_answer, request, params):
        raise HTTPException(
            400, "This sign-in answer matches no sign-in in progress; authorize again."
        )
    return RedirectResponse("/settings/authorize/complete", status_code=303)


def _park_answer(request: Request, params: dict[str, str]) -> bool:
    state = web_state(request)
    with state.session(write=True) as session:
        return oauth.answer(session, state.secrets, params)


@router.get("/settings/authorize/complete")
def authorize_complete(request: Request, user: Admin) -> Response:
    """Redeem the parked answer of this session's sign-in and store the refresh token sealed."""
    state = web_state(request)
    key = request.session.pop(SESSION_KEY, None)
    pending = None
    if isinstance(key, str):
        with state.session(write=True) as session:
            pending = oauth.take(session, state.secrets, key, now=datetime.now(UTC))
    if pending is None or pending.answer is None:
        _flash(request, "error", "No sign-in was in progress (or it took too long); try again.")
        return _back()
    try:
        with AuthCodeLogin(
            state.settings,
            pending.tenant_id,
            pending.client_id,
            pending.secret,
            name=pending.name,
        ) as login:
            tokens = login.finish(pending.flow, pending.answer)
    except AppError as exc:
        _flash(request, "error", str(exc))
        return _back()
    try:
        register(
            state.workspace,
            pending.name,
            pending.tenant_id,
            pending.client_id,
            pending.secret,
            auth_mode="delegated",
            refresh=tokens.refresh_token,
            scopes=" ".join(tokens.scopes),
            actor=f"web:{user.name}",
        )
    except UsageError as exc:  # registered meanwhile under another name
        _flash(request, "error", _form_wording(str(exc)))
        return _back()
    who = tokens.id_token_claims.get("preferred_username") or "an administrator"
    _flash(
        request,
        "ok",
        f"Tenant {pending.name} is authorized (delegated, signed in as {who}, started by "
        f"{user.name}). Run `seatwise sync --tenant {pending.name}`.",
    )
    return _back()


def _set_active(request: Request, name: str, active: bool, actor: str) -> Response:
    state = web_state(request)
    with state.session() as session:
        if reads.tenant_by_name(session, name) is None:
            raise HTTPException(404, f"There is no tenant called {name!r}.")
    try:
        set_active(state.workspace, name, active, actor=actor)
    except UsageError as exc:
        _flash(request, "error", str(exc))
        return _back()
    if active:
        _flash(
            request, "ok", f"Tenant {name} is active again: it is synced and its licences count."
        )
    else:
        _flash(
            request,
            "ok",
            f"Tenant {name} is deactivated: it is no longer synced and its licences are retired "
            "in the ITAM export. Its history is kept.",
        )
    return _back()


@router.post("/settings/tenants/{name}/schedule", dependencies=[Csrf])
async def save_schedule(request: Request, user: Admin, name: str) -> Response:
    """Set the hour of a tenant's daily sync and which tasks run on schedule."""
    form = await request.form()
    hour_text = str(form.get("hour") or "")
    scheduled = {str(v) for v in form.getlist("scheduled")}
    if not hour_text.isdigit() or len(hour_text) > 2:
        _flash(request, "error", "Choose the hour of the daily sync, 00 to 23.")
        return _back()
    try:
        await run_in_threadpool(
            _set_schedule, request, name, int(hour_text), scheduled, f"web:{user.name}"
        )
    except UsageError as exc:
        _flash(request, "error", str(exc))
        return _back()
    _flash(request, "ok", f"Schedule of {name} saved by {user.name}.")
    return _back()


def _set_schedule(request: Request, name: str, hour: int, scheduled: set[str], actor: str) -> None:
    with web_state(request).session(write=True) as session:
        tenant = reads.tenant_by_name(session, name)
        if tenant is None:
            raise HTTPException(404, f"There is no tenant called {name!r}.")
        set_schedule(
            tenant,
            hour=hour,
            enable=[t for t in TASKS if t in scheduled],
            disable=[t for t in TASKS if t not in scheduled],
            actor=actor,
        )


@router.post("/settings/tenants/{name}/deactivate", dependencies=[Csrf])
def deactivate(request: Request, user: Admin, name: str) -> Response:
    """Stop syncing a tenant; its licences show as retired, its history stays."""
    return _set_active(request, name, False, f"web:{user.name}")


@router.post("/settings/tenants/{name}/reactivate", dependencies=[Csrf])
def reactivate(request: Request, user: Admin, name: str) -> Response:
    """Sync a deactivated tenant again."""
    return _set_active(request, name, True, f"web:{user.name}")
