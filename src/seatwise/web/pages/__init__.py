"""The UI pages and the API, one router per module: every module of `seatwise.web.api` and
`seatwise.web.pages` that defines `router` is included, in name order (api under /api/v1).
The API's routes come first: routes are tried in order, and API clients ask far more often."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import FastAPI

__all__ = ["include"]


def include(app: FastAPI) -> None:
    """Add every page and API router to `app`."""
    for package in ("seatwise.web.api", "seatwise.web.pages"):
        module = importlib.import_module(package)
        for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda i: i.name):
            found = importlib.import_module(f"{package}.{info.name}")
            router = getattr(found, "router", None)
            if router is not None:
                app.include_router(router)
