"""SQL persistence of seatwise (SQLAlchemy + Alembic): schema, engine, write helpers, reads.

Knows nothing of Graph. Transactions belong to the caller (`session_scope`); no helper commits.
"""

from __future__ import annotations

from seatwise.store.engine import (
    connection_scope,
    ensure_schema,
    make_engine,
    session_scope,
    upgrade,
)

# The submodules `reads`, `schema` and `writes` load when imported by name (`from seatwise.store
# import reads`): a read-only command never loads the write helpers and their dialects, and one
# that reads through `connection_scope` and `reads`' Core queries never loads the ORM.
__all__ = ["connection_scope", "ensure_schema", "make_engine", "session_scope", "upgrade"]
