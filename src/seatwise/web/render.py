"""Rendering a page: the template plus what the layout needs (the signed-in user, the tenants
and the chosen one, the navigation, the CSRF token through the `csrf_token` global)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from seatwise.store.schema import Tenant
from seatwise.web.state import web_state
from seatwise.workspace.accounts import Principal

__all__ = ["NAV", "page"]

NAV = (
    ("/", "Overview"),
    ("/users", "Users"),
    ("/licenses", "Licenses"),
    ("/activity", "Activity"),
    ("/recommendations", "Recommendations"),
    ("/reclamation", "Reclamation"),
    ("/tasks", "Tasks"),
    ("/settings", "Settings"),
    ("/api/docs", "API"),
)


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    user: Principal,
    tenant: Tenant | None = None,
    tenants: list[Tenant] | None = None,
    title: str = "",
    status_code: int = 200,
) -> Response:
    """Render `template` inside the layout."""
    path = request.url.path
    active = next((href for href, _ in NAV if href != "/" and path.startswith(href)), "/")
    full = {
        "user": user,
        "tenant": tenant,
        "tenants": tenants or [],
        "nav": NAV,
        "active": active,
        "title": title,
        **context,
    }
    return web_state(request).templates.TemplateResponse(
        request, template, full, status_code=status_code
    )
