"""The suite-wide secret check (tests/conftest.py) catches what it should: a registered secret
in any log record, including an exception's text and SEATWISE_SECRET_KEY from the environment,
and names the kind of secret, never the secret."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import WATCH, SecretWatch


def test_the_suite_watch_is_on_the_root_logger() -> None:
    assert WATCH in logging.getLogger().handlers


def test_a_registered_secret_in_a_log_record_is_a_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    watch = SecretWatch()
    logger = logging.getLogger("tests.secret-probe")
    logger.propagate = False
    logger.addHandler(watch)
    try:
        watch.register("0.AbCdEf-refresh-token", "refresh token")
        logger.warning("all good, nothing secret")
        assert watch.leaks == []
        logger.warning("refreshed with %s", "0.AbCdEf-refresh-token")
        try:
            raise ValueError("test passphrase, not a real secret")
        except ValueError:
            logger.exception("failed")
        monkeypatch.setenv("SEATWISE_SECRET_KEY", "an env-only key 123")
        logger.error("key is an env-only key 123")
    finally:
        logger.removeHandler(watch)
    assert watch.leaks == [
        "tests.secret-probe (WARNING) logged a refresh token",
        "tests.secret-probe (ERROR) logged a SEATWISE_SECRET_KEY",
        "tests.secret-probe (ERROR) logged a SEATWISE_SECRET_KEY",
    ]
    assert not any("0.AbCdEf" in leak for leak in watch.leaks)


def test_simulator_secrets_are_registered() -> None:
    from seatwise.simulator import Tenant, create_app

    tenant = Tenant.create(users=10, seed=3)
    create_app(tenant)
    assert WATCH.secrets[tenant.app.client_secret] == "simulator client secret"
    assert WATCH.secrets[tenant.admin.password] == "simulator admin password"
