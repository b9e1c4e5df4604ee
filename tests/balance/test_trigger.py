"""FullSmsBalanceTrigger.run() against the real sandbox over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_fullsms.hooks.fullsms_async import FullSmsAsyncHook
from airflow_provider_fullsms.sandbox.testing import SandboxClient
from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger
from tests.balance.conftest import TopUp
from tests.conftest import SANDBOX_TOKEN, connection_json

BALANCE_PATH = "/account/balance"


def first_event(trigger: FullSmsBalanceTrigger) -> dict[str, Any]:
    async def first() -> Any:
        return await anext(trigger.run())

    return asyncio.run(first()).payload


@pytest.fixture
def closed_clients(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The httpx client of every FullSmsAsyncHook.aclose() call, to check it was really closed."""
    clients: list[Any] = []
    original = FullSmsAsyncHook.aclose

    async def aclose(self: FullSmsAsyncHook) -> None:
        clients.append(self._client)
        await original(self)

    monkeypatch.setattr(FullSmsAsyncHook, "aclose", aclose)
    return clients


def test_fires_success_after_a_top_up(
    sandbox_conn: SandboxClient, top_up: Callable[..., TopUp], closed_clients: list[Any]
) -> None:
    sandbox_conn.set_balance(5)
    topper = top_up(balance=80, after_checks=2)

    event = first_event(FullSmsBalanceTrigger(min_balance=75, poke_interval=0.2))

    assert topper.done.is_set()
    assert event == {"status": "success", "balance": 80.0, "min_balance": 75.0}
    assert sandbox_conn.requests_count(BALANCE_PATH) >= 3
    assert len(closed_clients) == 1
    assert closed_clients[0].is_closed


def test_fires_an_error_event_on_a_bad_token(
    sandbox: Any, sandbox_conn: SandboxClient, monkeypatch: pytest.MonkeyPatch, closed_clients: list[Any]
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(sandbox.url, "wrong-token"))

    event = first_event(FullSmsBalanceTrigger(min_balance=1, poke_interval=0.2))

    assert event["status"] == "error"
    assert "FullSmsAuthenticationError" in event["message"]
    assert "Unauthenticated" in event["message"]
    assert "wrong-token" not in event["message"]
    assert sandbox_conn.requests_count(BALANCE_PATH) == 1
    assert len(closed_clients) == 1


def test_no_busy_loop_while_the_api_fails(sandbox_conn: SandboxClient, closed_clients: list[Any]) -> None:
    sandbox_conn.inject_fault("error", path=BALANCE_PATH, status=503, count=10_000)
    poke_interval = 0.3

    async def run_for_three_intervals() -> None:
        task = asyncio.ensure_future(
            anext(FullSmsBalanceTrigger(min_balance=1, poke_interval=poke_interval).run())
        )
        await asyncio.sleep(3 * poke_interval)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_for_three_intervals())

    # About one check per interval (3-4); a loop without sleeping would make hundreds.
    assert 1 <= sandbox_conn.requests_count(BALANCE_PATH) <= 6
    assert len(closed_clients) == 1
    assert closed_clients[0].is_closed


def test_cancellation_mid_request_closes_the_client(
    sandbox_conn: SandboxClient, closed_clients: list[Any]
) -> None:
    # The sandbox holds the answer, so the cancellation lands while the request is in flight (and
    # should the answer come first, the balance is too low and the trigger keeps waiting anyway).
    sandbox_conn.inject_fault("latency", path=BALANCE_PATH, ms=1000)

    async def cancel_in_flight() -> None:
        task = asyncio.ensure_future(anext(FullSmsBalanceTrigger(min_balance=10**9, poke_interval=0.2).run()))
        while await asyncio.to_thread(sandbox_conn.requests_count, BALANCE_PATH) < 1:
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_in_flight())

    assert len(closed_clients) == 1
    assert closed_clients[0] is not None
    assert closed_clients[0].is_closed
    sandbox_conn.clear_faults()


def test_the_triggerer_reads_the_token_from_the_connection(sandbox: Any, sandbox_conn: SandboxClient) -> None:
    # The same serialised kwargs work against any connection: the token is never in them.
    trigger = FullSmsBalanceTrigger(min_balance=100, poke_interval=0.2)
    assert SANDBOX_TOKEN not in repr(trigger.serialize())
    assert first_event(trigger)["status"] == "success"
