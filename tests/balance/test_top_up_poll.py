"""
A top-up watcher polls with the deferred balance sensors, not beside them.

The triggers run both ways a triggerer runs them (Airflow 3.3's own ``SharedStreamManager``, and
each trigger's own ``run()`` as older triggerers do; see :mod:`tests.balance.triggerers`), against
the sandbox, which counts the balance requests FullSMS would see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from airflow_provider_fullsms.sandbox.testing import SandboxClient
from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger
from airflow_provider_fullsms.triggers.top_up import FullSmsBalanceTopUpTrigger
from tests.balance.conftest import TopUp
from tests.balance.test_shared_poll import BALANCE_PATH, INTERVAL, until_requests
from tests.balance.triggerers import InTriggerer, Triggerer


class Watcher:
    """A top-up trigger run as the triggerer runs an asset watcher's: until cancelled, each event kept."""

    def __init__(self, triggerer: Triggerer, trigger: FullSmsBalanceTopUpTrigger) -> None:
        self.events: list[dict[str, Any]] = []
        self._task = asyncio.ensure_future(self._run(triggerer, trigger))

    async def _run(self, triggerer: Triggerer, trigger: FullSmsBalanceTopUpTrigger) -> None:
        async for payload in triggerer.events(trigger):
            self.events.append(payload)

    async def until_events(self, count: int) -> None:
        while len(self.events) < count:
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def test_a_watcher_and_a_hundred_deferred_sensors_make_one_request_per_check(
    sandbox_conn: SandboxClient, top_up: Callable[..., TopUp], in_triggerer: InTriggerer
) -> None:
    sandbox_conn.set_balance(5)
    topper = top_up(balance=80, after_checks=3)

    async def scenario(triggerer: Triggerer) -> tuple[list[Any], list[dict[str, Any]]]:
        watcher = Watcher(triggerer, FullSmsBalanceTopUpTrigger(min_balance=75, poke_interval=INTERVAL))
        sensors = [
            triggerer.start(FullSmsBalanceTrigger(min_balance=75, poke_interval=INTERVAL)) for _ in range(100)
        ]
        fired = await asyncio.gather(*sensors)
        await watcher.until_events(1)
        await watcher.stop()
        return fired, watcher.events

    sensors, watched = in_triggerer(scenario)

    assert topper.done.is_set()
    assert sensors == [[{"status": "success", "balance": 80.0, "min_balance": 75.0}]] * 100
    assert watched == [{"balance": 80.0, "min_balance": 75.0, "fullsms_conn_id": "fullsms_default"}]
    # Three checks saw 5.00 and the fourth the top-up: 3-4 requests for the 101 triggers.
    assert 3 <= sandbox_conn.requests_count(BALANCE_PATH) <= 4


def test_the_watcher_keeps_polling_after_the_sensors_left_and_fires_at_the_next_top_up(
    sandbox_conn: SandboxClient, in_triggerer: InTriggerer
) -> None:
    sandbox_conn.set_balance(80)

    async def scenario(triggerer: Triggerer) -> list[dict[str, Any]]:
        watcher = Watcher(triggerer, FullSmsBalanceTopUpTrigger(min_balance=75, poke_interval=INTERVAL))
        assert await triggerer.start(FullSmsBalanceTrigger(min_balance=75, poke_interval=INTERVAL))
        await watcher.until_events(1)
        # A send spends the balance below the threshold; the watcher sees it, then the next top-up.
        await asyncio.to_thread(sandbox_conn.set_balance, 10)
        checks = await asyncio.to_thread(sandbox_conn.requests_count, BALANCE_PATH)
        await until_requests(sandbox_conn, checks + 2)
        assert len(watcher.events) == 1
        await asyncio.to_thread(sandbox_conn.set_balance, 100)
        await watcher.until_events(2)
        await watcher.stop()
        return watcher.events

    assert [event["balance"] for event in in_triggerer(scenario)] == [80.0, 100.0]
