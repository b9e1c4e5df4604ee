"""
The two ways a triggerer runs the balance triggers, for the shared-poll tests to run each scenario on.

- :class:`SharedStreams`: Airflow 3.3's ``TriggerRunner.run_trigger`` for a trigger with a
  ``shared_stream_key``: subscribed to its own ``SharedStreamManager``, the trigger filtering the
  shared readings, unsubscribed when done.
- :class:`OwnRun`: every Airflow's triggerer before 3.3 (and ``dag.test()``): a task consuming the
  trigger's ``run()`` generator; cancelling the task is the triggerer removing the trigger.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

_ids = itertools.count(1)

HAS_SHARED_STREAMS = importlib.util.find_spec("airflow.triggers.shared_stream") is not None


class Triggerer:
    """The part of a trigger runner that matters here: how it gets a trigger's events."""

    def start(self, trigger: Any) -> asyncio.Task[list[dict[str, Any]]]:
        """Run ``trigger`` as the triggerer does; the task returns its events' payloads."""
        return asyncio.ensure_future(self._collect(trigger))

    async def _collect(self, trigger: Any) -> list[dict[str, Any]]:
        return [payload async for payload in self.events(trigger)]

    def events(self, trigger: Any) -> AsyncIterator[dict[str, Any]]:
        """The payloads of ``trigger``'s events, until it stops or the consuming task is cancelled."""
        raise NotImplementedError


class SharedStreams(Triggerer):
    """Airflow 3.3's triggerer: one ``SharedStreamManager``, each trigger's ``filter_shared_stream``."""

    def __init__(self) -> None:
        from airflow.triggers.shared_stream import SharedStreamManager

        self.manager = SharedStreamManager()

    async def events(self, trigger: Any) -> AsyncIterator[dict[str, Any]]:
        trigger_id, key = next(_ids), trigger.shared_stream_key()
        stream = self.manager.subscribe(trigger_id=trigger_id, trigger=trigger, key=key)
        try:
            async for event in trigger.filter_shared_stream(stream):
                yield event.payload
        finally:
            await self.manager.unsubscribe(trigger_id, key)


class OwnRun(Triggerer):
    """Every triggerer before 3.3, and ``dag.test()``: ``async for event in trigger.run()``."""

    async def events(self, trigger: Any) -> AsyncIterator[dict[str, Any]]:
        async for event in trigger.run():
            yield event.payload


TRIGGERERS = [
    pytest.param(
        SharedStreams,
        id="airflow-shared-streams",
        marks=pytest.mark.skipif(
            not HAS_SHARED_STREAMS, reason="shared trigger streams came with Airflow 3.3"
        ),
    ),
    pytest.param(OwnRun, id="own-run"),
]

#: ``in_triggerer(scenario)``: run ``scenario(triggerer)`` in a new event loop, return its result.
InTriggerer = Callable[[Callable[[Triggerer], Coroutine[Any, Any, Any]]], Any]


def runner_for(kind: type[Triggerer]) -> InTriggerer:
    def in_triggerer(scenario: Callable[[Triggerer], Coroutine[Any, Any, Any]]) -> Any:
        async def main() -> Any:
            return await scenario(kind())

        return asyncio.run(main())

    return in_triggerer
