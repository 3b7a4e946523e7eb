"""The `users` entity set: the Users view (DESIGN §4), the records of `seatwise users --format
json`. `$filter` and `$orderby` become SQL over `user_summary` (whose indexes carry the view's
columns), so a page of 100k users is found without building a record it does not show;
`licenses/any(l: ...)` becomes `EXISTS` over the licence assignments.

The older filter names stay as shorthands: `license eq 'SPE_E3'`, `blocked`, `mfa`,
`inactive_days ge 90` (no activity in the last N days, or never).

Licences of unmanaged SKUs are neither listed in `licenses` nor matched by a filter on them
unless `include_unmanaged=true` (DESIGN §5: unmanaged SKUs are left out of every figure).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from odata_query import ast
from odata_query.visitor import NodeTransformer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import Grouping

from seatwise.analytics.inputs import users as inputs
from seatwise.analytics.users import KEYS, build
from seatwise.store.schema import LicenseAssignment, ReportRefresh, Sku, UserSummary
from seatwise.web.api.common import (
    CSV_RESPONSE,
    ERRORS,
    JSONAnswer,
    TenantParam,
    count_answer,
    csv_answer,
    entity_answer_model,
    fail,
    parse_key,
    resolve_tenant,
    synced_page,
    tenant_stamp,
)
from seatwise.web.api.edm import DATE, DATETIME, EntitySet
from seatwise.web.api.filters import FilterError, SqlFilter, sql_date_range
from seatwise.web.api.odata import (
    Options,
    Page,
    collection_body,
    entity_body,
    odata_json,
    options_dependency,
)
from seatwise.web.security import ApiPrincipal
from seatwise.web.state import web_state

routes = APIRouter(prefix="/api/v1", tags=["users"])


class UserLicence(BaseModel):
    """A licence the user holds, directly or through a group."""

    model_config = ConfigDict(extra="forbid")

    sku_id: str
    sku_part_number: str
    name: str
    assigned_by_group: str | None = Field(description="The group's id when inherited.")


class UserActivation(BaseModel):
    """Microsoft 365 Apps activations of one product, per platform."""

    model_config = ConfigDict(extra="forbid")

    product: str
    last_activated: Annotated[str | None, DATETIME]
    windows: int
    mac: int
    windows10_mobile: int
    ios: int
    android: int


class UserRecord(BaseModel):
    """One user (DESIGN §4); dates ISO 8601, null when unknown."""

    model_config = ConfigDict(extra="forbid")

    id: str
    upn: str
    email: str | None
    first_name: str | None
    last_name: str | None
    display_name: str | None
    licenses: list[UserLicence]
    active_date: Annotated[str | None, DATE]
    deactivated_date: Annotated[str | None, DATE]
    block_credentials: bool | None
    mfa_enabled: bool | None
    last_used_app: str | None = Field(description="One of the 11 services.")
    last_sign_in: Annotated[str | None, DATETIME]
    last_activity: Annotated[str | None, DATE] = Field(
        description='null: never active ("Never" in the UI).'
    )
    days_since_last_activity: int | None = Field(description="Counted from the report date.")
    activations: list[UserActivation]
    mail_usage_mb: float | None
    onedrive_usage_mb: float | None
    windows: bool | None
    mac: bool | None
    mobile: bool | None
    web: bool | None
    on_premises_sync: bool
    guest: bool
    title: str | None
    country: str | None
    account_created: Annotated[str | None, DATETIME]


class UserPage(Page[UserRecord]):
    """A page of users."""


USERS = EntitySet("users", UserRecord, ("id",), KEYS, "Users with licences and activity")

_S = UserSummary
# Property → SQL over user_summary (what the view shows, as stored).
COLUMNS: dict[str, Any] = {
    "id": _S.user_id,
    "upn": _S.upn,
    "email": _S.mail,
    "first_name": _S.given_name,
    "last_name": _S.surname,
    "display_name": _S.display_name,
    "active_date": _S.active_date,
    # Grouped: `NOT x IS NOT NULL` would read as `NOT (x IS NOT NULL)` on PostgreSQL.
    "block_credentials": Grouping(not_(_S.account_enabled)),
    "mfa_enabled": _S.mfa_registered,
    "last_used_app": _S.last_used_app,
    "last_sign_in": _S.last_sign_in,
    "last_activity": _S.last_activity,
    "mail_usage_mb": _S.mail_mb,
    "onedrive_usage_mb": _S.onedrive_mb,
    "windows": _S.windows,
    "mac": _S.mac,
    "mobile": _S.mobile,
    "web": _S.web,
    "on_premises_sync": func.coalesce(_S.on_premises_sync, false()),  # the view: null is No
    "guest": _S.guest,
    "title": _S.job_title,
    "country": _S.country,
    "account_created": _S.created_at,
}
_LA = LicenseAssignment
LICENCE_COLUMNS: dict[str, Any] = {
    "sku_id": _LA.sku_id,
    "sku_part_number": func.coalesce(Sku.part_number, _LA.sku_id),
    "assigned_by_group": func.nullif(_LA.via, ""),
}


def _licence_exists(condition: ColumnElement[bool]) -> Select[Any]:
    return (
        select(_LA.user_id)
        .select_from(
            _LA.__table__.outerjoin(
                Sku.__table__, and_(Sku.tenant_pk == _LA.tenant_pk, Sku.sku_id == _LA.sku_id)
            )
        )
        .where(_LA.tenant_pk == _S.tenant_pk, _LA.user_id == _S.user_id, condition)
    )


class _Shorthands(NodeTransformer):
    """The older filter names as OData over the entity type's properties."""

    def visit_Identifier(self, node: ast.Identifier) -> ast._Node:
        renamed = {"blocked": "block_credentials", "mfa": "mfa_enabled"}.get(node.name)
        return ast.Identifier(renamed) if renamed and not node.namespace else node

    def visit_Compare(self, node: ast.Compare) -> ast._Node:
        name = node.left.name if isinstance(node.left, ast.Identifier) else None
        if name == "license" and isinstance(node.right, ast.String):
            wanted = ast.String(node.right.val.lower())
            item = ast.Identifier("l")

            def lowered(attr: str) -> ast._Node:
                return ast.Call(ast.Identifier("tolower"), [ast.Attribute(item, attr)])

            either = ast.BoolOp(
                ast.Or(),
                ast.Compare(ast.Eq(), lowered("sku_id"), wanted),
                ast.Compare(ast.Eq(), lowered("sku_part_number"), wanted),
            )
            if not isinstance(node.comparator, ast.Eq):
                raise FilterError("$filter on license is written license eq 'SPE_E3'.")
            return ast.CollectionLambda(
                ast.Identifier("licenses"), ast.Any(), ast.Lambda(item, either)
            )
        if name == "inactive_days":
            if (
                not isinstance(node.comparator, ast.GtE)
                or not isinstance(node.right, ast.Integer)
                or node.right.py_val < 0
            ):
                raise FilterError("$filter on inactive_days is written inactive_days ge 90.")
            return ast.BoolOp(
                ast.Or(),
                ast.Compare(ast.Eq(), ast.Identifier("last_activity"), ast.Null()),
                ast.Compare(ast.GtE(), ast.Identifier("days_since_last_activity"), node.right),
            )
        return ast.Compare(node.comparator, self.visit(node.left), self.visit(node.right))


def _rewrite(tree: ast._Node) -> ast._Node:
    result: ast._Node = _Shorthands().visit(tree)
    return result


Opts = Annotated[Options, Depends(options_dependency(USERS, _rewrite))]


def _reference_day(session: Session, tenant_pk: int) -> date | None:
    """The usage reports' refresh date, which `days_since_last_activity` counts from."""
    found: date | None = session.scalar(
        select(func.max(ReportRefresh.refresh_date)).where(ReportRefresh.tenant_pk == tenant_pk)
    )
    if found is None:
        found = session.scalar(select(func.max(_S.activity_as_of)).where(_S.tenant_pk == tenant_pk))
    return found


UnmanagedParam = Annotated[
    bool,
    Query(
        description=(
            "Also list (and match in $filter) licences of SKUs marked unmanaged, which are left "
            "out by default."
        )
    ),
]


def _filtered(
    session: Session, tenant_pk: int, options: Options, include_unmanaged: bool = False
) -> Select[Any]:
    """The ids of the matching users, unordered."""
    stmt = select(_S.user_id).where(_S.tenant_pk == tenant_pk)
    if options.filter is None:
        return stmt
    hidden = () if include_unmanaged else sorted(inputs.unmanaged_skus(session, tenant_pk))

    def licence_exists(condition: ColumnElement[bool]) -> Select[Any]:
        if hidden:
            condition = and_(condition, _LA.sku_id.not_in(hidden))
        return _licence_exists(condition)

    reference: list[date | None] = []

    def days_since(op: type, value: Any) -> ColumnElement[bool] | None:
        # N days since the last activity ⇔ the last activity is N days before the reference.
        if not reference:
            reference.append(_reference_day(session, tenant_pk))
        if value is None:
            return sql_date_range(_S.last_activity, op, None)
        if reference[0] is None:
            return false()
        day = reference[0] - timedelta(days=int(value))
        made: dict[type, ColumnElement[bool]] = {
            ast.Eq: _S.last_activity == day,
            ast.NotEq: or_(_S.last_activity.is_(None), _S.last_activity != day),
            ast.Gt: _S.last_activity < day,
            ast.GtE: _S.last_activity <= day,
            ast.Lt: _S.last_activity > day,
            ast.LtE: _S.last_activity >= day,
        }
        return made.get(op)

    translator = SqlFilter(
        USERS.props,
        COLUMNS,
        session.get_bind().dialect.name,
        special={
            "days_since_last_activity": days_since,
            "deactivated_date": lambda op, value: sql_date_range(_S.deleted_at, op, value),
        },
        collections={"licenses": (LICENCE_COLUMNS, licence_exists)},
    )
    try:
        return stmt.where(translator.condition(options.filter))
    except FilterError as exc:
        fail(exc.status, str(exc))


def _ordered(stmt: Select[Any], options: Options) -> Select[Any]:
    order = []
    for name, descending in options.orderby or (("upn", False),):
        if name == "days_since_last_activity":  # more days: an older last activity
            column, descending = _S.last_activity, not descending
        elif name == "deactivated_date":
            column = _S.deleted_at
        else:
            column = COLUMNS[name]
        order.append((column.desc() if descending else column.asc()).nulls_last())
    return stmt.order_by(*order, _S.user_id)


def _ids(
    session: Session, tenant_pk: int, options: Options, limit: int | None, unmanaged: bool
) -> list[str]:
    stmt = _ordered(_filtered(session, tenant_pk, options, unmanaged), options)
    if limit is not None or options.skip:
        stmt = stmt.limit(limit).offset(options.skip)
    return list(session.scalars(stmt))


def _count(session: Session, tenant_pk: int, options: Options, unmanaged: bool) -> int:
    inner = _filtered(session, tenant_pk, options, unmanaged).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def _records(
    session: Session, tenant_pk: int, ids: list[str], unmanaged: bool
) -> list[dict[str, Any]]:
    names = inputs.sku_names(session, tenant_pk)
    facts = inputs.user_facts(session, tenant_pk, ids, include_unmanaged=unmanaged)
    return [build(f, names) for f in facts]


@routes.get(
    "/users",
    summary="Users",
    response_model=UserPage,
    response_class=JSONAnswer,
    responses={**ERRORS, 200: CSV_RESPONSE},
)
def users(
    request: Request,
    _principal: ApiPrincipal,
    options: Opts,
    tenant: TenantParam = None,
    include_unmanaged: UnmanagedParam = False,
) -> Response:
    """Every user with licences, sign-in, activity, storage and platforms: the records of
    `seatwise users --format json`, by UPN unless `$orderby` says otherwise."""
    with web_state(request).session() as session:
        tenant_pk, stamp = tenant_stamp(session, tenant)
        if options.csv:
            top = options.top
            ids = _ids(session, tenant_pk, options, top, include_unmanaged)
            return csv_answer(
                _every(request, tenant_pk, ids, options, include_unmanaged),
                options.select or KEYS,
                "users",
            )

        def page() -> dict[str, Any]:
            ids = _ids(session, tenant_pk, options, options.limit + 1, include_unmanaged)
            shown = _records(session, tenant_pk, ids[: options.limit], include_unmanaged)
            more = options.more(len(shown), len(ids) <= options.limit)
            count = (
                _count(session, tenant_pk, options, include_unmanaged) if options.count else None
            )
            return collection_body(request, USERS, options, shown, more=more, count=count)

        return synced_page(request, (tenant_pk, *stamp), options, page)


def _every(
    request: Request, tenant_pk: int, ids: list[str], options: Options, unmanaged: bool
) -> Iterator[dict[str, Any]]:
    """The users' records, read a batch at a time (in their own unit of work) while streaming."""
    with web_state(request).session() as session:
        for start in range(0, len(ids), inputs.BATCH):
            batch = ids[start : start + inputs.BATCH]
            for record in _records(session, tenant_pk, batch, unmanaged):
                yield options.project(record)


@routes.get(
    "/users/$count",
    summary="Users: how many",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def users_count(
    request: Request,
    _principal: ApiPrincipal,
    options: Opts,
    tenant: TenantParam = None,
    include_unmanaged: UnmanagedParam = False,
) -> Response:
    """How many users match `$filter`, as plain text."""
    with web_state(request).session() as session:
        tenant_pk, _ = tenant_stamp(session, tenant)
        return count_answer(_count(session, tenant_pk, options, include_unmanaged))


@routes.get(
    "/users({key})",
    summary="One user, by key",
    response_model=entity_answer_model(USERS),
    response_class=JSONAnswer,
    responses=ERRORS,
)
def user_by_key(
    request: Request,
    key: str,
    _principal: ApiPrincipal,
    options: Opts,
    tenant: TenantParam = None,
    include_unmanaged: UnmanagedParam = False,
) -> Response:
    """One user's record, by Entra object id: `users('id')`."""
    user_id = parse_key(key, USERS)["id"]
    with web_state(request).session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        found = _records(session, tenant_pk, [user_id], include_unmanaged)
    if not found:
        fail(404, f"There is no user with id {user_id!r}.")
    return odata_json(entity_body(request, USERS, options, found[0]))


@routes.get(
    "/users/{user_id}",
    summary="One user",
    response_model=UserRecord,
    response_class=JSONAnswer,
    responses=ERRORS,
)
def user(
    request: Request,
    user_id: str,
    _principal: ApiPrincipal,
    tenant: TenantParam = None,
    include_unmanaged: UnmanagedParam = False,
) -> Response:
    """One user's record, by Entra object id (the record alone; `users('id')` is OData's)."""
    with web_state(request).session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        found = _records(session, tenant_pk, [user_id], include_unmanaged)
    if not found:
        fail(404, f"There is no user with id {user_id!r}.")
    return JSONAnswer(found[0])
