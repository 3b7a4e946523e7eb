"""Fixtures of the application layer's tests: the CLI in-process against the simulator over
HTTPS, on SQLite and PostgreSQL (the fixtures are the sync tests')."""

from __future__ import annotations

from tests.sync.conftest import database_url, seatwise

__all__ = ["database_url", "seatwise"]
