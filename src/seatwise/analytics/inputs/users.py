"""The one impure edge of analytics: loading stored facts for views, in batches, as plain dicts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from seatwise.analytics.users import UserFacts
from seatwise.skus import product_name
from seatwise.store.schema import (
    Activation,
    LicenseAssignment,
    ServiceActivity,
    Sku,
    UsageSnapshot,
    User,
)

BATCH = 1000


def _dicts(session: Session, stmt: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in session.execute(stmt)]


def sku_names(session: Session, tenant_pk: int) -> dict[str, tuple[str, str]]:
    """skuId → (part number, friendly name) for the tenant's SKUs."""
    return {
        sku_id: (part, name or product_name(sku_id, part))
        for sku_id, part, name in session.execute(
            select(Sku.sku_id, Sku.part_number, Sku.name).where(Sku.tenant_pk == tenant_pk)
        )
    }


def user_facts(session: Session, tenant_pk: int, user_ids: Sequence[str]) -> list[UserFacts]:
    """Facts of the given users, in the given order."""
    users = {
        row["id"]: row
        for row in _dicts(
            session,
            select(*User.__table__.c).where(User.tenant_pk == tenant_pk, User.id.in_(user_ids)),
        )
    }
    facts = {uid: UserFacts(users[uid]) for uid in user_ids if uid in users}
    for table, attr in (
        (LicenseAssignment, "assignments"),
        (ServiceActivity, "activity"),
        (Activation, "activations"),
    ):
        for row in _dicts(
            session,
            select(*table.__table__.c).where(
                table.tenant_pk == tenant_pk, table.user_id.in_(user_ids)
            ),
        ):
            if row["user_id"] in facts:
                getattr(facts[row["user_id"]], attr).append(row)
    latest = (
        select(UsageSnapshot.user_id, func.max(UsageSnapshot.day).label("day"))
        .where(UsageSnapshot.tenant_pk == tenant_pk, UsageSnapshot.user_id.in_(user_ids))
        .group_by(UsageSnapshot.user_id)
        .subquery()
    )
    for row in _dicts(
        session,
        select(*UsageSnapshot.__table__.c)
        .join(
            latest,
            (UsageSnapshot.user_id == latest.c.user_id) & (UsageSnapshot.day == latest.c.day),
        )
        .where(UsageSnapshot.tenant_pk == tenant_pk),
    ):
        if row["user_id"] in facts:
            facts[row["user_id"]].snapshot = row
    return [facts[uid] for uid in user_ids if uid in facts]


def iter_user_facts(session: Session, tenant_pk: int) -> Iterator[list[UserFacts]]:
    """Every user's facts, ordered by UPN, a batch at a time (300k users never sit in memory)."""
    last_upn = ""
    last_id = ""
    while True:
        ids = list(
            session.scalars(
                select(User.id)
                .where(
                    User.tenant_pk == tenant_pk,
                    (User.upn > last_upn) | ((User.upn == last_upn) & (User.id > last_id)),
                )
                .order_by(User.upn, User.id)
                .limit(BATCH)
            )
        )
        if not ids:
            return
        batch = user_facts(session, tenant_pk, ids)
        yield batch
        last_upn, last_id = batch[-1].user["upn"], batch[-1].user["id"]
