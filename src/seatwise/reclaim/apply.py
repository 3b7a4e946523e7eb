"""Applying and undoing an approved plan through Graph, 20 users at a time, safely.

For each chunk: re-read the users from Graph; skip (with the reason) anyone who signed in since
the plan, whose licences changed, or whom the policy now excludes; persist `sent`; call
`assignLicense` in one `$batch`; persist `done` or `failed` with an audit row. An item found
`sent` (a crash or SIGKILL came between the call and its record) is settled by the re-read: its
licences already gone means done, unchanged means send again, so nothing is removed twice.

Once every user is settled the plan is "applied" (licences removed, nobody failed), "partly
applied" (some removed, some refused) or "failed" (nothing removed). A 403 for `assignLicense`
is told apart: with the permission granted to a delegated sign-in, the admin lacks the License
Administrator role, which only another administrator can assign; applying the plan again
retries its failed users once that is done.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Lock
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from seatwise.analytics.recommendations import Assignment, Policy, UserFacts
from seatwise.analytics.recommendations.common import excluded, seed_excluded
from seatwise.errors import (
    PERMISSION_CODES,
    GraphError,
    PlanError,
    PlanNotApproved,
    UsageError,
    role_advice,
)
from seatwise.graph import GraphClient, endpoints
from seatwise.reclaim import audit
from seatwise.reclaim.observe import (
    Answer,
    LicenceKey,
    Observed,
    assign_many,
    licence_key,
    read_many,
)
from seatwise.reclaim.plans import Licence, get_plan, licences_of, savings_of
from seatwise.store import session_scope
from seatwise.store.schema import ReclaimItem, ReclaimPlan, Tenant, User
from seatwise.sync.context import scope_granted

__all__ = ["RETRYABLE_STATUSES", "Outcome", "ProgressFn", "apply_plan", "plan_outcome", "undo_plan"]

ProgressFn = Callable[[int, int], None]
"""Called with (users settled so far, users to settle)."""

RETRYABLE_STATUSES = ("partly applied", "failed")
"""Plan statuses whose failed users a new apply tries again (after the cause is fixed)."""
LICENCE_ROLE = "License Administrator"
# Delegated scopes that let `assignLicense` through when the signed-in admin has the role.
_LICENCE_SCOPES = (
    "LicenseAssignment.ReadWrite.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
)
ATTEMPTS = 3  # rounds per chunk when a batch itself fails (reset connection, Graph down)
# Chunks in flight at once: Graph allows a few concurrent requests per app and tenant, and a
# chunk waiting out a Retry-After no longer holds up the others.
WORKERS = 4


@dataclass
class Outcome:
    """What an apply or undo did: users per final state, and notes for the person running it."""

    done: int = 0
    failed: int = 0
    skipped: int = 0
    left: int = 0
    """Still pending or sent (Graph kept refusing for now): run the command again to resume."""
    notes: list[str] = field(default_factory=list)
    realised: dict[str, str] = field(default_factory=dict)
    status: str | None = None
    """The plan's status once the run ended."""
    refused: str | None = None
    """Graph refused a user for want of access (403): the advice, once."""
    refused_role: str | None = None
    """The directory role `refused` asks an administrator to assign (None: a permission)."""

    _lock: Lock = field(default_factory=Lock, repr=False, compare=False)

    def count(self, state: str) -> None:
        """Add one user that ended in `state` (chunks run on several threads)."""
        with self._lock:
            if state in ("done", "failed", "skipped"):
                setattr(self, state, getattr(self, state) + 1)
            else:
                self.left += 1


def _keys(licences: Sequence[Licence]) -> frozenset[LicenceKey]:
    return frozenset(licence_key(lic.sku_id, lic.via, lic.disabled_plans) for lic in licences)


def _without(licences: Sequence[Licence], removed: Collection[str]) -> frozenset[LicenceKey]:
    return _keys([lic for lic in licences if lic.via or lic.sku_id not in removed])


def _chunks(items: Sequence[ReclaimItem], size: int) -> Iterator[Sequence[ReclaimItem]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _now() -> datetime:
    return datetime.now(UTC)


def _graph_message(answer: Answer) -> str:
    text = answer.message or f"Graph answered {answer.status}"
    return f"{text} (HTTP {answer.status}{', ' + answer.code if answer.code else ''})"


def plan_outcome(states: Sequence[str]) -> str:
    """A settled plan's status from its users' states: "applied" when licences were removed and
    nobody failed, "partly applied" when some were removed and some failed, "failed" when
    nothing was removed (never "applied" with nothing done)."""
    done = sum(1 for state in states if state == "done")
    failed = sum(1 for state in states if state == "failed")
    if not done:
        return "failed"
    return "partly applied" if failed else "applied"


class _Run:
    """Shared machinery of apply and undo: the plan, its SKU names, the Graph re-reads, the
    chunked rounds and how a user's outcome is recorded."""

    ACTION = ""
    """The audit action of this run's Graph calls."""
    STATE, MESSAGE = "state", "message"
    """The item's columns this run moves along."""

    def __init__(
        self,
        engine: Engine,
        client: GraphClient,
        tenant_pk: int,
        plan_pk: int,
        actor: str,
        progress: ProgressFn | None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.tenant_pk = tenant_pk
        self.plan_pk = plan_pk
        self.actor = actor
        self.progress = progress or (lambda _done, _total: None)
        self.outcome = Outcome()
        with session_scope(engine) as session:
            tenant = session.get(Tenant, tenant_pk)
            self.sign_in = tenant is None or tenant.premium is not False
            self.parts: dict[str, str] = {}
            self.tenant_name = tenant.name if tenant is not None else str(tenant_pk)
            self.delegated = tenant is not None and tenant.auth_mode == "delegated"
            self.scopes = tenant.granted_scopes if tenant is not None else None

    def refusal(self, answer: Answer, what: str) -> str:
        """Why Graph refused `assignLicense` for a user, as advice: a 403 with the permission
        granted to a delegated sign-in means the admin lacks the License Administrator role
        (Graph says "Insufficient privileges" for both); else the permission is missing.
        The advice is kept once on the outcome too (`refused`, `refused_role`)."""
        said = _graph_message(answer)
        if answer.status != 403:
            return said
        granted = any(scope_granted(self.scopes, p) for p in _LICENCE_SCOPES)
        role = None
        if self.delegated and granted and answer.code not in PERMISSION_CODES:
            role = LICENCE_ROLE
            who = f"the account signed in for tenant {self.tenant_name}"
            advice = role_advice(what, role, who)
        else:
            advice = (
                f"{what} needs permission LicenseAssignment.ReadWrite.All: run `seatwise "
                f"connect {self.tenant_name}` again to reauthorize the tenant and grant it"
            )
        with self.outcome._lock:
            if self.outcome.refused is None:
                self.outcome.refused, self.outcome.refused_role = advice + ".", role
                self.outcome.notes.append(advice + ".")
        return f"{advice} (Graph said: {said})."

    def chunk(self, items: Sequence[ReclaimItem]) -> list[ReclaimItem]:
        """One round over up to 20 items; returns those still to settle."""
        raise NotImplementedError

    def settle(self, todo: Sequence[ReclaimItem]) -> None:
        """Run chunks of 20 users, `WORKERS` at a time, each up to `ATTEMPTS` rounds."""
        total, settled = len(todo), 0
        self.progress(0, total)

        def work(chunk: Sequence[ReclaimItem]) -> int:
            pending = list(chunk)
            for _ in range(ATTEMPTS):
                pending = self.chunk(pending)
                if not pending:
                    break
            for _item in pending:
                self.outcome.count("pending")
            return len(chunk)

        with ThreadPoolExecutor(WORKERS, thread_name_prefix="reclaim") as pool:
            for size in pool.map(work, _chunks(todo, endpoints.BATCH_MAX)):
                settled += size
                self.progress(settled, total)

    def claim(self, items: dict[str, ReclaimItem]) -> dict[str, ReclaimItem]:
        """Mark `items` sent, each only if nobody changed it since it was read (another apply or
        undo of the same plan running at the same time); return the ones this run may send."""
        column = getattr(ReclaimItem, self.STATE)
        mine: dict[str, ReclaimItem] = {}
        with session_scope(self.engine, immediate=True) as session:
            for user_id, item in items.items():
                stamp = _now()
                changed = session.execute(
                    update(ReclaimItem)
                    .where(
                        ReclaimItem.tenant_pk == self.tenant_pk,
                        ReclaimItem.plan_pk == self.plan_pk,
                        ReclaimItem.user_id == user_id,
                        column.is_(None)
                        if getattr(item, self.STATE) is None
                        else column == getattr(item, self.STATE),
                        ReclaimItem.updated_at == item.updated_at,
                    )
                    .values({self.STATE: "sent", "updated_at": stamp})
                )
                if changed.rowcount == 1:  # type: ignore[attr-defined]
                    setattr(item, self.STATE, "sent")
                    item.updated_at = stamp
                    mine[user_id] = item
        taken = len(items) - len(mine)
        if taken:
            with self.outcome._lock:
                self.outcome.notes.append(
                    f"{taken} user(s) were being changed by another run of this plan at the "
                    "same time and were left to it."
                )
        return mine

    def finish(self, item: ReclaimItem, state: str, message: str | None, **fields: Any) -> None:
        """Persist a user's final state for this run and its audit row, in one transaction."""
        with session_scope(self.engine, immediate=True) as session:
            row = session.get(ReclaimItem, (self.tenant_pk, self.plan_pk, item.user_id))
            assert row is not None
            setattr(row, self.STATE, state)
            setattr(item, self.STATE, state)
            setattr(row, self.MESSAGE, message)
            row.updated_at = item.updated_at = _now()
            if self.STATE == "state" and "request_id" in fields:
                row.request_id = fields["request_id"]
            audit.record(
                session,
                tenant_pk=self.tenant_pk,
                actor=self.actor,
                action=self.ACTION,
                outcome="ok" if state == "done" else state,
                plan_pk=self.plan_pk,
                user_id=item.user_id,
                upn=item.upn,
                message=message,
                **fields,
            )
        self.outcome.count(state)

    def remember_parts(self, items: Sequence[ReclaimItem]) -> None:
        """SKU part numbers for the audit rows."""
        for item in items:
            for lic in licences_of(item):
                self.parts[lic.sku_id] = lic.part

    def read(self, user_ids: Sequence[str]) -> dict[str, Observed | Answer]:
        """Re-read users, without `signInActivity` once the tenant turns out to lack P1."""
        found = read_many(self.client, user_ids, sign_in=self.sign_in)
        if self.sign_in and any(isinstance(v, Answer) and v.no_premium for v in found.values()):
            with self.outcome._lock:
                if self.sign_in:
                    self.sign_in = False
                    self.outcome.notes.append(
                        "The tenant has no Entra ID P1: sign-ins since the plan could not be "
                        "checked."
                    )
            found = read_many(self.client, user_ids, sign_in=False)
        return found


def _load(engine: Engine, tenant_pk: int, plan_pk: int) -> tuple[ReclaimPlan, list[ReclaimItem]]:
    with session_scope(engine) as session:
        plan = get_plan(session, tenant_pk, plan_pk)
        items = list(
            session.scalars(
                select(ReclaimItem)
                .where(ReclaimItem.tenant_pk == tenant_pk, ReclaimItem.plan_pk == plan_pk)
                .order_by(ReclaimItem.upn)
            )
        )
        return plan, items


# -- apply ------------------------------------------------------------------------------------


class _Apply(_Run):
    ACTION = "licence.remove"
    policy = Policy()
    kinds: dict[str, tuple[str | None, bool | None]]

    def load_kinds(self, user_ids: Sequence[str]) -> None:
        """Account kind and MFA registration (not in Graph's user) from the last sync."""
        with session_scope(self.engine) as session:
            for start in range(0, len(user_ids), 500):
                part = user_ids[start : start + 500]
                for user_id, kind, mfa in session.execute(
                    select(User.id, User.kind, User.mfa_registered).where(
                        User.tenant_pk == self.tenant_pk, User.id.in_(part)
                    )
                ):
                    self.kinds[user_id] = (kind, mfa)

    def excluded_now(self, item: ReclaimItem, seen: Observed) -> bool:
        kind, mfa = self.kinds.get(item.user_id, (None, None))
        facts = UserFacts(
            id=item.user_id,
            upn=seen.upn or item.upn,
            kind=kind,
            mfa_registered=mfa,
            on_premises_sync=seen.on_premises_sync,
            assignments=tuple(
                Assignment(sku, via, frozenset(off)) for sku, via, off in seen.licences
            ),
        )
        return excluded(facts, self.policy) or seed_excluded(facts, self.policy)

    def judge(self, item: ReclaimItem, seen: Observed | Answer) -> tuple[str, str | None]:
        """'send', 'confirm' (already removed), 'wait' (read failed for now), or a final state
        ('skipped'/'failed') with the reason."""
        if isinstance(seen, Answer):
            if seen.status == 404:
                return "skipped", "The user no longer exists in the tenant."
            if seen.retryable or item.state == "sent":  # a sent removal must be settled
                return "wait", None
            return "failed", f"Could not re-read the user: {_graph_message(seen)}"
        licences = licences_of(item)
        before = _keys(licences)
        if item.state == "sent":
            # Only the SKUs sent decide: the rest of the user may have changed meanwhile.
            direct = {sku for sku, via, _ in seen.licences if not via}
            still = [sku for sku in item.remove if sku in direct]
            if not still:
                return "confirm", None
            if len(still) < len(item.remove):
                return "failed", (
                    "Only part of the removal is visible in Graph "
                    f"({', '.join(still)} still assigned directly); check the user."
                )
        if seen.licences != before:
            return "skipped", "Licences changed since the plan was made."
        if not item.remove:
            groups = sorted({lic.via for lic in licences if lic.via})
            reason = "Nothing to remove directly"
            if groups:
                reason += f": remove the user from group {', '.join(groups)} instead"
            return "skipped", reason + "."
        if seen.sign_in_known and seen.last_sign_in is not None:
            if item.last_sign_in is None or seen.last_sign_in > item.last_sign_in:
                day = seen.last_sign_in.date().isoformat()
                return "skipped", f"Signed in on {day}, after the plan was made."
        if not item.excluded and self.excluded_now(item, seen):
            return "skipped", "Excluded by the recommendation policy since the plan was made."
        return "send", None

    def chunk(self, items: Sequence[ReclaimItem]) -> list[ReclaimItem]:
        """One round over up to 20 items; returns those still to settle."""
        try:
            seen = self.read([item.user_id for item in items])
        except GraphError:
            return list(items)  # the next round reads them again
        send: dict[str, ReclaimItem] = {}
        unsettled: list[ReclaimItem] = []
        for item in items:
            verdict, reason = self.judge(item, seen[item.user_id])
            current = seen[item.user_id]
            if verdict == "send":
                send[item.user_id] = item
            elif verdict == "confirm":
                assert isinstance(current, Observed)
                self.finish(
                    item,
                    "done",
                    "Removal confirmed after an interrupted apply.",
                    before=[lic.record() for lic in licences_of(item)],
                    after=current.records(self.parts),
                )
            elif verdict == "wait":
                unsettled.append(item)
            else:
                self.finish(
                    item,
                    verdict,
                    reason,
                    before=[lic.record() for lic in licences_of(item)],
                    after=current.records(self.parts) if isinstance(current, Observed) else None,
                )
        send = self.claim(send)  # recorded before the calls
        if send:
            try:
                answers = assign_many(
                    self.client, {uid: ([], item.remove) for uid, item in send.items()}
                )
            except GraphError:
                return unsettled + list(send.values())  # settled by the next round's re-read
            for user_id, item in send.items():
                answer = answers[user_id]
                licences = licences_of(item)
                before = [lic.record() for lic in licences]
                if answer.ok:
                    after = [
                        lic.record() for lic in licences if lic.via or lic.sku_id not in item.remove
                    ]
                    self.finish(
                        item, "done", None, before=before, after=after, request_id=answer.request_id
                    )
                elif answer.retryable or answer.status >= 500:
                    unsettled.append(item)  # not done, or not known: the next re-read settles it
                else:
                    self.finish(
                        item,
                        "failed",
                        self.refusal(answer, "Removing licences"),
                        before=before,
                        after=before,
                        request_id=answer.request_id,
                    )
        return unsettled


def apply_plan(
    engine: Engine,
    client: GraphClient,
    tenant_pk: int,
    plan_pk: int,
    *,
    actor: str,
    policy: Policy,
    progress: ProgressFn | None = None,
) -> Outcome:
    """Apply an approved plan (or resume one being applied; or try the failed users of one that
    ended "failed" or "partly applied" again); a plan already applied does nothing. Raises
    `PlanNotApproved` for a draft and `PlanError` for an undone plan."""
    plan, items = _load(engine, tenant_pk, plan_pk)
    if plan.status == "draft":
        raise PlanNotApproved(
            f"Plan {plan_pk} is not approved: run `seatwise reclaim approve {plan_pk}` first."
        )
    if plan.status == "undone":
        raise PlanError(f"Plan {plan_pk} was undone; make a new plan to reclaim again.")
    run = _Apply(engine, client, tenant_pk, plan_pk, actor, progress)
    run.policy, run.kinds = policy, {}
    retry = plan.status in RETRYABLE_STATUSES  # its failed users are tried again
    todo = [item for item in items if item.state in ("pending", "sent", *(("failed",) * retry))]
    if not todo and (plan.status == "applied" or retry):
        run.outcome.notes.append(
            f"Plan {plan_pk} was already applied: nothing to do."
            if plan.status == "applied"
            else f"Plan {plan_pk} ended {plan.status} and has no failed user to try again."
        )
        run.outcome.realised = dict(plan.realised or {})
        run.outcome.status = plan.status
        return run.outcome
    with session_scope(engine, immediate=True) as session:
        row = get_plan(session, tenant_pk, plan_pk)
        row.status = "applying"
        row.applied_by = actor
        row.applied_at = row.applied_at or _now()
    run.remember_parts(items)
    run.load_kinds([item.user_id for item in todo])
    run.settle(todo)
    return _close(engine, tenant_pk, plan_pk, run.outcome, applying=True)


def _close(
    engine: Engine, tenant_pk: int, plan_pk: int, outcome: Outcome, *, applying: bool
) -> Outcome:
    """Record the plan's realised savings and status from its items' states."""
    with session_scope(engine, immediate=True) as session:
        plan = get_plan(session, tenant_pk, plan_pk)
        items = list(
            session.scalars(
                select(ReclaimItem).where(
                    ReclaimItem.tenant_pk == tenant_pk, ReclaimItem.plan_pk == plan_pk
                )
            )
        )
        plan.realised = savings_of(items, done_only=True)
        outcome.realised = dict(plan.realised)
        if applying:
            if all(item.state not in ("pending", "sent") for item in items):
                plan.status = plan_outcome([item.state for item in items])
        else:
            done = [item for item in items if item.state == "done"]
            if done and all(item.undo_state == "done" for item in done):
                plan.status = "undone"
        outcome.status = plan.status
    if outcome.left:
        verb = "apply" if applying else "undo"
        outcome.notes.append(
            f"{outcome.left} user(s) could not be settled now (Graph kept refusing or throttling): "
            f"run `seatwise reclaim {verb} {plan_pk}` again to resume."
        )
    return outcome


# -- undo -------------------------------------------------------------------------------------


class _Undo(_Run):
    ACTION = "licence.restore"
    STATE, MESSAGE = "undo_state", "undo_message"

    def judge(self, item: ReclaimItem, seen: Observed | Answer) -> tuple[str, str | None]:
        if isinstance(seen, Answer):
            if seen.status == 404:
                return "failed", "The user no longer exists in the tenant; nothing to restore to."
            if seen.retryable:
                return "wait", None
            return "failed", f"Could not re-read the user: {_graph_message(seen)}"
        missing = self.missing(item, seen)
        if not missing:
            return "confirm", None
        return "send", None

    def missing(self, item: ReclaimItem, seen: Observed) -> list[Licence]:
        """Removed direct licences the user does not hold now (with the same disabled plans)."""
        return [
            lic
            for lic in licences_of(item)
            if not lic.via
            and lic.sku_id in item.remove
            and licence_key(lic.sku_id, "", lic.disabled_plans) not in seen.licences
        ]

    def chunk(self, items: Sequence[ReclaimItem]) -> list[ReclaimItem]:
        try:
            seen = self.read([item.user_id for item in items])
        except GraphError:
            return list(items)
        send: dict[str, tuple[ReclaimItem, list[Licence], Observed]] = {}
        unsettled: list[ReclaimItem] = []
        for item in items:
            current = seen[item.user_id]
            verdict, reason = self.judge(item, current)
            if verdict == "wait":
                unsettled.append(item)
            elif verdict == "confirm":
                assert isinstance(current, Observed)
                note = (
                    "Restored after an interrupted undo."
                    if item.undo_state == "sent"
                    else ("The licences were already assigned again.")
                )
                self.finish(item, "done", note, after=current.records(self.parts))
            elif verdict == "send":
                assert isinstance(current, Observed)
                send[item.user_id] = (item, self.missing(item, current), current)
            else:
                self.finish(item, verdict, reason)
        mine = self.claim({uid: item for uid, (item, _, _) in send.items()})
        send = {uid: entry for uid, entry in send.items() if uid in mine}
        if not send:
            return unsettled
        changes: dict[str, tuple[list[dict[str, object]], list[str]]] = {
            uid: (
                [{"skuId": lic.sku_id, "disabledPlans": list(lic.disabled_plans)} for lic in add],
                [],
            )
            for uid, (_, add, _) in send.items()
        }
        try:
            answers = assign_many(self.client, changes)
        except GraphError:
            return unsettled + [item for item, _, _ in send.values()]
        for user_id, (item, add, current) in send.items():
            answer = answers[user_id]
            before = current.records(self.parts)
            if answer.ok:
                restored = {licence_key(lic.sku_id, "", lic.disabled_plans) for lic in add}
                after = [
                    {"sku_id": s, "part": self.parts.get(s, s), "via": v, "disabled_plans": list(o)}
                    for s, v, o in sorted(current.licences | restored)
                ]
                self.finish(
                    item, "done", None, before=before, after=after, request_id=answer.request_id
                )
            elif answer.retryable or answer.status >= 500:
                unsettled.append(item)  # not done, or not known: the next re-read settles it
            else:
                names = ", ".join(lic.part for lic in add)
                reason = (
                    self.refusal(answer, "Giving back licences")
                    if answer.status == 403
                    else _graph_message(answer)
                )
                self.finish(
                    item,
                    "failed",
                    f"Could not restore {names}: {reason}",
                    before=before,
                    after=before,
                    request_id=answer.request_id,
                )
        return unsettled


def undo_plan(
    engine: Engine,
    client: GraphClient,
    tenant_pk: int,
    plan_pk: int,
    *,
    actor: str,
    upns: Sequence[str] = (),
    progress: ProgressFn | None = None,
) -> Outcome:
    """Give back the licences a plan removed (all users, or those in `upns`), with the same
    disabled plans. A user Graph refuses (no free units, no usage location) fails alone."""
    plan, items = _load(engine, tenant_pk, plan_pk)
    if plan.status in ("draft", "approved"):
        raise PlanError(f"Plan {plan_pk} has not been applied: there is nothing to undo.")
    unsettled = [item.upn for item in items if item.state in ("pending", "sent")]
    if plan.status == "applying" and unsettled:
        raise PlanError(
            f"Plan {plan_pk} is still being applied ({len(unsettled)} user(s) not settled): "
            f"run `seatwise reclaim apply {plan_pk}` to finish it first, then undo."
        )
    chosen = [item for item in items if item.state == "done"]
    if upns:
        wanted = {u.lower() for u in upns}
        unknown = sorted(wanted - {item.upn.lower() for item in items})
        if unknown:
            raise UsageError(f"{unknown[0]} is not in plan {plan_pk}.")
        chosen = [item for item in chosen if item.upn.lower() in wanted]
    todo = [item for item in chosen if item.undo_state != "done"]
    run = _Undo(engine, client, tenant_pk, plan_pk, actor, progress)
    if not todo:
        run.outcome.notes.append(f"Nothing to undo in plan {plan_pk}.")
        return _close(engine, tenant_pk, plan_pk, run.outcome, applying=False)
    run.remember_parts(items)
    run.settle(todo)
    return _close(engine, tenant_pk, plan_pk, run.outcome, applying=False)
