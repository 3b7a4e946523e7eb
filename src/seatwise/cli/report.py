"""`seatwise users`: the Users view over stored data, with filters, sort and paging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer

from seatwise.cli.context import Context
from seatwise.cli.output import OutputFormat, columns_option, emit, pick_columns

TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", metavar="NAME", help="Tenant name (optional when only one exists)."),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", help="table (fitted to the terminal), csv or json (every field)."),
]
IncludeUnmanagedOption = Annotated[
    bool,
    typer.Option(
        "--include-unmanaged",
        help="Also show and count licences of unmanaged SKUs (left out by default).",
    ),
]

# After analytics.users.FIRST_KEYS, the table's next columns: those that fit the terminal show.
TABLE_EXTRA_KEYS = ("display_name", "last_used_app", "guest")


def users(
    tenant: TenantOption = None,
    format: FormatOption = OutputFormat.table,  # noqa: A002
    upn: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Only UPNs containing this text.")
    ] = None,
    license: Annotated[  # noqa: A002
        str | None,
        typer.Option(
            "--license", metavar="SKU", help="Only holders of this SKU (part number or id)."
        ),
    ] = None,
    guest: Annotated[
        bool | None, typer.Option("--guest/--no-guest", help="Guests or members.")
    ] = None,
    blocked: Annotated[
        bool | None, typer.Option("--blocked/--no-blocked", help="Blocked sign-in or not.")
    ] = None,
    mfa: Annotated[
        bool | None, typer.Option("--mfa/--no-mfa", help="MFA registered or not.")
    ] = None,
    inactive_days: Annotated[
        int | None,
        typer.Option(min=0, metavar="DAYS", help="No activity in the last DAYS days (or never)."),
    ] = None,
    country: Annotated[
        str | None, typer.Option(metavar="COUNTRY", help="Only users in this country.")
    ] = None,
    sort: Annotated[
        str,
        typer.Option(metavar="[-]KEY", help="Sort by any column; prefix with '-' for descending."),
    ] = "upn",
    limit: Annotated[int | None, typer.Option(min=1, metavar="N", help="At most N users.")] = None,
    offset: Annotated[int, typer.Option(min=0, metavar="N", help="Skip N users first.")] = 0,
    include_unmanaged: IncludeUnmanagedOption = False,
    columns: Annotated[str | None, columns_option("user")] = None,
) -> None:
    """Every user: licences, activity, sign-in, MFA, storage.

    The table shows the columns that fit the terminal (all of them with --format json or csv).
    Licences of unmanaged SKUs are neither shown nor matched by --license unless
    --include-unmanaged."""
    from seatwise.analytics.inputs import users as inputs
    from seatwise.analytics.users import FIRST_KEYS, KEYS, build

    chosen = pick_columns(columns, KEYS)
    query = inputs.UserQuery(
        upn=upn,
        license=license,
        guest=guest,
        blocked=blocked,
        mfa=mfa,
        inactive_days=inactive_days,
        country=country,
        sort=sort.lstrip("-"),
        descending=sort.startswith("-"),
        include_unmanaged=include_unmanaged,
    )
    ctx = Context()
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        names = inputs.sku_names(session, row.pk)
        if limit is not None or offset:
            ids = inputs.query_ids(session, row.pk, query, limit, offset)
            batches: Iterator[list[Any]] = iter(
                [inputs.user_facts(session, row.pk, ids, include_unmanaged=include_unmanaged)]
            )
        else:
            batches = inputs.iter_query_facts(session, row.pk, query)

        def records() -> Iterator[dict[str, Any]]:
            for batch in batches:
                for facts in batch:
                    yield build(facts, names)

        keys = KEYS if format is not OutputFormat.table else (*FIRST_KEYS, *TABLE_EXTRA_KEYS)
        filtered = any(
            v is not None for v in (upn, license, guest, blocked, mfa, inactive_days, country)
        )
        emit(
            records(),
            keys,
            format,
            title=f"Users of {row.name}",
            empty="No user matches these filters."
            if filtered or offset
            else f"No users of {row.name} are stored yet: run `seatwise sync` first.",
            columns=chosen,
            choosable=True,
        )
