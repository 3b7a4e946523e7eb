"""A tenant's recommendations, evaluated once and kept until what they are made of changes.

Evaluating every rule over 100k users takes seconds, and the Overview, the Recommendations page
and the API's `/recommendations` all need the whole list. The result depends on the synced data
and the contract fields and managed flags (edited in the UI, the API or the CLI), which the
tenant's data version in the database follows; on the day it is judged on; and on the server's
policy (fixed for the process). So each process, on any machine, keeps the latest list per tenant
under the tenant's data version and the day, read in one query on every request, and evaluates
again only when one moved. A plan made from recommendations still
evaluates afresh (`seatwise.reclaim.plans`).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from seatwise.analytics.inputs import recommendations as inputs
from seatwise.analytics.recommendations import Policy, Recommendation, evaluate
from seatwise.store.schema import Tenant
from seatwise.workspace.rollup import rollup

__all__ = ["KeptFindings"]

_STAMP = select(Tenant.created_at, Tenant.data_version).where(Tenant.pk == bindparam("tenant_pk"))


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

    def rollup(
        self, session: Session, tenants: list[Tenant], policy: Policy
    ) -> list[dict[str, Any]]:
        """The roll-up of `tenants` (`seatwise.workspace.rollup`), their savings from the
        recommendations kept here."""
        now = datetime.now(UTC)

        def findings(session: Session, tenant: Tenant) -> list[Recommendation]:
            return self.of(session, tenant.pk, policy, now.date())

        return rollup(session, now, findings, tenants=tenants)
