"""A tenant's recommendations, evaluated once and kept until what they are made of changes.

Evaluating every rule over 100k users takes seconds, and the Overview, the Recommendations page
and the API's `/recommendations` all need the whole list. The result depends on the synced data
(the tenant's `sync_stamp`), the contract fields and managed flags (edited in the UI or the
API), the day it is judged on and the server's policy (fixed for the process). So each process
keeps the latest list per tenant under a stamp of the first three, read in one query on every
request, and evaluates again only when it moved. A plan made from recommendations still
evaluates afresh (`seatwise.reclaim.plans`).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from datetime import date

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from seatwise.analytics.inputs import recommendations as inputs
from seatwise.analytics.recommendations import Policy, Recommendation, evaluate
from seatwise.store.reads import stamp_columns
from seatwise.store.schema import LicenseContract, Tenant

__all__ = ["KeptFindings"]

_CONTRACTS = LicenseContract.tenant_pk == Tenant.pk
_STAMP = select(
    Tenant.created_at,
    *stamp_columns(Tenant.pk),
    select(func.count()).where(_CONTRACTS).scalar_subquery(),
    select(func.max(LicenseContract.updated_at)).where(_CONTRACTS).scalar_subquery(),
).where(Tenant.pk == bindparam("tenant_pk"))


class KeptFindings:
    """The latest recommendations of each tenant, by the stamp they were evaluated under."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple[Hashable, list[Recommendation]]] = {}
        self._lock = threading.Lock()
        self._evaluating: dict[int, threading.Lock] = {}
        self.evaluations = 0

    def of(
        self, session: Session, tenant_pk: int, policy: Policy, as_of: date
    ) -> list[Recommendation]:
        """Every recommendation of the tenant (sorted as `evaluate` sorts them; do not change
        the list), evaluated through `session` unless kept under the current stamp. Requests
        for a tenant being evaluated wait for that evaluation."""
        stamp = (*session.connection().execute(_STAMP, {"tenant_pk": tenant_pk}).one(), as_of)
        with self._lock:
            evaluating = self._evaluating.setdefault(tenant_pk, threading.Lock())
        with evaluating:
            with self._lock:
                kept = self._kept.get(tenant_pk)
            if kept is not None and kept[0] == stamp:
                return kept[1]
            facts = inputs.tenant_facts(session, tenant_pk)
            users = (u for batch in inputs.iter_user_facts(session, tenant_pk) for u in batch)
            found = evaluate(users, facts, policy, as_of)
            with self._lock:
                self._kept[tenant_pk] = (stamp, found)
                self.evaluations += 1
            return found
