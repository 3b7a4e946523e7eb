"""`seatwise recommendations`: what to reclaim, downgrade or review, with the yearly saving."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from seatwise.cli.context import Context
from seatwise.cli.output import OutputFormat, columns_option, emit, pick_columns, product_names
from seatwise.cli.report import FormatOption, TenantOption
from seatwise.errors import CheckFailed, UsageError

RuleOption = Annotated[
    list[str] | None,
    typer.Option("--rule", help="Only this rule's results (repeat for several)."),
]
CheckOption = Annotated[
    bool, typer.Option("--check", help="Exit with code 1 when anything is found (for cron).")
]
# The table's columns, most useful first (those that fit the terminal are shown).
TABLE_KEYS = (
    "upn",
    "action",
    "skus",
    "annual_savings",
    "currency",
    "evidence",
    "rule",
    "confidence",
    "when",
    "target_sku",
)


def recommendations(
    tenant: TenantOption = None,
    rule: RuleOption = None,
    format: FormatOption = OutputFormat.table,  # noqa: A002
    check: CheckOption = False,
    columns: Annotated[str | None, columns_option("recommendation")] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="Print at most N (the total and --check count them all)."
        ),
    ] = None,
) -> None:
    """What to reclaim, downgrade or review, and the savings.

    With the evidence and the saving a year; the table ends with the total per currency."""
    from seatwise.analytics.inputs import recommendations as inputs
    from seatwise.analytics.recommendations import KEYS, RULES, Policy, evaluate

    unknown = [r for r in rule or () if r not in RULES]
    if unknown:
        raise UsageError(f"Unknown rule {unknown[0]!r}; rules: {', '.join(RULES)}.")
    chosen = pick_columns(columns, KEYS)
    ctx = Context()
    policy = Policy.from_mapping(ctx.settings.recommendations.model_dump())
    as_of = datetime.now(UTC).date()
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        name = row.name
        facts = inputs.tenant_facts(session, row.pk)
        users = (user for batch in inputs.iter_user_facts(session, row.pk) for user in batch)
        found = list(evaluate(users, facts, policy, as_of, rules=rule))
    count = len(found)
    shown = found if limit is None else found[:limit]
    if format is not OutputFormat.table:
        emit((r.record() for r in shown), KEYS, format)
    else:
        records = [r.record() for r in found]
        emit(
            records[: len(shown)],
            TABLE_KEYS,
            format,
            title=f"Recommendations for {name}",
            empty="Nothing to recommend: every licence is in use"
            + (" by these rules." if rule else "."),
            columns=chosen,
            names=product_names(),
            choosable=True,
            headers={"skus": "licences"},
        )
        if records:
            more = f"Showing {len(shown):,} of {count:,}. " if len(shown) < count else ""
            typer.echo(more + _total(records))
    if check and count:
        raise CheckFailed(f"{count} recommendation{'s' if count != 1 else ''} found.")


def _total(records: list[dict[str, Any]]) -> str:
    """One sentence: how many recommendations, and what they save a year per currency."""
    from decimal import Decimal

    from seatwise.cli.output import table_text

    sums: dict[str, Decimal] = {}
    for record in records:
        if record["annual_savings"] is not None and record["currency"]:
            key = record["currency"]
            sums[key] = sums.get(key, Decimal(0)) + Decimal(record["annual_savings"])
    money = ", ".join(
        f"{table_text('annual_savings', f'{v:.2f}')} {k}" for k, v in sorted(sums.items())
    )
    many = f"{len(records):,} recommendation{'s' if len(records) != 1 else ''}"
    if not money:
        return f"{many}; no saving in money without contract prices (seatwise license set)."
    return f"{many}; potential savings per year: {money}."
