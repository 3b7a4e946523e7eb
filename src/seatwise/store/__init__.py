"""SQL persistence of seatwise (SQLAlchemy + Alembic): schema, engine, write helpers, reads.

Knows nothing of Graph. Transactions belong to the caller (`session_scope`); no helper commits.
"""

from __future__ import annotations

from seatwise.store import reads, schema, writes
from seatwise.store.engine import ensure_schema, make_engine, session_scope, upgrade

__all__ = ["ensure_schema", "make_engine", "reads", "schema", "session_scope", "upgrade", "writes"]
