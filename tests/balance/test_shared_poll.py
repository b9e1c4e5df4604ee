"""
Balance triggers in one triggerer share one poll per connection and interval.

The triggers run the way Airflow's triggerer runs them (``run_trigger``): subscribed to Airflow's
own :class:`~airflow.triggers.shared_stream.SharedStreamManager` under their
``shared_stream_key``, each filtering the shared readings, and unsubscribed when done. The
sandbox counts the balance requests FullSMS would see.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from airflow_provider_fullsms.hooks.fullsms_async import FullSmsAsyncHook
from airflow_provider_fullsms.sandbox.testing import SandboxClient
from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger
from tests.balance.conftest import TopUp
from tests.conftest import SANDBOX_TOKEN, connection_json

BALANCE_PATH = "/account/balance"
#: Long enough that a check never slips in between two steps of a scenario on a busy machine.
INTERVAL = 0.5
_ids = itertools.count(1)


class Triggerer:
    """The part of Airflow's trigger runner that matters here: one shared-stream manager."""

    def __init__(self) -> None:
        from airflow.triggers.shared_stream import SharedStreamManager

        self.manager = SharedStreamManager()

    def start(self, trigger: FullSmsBalanceTrigger) -> asyncio.Task[list[dict[str, Any]]]:
        """Run ``trigger`` as ``TriggerRunner.run_trigger`` does; the task returns its events."""
        return asyncio.ensure_future(self._run(next(_ids), trigger))

    async def _run(self, trigger_id: int, trigger: FullSmsBalanceTrigger) -> list[dict[str, Any]]:
        key = trigger.shared_stream_key()
        stream = self.manager.subscribe(trigger_id=trigger_id, trigger=trigger, key=key)
        try:
            return [event.payload async for event in trigger.filter_shared_stream(stream)]
        finally:
            await self.manager.unsubscribe(trigger_id, key)


def in_triggerer(scenario: Callable[[Triggerer], Coroutine[Any, Any, Any]]) -> Any:
    async def main() -> Any:
        return await scenario(Triggerer())

    return asyncio.run(main())


async def requests_seen(client: SandboxClient) -> int:
    return await asyncio.to_thread(client.requests_count, BALANCE_PATH)


async def until_requests(client: SandboxClient, count: int) -> None:
    while await requests_seen(client) < count:
        await asyncio.sleep(0.02)


@pytest.fixture
def opened_clients(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every HTTP client a FullSmsAsyncHook made (read at the end: each must be closed by then)."""
    clients: list[Any] = []
    original = FullSmsAsyncHook._request

    async def request(self: FullSmsAsyncHook, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(self, *args, **kwargs)
        finally:
            if self._client is not None and all(self._client is not seen for seen in clients):
                clients.append(self._client)

    monkeypatch.setattr(FullSmsAsyncHook, "_request", request)
    return clients


def test_two_hundred_triggers_on_one_connection_make_one_request_per_check(
    sandbox_conn: SandboxClient, top_up: Callable[..., TopUp], opened_clients: list[Any]
) -> None:
    sandbox_conn.set_balance(5)
    topper = top_up(balance=80, after_checks=3)

    async def scenario(triggerer: Triggerer) -> list[list[dict[str, Any]]]:
        tasks = [
            triggerer.start(FullSmsBalanceTrigger(min_balance=75, poke_interval=INTERVAL)) for _ in range(200)
        ]
        return await asyncio.gather(*tasks)

    events = in_triggerer(scenario)

    assert topper.done.is_set()
    assert events == [[{"status": "success", "balance": 80.0, "min_balance": 75.0}]] * 200
    # Three checks saw 5.00 and the fourth saw the top-up: 3-4 requests in all, not 200 each.
    assert 3 <= sandbox_conn.requests_count(BALANCE_PATH) <= 4
    assert len(opened_clients) == 1
    assert opened_clients[0].is_closed


def test_each_trigger_decides_against_its_own_min_balance(sandbox_conn: SandboxClient) -> None:
    sandbox_conn.set_balance(60)

    async def scenario(triggerer: Triggerer) -> tuple[list[Any], ...]:
        low = triggerer.start(FullSmsBalanceTrigger(min_balance=10, poke_interval=INTERVAL))
        mid = triggerer.start(FullSmsBalanceTrigger(min_balance=60, poke_interval=INTERVAL))
        high = triggerer.start(FullSmsBalanceTrigger(min_balance=100, poke_interval=INTERVAL))
        fired = await asyncio.gather(low, mid)
        checks_before_top_up = await requests_seen(sandbox_conn)
        assert not high.done()
        await asyncio.to_thread(sandbox_conn.set_balance, 150)
        return (*fired, await high, [checks_before_top_up])

    low, mid, high, (checks_before_top_up,) = in_triggerer(scenario)

    assert low == [{"status": "success", "balance": 60.0, "min_balance": 10.0}]
    assert mid == [{"status": "success", "balance": 60.0, "min_balance": 60.0}]
    assert high == [{"status": "success", "balance": 150.0, "min_balance": 100.0}]
    # The first check served both triggers that could fire at 60.
    assert checks_before_top_up == 1


def test_a_trigger_that_joins_late_sees_only_checks_made_after_it_joined(sandbox_conn: SandboxClient) -> None:
    sandbox_conn.set_balance(5)

    async def scenario(triggerer: Triggerer) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        keeper = triggerer.start(FullSmsBalanceTrigger(min_balance=10**6, poke_interval=INTERVAL))
        early = await triggerer.start(FullSmsBalanceTrigger(min_balance=1, poke_interval=INTERVAL))
        await asyncio.to_thread(sandbox_conn.set_balance, 500)
        late = await triggerer.start(FullSmsBalanceTrigger(min_balance=1, poke_interval=INTERVAL))
        keeper.cancel()
        with pytest.raises(asyncio.CancelledError):
            await keeper
        return early, late

    early, late = in_triggerer(scenario)

    assert early == [{"status": "success", "balance": 5.0, "min_balance": 1.0}]
    # Never the 5.00 the group read before it joined: its first value is a check made after.
    assert late == [{"status": "success", "balance": 500.0, "min_balance": 1.0}]
    assert sandbox_conn.requests_count(BALANCE_PATH) == 2


def test_connections_and_intervals_poll_separately(
    sandbox: Any, sandbox_conn: SandboxClient, monkeypatch: pytest.MonkeyPatch, opened_clients: list[Any]
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_OTHER", connection_json(sandbox.url, SANDBOX_TOKEN))
    sandbox_conn.set_balance(5)
    groups = [("fullsms_default", INTERVAL), ("fullsms_other", INTERVAL), ("fullsms_default", 2 * INTERVAL)]

    async def scenario(triggerer: Triggerer) -> list[list[dict[str, Any]]]:
        tasks = [
            triggerer.start(
                FullSmsBalanceTrigger(min_balance=50, fullsms_conn_id=conn_id, poke_interval=every)
            )
            for conn_id, every in groups
            for _ in range(20)
        ]
        await until_requests(sandbox_conn, 3)
        await asyncio.to_thread(sandbox_conn.set_balance, 60)
        return await asyncio.gather(*tasks)

    events = in_triggerer(scenario)

    assert events == [[{"status": "success", "balance": 60.0, "min_balance": 50.0}]] * 60
    # One poll, one HTTP client, per (connection, interval): three, however many triggers.
    assert len(opened_clients) == 3
    assert all(client.is_closed for client in opened_clients)


def test_keys_name_the_connection_and_interval_never_the_token(fullsms_conn: str) -> None:
    def key(**kwargs: Any) -> Any:
        return FullSmsBalanceTrigger(**{"min_balance": 1, **kwargs}).shared_stream_key()

    assert key(min_balance=1) == key(min_balance=99)
    assert key() != key(fullsms_conn_id="other")
    assert key(poke_interval=60) != key(poke_interval=30)
    assert "tok-SECRET" not in repr(key())


def test_one_trigger_leaving_does_not_stop_the_poll_for_the_others(sandbox_conn: SandboxClient) -> None:
    sandbox_conn.set_balance(5)

    async def scenario(triggerer: Triggerer) -> list[dict[str, Any]]:
        leaving = triggerer.start(FullSmsBalanceTrigger(min_balance=50, poke_interval=INTERVAL))
        staying = triggerer.start(FullSmsBalanceTrigger(min_balance=50, poke_interval=INTERVAL))
        await until_requests(sandbox_conn, 1)
        leaving.cancel()  # the user marked that task, or its timeout passed
        with pytest.raises(asyncio.CancelledError):
            await leaving
        checks = await requests_seen(sandbox_conn)
        await until_requests(sandbox_conn, checks + 1)
        await asyncio.to_thread(sandbox_conn.set_balance, 50)
        return await staying

    assert in_triggerer(scenario) == [{"status": "success", "balance": 50.0, "min_balance": 50.0}]


def test_an_edited_connection_is_used_from_the_next_check(
    sandbox: Any, sandbox_conn: SandboxClient, monkeypatch: pytest.MonkeyPatch, opened_clients: list[Any]
) -> None:
    sandbox_conn.set_balance(5)

    async def scenario(triggerer: Triggerer) -> list[list[dict[str, Any]]]:
        tasks = [
            triggerer.start(FullSmsBalanceTrigger(min_balance=50, poke_interval=INTERVAL)) for _ in range(10)
        ]
        await until_requests(sandbox_conn, 1)
        # The token is revoked and replaced in the connection while the sensors wait.
        monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(sandbox.url, "revoked-token"))
        return await asyncio.gather(*tasks)

    events = in_triggerer(scenario)

    assert len(events) == 10
    for (event,) in events:
        assert event["status"] == "error"
        assert "FullSmsAuthenticationError" in event["message"]
        assert "revoked-token" not in event["message"]
    # One request with the old token's client, then one with the new one, both closed.
    assert sandbox_conn.requests_count(BALANCE_PATH) == 2
    assert len(opened_clients) == 2
    assert all(client.is_closed for client in opened_clients)
