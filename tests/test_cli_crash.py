"""An unexpected exception in a command: exit 70 (never 1, which means `--check` found
something), one sentence on stderr, the traceback only in the data directory's crash.log
(0600)."""

from __future__ import annotations

import contextlib
import io
import stat
import sys
from pathlib import Path

import pytest

from seatwise.cli import CRASH_LOG, main
from seatwise.workspace import Workspace


def test_an_unexpected_exception_exits_70_with_the_traceback_in_the_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("SEATWISE_DATA_DIR", str(data))
    monkeypatch.delenv("SEATWISE_DATABASE_URL", raising=False)

    def broken(self: Workspace, *args: object, **kwargs: object) -> None:
        raise RuntimeError("an internal detail, ann@example.com")

    monkeypatch.setattr(Workspace, "__init__", broken)
    monkeypatch.setattr(sys, "argv", ["seatwise", "tasks"])
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code == 70
    said = err.getvalue()
    assert "Traceback" not in said and "ann@example.com" not in said
    assert said.startswith("Error: seatwise failed unexpectedly (RuntimeError)")
    assert said.count("\n") == 1
    log = data / CRASH_LOG
    assert str(log) in said
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    content = log.read_text()
    assert "Traceback" in content and "RuntimeError: an internal detail" in content
