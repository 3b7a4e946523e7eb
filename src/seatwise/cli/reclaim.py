"""`seatwise reclaim plan|show|approve|apply|undo` and `seatwise audit`.

Dry-run is the default: `apply` and `undo` show what they would do and act only after a yes
(the prompt, or `--yes`); nothing reaches Graph without an approved plan.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from seatwise.cli.context import Context
from seatwise.cli.output import OutputFormat, columns_option, emit, pick_columns, product_names
from seatwise.cli.report import FormatOption, TenantOption
from seatwise.errors import UsageError

if TYPE_CHECKING:
    from seatwise.reclaim import Outcome

__all__ = ["audit", "reclaim_app"]

reclaim_app = typer.Typer(
    help="Take licences back: plan, approve, apply, undo.", no_args_is_help=True
)
err = Console(stderr=True, highlight=False, soft_wrap=True)

PlanId = Annotated[int, typer.Argument(help="The plan's id (printed by `reclaim plan`).")]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Act without asking (for scripts); default: dry run.")
]


def _policy(ctx: Context) -> Any:
    from seatwise.workspace.plans import policy

    return policy(ctx)


def _money(values: dict[str, str]) -> str:
    return ", ".join(f"{amount} {currency}" for currency, amount in values.items()) or "none"


@reclaim_app.command("plan")
def plan(
    tenant: TenantOption = None,
    rule: Annotated[
        list[str] | None,
        typer.Option("--rule", help="Users this recommendation rule says to reclaim (repeat)."),
    ] = None,
    user: Annotated[
        list[str] | None, typer.Option("--user", help="This user (UPN), whatever the rules say.")
    ] = None,
    only_managed: Annotated[
        bool, typer.Option("--only-managed", help="Leave licences of unmanaged SKUs in place.")
    ] = False,
    include_protected: Annotated[
        bool,
        typer.Option(
            "--include-protected",
            help="Reclaim from protected users named with --user too (MFA, SSO, or excluded "
            "by the policy); without it they are refused.",
        ),
    ] = False,
    format: FormatOption = OutputFormat.table,  # noqa: A002
) -> None:
    """Make a draft plan from the reclaim recommendations (all rules unless --rule) and the
    users named with --user; print its id. A protected user (MFA or SSO sign-in, or excluded by
    the policy) named with --user is refused (exit 2) unless --include-protected."""
    from seatwise.reclaim import make_plan, plan_summary
    from seatwise.reclaim.audit import current_actor

    ctx = Context()
    now = datetime.now(UTC)
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        made = make_plan(
            session,
            row.pk,
            actor=current_actor(),
            policy=_policy(ctx),
            as_of=now.date(),
            now=now,
            rules=rule or (),
            upns=user or (),
            only_managed=only_managed,
            include_protected=include_protected,
        )
        summary = plan_summary(session, made)
    if format is OutputFormat.json:
        sys.stdout.write(_json(summary))
        return
    err.print(
        f"Plan {summary['id']} (draft): {summary['users']} users, "
        f"{summary['licences_to_remove']} licences to remove "
        f"({summary['unmanaged_to_remove']} of unmanaged SKUs), "
        f"{summary['group_licences']} inherited from groups (left alone); "
        f"annual savings {_money(summary['annual_savings'])}. "
        + (
            f"It includes {summary['protected_users']} protected user(s) on purpose. "
            if summary["protected_users"]
            else ""
        )
        + f"Review it with `seatwise reclaim show {summary['id']}`, then approve it."
    )
    sys.stdout.write(f"{summary['id']}\n")


def _json(value: object) -> str:
    import orjson

    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n"


@reclaim_app.command("show")
def show(
    plan_id: PlanId,
    tenant: TenantOption = None,
    format: FormatOption = OutputFormat.table,  # noqa: A002
) -> None:
    """Every user of the plan with every licence: removed, kept, or inherited from a group."""
    from seatwise.reclaim import get_plan, plan_records, plan_summary
    from seatwise.reclaim.plans import SHOW_KEYS

    ctx = Context()
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        found = get_plan(session, row.pk, plan_id)
        summary = plan_summary(session, found)
        records = list(plan_records(session, found))
    if format is OutputFormat.json:
        sys.stdout.write(_json({**summary, "licences": records}))
        return
    keys: tuple[str, ...] = (*SHOW_KEYS, "user_id", "via")
    if format is OutputFormat.table:  # what happens to whom first, then the money and why
        keys = ("upn", "sku", "action", "state", "annual_cost", "currency", "message", "managed")
    emit(
        records,
        keys,
        format,
        title=f"Plan {plan_id} ({summary['status']})",
        empty=f"Plan {plan_id} holds no licence.",
        names=product_names(),
    )
    if format is OutputFormat.table:
        err.print(
            f"{summary['users']} users, {summary['licences_to_remove']} licences to remove, "
            f"annual savings {_money(summary['annual_savings'])}; realised "
            f"{_money(summary['realised_savings'])}. Created by {summary['created_by']}"
            + (f", approved by {summary['approved_by']}." if summary["approved_by"] else ".")
        )
        outcome = _outcome_sentence(plan_id, summary)
        if outcome:
            err.print(outcome)
        protected = {r["upn"]: r["protected"] for r in records if r.get("protected")}
        for upn, why in protected.items():
            err.print(f"Protected, included on purpose: {upn} — {why}.")


def _outcome_sentence(plan_id: int, summary: dict[str, Any]) -> str | None:
    """What a plan's status means once applying ended (failed, partly applied)."""
    states = summary["states"]
    done, failed, skipped = (states.get(s, 0) for s in ("done", "failed", "skipped"))
    if summary["status"] == "failed":
        return (
            f"Plan {plan_id} failed: no licence was removed ({failed} user(s) failed, {skipped} "
            f"skipped); see each user's message, fix the cause, then run `seatwise reclaim "
            f"apply {plan_id}` again to retry the failed users."
        )
    if summary["status"] == "partly applied":
        return (
            f"Plan {plan_id} is partly applied: {done} user(s) done, {failed} failed, {skipped} "
            f"skipped; see the failed users' messages, then run `seatwise reclaim apply "
            f"{plan_id}` again to retry them."
        )
    return None


@reclaim_app.command("approve")
def approve(plan_id: PlanId, tenant: TenantOption = None) -> None:
    """Approve a draft plan, so that it can be applied."""
    from seatwise.reclaim import approve as approve_plan
    from seatwise.reclaim import get_plan
    from seatwise.reclaim.audit import current_actor

    ctx = Context()
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        approve_plan(
            session, get_plan(session, row.pk, plan_id), current_actor(), datetime.now(UTC)
        )
    err.print(f"Plan {plan_id} approved. Apply it with `seatwise reclaim apply {plan_id}`.")


def _confirm(yes: bool, question: str) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        err.print("Dry run: nothing was sent to Graph. Run again with --yes to act.")
        return False
    return typer.confirm(question, default=False, err=True)


def _run_with_bar(title: str, work: Any) -> Outcome:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as bar:
        task = bar.add_task(title, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        outcome: Outcome = work(progress)
    return outcome


def _report(outcome: Outcome, verb: str) -> None:
    err.print(
        f"{verb}: {outcome.done} done, {outcome.skipped} skipped, {outcome.failed} failed"
        + (f", {outcome.left} left to resume" if outcome.left else "")
        + f". Realised annual savings: {_money(outcome.realised)}."
    )
    for note in outcome.notes:
        if note != outcome.refused:  # said once, as the error the command ends with
            err.print(note)


def _fail_if_left(outcome: Outcome, verb: str, plan_id: int) -> None:
    """Exit 4 when Graph kept some users from being settled (the command can be run again)."""
    if outcome.left:
        from seatwise.errors import GraphThrottled

        raise GraphThrottled(
            f"{outcome.left} user(s) of plan {plan_id} are not settled yet because Graph kept "
            f"refusing or throttling; run `seatwise reclaim {verb} {plan_id}` again."
        )


@reclaim_app.command("apply")
def apply(plan_id: PlanId, tenant: TenantOption = None, yes: YesOption = False) -> None:
    """Remove the plan's licences through Graph (re-checking each user first); resumes an
    interrupted apply; does nothing for a plan already applied."""
    from seatwise.reclaim import get_plan, plan_summary
    from seatwise.reclaim.audit import current_actor
    from seatwise.workspace import plans as plan_jobs

    ctx = Context()
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        summary = plan_summary(session, get_plan(session, row.pk, plan_id))
        client = ctx.graph_client(row)
        tenant_pk, name = row.pk, row.name
    if summary["status"] == "draft":
        client.close()
        raise UsageError(
            f"Plan {plan_id} is not approved: run `seatwise reclaim approve {plan_id}` first."
        )
    states = summary["states"]
    pending = states.get("pending", 0) + states.get("sent", 0)
    if summary["status"] in ("failed", "partly applied"):
        pending += states.get("failed", 0)  # tried again
    question = (
        f"Remove {summary['licences_to_remove']} licences from {pending} users of {name} "
        f"through Graph?"
    )
    if pending and not _confirm(yes, question):
        client.close()
        return
    outcome = _run_with_bar(
        f"Applying plan {plan_id}",
        lambda progress: plan_jobs.apply(
            ctx, tenant_pk, plan_id, actor=current_actor(), progress=progress, client=client
        ),
    )
    _report(outcome, f"Plan {plan_id}")
    if outcome.status in ("failed", "partly applied"):
        err.print(f"Plan {plan_id} is now {outcome.status}.")
    if outcome.done:
        err.print("Run `seatwise sync` to see the freed units in the licence positions.")
    _fail_if_left(outcome, "apply", plan_id)
    _fail_if_refused(outcome)


def _fail_if_refused(outcome: Outcome) -> None:
    """Exit 3 when Graph refused users for want of a role or permission (already reported)."""
    if outcome.refused is None:
        return
    from seatwise.errors import AuthError, RoleMissing

    if outcome.refused_role is not None:
        raise RoleMissing("reclaim", outcome.refused_role, outcome.refused)
    raise AuthError(outcome.refused)


@reclaim_app.command("undo")
def undo(
    plan_id: PlanId,
    tenant: TenantOption = None,
    user: Annotated[
        list[str] | None, typer.Option("--user", help="Only this user (UPN); repeat for more.")
    ] = None,
    yes: YesOption = False,
) -> None:
    """Give back the licences the plan removed, with the same disabled plans."""
    from seatwise.reclaim import get_plan
    from seatwise.reclaim.audit import current_actor
    from seatwise.workspace import plans as plan_jobs

    ctx = Context()
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        status = get_plan(session, row.pk, plan_id).status
        if status in ("draft", "approved"):
            from seatwise.errors import PlanError

            raise PlanError(f"Plan {plan_id} has not been applied: there is nothing to undo.")
        client = ctx.graph_client(row)
        tenant_pk = row.pk
    who = ", ".join(user) if user else "every user"
    if not _confirm(yes, f"Restore the licences plan {plan_id} removed from {who}?"):
        client.close()
        return
    outcome = _run_with_bar(
        f"Undoing plan {plan_id}",
        lambda progress: plan_jobs.undo(
            ctx,
            tenant_pk,
            plan_id,
            actor=current_actor(),
            upns=user or (),
            progress=progress,
            client=client,
        ),
    )
    _report(outcome, f"Undo of plan {plan_id}")
    _fail_if_left(outcome, "undo", plan_id)
    _fail_if_refused(outcome)


def audit(
    tenant: TenantOption = None,
    plan: Annotated[int | None, typer.Option("--plan", help="Only this plan's events.")] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the newest N events.")
    ] = None,
    format: FormatOption = OutputFormat.table,  # noqa: A002
    columns: Annotated[str | None, columns_option("audit")] = None,
) -> None:
    """The audit log of every change, newest first.

    Every change made to a tenant, by whom and when (times in UTC)."""
    from seatwise.reclaim.audit import KEYS, events

    chosen = pick_columns(columns, KEYS)
    ctx = Context()
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        records: list[dict[str, Any]] = list(
            events(
                session,
                row.pk,
                plan_pk=plan,
                limit=limit,
                flat=format is not OutputFormat.json,
            )
        )
        name = row.name
    keys: tuple[str, ...] = KEYS
    if format is OutputFormat.table:
        keys = ("at", "action", "upn", "outcome", "actor", "plan", "message", "before", "after")
    emit(
        records,
        keys,
        format,
        title=f"Audit log of {name} (UTC)",
        empty="No changes recorded" + (f" for plan {plan}." if plan is not None else " yet."),
        columns=chosen,
        choosable=True,
    )
