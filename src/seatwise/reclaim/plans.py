"""Making and reading reclamation plans (DESIGN §6): which users lose which licences, why, and
what it saves. Reads the store and the recommendation rules; sends nothing to Graph.

A plan item is one user with every licence they held when the plan was made. Direct licences
are removed (unmanaged ones too, unless `only_managed`); licences inherited from a group are
never sent to `assignLicense` (Graph refuses them), so the item names the group instead.

Protected users — those the recommendation rules leave alone: MFA registered or signing in with
SSO (synced from on-premises) under the seed rule, or excluded by the policy (UPN pattern,
group, account kind) — are refused when named, unless the caller includes them explicitly; the
plan then keeps the reason among the item's reasons ("protected: …").
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from seatwise.analytics.inputs import recommendations as inputs
from seatwise.analytics.recommendations import RULES, Policy, TenantFacts, UserFacts, evaluate
from seatwise.analytics.recommendations.common import excluded, seed_excluded
from seatwise.analytics.recommendations.rules import WHOLE_USER_RULES
from seatwise.analytics.recommendations.savings import annual_cost, money
from seatwise.errors import PlanError, UsageError
from seatwise.reclaim import audit
from seatwise.store.schema import ReclaimItem, ReclaimPlan, User

__all__ = [
    "SHOW_KEYS",
    "Licence",
    "approve",
    "get_plan",
    "licences_of",
    "make_plan",
    "plan_records",
    "plan_summary",
    "protected_reason",
    "protection",
    "savings_of",
]

SHOW_KEYS = ("upn", "sku", "action", "managed", "annual_cost", "currency", "state", "message")
PROTECTED = "protected: "
"""How a protected user's reason starts among a plan item's reasons."""
_CHUNK = 500  # users read at a time when resolving UPNs and sign-ins


@dataclass(frozen=True, slots=True)
class Licence:
    """A licence a user held when the plan was made, as stored in `reclaim_item.licences`."""

    sku_id: str
    part: str
    via: str
    """'' when assigned directly, else the group's object id."""
    disabled_plans: tuple[str, ...]
    managed: bool
    annual_cost: Decimal | None
    currency: str | None

    def record(self) -> dict[str, Any]:
        """The JSON form kept in the plan (money as a string, exact)."""
        return {
            "sku_id": self.sku_id,
            "part": self.part,
            "via": self.via,
            "disabled_plans": list(self.disabled_plans),
            "managed": self.managed,
            "annual_cost": None if self.annual_cost is None else str(self.annual_cost),
            "currency": self.currency,
        }

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> Licence:
        """Read back `record()`."""
        cost = value.get("annual_cost")
        return cls(
            sku_id=str(value["sku_id"]),
            part=str(value.get("part") or value["sku_id"]),
            via=str(value.get("via") or ""),
            disabled_plans=tuple(value.get("disabled_plans") or ()),
            managed=bool(value.get("managed", True)),
            annual_cost=None if cost is None else Decimal(str(cost)),
            currency=value.get("currency"),
        )


def licences_of(item: ReclaimItem) -> list[Licence]:
    """The licences an item's user held when the plan was made."""
    return [Licence.of(v) for v in item.licences]


def _licences(user: UserFacts, tenant: TenantFacts) -> list[Licence]:
    found = []
    for assignment in sorted(user.assignments, key=lambda a: (a.sku_id, a.via)):
        contract = tenant.contract(assignment.sku_id)
        cost = annual_cost(contract)
        found.append(
            Licence(
                sku_id=assignment.sku_id,
                part=tenant.part_number(assignment.sku_id),
                via=assignment.via,
                disabled_plans=tuple(sorted(assignment.disabled_plans)),
                managed=tenant.managed(assignment.sku_id),
                annual_cost=None if cost is None else cost.amount,
                currency=None if cost is None else cost.currency,
            )
        )
    return found


def _to_remove(
    licences: Sequence[Licence], only_managed: bool, skus: Collection[str] | None
) -> list[str]:
    """The SKUs `assignLicense` will remove: direct ones (of `skus` when given), managed only
    when asked."""
    return sorted(
        {
            lic.sku_id
            for lic in licences
            if not lic.via
            and (lic.managed or not only_managed)
            and (skus is None or lic.sku_id in skus)
        }
    )


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass
class _Chosen:
    """A user going into the plan: why, and which SKUs (None: every licence they hold)."""

    user: UserFacts
    reasons: list[str]
    skus: set[str] | None


def _recommended(
    session: Session,
    tenant_pk: int,
    tenant: TenantFacts,
    policy: Policy,
    as_of: date,
    rules: Collection[str],
    picked: Collection[tuple[str, str]] | None = None,
) -> dict[str, _Chosen]:
    """Users the chosen rules say to reclaim from (action `reclaim` only: a `review` needs a
    person first), each with the reasons. A whole-user rule (blocked, deleted, inactive, never
    used) takes every licence; a partial one (overlapping suites) only the SKUs it names."""
    found: dict[str, _Chosen] = {}
    for batch in inputs.iter_user_facts(session, tenant_pk):
        by_upn = {user.upn: user for user in batch}
        for result in evaluate(batch, tenant, policy, as_of, rules=rules or None):
            if result.action != "reclaim":
                continue
            if picked is not None and (result.rule, result.upn) not in picked:
                continue
            user = by_upn[result.upn]
            chosen = found.setdefault(user.id, _Chosen(user, [], set()))
            chosen.reasons.append(f"{result.rule}: {' '.join(result.evidence)}")
            if result.rule in WHOLE_USER_RULES:
                chosen.skus = None
            elif chosen.skus is not None:
                chosen.skus.update(tenant.sku_id(part) or part for part in result.skus)
    return found


def protection(user: UserFacts, policy: Policy) -> str | None:
    """Why the recommendation rules leave `user` alone (`excluded` and `seed_excluded`, in
    words), or None when they do not."""
    why: list[str] = []
    if seed_excluded(user, policy):
        if user.mfa_registered:
            why.append("signs in with MFA (registered for multifactor authentication)")
        if user.on_premises_sync:
            why.append("signs in with SSO (synced from on-premises)")
    if excluded(user, policy):
        groups = sorted({a.via for a in user.assignments if a.via in policy.exclude_groups})
        if policy.exclude_kinds and user.kind in policy.exclude_kinds:
            why.append(f"is a {user.kind} account, which the policy excludes")
        if groups:
            why.append(f"holds a licence through excluded group {', '.join(groups)}")
        lowered = user.upn.lower()
        if any(fnmatchcase(lowered, p) for p in policy.upn_patterns):
            why.append("matches a UPN pattern the policy excludes")
        if not why:
            why.append("is excluded by the recommendation policy")
    return " and ".join(why) or None


def _named(
    session: Session,
    tenant_pk: int,
    upns: Sequence[str],
    actor: str,
    policy: Policy,
    include_protected: bool,
    protected_hint: str,
) -> dict[str, _Chosen]:
    """Users named on the command line, each with every licence they hold. Protected users are
    refused (`UsageError` naming each with the reason) unless `include_protected`."""
    found: dict[str, _Chosen] = {}
    refused: list[str] = []
    for upn in upns:
        user_id = session.scalar(
            select(User.id).where(
                User.tenant_pk == tenant_pk,
                func.lower(User.upn) == upn.lower(),
                User.deleted_at.is_(None),
            )
        )
        if user_id is None:
            raise UsageError(f"There is no user {upn!r} in this tenant (as of the last sync).")
        facts = inputs.user_facts(session, tenant_pk, user_id, user_id)
        if not facts:
            raise UsageError(f"{upn} holds no licence: there is nothing to reclaim.")
        reasons = [f"named by {actor}"]
        why = protection(facts[0], policy)
        if why is not None:
            if not include_protected:
                refused.append(f"{facts[0].upn} {why}")
                continue
            reasons.append(f"{PROTECTED}{why}; included with {protected_hint}")
        found[user_id] = _Chosen(facts[0], reasons, None)
    if refused:
        raise UsageError(
            f"Protected from reclamation: {'; '.join(refused)}. Such users keep their licences "
            f"unless you include them explicitly with {protected_hint}."
        )
    return found


def make_plan(
    session: Session,
    tenant_pk: int,
    *,
    actor: str,
    policy: Policy,
    as_of: date,
    now: datetime,
    rules: Collection[str] = (),
    upns: Sequence[str] = (),
    only_managed: bool = False,
    picked: Collection[tuple[str, str]] | None = None,
    include_protected: bool = False,
    protected_hint: str = "--include-protected",
) -> ReclaimPlan:
    """Store a draft plan for the users the rules recommend reclaiming from (all reclaim rules
    when neither `rules` nor `upns` is given) plus the users named; return it.

    `picked` narrows the recommendations to those (rule, UPN) pairs (the UI's ticked rows).
    A protected user named in `upns` (see `protection`) is refused unless `include_protected`;
    `protected_hint` is how the caller's front end says that (an option, a tick box).

    Raises `UsageError` for an unknown rule or user and for a protected user not included, and
    `PlanError` when nobody qualifies.
    """
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise UsageError(f"Unknown rule {unknown[0]!r}; rules: {', '.join(RULES)}.")
    tenant = inputs.tenant_facts(session, tenant_pk)
    chosen: dict[str, _Chosen] = {}
    if picked is not None:
        wanted = {rule for rule, _ in picked}
        chosen.update(_recommended(session, tenant_pk, tenant, policy, as_of, wanted, set(picked)))
    elif rules or not upns:
        chosen.update(_recommended(session, tenant_pk, tenant, policy, as_of, rules))
    named_users = _named(session, tenant_pk, upns, actor, policy, include_protected, protected_hint)
    for user_id, named in named_users.items():
        if user_id in chosen:
            chosen[user_id].reasons.extend(named.reasons)
            chosen[user_id].skus = None
        else:
            chosen[user_id] = named
    if not chosen:
        raise PlanError(
            "Nobody to reclaim licences from: no recommendation of action 'reclaim'"
            + (f" for rule {', '.join(rules)}" if rules else "")
            + "; name users with --user."
        )
    ids = sorted(chosen)
    sign_ins: dict[str, datetime | None] = {}
    for part in _chunks(ids):
        for user_id, last_sign_in in session.execute(
            select(User.id, User.last_sign_in).where(User.tenant_pk == tenant_pk, User.id.in_(part))
        ):
            sign_ins[user_id] = last_sign_in
    plan = ReclaimPlan(
        tenant_pk=tenant_pk,
        status="draft",
        rules=sorted(rules),
        only_managed=only_managed,
        created_at=now,
        created_by=actor,
    )
    session.add(plan)
    session.flush()
    items = []
    for user_id in ids:
        user, reasons, skus = chosen[user_id].user, chosen[user_id].reasons, chosen[user_id].skus
        licences = _licences(user, tenant)
        was_excluded = excluded(user, policy) or seed_excluded(user, policy)
        items.append(
            {
                "tenant_pk": tenant_pk,
                "plan_pk": plan.pk,
                "user_id": user_id,
                "upn": user.upn,
                "reasons": reasons,
                "licences": [lic.record() for lic in licences],
                "remove": _to_remove(licences, only_managed, skus),
                "last_sign_in": sign_ins.get(user_id),
                "excluded": was_excluded,
                "state": "pending",
                "updated_at": now,
            }
        )
    session.execute(insert(ReclaimItem), items)
    summary = plan_summary(session, plan)
    audit.record(
        session,
        tenant_pk=tenant_pk,
        actor=actor,
        action="plan.create",
        plan_pk=plan.pk,
        message=(
            f"Plan {plan.pk}: {summary['users']} users, {summary['licences_to_remove']} licences "
            f"to remove, {summary['group_licences']} inherited from groups."
        ),
        at=now,
    )
    return plan


def get_plan(session: Session, tenant_pk: int, plan_pk: int) -> ReclaimPlan:
    """The tenant's plan `plan_pk`, or `UsageError`."""
    plan = session.get(ReclaimPlan, plan_pk)
    if plan is None or plan.tenant_pk != tenant_pk:
        raise UsageError(f"There is no reclamation plan {plan_pk} for this tenant.")
    return plan


def approve(session: Session, plan: ReclaimPlan, actor: str, now: datetime) -> None:
    """Approve a draft plan (the step between planning and applying)."""
    if plan.status != "draft":
        raise PlanError(f"Plan {plan.pk} is {plan.status}; only a draft plan can be approved.")
    plan.status = "approved"
    plan.approved_at = now
    plan.approved_by = actor
    audit.record(
        session,
        tenant_pk=plan.tenant_pk,
        actor=actor,
        action="plan.approve",
        plan_pk=plan.pk,
        message=f"Plan {plan.pk} approved.",
        at=now,
    )


def items_of(session: Session, plan: ReclaimPlan) -> list[ReclaimItem]:
    """The plan's items, by UPN."""
    return list(
        session.scalars(
            select(ReclaimItem)
            .where(ReclaimItem.tenant_pk == plan.tenant_pk, ReclaimItem.plan_pk == plan.pk)
            .order_by(ReclaimItem.upn)
        )
    )


def _freed(licences: Sequence[Licence], remove: Collection[str]) -> list[Licence]:
    """The direct licences whose removal frees a unit: not those the user also holds through a
    group (the group assignment keeps consuming it)."""
    grouped = {lic.sku_id for lic in licences if lic.via}
    return [
        lic
        for lic in licences
        if not lic.via and lic.sku_id in remove and lic.sku_id not in grouped
    ]


def savings_of(items: Sequence[ReclaimItem], *, done_only: bool) -> dict[str, str]:
    """Annual savings per currency of the managed licences removed (or to be removed)."""
    totals: dict[str, Decimal] = {}
    for item in items:
        if done_only and (item.state != "done" or item.undo_state == "done"):
            continue
        licences = licences_of(item)
        for lic in _freed(licences, item.remove):
            if lic.managed and lic.annual_cost is not None:
                currency = lic.currency or ""
                totals[currency] = totals.get(currency, Decimal(0)) + lic.annual_cost
    return {currency: money(amount) for currency, amount in sorted(totals.items())}


def plan_summary(session: Session, plan: ReclaimPlan) -> dict[str, Any]:
    """Counts and money of a plan, for `plan` and `show`."""
    items = items_of(session, plan)
    states: dict[str, int] = {}
    for item in items:
        states[item.state] = states.get(item.state, 0) + 1
    return {
        "id": plan.pk,
        "status": plan.status,
        "rules": list(plan.rules),
        "only_managed": plan.only_managed,
        "created_at": plan.created_at.isoformat(),
        "created_by": plan.created_by,
        "approved_at": plan.approved_at.isoformat() if plan.approved_at else None,
        "approved_by": plan.approved_by,
        "applied_at": plan.applied_at.isoformat() if plan.applied_at else None,
        "users": len(items),
        "licences_to_remove": sum(len(item.remove) for item in items),
        "unmanaged_to_remove": sum(
            1
            for item in items
            for lic in licences_of(item)
            if not lic.via and lic.sku_id in item.remove and not lic.managed
        ),
        "group_licences": sum(1 for item in items for lic in licences_of(item) if lic.via),
        "protected_users": sum(1 for item in items if protected_reason(item) is not None),
        "states": states,
        "annual_savings": savings_of(items, done_only=False),
        "realised_savings": plan.realised or {},
    }


def _action(lic: Licence, removed: Collection[str], only_managed: bool) -> str:
    if lic.via:
        return f"inherited from group {lic.via}: remove the user from that group instead"
    if lic.sku_id in removed:
        return "remove" if lic.managed else "remove (unmanaged SKU)"
    if only_managed and not lic.managed:
        return "keep (unmanaged SKU, --only-managed)"
    return "keep (not part of the recommendation)"


def protected_reason(item: ReclaimItem) -> str | None:
    """Why the item's user is protected and was included all the same, or None."""
    found = [r.removeprefix(PROTECTED) for r in item.reasons if r.startswith(PROTECTED)]
    return found[0] if found else None


def plan_records(session: Session, plan: ReclaimPlan) -> Iterator[dict[str, Any]]:
    """One record per user and licence, with `SHOW_KEYS` plus `user_id`, `via`, `reasons` and
    `protected` (why a protected user was included, else None)."""
    for item in items_of(session, plan):
        protected = protected_reason(item)
        for lic in licences_of(item):
            yield {
                "upn": item.upn,
                "user_id": item.user_id,
                "sku": lic.part,
                "sku_id": lic.sku_id,
                "via": lic.via or None,
                "action": _action(lic, item.remove, plan.only_managed),
                "managed": lic.managed,
                "annual_cost": None if lic.annual_cost is None else money(lic.annual_cost),
                "currency": lic.currency,
                "state": item.state,
                "undo_state": item.undo_state,
                "message": item.message,
                "reasons": list(item.reasons),
                "protected": protected,
            }
