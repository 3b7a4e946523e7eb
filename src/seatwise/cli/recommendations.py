"""`seatwise recommendations`: what to reclaim, downgrade or review, with the yearly saving."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from seatwise.cli.context import Context
from seatwise.cli.output import OutputFormat, emit
from seatwise.cli.report import FormatOption, TenantOption
from seatwise.errors import CheckFailed, UsageError

RuleOption = Annotated[
    list[str] | None,
    typer.Option("--rule", help="Only this rule's results (repeat for several)."),
]
CheckOption = Annotated[
    bool, typer.Option("--check", help="Exit with code 1 when anything is found (for cron).")
]
TABLE_KEYS = (
    "rule",
    "upn",
    "action",
    "skus",
    "target_sku",
    "confidence",
    "annual_savings",
    "currency",
    "when",
)


def recommendations(
    tenant: TenantOption = None,
    rule: RuleOption = None,
    format: FormatOption = OutputFormat.table,  # noqa: A002
    check: CheckOption = False,
) -> None:
    """Licences to reclaim, downgrade or review, with evidence and annual savings (DESIGN §5)."""
    from seatwise.analytics.inputs import recommendations as inputs
    from seatwise.analytics.recommendations import KEYS, RULES, Policy, evaluate

    unknown = [r for r in rule or () if r not in RULES]
    if unknown:
        raise UsageError(f"Unknown rule {unknown[0]!r}; rules: {', '.join(RULES)}.")
    ctx = Context()
    policy = Policy.from_mapping(ctx.settings.recommendations.model_dump())
    as_of = datetime.now(UTC).date()
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        name = row.name
        facts = inputs.tenant_facts(session, row.pk)
        users = (user for batch in inputs.iter_user_facts(session, row.pk) for user in batch)
        found = evaluate(users, facts, policy, as_of, rules=rule)
    keys = KEYS if format is not OutputFormat.table else TABLE_KEYS
    count = emit((r.record() for r in found), keys, format, title=f"Recommendations for {name}")
    if check and count:
        raise CheckFailed(f"{count} recommendation{'s' if count != 1 else ''} found.")
