"""Web fixtures: the seatwise web app served by uvicorn on loopback (a real HTTP server), its
own data directory and database (SQLite, or PostgreSQL when SEATWISE_TEST_DATABASE_URL is set),
accounts made through the product's own functions, and real headless Chromium (Debian's
`chromium`, driven by Playwright) for the browser tests.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from seatwise.config import Settings, load_settings
from seatwise.web.app import create_app
from seatwise.workspace.accounts import create_token, create_user
from tests.sync.conftest import database_url, seatwise

__all__ = ["Web", "database_url", "seatwise"]

PASSWORD = "correct horse battery"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "screenshots"


@dataclass
class Web:
    """A running web app: its base URL, settings and accounts."""

    base_url: str
    settings: Settings
    app: Any
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP client for the app (no environment proxies)."""
        return httpx.Client(base_url=self.base_url, trust_env=False, timeout=30, **kwargs)

    def login(self, client: httpx.Client, username: str = "admin") -> None:
        """Sign `client` in as `username` through the real form (CSRF token included)."""
        form = client.get("/login")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        done = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        )
        assert done.status_code == 303, done.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def web(seatwise: Any, tmp_path: Path) -> Iterator[Web]:
    """The web app over the same data directory and database as the `seatwise` CLI fixture."""
    settings = load_settings()  # from the environment the `seatwise` fixture set
    app = create_app(settings)
    state = app.state.web
    with state.session() as session:
        create_user(session, "admin", PASSWORD, "admin")
        create_user(session, "viewer", PASSWORD, "viewer")
        tokens = {
            "admin": create_token(session, "admin token", "admin", "tests"),
            "viewer": create_token(session, "viewer token", "viewer", "tests"),
        }
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web app did not start")
        time.sleep(0.02)
    try:
        yield Web(f"http://127.0.0.1:{port}", settings, app, tokens)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        state.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium from the system's package (skip when it is not installed)."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any, web: Web) -> Iterator[Any]:
    """A fresh browser page (own cookies) on the web app."""
    context = browser.new_context(base_url=web.base_url, viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    try:
        yield tab
    finally:
        context.close()


def screenshot(tab: Any, name: str) -> None:
    """Save a full-page screenshot as a test artefact."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def sign_in(tab: Any, username: str = "admin") -> None:
    """Sign in through the login form."""
    tab.goto("/login")
    tab.fill("input[name=username]", username)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url("**/")


def start_authorize(tab: Any, sim: Any, name: str) -> None:
    """Fill Settings' Authorize form for a new tenant `name` with the simulator's app
    registration and send it: the browser goes to the identity platform's consent page."""
    tab.goto("/settings")
    form = tab.locator("#authorize-form")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=tenant_id]").fill(sim.tenant.tenant_id)
    form.locator("input[name=client_id]").fill(sim.tenant.app.client_id)
    form.locator("input[name=client_secret]").fill(sim.tenant.app.client_secret)
    form.locator("button[type=submit]").click()
