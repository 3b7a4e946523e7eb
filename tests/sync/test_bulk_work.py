"""What a task's bulk work runs with (`runner.bulk_work`): a larger SQLite page cache and the
heap alive at the start frozen out of the garbage collector's passes, both undone afterwards
(also when the task fails)."""

from __future__ import annotations

import gc

import pytest

from seatwise.sync.context import TaskContext
from seatwise.sync.runner import SQLITE_CACHE_KIB, bulk_work


def cache_size(ctx: TaskContext) -> int:
    return int(ctx.session.connection().exec_driver_sql("PRAGMA cache_size").scalar() or 0)


def test_bulk_work_sets_up_and_undoes(store_ctx: TaskContext) -> None:
    before = cache_size(store_ctx)
    assert gc.get_freeze_count() == 0  # no task is running
    with bulk_work(store_ctx.session):
        assert cache_size(store_ctx) == -SQLITE_CACHE_KIB
        assert gc.get_freeze_count() > 0  # the objects alive now are left out of gc passes
    assert (cache_size(store_ctx), gc.get_freeze_count()) == (before, 0)
    with pytest.raises(RuntimeError), bulk_work(store_ctx.session):
        raise RuntimeError("the task failed")
    assert (cache_size(store_ctx), gc.get_freeze_count()) == (before, 0)
