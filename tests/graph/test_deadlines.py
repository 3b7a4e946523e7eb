"""Deadlines of Graph calls against the simulator: a Graph that accepts and never answers, and
one whose answer crawls past the whole-request deadline, end the call after two timeouts with a
sentence; a task's deadline cuts waits and calls short."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from seatwise.errors import GraphError
from seatwise.graph import ClientCredentialsProvider, GraphClient
from seatwise.graph.client import TaskDeadline

from .conftest import FAST, Sim, Sleeps, serve

pytestmark = pytest.mark.fault
SKUS = "/v1.0/subscribedSkus"


def _client(sim: Sim, timeout_s: float) -> GraphClient:
    sync = sim.settings.sync.model_copy(update={"graph_timeout_s": timeout_s})
    settings = sim.settings.model_copy(update={"sync": sync})
    app = sim.tenant.app
    provider = ClientCredentialsProvider(
        settings, sim.tenant.tenant_id, app.client_id, app.client_secret
    )
    return GraphClient(settings, provider, policy=FAST, sleep=Sleeps())


def test_a_graph_that_never_answers_ends_the_call_after_two_timeouts(sim: Sim) -> None:
    sim.control("hang", {"path": SKUS, "on": True})
    try:
        with _client(sim, 0.5) as client:
            started = time.monotonic()
            with pytest.raises(
                GraphError,
                match=r"did not answer GET /v1.0/subscribedSkus "
                r"within 0.5 s, 2 times in a row",
            ):
                client.get_json(SKUS)
            took = time.monotonic() - started
    finally:
        sim.control("hang", {"path": SKUS, "on": False})
    assert 0.9 < took < 10, took


def test_an_answer_that_crawls_past_the_whole_request_deadline_ends_the_call(sim: Sim) -> None:
    body = b'{"value": []}' * 40
    sim.control(
        "respond",
        {"path": SKUS, "body": body.decode(), "times": 2, "trickle_s": 0.2},
    )
    with _client(sim, 0.5) as client:  # each piece within 0.5 s; the whole not within 1 s
        with pytest.raises(GraphError, match="2 times in a row"):
            client.get_json(SKUS)


def test_a_task_deadline_ends_a_hung_call(sim: Sim) -> None:
    sim.control("hang", {"path": SKUS, "on": True})
    try:
        with _client(sim, 30) as client, client.task_deadline(1.0):
            started = time.monotonic()
            with pytest.raises(TaskDeadline, match="ran past its deadline of 1 s"):
                client.get_json(SKUS)
            took = time.monotonic() - started
    finally:
        sim.control("hang", {"path": SKUS, "on": False})
    assert took < 10, took


def test_a_retry_wait_past_the_task_deadline_ends_the_task_at_once(sim: Sim) -> None:
    sim.script(SKUS, {"kind": "throttle", "retry_after": "20"})
    with _client(sim, 30) as client, client.task_deadline(10):
        with pytest.raises(TaskDeadline, match="waiting 20 s to retry GET /v1.0/subscribedSkus"):
            client.get_json(SKUS)
        assert client._sleep.delays == []  # type: ignore[attr-defined]


def test_a_batch_retry_wait_past_the_task_deadline_ends_the_task_at_once(sim: Sim) -> None:
    sim.script(SKUS, {"kind": "throttle", "retry_after": "20"})
    request = {"id": "1", "method": "GET", "url": "/subscribedSkus"}
    with _client(sim, 30) as client, client.task_deadline(10):
        with pytest.raises(TaskDeadline, match="waiting 20 s to retry POST /v1.0/\\$batch"):
            client.batch([request])
        assert client._sleep.delays == []  # type: ignore[attr-defined]


def test_an_identity_platform_that_never_answers_fails_the_call(tmp_path: Path) -> None:
    with serve(tmp_path, users=10) as fresh:  # no token kept from other tests
        token_path = f"/{fresh.tenant.tenant_id}/oauth2/v2.0/token"
        fresh.control("hang", {"path": token_path, "on": True})
        try:
            with _client(fresh, 0.5) as client:
                with pytest.raises(GraphError, match=r"Cannot reach the identity platform"):
                    client.get_json(SKUS)
        finally:
            fresh.control("hang", {"path": token_path, "on": False})
