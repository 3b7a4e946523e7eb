"""`seatwise licenses` (licence positions, totals per currency, renewal horizon) and
`seatwise license set` (contract terms of one SKU), see docs/licenses.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from seatwise.cli.context import Context
from seatwise.cli.output import OutputFormat, columns_option, emit, pick_columns
from seatwise.cli.report import FormatOption, TenantOption
from seatwise.errors import UsageError

if TYPE_CHECKING:
    from seatwise.analytics.licenses import LicensePosition

__all__ = ["license_app", "licenses", "set_contract"]

license_app = typer.Typer(help="Enter the contract terms of a licence (SKU).", no_args_is_help=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

# The table's columns, most useful first (those that fit the terminal are shown); the ids,
# unit states and effective date only with --columns or --format json.
TABLE_KEYS = (
    "name",
    "purchased",
    "assigned",
    "available",
    "annual_cost",
    "unused_annual_cost",
    "currency",
    "expiration_date",
    "cost",
    "payment_frequency",
    "license_type",
    "sku_part_number",
)


def _check_flags(all_: bool, totals: bool, expiring: bool, days: int | None) -> int:
    if totals and expiring:
        raise UsageError("Use --totals or --expiring, not both.")
    if all_ and (totals or expiring):
        raise UsageError("--all only widens the list: totals and renewals cover managed SKUs.")
    if days is not None and not expiring:
        raise UsageError("--days sets the renewal horizon, so it goes with --expiring.")
    if days is not None and days < 0:
        raise UsageError(f"--days must be 0 or more, not {days}.")
    return 90 if days is None else days


def licenses(
    tenant: TenantOption = None,
    format: FormatOption = OutputFormat.table,  # noqa: A002
    all_: Annotated[
        bool, typer.Option("--all", help="Also list unmanaged and retired SKUs.")
    ] = False,
    totals: Annotated[
        bool, typer.Option("--totals", help="Annual and unused cost per currency instead.")
    ] = False,
    expiring: Annotated[
        bool, typer.Option("--expiring", help="Only managed SKUs whose contract ends soon.")
    ] = False,
    days: Annotated[
        int | None, typer.Option("--days", help="Renewal horizon for --expiring (default 90).")
    ] = None,
    columns: Annotated[str | None, columns_option("licence")] = None,
) -> None:
    """Licence positions and what they cost a year.

    Every SKU by product name with purchased, assigned and available units and its contract
    cost (set the terms with `seatwise license set`)."""
    from seatwise.analytics import licenses as view
    from seatwise.analytics.inputs import licenses as inputs

    horizon = _check_flags(all_, totals, expiring, days)
    chosen = pick_columns(columns, view.KEYS)
    ctx = Context()
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        found = view.build(
            inputs.sku_rows(session, row.pk), inputs.contract_rows(session, row.pk), all_
        )
        samples = _samples(session, row.pk) if format is OutputFormat.table else set()
    if totals:
        emit(
            (t.record() for t in view.totals(found)),
            view.TOTAL_KEYS,
            format,
            _title(row.name),
            empty=_NO_COSTS,
        )
        return
    if expiring:
        found = view.expiring(found, date.today(), horizon)
    keys = view.KEYS if format is not OutputFormat.table else _table_keys(all_)
    if format is OutputFormat.table:  # people look a product up by its name
        found = sorted(found, key=lambda p: (p.name.casefold(), p.sku_part_number))
    emit(
        (p.record() for p in found),
        keys,
        format,
        title=f"Licences of {row.name}",
        empty=f"No managed SKU's contract ends in the next {horizon} days."
        if expiring
        else f"No licences of {row.name} are stored yet: run `seatwise sync` first.",
        columns=chosen,
        choosable=True,
    )
    if format is OutputFormat.table and not expiring:
        _print_totals(found, row.name)
    sampled = [p.name for p in found if p.sku_id.lower() in samples]
    if sampled:
        typer.echo(
            f"The costs of {len(sampled)} SKUs are sample list prices entered by `seatwise demo`"
            " (USD per user per month), not a contract: change them with `seatwise license set`."
        )


def _samples(session: Any, tenant_pk: int) -> set[str]:
    """The SKU ids (lower case) whose contract terms are still the demo's sample prices."""
    from sqlalchemy import select

    from seatwise.demo_prices import SAMPLE_ACTOR
    from seatwise.store.schema import LicenseContract

    query = select(LicenseContract.sku_id).where(
        LicenseContract.tenant_pk == tenant_pk, LicenseContract.updated_by == SAMPLE_ACTOR
    )
    return {str(sku_id).lower() for sku_id in session.scalars(query)}


def _title(name: str) -> str:
    return f"Annual cost per currency of {name}'s managed SKUs"


_NO_COSTS = "No costs entered yet: seatwise license set SKU --cost X --currency EUR ..."


def _table_keys(all_: bool) -> Sequence[str]:
    return (*TABLE_KEYS[:1], "managed", *TABLE_KEYS[1:]) if all_ else TABLE_KEYS


def _print_totals(found: list[LicensePosition], name: str) -> None:
    from seatwise.analytics.licenses import TOTAL_KEYS, totals

    sums = totals(found)
    if sums:
        emit((t.record() for t in sums), TOTAL_KEYS, OutputFormat.table, _title(name))
    elif found:
        typer.echo(_NO_COSTS)


def _changes(
    cost: str | None,
    currency: str | None,
    frequency: str | None,
    effective: str | None,
    expiration: str | None,
    managed: bool | None,
) -> dict[str, Any]:
    """The given options, parsed and validated; UsageError when none is given."""
    from seatwise.analytics import licenses as view

    changes: dict[str, Any] = {}
    if cost is not None:
        changes["cost"] = view.parse_cost(cost)
    if currency is not None:
        changes["currency"] = view.parse_currency(currency)
    if frequency is not None:
        changes["payment_frequency"] = view.parse_frequency(frequency)
    if effective is not None:
        changes["effective_date"] = view.parse_date(effective, "--effective-date")
    if expiration is not None:
        changes["expiration_date"] = view.parse_date(expiration, "--expiration-date")
    if managed is not None:
        changes["managed"] = managed
    if not changes:
        raise UsageError(
            "Give at least one of --cost, --currency, --payment-frequency, --effective-date, "
            "--expiration-date, --managed or --unmanaged."
        )
    return changes


def _describe(part: str, terms: dict[str, Any]) -> str:
    from seatwise.analytics.licenses import price

    said = [f"{part}:"]
    if terms["cost"] is not None:
        said.append(f"{price(terms['cost'])} {terms['currency']} {terms['payment_frequency']},")
    for label, key in (("from", "effective_date"), ("until", "expiration_date")):
        if terms[key] is not None:
            said.append(f"{label} {terms[key].isoformat()},")
    said.append("managed." if terms["managed"] else "unmanaged (left out of every calculation).")
    return " ".join(said)


@license_app.command("set")
def set_contract(
    sku: Annotated[str, typer.Argument(help="The SKU: its skuId or skuPartNumber (any case).")],
    cost: Annotated[
        str | None, typer.Option("--cost", help="Price of one licence per payment period.")
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", help="ISO 4217 code, e.g. EUR.")
    ] = None,
    payment_frequency: Annotated[
        str | None, typer.Option("--payment-frequency", help="monthly or annual.")
    ] = None,
    effective_date: Annotated[
        str | None, typer.Option("--effective-date", help="Contract start, e.g. 2026-01-01.")
    ] = None,
    expiration_date: Annotated[
        str | None, typer.Option("--expiration-date", help="Contract end (renewal date).")
    ] = None,
    managed: Annotated[
        bool | None,
        typer.Option("--managed/--unmanaged", help="Whether seatwise counts this SKU's cost."),
    ] = None,
    tenant: TenantOption = None,
) -> None:
    """Set the contract terms of a SKU; terms not given are kept, and syncs never change them."""
    from seatwise.analytics.inputs import licenses as inputs
    from seatwise.reclaim.audit import current_actor
    from seatwise.workspace.contracts import set_contract as save_contract

    changes = _changes(cost, currency, payment_frequency, effective_date, expiration_date, managed)
    ctx = Context()
    with ctx.session(write=True) as session:
        row = ctx.tenant(session, tenant)
        found = inputs.find_sku(session, row.pk, sku)
        terms = save_contract(
            session, row.pk, found, changes, actor=current_actor(), now=datetime.now(UTC)
        )
    err.print(f"Contract saved for {_describe(found['part_number'], terms)}", markup=False)
