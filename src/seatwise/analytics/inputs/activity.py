"""Loads the activity view's facts: live users a batch at a time (ordered by UPN) with their
licensed services and activity rows; for the summary, every live user's licensed services and
one pass over the activity rows; the stored License Differentiation rows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, String, cast, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from seatwise import services
from seatwise.analytics.activity import LicenceCatalog, UserActivity
from seatwise.analytics.inputs.users import sku_names, unmanaged_skus
from seatwise.store.schema import LicenseAssignment, LicenseUsage, ServiceActivity, SkuPlan, User

BATCH = 2000  # users per batch of the per-user view
STREAM = 10_000  # rows fetched at a time by the summary's sequential scans

__all__ = [
    "BATCH",
    "STREAM",
    "activity_rows",
    "catalog",
    "differentiation_rows",
    "iter_user_activity",
    "live_licences",
    "load_batch",
    "sku_names",
    "unmanaged_skus",
]

# The disabled plans as stored text, parsed once per distinct value (there are few).
_DISABLED = cast(LicenseAssignment.disabled_plans, String)


@lru_cache(maxsize=4096)
def _plan_ids(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text else ()


def catalog(session: Session, tenant_pk: int, include_unmanaged: bool = False) -> LicenceCatalog:
    """The tenant's SKUs' service plans, to tell which services each licence includes; a
    licence of an unmanaged SKU includes none unless `include_unmanaged`."""
    plans: dict[str, dict[str, str]] = defaultdict(dict)
    for sku_id, plan_id, plan_name in session.execute(
        select(SkuPlan.sku_id, SkuPlan.plan_id, SkuPlan.plan_name).where(
            SkuPlan.tenant_pk == tenant_pk
        )
    ):
        plans[sku_id][plan_id] = plan_name
    left_out = frozenset() if include_unmanaged else unmanaged_skus(session, tenant_pk)
    return LicenceCatalog(plans, left_out)


def load_batch(
    conn: Connection,
    tenant_pk: int,
    users: Sequence[Any],
    licences: LicenceCatalog,
    wanted: Sequence[str],
) -> list[UserActivity]:
    """The activity facts of `users` (rows with `id`, `upn`, `display_name`): one page."""
    ids = [u.id for u in users]
    facts = {
        u.id: UserActivity({"id": u.id, "upn": u.upn, "display_name": u.display_name})
        for u in users
    }
    for user_id, sku_id, disabled in conn.execute(
        select(LicenseAssignment.user_id, LicenseAssignment.sku_id, _DISABLED).where(
            LicenseAssignment.tenant_pk == tenant_pk, LicenseAssignment.user_id.in_(ids)
        )
    ):
        user = facts[user_id]
        user.licensed = user.licensed | licences.services_of(sku_id, _plan_ids(disabled))
    for user_id, service, last, as_of, available in conn.execute(
        select(
            ServiceActivity.user_id,
            ServiceActivity.service,
            ServiceActivity.last_activity,
            ServiceActivity.as_of,
            ServiceActivity.available,
        ).where(
            ServiceActivity.tenant_pk == tenant_pk,
            ServiceActivity.user_id.in_(ids),
            ServiceActivity.service.in_(wanted),
        )
    ):
        facts[user_id].activity[service] = {
            "last_activity": last,
            "as_of": as_of,
            "available": available,
        }
    return [facts[i] for i in ids]


def iter_user_activity(
    session: Session,
    tenant_pk: int,
    selected: Sequence[str] = services.SERVICES,
    include_unmanaged: bool = False,
) -> Iterator[list[UserActivity]]:
    """Every live (not deleted) user's activity facts, ordered by UPN, a batch at a time.

    Rows are loaded for the selected services and the usage-report services (which give each
    user's `as_of`); 300k users never sit in memory at once. Licences of unmanaged SKUs give
    no service unless `include_unmanaged`.
    """
    licences = catalog(session, tenant_pk, include_unmanaged)
    wanted = sorted(set(selected) | set(services.REPORT_SERVICES))
    conn = session.connection()
    last_upn, last_id = "", ""
    while True:
        users = conn.execute(
            select(User.id, User.upn, User.display_name)
            .where(
                User.tenant_pk == tenant_pk,
                User.deleted_at.is_(None),
                User.upn >= last_upn,  # lets the (tenant_pk, upn) index seek to the batch
                (User.upn > last_upn) | ((User.upn == last_upn) & (User.id > last_id)),
            )
            .order_by(User.upn, User.id)
            .limit(BATCH)
        ).all()
        if not users:
            return
        yield load_batch(conn, tenant_pk, users, licences, wanted)
        last_upn, last_id = users[-1].upn, users[-1].id


def live_licences(
    session: Session, tenant_pk: int, include_unmanaged: bool = False
) -> dict[str, frozenset[str]]:
    """Every live user's id → the services their licences include (empty when none; licences
    of unmanaged SKUs give none unless `include_unmanaged`).

    For the summary: one small entry per user (the sets are shared), read in two sequential
    scans instead of a lookup per user.
    """
    licences = catalog(session, tenant_pk, include_unmanaged)
    conn = session.connection().execution_options(yield_per=STREAM)
    none: frozenset[str] = frozenset()
    unions: dict[tuple[frozenset[str], frozenset[str]], frozenset[str]] = {}
    result = dict.fromkeys(
        conn.scalars(select(User.id).where(User.tenant_pk == tenant_pk, User.deleted_at.is_(None))),
        none,
    )
    for user_id, sku_id, disabled in conn.execute(
        select(LicenseAssignment.user_id, LicenseAssignment.sku_id, _DISABLED).where(
            LicenseAssignment.tenant_pk == tenant_pk
        )
    ):
        held = result.get(user_id)
        if held is not None:
            more = licences.services_of(sku_id, _plan_ids(disabled))
            key = (held, more)
            if key not in unions:  # share one set per combination, not one per user
                unions[key] = held | more
            result[user_id] = unions[key]
    return result


def activity_rows(
    session: Session, tenant_pk: int, selected: Sequence[str] = services.SERVICES
) -> Iterator[tuple[str, str, date | None, date, bool]]:
    """Every stored activity row of the selected services as (user id, service, last activity,
    as of, available), in storage order, streamed."""
    tenant: ColumnElement[int] = ServiceActivity.tenant_pk.expression
    if session.get_bind().dialect.name == "sqlite":
        # Else SQLite walks the (tenant_pk, service, last_activity) index and looks every row
        # up: a sequential scan is several times faster, even past a few other tenants' rows.
        tenant = tenant + 0
    stmt = select(
        ServiceActivity.user_id,
        ServiceActivity.service,
        ServiceActivity.last_activity,
        ServiceActivity.as_of,
        ServiceActivity.available,
    ).where(tenant == tenant_pk, ServiceActivity.service.in_(selected))
    yield from session.connection().execution_options(yield_per=STREAM).execute(stmt)


def differentiation_rows(
    session: Session, tenant_pk: int, include_unmanaged: bool = False
) -> list[dict[str, Any]]:
    """The stored License Differentiation rows (one per SKU and included service); none of
    unmanaged SKUs unless `include_unmanaged`."""
    left_out = frozenset() if include_unmanaged else unmanaged_skus(session, tenant_pk)
    return [
        dict(row._mapping)
        for row in session.execute(
            select(
                LicenseUsage.sku_id,
                LicenseUsage.service,
                LicenseUsage.holders,
                LicenseUsage.active_users,
                LicenseUsage.as_of,
            ).where(LicenseUsage.tenant_pk == tenant_pk)
        )
        if row.sku_id not in left_out
    ]
