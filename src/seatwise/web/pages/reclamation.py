"""Reclamation in the browser: the plans, one plan with every user and licence, approve, apply
(in the background, with progress), undo, and the audit log. Admins act; viewers look.

Apply and undo run `seatwise.reclaim` on a thread of the web process, one job per plan at a
time; the plan page refreshes itself while its job runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from seatwise.analytics.inputs.users import sku_names
from seatwise.errors import AppError, PlanError
from seatwise.reclaim import Outcome, approve, get_plan, plan_records, plan_summary
from seatwise.reclaim.audit import events
from seatwise.store.schema import ReclaimPlan, Tenant
from seatwise.web.render import page
from seatwise.web.security import Admin, Csrf, User
from seatwise.web.state import WebState, web_state
from seatwise.web.tenancy import all_tenants, pick_tenant
from seatwise.workspace import plans as plan_jobs
from seatwise.workspace import queue

router = APIRouter(include_in_schema=False)
PlanPk = Annotated[int, Path(ge=1, le=2**31 - 1)]


@dataclass
class Job:
    """An apply or undo running in the background."""

    kind: str
    done: int = 0
    total: int = 0
    outcome: Outcome | None = None
    error: str | None = None
    finished: bool = False
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def verb(self) -> str:
        """'applied' or 'undone', for messages."""
        return "applied" if self.kind == "apply" else "undone"


_JOBS: dict[tuple[int, int], Job] = {}
_LOCK = threading.Lock()


def job_of(tenant_pk: int, plan_pk: int) -> Job | None:
    """The plan's current or last job in this process."""
    with _LOCK:
        return _JOBS.get((tenant_pk, plan_pk))


def _start(state: WebState, tenant: Tenant, plan_pk: int, kind: str, actor: str) -> None:
    if state.workspace.is_postgresql:  # a job for `seatwise worker`: long and resumable
        try:
            queue.enqueue_apply(state.workspace, tenant.pk, plan_pk, kind=kind, actor=actor)
        except PlanError as exc:
            raise HTTPException(409, str(exc)) from None
        return
    key = (tenant.pk, plan_pk)
    client = state.workspace.graph_client(tenant)  # AuthError when the tenant cannot sign in
    with _LOCK:
        running = _JOBS.get(key)
        if running is not None and not running.finished:
            client.close()
            raise HTTPException(409, f"Plan {plan_pk} is already being {running.verb}.")
        job = _JOBS[key] = Job(kind)
    tenant_pk = tenant.pk

    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    def work() -> None:
        run = plan_jobs.apply if kind == "apply" else plan_jobs.undo
        try:
            job.outcome = run(
                state.workspace, tenant_pk, plan_pk, actor=actor, progress=progress, client=client
            )
        except AppError as exc:
            job.error = str(exc)
        except Exception as exc:  # a bug: keep the page usable and say so  # noqa: BLE001
            job.error = f"Unexpected error: {exc!r}"
        finally:
            job.finished = True

    job.thread = threading.Thread(target=work, name=f"reclaim-{kind}-{plan_pk}", daemon=True)
    job.thread.start()


def _plan_url(plan_pk: int, tenant: str) -> str:
    return f"/reclamation/plans/{plan_pk}?{urlencode({'tenant': tenant})}"


def _tenant_or_404(request: Request, session: Any) -> Tenant:
    tenant = pick_tenant(request, session)
    if tenant is None:
        raise HTTPException(404, "There is no tenant yet.")
    return tenant


@router.get("/reclamation")
def plans(request: Request, user: User) -> Response:
    """Every plan of the tenant, newest first."""
    with web_state(request).session() as session:
        tenants = all_tenants(session)
        tenant = pick_tenant(request, session)
        rows = []
        if tenant is not None:
            for plan in session.scalars(
                select(ReclaimPlan)
                .where(ReclaimPlan.tenant_pk == tenant.pk)
                .order_by(ReclaimPlan.pk.desc())
            ):
                rows.append(plan_summary(session, plan))
        return page(
            request,
            "reclamation.html",
            {"plans": rows},
            user=user,
            tenant=tenant,
            tenants=tenants,
            title="Reclamation",
        )


def _queued_job(request: Request, tenant_pk: int, plan_pk: int) -> dict[str, Any] | None:
    """The plan's latest job on the queue (PostgreSQL), or None."""
    workspace = web_state(request).workspace
    if not workspace.is_postgresql:
        return None
    jobs = queue.recent_jobs(workspace, tenant_pk, 200)
    return next((j for j in jobs if j["kind"] != "sync" and j["plan_pk"] == plan_pk), None)


def by_user(records: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """The plan's records (one per user and licence) as one entry per user, in order: the
    user's facts and reasons once, their licences (with product names) and the annual cost
    per currency of what is removed."""
    people: dict[str, dict[str, Any]] = {}
    for record in records:
        person = people.setdefault(
            record["user_id"],
            {
                **{k: record[k] for k in ("upn", "user_id", "state", "undo_state", "message")},
                "reasons": record["reasons"],
                "protected": record["protected"],
                "licences": [],
                "costs": {},
            },
        )
        person["licences"].append({**record, "name": names.get(record["sku"], record["sku"])})
        if record["annual_cost"] is not None and record["action"].startswith("remove"):
            costs = person["costs"]
            costs[record["currency"]] = costs.get(record["currency"], 0) + Decimal(
                record["annual_cost"]
            )
    return list(people.values())


@router.get("/reclamation/plans/{plan_pk}")
def plan_page(request: Request, user: User, plan_pk: PlanPk) -> Response:
    """One plan: summary, every user and licence, the actions its status allows."""
    with web_state(request).session() as session:
        tenants = all_tenants(session)
        tenant = _tenant_or_404(request, session)
        plan = get_plan(session, tenant.pk, plan_pk)
        summary = plan_summary(session, plan)
        records = list(plan_records(session, plan))
        names = dict(sku_names(session, tenant.pk).values())
        job = job_of(tenant.pk, plan_pk)
        queued = _queued_job(request, tenant.pk, plan_pk)
        return page(
            request,
            "reclamation_plan.html",
            {
                "plan": summary,
                "people": by_user(records, names),
                "job": job,
                "queued": queued,
            },
            user=user,
            tenant=tenant,
            tenants=tenants,
            title=f"Reclamation plan {plan_pk}",
        )


@router.post("/reclamation/plans/{plan_pk}/approve", dependencies=[Csrf])
def approve_plan(request: Request, user: Admin, plan_pk: PlanPk) -> Response:
    """Approve a draft."""
    with web_state(request).session(write=True) as session:
        tenant = _tenant_or_404(request, session)
        approve(
            session, get_plan(session, tenant.pk, plan_pk), f"web:{user.name}", datetime.now(UTC)
        )
        name = tenant.name
    return RedirectResponse(_plan_url(plan_pk, name), status_code=303)


@router.post("/reclamation/plans/{plan_pk}/apply", dependencies=[Csrf])
def apply(
    request: Request,
    user: Admin,
    plan_pk: PlanPk,
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    """Start removing the plan's licences through Graph (needs the confirmation box)."""
    if not confirm:
        raise HTTPException(400, "Tick the confirmation box to apply the plan.")
    state = web_state(request)
    with state.session() as session:
        tenant = _tenant_or_404(request, session)
        plan = get_plan(session, tenant.pk, plan_pk)
        if plan.status == "draft":
            raise HTTPException(409, f"Plan {plan_pk} is not approved yet.")
        session.expunge(tenant)
    _start(state, tenant, plan_pk, "apply", f"web:{user.name}")
    return RedirectResponse(_plan_url(plan_pk, tenant.name), status_code=303)


@router.post("/reclamation/plans/{plan_pk}/undo", dependencies=[Csrf])
def undo(
    request: Request,
    user: Admin,
    plan_pk: PlanPk,
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    """Start giving back every licence the plan removed."""
    if not confirm:
        raise HTTPException(400, "Tick the confirmation box to undo the plan.")
    state = web_state(request)
    with state.session() as session:
        tenant = _tenant_or_404(request, session)
        plan = get_plan(session, tenant.pk, plan_pk)
        if plan.status in ("draft", "approved"):
            raise HTTPException(409, f"Plan {plan_pk} has not been applied: nothing to undo.")
        session.expunge(tenant)
    _start(state, tenant, plan_pk, "undo", f"web:{user.name}")
    return RedirectResponse(_plan_url(plan_pk, tenant.name), status_code=303)


@router.get("/reclamation/audit")
def audit_log(
    request: Request, user: User, plan: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> Response:
    """The audit log, newest first (500 events)."""
    with web_state(request).session() as session:
        tenants = all_tenants(session)
        tenant = pick_tenant(request, session)
        rows = (
            list(events(session, tenant.pk, plan_pk=plan, limit=500, flat=True)) if tenant else []
        )
        return page(
            request,
            "reclamation_audit.html",
            {"events": rows, "plan": plan},
            user=user,
            tenant=tenant,
            tenants=tenants,
            title="Audit log",
        )
