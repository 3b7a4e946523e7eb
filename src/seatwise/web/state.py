"""What every request of the web app shares: the workspace (settings, the database engine, the
secret box, Graph clients), the templates, the API's kept answers and the kept
recommendations; built once in `create_app` and reached through `web_state(request)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from seatwise.config import Settings
from seatwise.secrets import SecretBox
from seatwise.store import session_scope
from seatwise.web.api.answers import AnswerCache
from seatwise.web.findings import KeptFindings
from seatwise.workspace import Workspace

__all__ = ["TEMPLATES_DIR", "WebState", "web_state"]

TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass
class WebState:
    """The app's shared objects: the workspace (settings, database, secrets, Graph clients),
    the templates and what the process keeps between requests."""

    workspace: Workspace
    templates: Jinja2Templates
    answers: AnswerCache = field(default_factory=AnswerCache)
    findings: KeptFindings = field(default_factory=KeptFindings)

    @property
    def settings(self) -> Settings:
        """The settings the app was made with."""
        return self.workspace.settings

    @property
    def engine(self) -> Engine:
        """The database, migrated."""
        return self.workspace.engine

    @property
    def secrets(self) -> SecretBox:
        """Seals and opens stored secrets."""
        return self.workspace.secrets

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """One unit of work (commits when the block succeeds). `write=True` for one that reads
        then writes: on SQLite it waits for the write lock up front (a sync may hold it), since
        a transaction that has read cannot wait for it later."""
        with session_scope(self.engine, immediate=write) as session:
            yield session


def web_state(request: Request) -> WebState:
    """The `WebState` of the app serving `request`."""
    state: WebState = request.app.state.web
    return state
