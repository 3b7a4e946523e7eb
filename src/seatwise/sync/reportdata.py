"""Fetching a usage report for a task: download, parse, detect concealed names, record the
report's refresh date. The rows stay strings; each task picks the columns it needs by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from seatwise.graph import endpoints
from seatwise.graph.reports import looks_concealed, parse_csv
from seatwise.store import writes
from seatwise.store.schema import ReportRefresh
from seatwise.sync.context import TaskContext
from seatwise.sync.normalize import parse_date

REFRESH = "Report Refresh Date"
CONCEALED_NOTE = (
    "Usage reports show concealed user names (Microsoft's privacy setting), so report data "
    'cannot be matched to users and was left as it was: turn off "Display concealed user, group, '
    'and site names in all reports" in the Microsoft 365 admin center (Settings › Org settings › '
    "Reports)."
)


@dataclass
class Report:
    """One downloaded report."""

    name: str
    rows: list[dict[str, str]]
    refresh_date: date | None
    concealed: bool


def fetch(
    ctx: TaskContext,
    name: str,
    period: str | None,
    user_column: str,
    columns: tuple[str, ...],
) -> Report:
    """Download `name` (with `period`), keep `columns` of each row, record its refresh date."""
    with ctx.needs("Reports.Read.All"):
        data = ctx.client.download_report(endpoints.report_path(name, period))
    _, rows_iter = parse_csv(data)
    del data
    keep = (REFRESH, user_column, *columns)
    rows = [{k: row[k] for k in keep if k in row} for row in rows_iter]
    refresh = max(
        (d for d in (parse_date(r.get("Report Refresh Date")) for r in rows) if d), default=None
    )
    concealed = bool(ctx.tenant.concealed_names) or looks_concealed(
        r.get(user_column, "") for r in rows[:200]
    )
    if concealed:
        ctx.tenant.concealed_names = True
        ctx.note(CONCEALED_NOTE)
    writes.upsert_rows(
        ctx.session,
        ReportRefresh,
        [
            {
                "tenant_pk": ctx.tenant.pk,
                "report": name,
                "refresh_date": refresh,
                "fetched_at": ctx.now,
                "concealed": concealed,
                "rows": len(rows),
            }
        ],
        key=("tenant_pk", "report"),
    )
    ctx.count(f"rows:{name}", len(rows))
    ctx.progress(ctx.task, name, 1, None)
    return Report(name, rows, refresh, concealed)


def check_concealment(ctx: TaskContext) -> None:
    """Ask `/admin/reportSettings` whether names are concealed; None when not allowed to ask,
    and then the shape of the names decides (see `fetch`)."""
    ctx.tenant.concealed_names = ctx.client.report_settings()
