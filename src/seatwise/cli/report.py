"""`seatwise users` (and, later, licenses, activity, recommendations): views over stored data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer

from seatwise.cli.context import Context
from seatwise.cli.output import OutputFormat, emit

TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Tenant name (optional when only one exists).")
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")]

TABLE_KEYS = (
    "upn",
    "display_name",
    "licenses",
    "block_credentials",
    "mfa_enabled",
    "last_used_app",
    "last_activity",
    "days_since_last_activity",
    "guest",
)


def users(tenant: TenantOption = None, format: FormatOption = OutputFormat.table) -> None:  # noqa: A002
    """Every user with licences, sign-in, activity, storage and platforms (DESIGN §4)."""
    from seatwise.analytics.inputs import users as inputs
    from seatwise.analytics.users import KEYS, build

    ctx = Context()
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        names = inputs.sku_names(session, row.pk)

        def records() -> Iterator[dict[str, Any]]:
            for batch in inputs.iter_user_facts(session, row.pk):
                for facts in batch:
                    yield build(facts, names)

        keys = KEYS if format is not OutputFormat.table else TABLE_KEYS
        emit(records(), keys, format, title=f"Users of {row.name}")
