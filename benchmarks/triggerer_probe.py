"""
Triggers the triggerer benchmark runs beside the balance sensors' (``bench_triggerer``).

:class:`LagProbeTrigger` measures the event loop's lag from inside the triggerer: it asks to wake
every ``tick`` seconds and writes, once a second, how late the worst wake-up of that second was.
:class:`UnsharedBalanceTrigger` is the balance trigger with its poll not shared, as it was before
triggers shared one poll per connection and interval: one poll and one HTTP client per sensor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger


class LagProbeTrigger(BaseTrigger):
    """
    Never fires; appends ``<unix time> <worst lag of the last second, ms>`` lines to ``out``.

    :param out: the file to append to.
    :param tick: how often it asks to wake, seconds.
    """

    def __init__(self, *, out: str, tick: float = 0.02) -> None:
        super().__init__()
        self.out = out
        self.tick = tick

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {"out": self.out, "tick": self.tick})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        loop = asyncio.get_running_loop()
        worst, second = 0.0, loop.time()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.tick)
            worst = max(worst, loop.time() - asked - self.tick)
            if loop.time() - second >= 1:
                # A few bytes a second: too small to be the lag it measures.
                with open(self.out, "a", encoding="utf-8") as out:
                    out.write(f"{time.time():.3f} {worst * 1000:.1f}\n")
                worst, second = 0.0, loop.time()
        yield TriggerEvent({})  # pragma: no cover -- makes run() an async generator


class UnsharedBalanceTrigger(FullSmsBalanceTrigger):
    """:class:`FullSmsBalanceTrigger` polling on its own: the triggerer runs its ``run()``."""

    def shared_stream_key(self) -> None:  # type: ignore[override]
        return None
