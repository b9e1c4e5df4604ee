"""
Balance triggers in one triggerer share one poll per connection and interval, on every Airflow.

Each scenario runs the triggers the two ways a triggerer does (the ``in_triggerer`` fixture, see
:mod:`tests.balance.triggerers`): through Airflow 3.3's own
:class:`~airflow.triggers.shared_stream.SharedStreamManager`, and through each trigger's own
``run()``, as the triggerers of Airflow 2.11 to 3.2 (and ``dag.test()``) do. The sandbox counts
the balance requests FullSMS would see.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_fullsms.hooks.fullsms_async import FullSmsAsyncHook
from airflow_provider_fullsms.sandbox.testing import SandboxClient
from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger
from tests.balance.conftest import TopUp
from tests.balance.triggerers import InTriggerer, Triggerer
from tests.conftest import SANDBOX_TOKEN, connection_json

BALANCE_PATH = "/account/balance"
#: Long enough that a check never slips in between two steps of a scenario on a busy machine.
INTERVAL = 0.5


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
    sandbox_conn: SandboxClient,
    top_up: Callable[..., TopUp],
    opened_clients: list[Any],
    in_triggerer: InTriggerer,
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


def test_each_trigger_decides_against_its_own_min_balance(
    sandbox_conn: SandboxClient, in_triggerer: InTriggerer
) -> None:
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


def test_a_trigger_that_joins_late_sees_only_checks_made_after_it_joined(
    sandbox_conn: SandboxClient, in_triggerer: InTriggerer
) -> None:
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
    sandbox: Any,
    sandbox_conn: SandboxClient,
    monkeypatch: pytest.MonkeyPatch,
    opened_clients: list[Any],
    in_triggerer: InTriggerer,
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


def test_one_trigger_leaving_does_not_stop_the_poll_for_the_others(
    sandbox_conn: SandboxClient, in_triggerer: InTriggerer
) -> None:
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
    sandbox: Any,
    sandbox_conn: SandboxClient,
    monkeypatch: pytest.MonkeyPatch,
    opened_clients: list[Any],
    in_triggerer: InTriggerer,
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


def test_the_last_trigger_to_leave_stops_the_poll_and_closes_its_client(
    sandbox_conn: SandboxClient, opened_clients: list[Any], in_triggerer: InTriggerer
) -> None:
    sandbox_conn.set_balance(5)

    async def scenario(triggerer: Triggerer) -> set[asyncio.Task[Any]]:
        tasks = [
            triggerer.start(FullSmsBalanceTrigger(min_balance=50, poke_interval=INTERVAL)) for _ in range(5)
        ]
        await until_requests(sandbox_conn, 1)
        for task in tasks:  # the tasks were marked failed, or their timeouts passed
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return asyncio.all_tasks() - {asyncio.current_task()}

    still_running = in_triggerer(scenario)

    assert still_running == set()
    assert len(opened_clients) == 1
    assert opened_clients[0].is_closed
    checks = sandbox_conn.requests_count(BALANCE_PATH)
    time.sleep(3 * INTERVAL)
    assert sandbox_conn.requests_count(BALANCE_PATH) == checks


def test_each_event_loop_polls_on_its_own_and_nothing_outlives_the_event(
    sandbox_conn: SandboxClient, opened_clients: list[Any]
) -> None:
    # Two dag.test() runs in one process: each runs its deferred task's trigger with asyncio.run.
    def dag_test() -> tuple[dict[str, Any], set[asyncio.Task[Any]]]:
        async def deferred_task() -> tuple[dict[str, Any], set[asyncio.Task[Any]]]:
            trigger = FullSmsBalanceTrigger(min_balance=50, poke_interval=INTERVAL)
            event = await anext(trigger.run())  # dag.test() takes one event and never closes run()
            return event.payload, asyncio.all_tasks() - {asyncio.current_task()}

        return asyncio.run(deferred_task())

    first, left_by_first = dag_test()
    second, left_by_second = dag_test()

    assert first == second == {"status": "success", "balance": 100.0, "min_balance": 50.0}
    assert left_by_first == left_by_second == set()
    # The second loop polled on its own: a poll of the first (its task, its client) was not reused.
    assert sandbox_conn.requests_count(BALANCE_PATH) == 2
    assert len(opened_clients) == 2
    assert all(client.is_closed for client in opened_clients)
