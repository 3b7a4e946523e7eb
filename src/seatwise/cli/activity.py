"""`seatwise activity`: each user's last activity in the 11 services, the per-service summary
(`--summary`) and License Differentiation (`--differentiation`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seatwise.cli.context import Context
from seatwise.cli.output import OutputFormat, emit
from seatwise.cli.report import FormatOption, IncludeUnmanagedOption, TenantOption
from seatwise.errors import UsageError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from seatwise.store.schema import Tenant

ServiceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--service",
        help="Only this service (repeatable; any case, e.g. Teams, 'Power BI', power-bi, skype).",
    ),
]
SummaryOption = Annotated[
    bool,
    typer.Option("--summary", help="Per service: licensed, active in 7/30/90 days, never..."),
]
DifferentiationOption = Annotated[
    bool,
    typer.Option(
        "--differentiation", help="Per licence and included service: holders, active users."
    ),
]


def activity(
    tenant: TenantOption = None,
    service: ServiceOption = None,
    summary: SummaryOption = False,
    differentiation: DifferentiationOption = False,
    format: FormatOption = OutputFormat.table,  # noqa: A002
    include_unmanaged: IncludeUnmanagedOption = False,
    limit: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="At most N users (per user only).")
    ] = None,
) -> None:
    """Last activity per user and service.

    A date, "never" or "not available" (Visio).

    --summary counts users per service; --differentiation shows each licence's services in use.
    Licences of unmanaged SKUs count nowhere unless --include-unmanaged.
    """
    from seatwise.analytics.activity import resolve_services

    if summary and differentiation:
        raise UsageError("Choose --summary or --differentiation, not both.")
    selected = resolve_services(service)
    ctx = Context()
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        if summary:
            _summary(session, row, selected, format, include_unmanaged)
        elif differentiation:
            _differentiation(session, row, selected, format, include_unmanaged)
        else:
            _per_user(session, row, selected, format, include_unmanaged, limit)


def _per_user(
    session: Session,
    tenant: Tenant,
    selected: Sequence[str],
    fmt: OutputFormat,
    unmanaged: bool,
    limit: int | None = None,
) -> None:
    from seatwise.analytics import activity as view
    from seatwise.analytics.inputs import activity as inputs

    def records() -> Iterator[dict[str, Any]]:
        for batch in inputs.iter_user_activity(session, tenant.pk, selected, unmanaged):
            for facts in batch:
                yield view.build(facts, selected)

    keys = view.keys(selected)
    if fmt is OutputFormat.table:  # the id and display name do not fit beside 11 services
        keys = tuple(k for k in keys if k not in ("id", "display_name"))
    emit(
        islice(records(), limit),
        keys,
        fmt,
        title=f"Activity of {tenant.name}",
        empty="No licensed user has activity stored yet: run `seatwise sync`.",
    )


def _summary(
    session: Session, tenant: Tenant, selected: Sequence[str], fmt: OutputFormat, unmanaged: bool
) -> None:
    from seatwise.analytics import activity as view
    from seatwise.analytics.inputs import activity as inputs

    licences = inputs.live_licences(session, tenant.pk, unmanaged)
    rows = inputs.activity_rows(session, tenant.pk, selected)
    records = view.summarise(licences, rows, selected)
    emit(
        records,
        view.SUMMARY_KEYS,
        fmt,
        title=f"Activity summary of {tenant.name}",
        empty="No activity stored yet: run `seatwise sync`.",
    )


def _differentiation(
    session: Session, tenant: Tenant, selected: Sequence[str], fmt: OutputFormat, unmanaged: bool
) -> None:
    from seatwise.analytics import activity as view
    from seatwise.analytics.inputs import activity as inputs

    stored = inputs.differentiation_rows(session, tenant.pk, unmanaged)
    records = view.differentiation(stored, inputs.sku_names(session, tenant.pk), selected)
    keys: tuple[str, ...] = view.DIFFERENTIATION_KEYS
    if fmt is OutputFormat.table:  # the product name first, the ids last
        keys = ("name", "service", "holders", "active_users", "as_of", "sku_part_number")
    emit(
        records,
        keys,
        fmt,
        title=f"Licence use of {tenant.name}",
        empty="No licence differentiation stored yet: run `seatwise sync`.",
    )
