"""The CLI run in-process at a chosen terminal width (`COLUMNS`), against a simulated tenant
served over real HTTPS, with the fixtures of tests/sync/conftest.py."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest

from seatwise.cli import main
from tests.sync.conftest import Result, Seatwise, database_url, serve

__all__ = ["Result", "Terminal", "database_url", "serve"]


class Terminal(Seatwise):
    """`seatwise` run in-process in a terminal `width` columns wide (not a TTY)."""

    width = 200

    def __call__(self, *args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        self.monkeypatch.setattr(sys, "argv", ["seatwise", *args])
        self.monkeypatch.setenv("COLUMNS", str(self.width))
        self.monkeypatch.setenv("LINES", "40")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = int(exc.code or 0)
        return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Terminal:
    return Terminal(monkeypatch, tmp_path / "data", database_url)
