"""The database, its WAL and SHM files and its directory are private whatever the umask, the
key file too, and an operator who loosens them is warned at the next start."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from seatwise.config import Settings
from seatwise.secrets import SecretBox
from seatwise.store import ensure_schema, make_engine

pytestmark = pytest.mark.security


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    before = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(before)


def test_database_files_and_directory_are_private_under_an_open_umask(
    tmp_path: Path, open_umask: None
) -> None:
    data = tmp_path / "data"
    db = data / "seatwise.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        ensure_schema(engine)
        with engine.connect() as connection:  # WAL and SHM exist while a connection is open
            connection.execute(text("SELECT 1"))
            files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        engine.dispose()
    assert _mode(data) == 0o700
    SecretBox(Settings(data_dir=data))
    assert _mode(data / "secret.key") == 0o600


def test_loosened_modes_are_warned_about_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "data" / "seatwise.db"
    make_engine(f"sqlite:///{db}").dispose()
    assert not caplog.records
    db.chmod(0o644)
    db.parent.chmod(0o755)
    (db.parent / "crash.log").write_text("")
    (db.parent / "crash.log").chmod(0o640)
    with caplog.at_level(logging.WARNING, logger="seatwise.store.engine"):
        make_engine(f"sqlite:///{db}").dispose()
    (record,) = caplog.records
    assert "Other users can read seatwise's data" in record.getMessage()
    assert "(0644)" in record.getMessage() and "(0755)" in record.getMessage()
    assert "crash.log (0640)" in record.getMessage()


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    SecretBox(Settings(data_dir=tmp_path))
    (tmp_path / "secret.key").chmod(0o644)
    with pytest.raises(Exception, match="readable by others"):
        SecretBox(Settings(data_dir=tmp_path))
