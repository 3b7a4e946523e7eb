"""Which report files a task may leave unread: `reportdata.unchanged` and `remember`, against a
real SQLite store (the sync tests prove the whole path against the simulator)."""

from __future__ import annotations

from seatwise.store.schema import User
from seatwise.sync import reportdata
from seatwise.sync.context import TaskContext


def test_the_same_files_naming_the_same_users_are_unchanged(store_ctx: TaskContext) -> None:
    assert not reportdata.unchanged(store_ctx, "d1")  # never read
    reportdata.remember(store_ctx, "d1", {"gone@contoso.test"})
    assert reportdata.unchanged(store_ctx, "d1")
    assert not reportdata.unchanged(store_ctx, "d2")  # other files
    # a UPN the reports named that matched nobody now names a user who joined: read again
    store_ctx.session.add(
        User(
            tenant_pk=store_ctx.tenant.pk,
            id="id-9",
            upn="Gone@Contoso.test",
            first_seen=store_ctx.today,
            fingerprint="f",
        )
    )
    store_ctx.session.flush()
    assert not reportdata.unchanged(store_ctx, "d1")


def test_forgetting_and_too_many_unmatched_names(store_ctx: TaskContext) -> None:
    reportdata.remember(store_ctx, "d1")
    assert reportdata.unchanged(store_ctx, "d1")
    reportdata.remember(store_ctx, None)  # e.g. names were concealed
    assert not reportdata.unchanged(store_ctx, "d1")
    many = {f"u{n}@contoso.test" for n in range(reportdata.MAX_UNMATCHED + 1)}
    reportdata.remember(store_ctx, "d1", many)
    assert not reportdata.unchanged(store_ctx, "d1")


def test_other_tasks_keep_their_own_digest(store_ctx: TaskContext) -> None:
    reportdata.remember(store_ctx, "d1")
    store_ctx.task = "access"
    assert not reportdata.unchanged(store_ctx, "d1")


def test_unmatched_names_beyond_ascii_make_the_reports_read_again(store_ctx: TaskContext) -> None:
    # SQL's lower() folds ASCII only: such a name could match a user unseen, so read again
    reportdata.remember(store_ctx, "d1", {"Ünal@contoso.test"})
    assert not reportdata.unchanged(store_ctx, "d1")
