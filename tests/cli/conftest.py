"""The CLI run in-process at a chosen terminal width (`COLUMNS`), against a simulated tenant
served over real HTTPS, with the fixtures of tests/sync/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sync.conftest import Result, Seatwise, database_url, serve

__all__ = ["Result", "Terminal", "database_url", "serve"]


class Terminal(Seatwise):
    """`seatwise` run in-process in a terminal 40 lines high, its width set per test."""

    lines = 40


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Terminal:
    return Terminal(monkeypatch, tmp_path / "data", database_url)
