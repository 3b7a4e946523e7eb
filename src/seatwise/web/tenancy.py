"""Which tenant a page or API call is about: `?tenant=NAME`, else the one remembered in the
session, else the only (or first) active tenant."""

from __future__ import annotations

from fastapi import HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from seatwise.store.schema import Tenant

__all__ = ["all_tenants", "pick_tenant"]


def all_tenants(session: Session) -> list[Tenant]:
    """Every tenant, by name."""
    return list(session.scalars(select(Tenant).order_by(Tenant.name)))


def pick_tenant(request: Request, session: Session) -> Tenant | None:
    """The tenant asked for (404 when unknown), else the session's, else the first; None when
    there is no tenant yet."""
    asked = request.query_params.get("tenant")
    if asked:
        tenant = session.scalar(select(Tenant).where(Tenant.name == asked))
        if tenant is None:
            raise HTTPException(404, f"There is no tenant called {asked!r}.")
        if "user" in request.session and request.session.get("tenant") != tenant.name:
            request.session["tenant"] = tenant.name  # (re-signs the cookie only on a change)
        return tenant
    remembered = request.session.get("tenant")
    if isinstance(remembered, str):
        tenant = session.scalar(select(Tenant).where(Tenant.name == remembered))
        if tenant is not None:
            return tenant
    return session.scalar(select(Tenant).order_by(Tenant.active.desc(), Tenant.name).limit(1))
