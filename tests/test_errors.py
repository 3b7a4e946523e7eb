"""Tests for seatwise.errors: exit codes and HTTP statuses per DESIGN §8, docstrings, the helper."""

from __future__ import annotations

import inspect

import pytest

from seatwise import errors
from seatwise.errors import AppError, PermissionMissing, exit_code_for

# DESIGN §8: 0 ok · 1 `--check` found something · 2 usage · 3 configuration/authorisation ·
# 4 Graph error after retries · 5 data error.
EXPECTED = {
    "AppError": (5, 500),
    "CheckFailed": (1, 409),
    "UsageError": (2, 400),
    "ConfigError": (3, 500),
    "AuthError": (3, 401),
    "PermissionMissing": (3, 403),
    "RoleMissing": (3, 403),
    "GraphError": (4, 502),
    "GraphThrottled": (4, 503),
    "GraphNotFound": (4, 404),
    "GraphAuthError": (3, 401),
    "GraphForbidden": (3, 403),
    "GraphNoPremium": (3, 403),
    "GraphRequestError": (4, 502),
    "DataError": (5, 422),
    "StoreError": (5, 500),
    "SyncBusy": (5, 409),
    "PlanError": (5, 409),
    "PlanNotApproved": (5, 409),
    "PlanStale": (5, 409),
}

PARENTS = {
    "PermissionMissing": "AuthError",
    "RoleMissing": "AuthError",
    "GraphThrottled": "GraphError",
    "GraphNotFound": "GraphError",
    "GraphAuthError": "GraphError",
    "GraphForbidden": "GraphError",
    "GraphNoPremium": "GraphForbidden",
    "GraphRequestError": "GraphError",
    "PlanNotApproved": "PlanError",
    "PlanStale": "PlanError",
}


def _error_classes() -> dict[str, type[AppError]]:
    return {
        name: cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, AppError)
    }


def test_every_class_is_in_the_table() -> None:
    assert set(_error_classes()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exit_code_and_http_status(name: str) -> None:
    cls = getattr(errors, name)
    assert (cls.exit_code, cls.http_status) == EXPECTED[name]
    exc = (
        cls("roster", "X")
        if cls in (PermissionMissing, errors.RoleMissing)
        else cls("Something went wrong.")
    )
    assert exit_code_for(exc) == EXPECTED[name][0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_place_in_the_tree(name: str) -> None:
    cls = getattr(errors, name)
    parent = PARENTS.get(name, "AppError" if name != "AppError" else "Exception")
    assert cls.__bases__ == (getattr(errors, parent, Exception),)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_class_has_a_docstring(name: str) -> None:
    doc = getattr(errors, name).__dict__.get("__doc__")
    assert doc and doc.strip(), f"{name} has no docstring"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_class_is_drawn_in_the_module_docstring(name: str) -> None:
    assert errors.__doc__ is not None
    assert f" {name} " in errors.__doc__


def test_message_is_the_sentence() -> None:
    exc = errors.DataError("Report getMailboxUsageDetail has no Report Refresh Date column.")
    assert str(exc) == exc.message == exc.args[0]


def test_permission_missing_names_task_and_permission() -> None:
    exc = PermissionMissing("roster", "UserAuthenticationMethod.Read.All")
    assert exc.task == "roster"
    assert exc.permission == "UserAuthenticationMethod.Read.All"
    assert str(exc) == (
        "Task roster needs permission UserAuthenticationMethod.Read.All: "
        "reauthorize the tenant to grant it."
    )
    assert isinstance(exc, errors.AuthError)


def test_exit_code_for_non_app_errors() -> None:
    assert exit_code_for(KeyboardInterrupt()) == 130
    assert exit_code_for(ValueError("a bug")) == 70
    assert exit_code_for(RuntimeError()) == 70
