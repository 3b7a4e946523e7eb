"""Reclamation runs end to end like the sync: the simulator over real HTTPS, seatwise's CLI
in-process, SQLite and PostgreSQL (the fixtures are the sync tests')."""

from __future__ import annotations

from tests.sync.conftest import database_url, seatwise

__all__ = ["database_url", "seatwise"]
