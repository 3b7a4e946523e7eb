"""Fetching a usage report for a task: download, parse, detect concealed names, record the
report's refresh date. The rows stay strings, in tuples of the columns each task asked for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

from seatwise.errors import DataError
from seatwise.graph import endpoints
from seatwise.graph.reports import looks_concealed, parse_csv_columns
from seatwise.store import writes
from seatwise.store.schema import ReportRefresh
from seatwise.sync.context import TaskContext
from seatwise.sync.normalize import parse_date

REFRESH = "Report Refresh Date"
# Bumped when what a task stores from the same reports changes, so old digests stop matching.
DIGEST_FORMAT = b"seatwise-reports-1"
UPNS_CURSOR = "upns-changed"  # a count of the roster runs that changed which user a UPN names
MAX_UNMATCHED = 1000  # report UPNs that matched no user, remembered to check against joiners
CONCEALED_NOTE = (
    "Usage reports show concealed user names (Microsoft's privacy setting), so report data "
    'cannot be matched to users and was left as it was: turn off "Display concealed user, group, '
    'and site names in all reports" in the Microsoft 365 admin center (Settings › Org settings › '
    "Reports)."
)


@dataclass
class Report:
    """One downloaded report: the kept columns of each row, as tuples of strings."""

    name: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    refresh_date: date | None
    concealed: bool

    def column(self, name: str) -> int:
        """The position of column `name` in each row."""
        return self.columns.index(name)


class Downloads:
    """Report downloads started together on a helper thread, one after the other, so that
    Graph prepares the reports while the task works on something else; `fetch` collects them.
    Use as a context manager: leaving it cancels what was not collected."""

    def __init__(self, ctx: TaskContext, reports: Sequence[tuple[str, str | None]]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-download")
        self._pending: dict[tuple[str, str | None], Future[bytes]] = {
            (name, period): self._pool.submit(
                ctx.client.download_report, endpoints.report_path(name, period)
            )
            for name, period in reports
        }

    def take(self, name: str, period: str | None) -> Future[bytes] | None:
        """The download of `name` (with `period`) if it was started here, handed over once."""
        return self._pending.pop((name, period), None)

    def digest(self, ctx: TaskContext) -> str:
        """Wait for every download not yet taken; a digest of their contents and of the
        users' UPN changes so far (`upns_changed`)."""
        found = hashlib.sha256(DIGEST_FORMAT)
        with ctx.needs("Reports.Read.All"):
            for (name, period), future in sorted(self._pending.items(), key=_by_report):
                body = future.result()
                found.update(f"{name}({period}):{len(body)}:".encode())
                found.update(body)
        upns = writes.get_cursor(ctx.session, ctx.tenant.pk, UPNS_CURSOR) or "0"
        found.update(f"upns:{upns}".encode())
        return found.hexdigest()

    def __enter__(self) -> Downloads:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)


def fetch(
    ctx: TaskContext,
    name: str,
    period: str | None,
    user_column: str,
    columns: tuple[str, ...],
    downloads: Downloads | None = None,
) -> Report:
    """Download `name` (with `period`), or collect its download from `downloads`; keep the
    report's refresh date, `user_column` and `columns` of each row (in that order); record
    its refresh date."""
    started = downloads.take(name, period) if downloads is not None else None
    with ctx.needs("Reports.Read.All"):
        if started is not None:
            data = started.result()
        else:
            data = ctx.client.download_report(endpoints.report_path(name, period))
    del started
    keep = (REFRESH, user_column, *columns)
    cut = [0]
    header, parsed = parse_csv_columns(data, keep, shared=(REFRESH, *columns), cut=cut)
    del data
    _check_header(name, header, keep)
    absent = [column for column in keep[2:] if column not in header]
    if absent:
        ctx.note(
            f"Usage report {name} has no {', '.join(repr(c) for c in absent)} column: "
            "those values are empty."
        )
    rows = list(parsed)
    refresh = max(
        (d for d in map(parse_date, {row[0] for row in rows}) if d is not None), default=None
    )
    if cut[0]:
        ctx.count(f"rows cut:{name}", cut[0])
        ctx.note(
            f"{cut[0]} row{'s' if cut[0] != 1 else ''} of usage report {name} "
            f"{'were' if cut[0] != 1 else 'was'} cut short and left out."
        )
    if rows and refresh is None:
        ctx.note(
            f"Usage report {name} gives no readable {REFRESH}: its rows are dated the day "
            "of the sync."
        )
    concealed = bool(ctx.tenant.concealed_names) or looks_concealed(row[1] for row in rows[:200])
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
    return Report(name, keep, rows, refresh, concealed)


def _by_report(item: tuple[tuple[str, str | None], object]) -> tuple[str, str]:
    (name, period), _ = item
    return name, period or ""


def upns_changed(ctx: TaskContext) -> None:
    """Record that users' UPNs may name other users than before (a UPN changed, or every user
    was read again): reports already read must then be matched to users again."""
    count = int(writes.get_cursor(ctx.session, ctx.tenant.pk, UPNS_CURSOR) or 0)
    writes.set_cursor(ctx.session, ctx.tenant.pk, UPNS_CURSOR, str(count + 1), ctx.now)


def unchanged(ctx: TaskContext, digest: str) -> bool:
    """Whether the task's reports last stored were read from exactly these files
    (`Downloads.digest`), and none of the UPNs they named that matched no user matches one
    now (a user who joined since)."""
    stored = writes.get_cursor(ctx.session, ctx.tenant.pk, _cursor(ctx))
    if not stored:
        return False
    try:
        last = json.loads(stored)
        same = last["digest"] == digest
        unmatched = [str(upn) for upn in last["unmatched"]]
    except (ValueError, KeyError, TypeError):
        return False
    return same and not ctx.any_user_named(unmatched)


def remember(ctx: TaskContext, digest: str | None, unmatched: Collection[str] = ()) -> None:
    """Record the digest of the reports just stored and the UPNs they named that matched no
    user, or forget it (None: the next run reads them again, e.g. after names were concealed
    or a column was missing). Many unmatched UPNs are not kept: those reports are read again."""
    value = (
        json.dumps({"digest": digest, "unmatched": sorted(unmatched)})
        if digest is not None and len(unmatched) <= MAX_UNMATCHED
        else ""
    )
    name = _cursor(ctx)
    if value != (writes.get_cursor(ctx.session, ctx.tenant.pk, name) or ""):
        writes.set_cursor(ctx.session, ctx.tenant.pk, name, value, ctx.now)


def _cursor(ctx: TaskContext) -> str:
    return f"reports-read:{ctx.task}"


def _check_header(name: str, header: Sequence[str], keep: Sequence[str]) -> None:
    """A report without its refresh date or user column cannot be read at all: fail the task
    (nothing stored changes). Other columns it lacks read as empty cells."""
    present = set(header)
    for column in keep[:2]:
        if column not in present:
            raise DataError(
                f"Usage report {name} has no {column!r} column (its header does not match "
                "Microsoft's); nothing was changed."
            )


def check_concealment(ctx: TaskContext) -> None:
    """Ask `/admin/reportSettings` whether names are concealed; None when not allowed to ask,
    and then the shape of the names decides (see `fetch`)."""
    ctx.tenant.concealed_names = ctx.client.report_settings()
