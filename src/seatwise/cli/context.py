"""The workspace a CLI command works with (`seatwise.workspace.Workspace`), made once per
command from `Settings` and closed when the command ends (`close_all`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from seatwise.workspace import Workspace

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from seatwise.config import Settings

_OPEN: list[Context] = []


def close_all() -> None:
    """Release every workspace's database connections (end of a CLI invocation)."""
    while _OPEN:
        _OPEN.pop().close()


class Context(Workspace):
    """The workspace of one `seatwise` command, released at the end of the invocation."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        _OPEN.append(self)

    def close(self) -> None:
        """Dispose of the engine's pooled connections, if an engine was made."""
        if self in _OPEN:
            _OPEN.remove(self)
        super().close()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """One unit of work on a Core connection (`store.connection_scope`): for a command
        that reads a few rows through `store.reads`' Core queries and should start without
        the ORM."""
        from seatwise.store import connection_scope

        with connection_scope(self.engine) as connection:
            yield connection
