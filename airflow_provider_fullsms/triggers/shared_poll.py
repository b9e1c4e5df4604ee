"""
One poll per shared stream key in this process, for triggers run through their own ``run()``.

Airflow 3.3's triggerer shares a poll among the triggers of one ``shared_stream_key`` itself
(:mod:`airflow.triggers.shared_stream`). Older triggerers (2.11, 3.0 to 3.2), and ``dag.test()``,
call each trigger's ``run()``, and a ``run()`` that polled on its own would cost FullSMS a
thousand balance requests per interval for a thousand deferred sensors. A ``run()`` that reads
its readings through :func:`subscribe` instead joins the poll of its key in the running event
loop: the first subscriber starts one task iterating the trigger class's ``open_shared_stream``,
every reading is handed to each subscriber present when it was made, and the last subscriber to
leave stops the task and closes the stream (whose ``finally`` closes the HTTP client).

Polls are kept per event loop: a trigger runner has one loop, and a poll's task and client
belong to the loop that made them, so the loops of successive ``asyncio.run`` calls
(``dag.test()``) never share one, and a finished loop's entry goes with it.

Pure stdlib, nothing done at import: DAG files import the triggers on every parse.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Hashable
    from typing import Protocol

    class SharingTrigger(Protocol):
        """What :func:`subscribe` needs of a trigger: what Airflow 3.3's shared streams need."""

        def shared_stream_key(self) -> Hashable: ...

        def serialize(self) -> tuple[str, dict[str, Any]]: ...

        @classmethod
        def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncGenerator[Any, None]: ...


__all__ = ["subscribe"]

log = logging.getLogger(__name__)


@functools.cache
def _polls_by_loop() -> weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, _SharedPoll]]:
    """Made at the first subscription, not at import; weak, so a closed loop's entry goes with it."""
    return weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def subscribe(trigger: SharingTrigger) -> AsyncGenerator[AsyncIterator[Any], None]:
    """
    Read the shared poll of ``trigger.shared_stream_key()`` in this event loop while in the block.

    Yields the readings made from now on (never one made before joining), in order, for
    ``trigger.filter_shared_stream``. They end as the poll does: its error is raised to every
    subscriber. Leaving the block (an event, an error, the triggerer's cancellation) leaves the
    poll; the last to leave stops it and waits for its stream to close.

    :param trigger: a trigger with ``shared_stream_key``, ``serialize`` and a classmethod
        ``open_shared_stream(kwargs)``; the first subscriber of a key starts the poll from its
        serialised kwargs, as Airflow's triggerer does.
    """
    polls = _polls_by_loop().setdefault(asyncio.get_running_loop(), {})
    key = trigger.shared_stream_key()
    poll = polls.get(key)
    if poll is None:
        poll = polls[key] = _SharedPoll(key, type(trigger).open_shared_stream(trigger.serialize()[1]), polls)
    readings = poll.join()
    try:
        yield readings
    finally:
        await poll.leave(readings)


class _End:
    """Put behind the last reading when the poll ends: with its error, or ``None`` if it returned."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error


class _Readings:
    """One subscriber's readings: an async iterator over its own queue."""

    def __init__(self, poll: _SharedPoll) -> None:
        self._poll = poll
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def __aiter__(self) -> _Readings:
        return self

    async def __anext__(self) -> Any:
        item = await self.queue.get()
        if isinstance(item, _End):
            self.queue.put_nowait(item)  # ended for good, however often asked
            if item.error is not None:
                raise item.error
            raise StopAsyncIteration
        self._poll.taken(self)
        return item


class _SharedPoll:
    """
    One task iterating a stream, and the subscribers it hands each reading to.

    The next reading is asked for only once every subscriber has taken the last one (or left).
    With the balance stream's ``poke_interval`` sleep between checks this costs nothing, and it
    means no check is made that nobody will read: a sensor that fires on a reading and leaves,
    the last one, stops the poll before another request.

    :param key: the shared stream key, to name the task and to be forgotten by.
    :param stream: the trigger class's ``open_shared_stream(kwargs)``, not yet started.
    :param polls: this event loop's polls, which hold this one under ``key`` while it runs.
    """

    def __init__(
        self, key: Hashable, stream: AsyncGenerator[Any, None], polls: dict[Hashable, _SharedPoll]
    ) -> None:
        self.key = key
        self._polls = polls
        self._subscribers: set[_Readings] = set()
        self._unread: set[_Readings] = set()
        self._all_read = asyncio.Event()
        self._task = asyncio.create_task(self._run(stream), name=f"fullsms-shared-poll[{key!r}]")
        log.debug("Shared poll %r started", key)

    def join(self) -> _Readings:
        readings = _Readings(self)
        self._subscribers.add(readings)
        return readings

    def taken(self, readings: _Readings) -> None:
        self._unread.discard(readings)
        if not self._unread:
            self._all_read.set()

    async def leave(self, readings: _Readings) -> None:
        self._subscribers.discard(readings)
        self.taken(readings)
        if self._subscribers:
            return
        # Forgotten before waiting: a trigger arriving meanwhile starts a new poll, not this one.
        self._forget()
        if not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])
            log.debug("Shared poll %r stopped: its last subscriber left", self.key)

    async def _run(self, stream: AsyncGenerator[Any, None]) -> None:
        try:
            async for reading in stream:
                self._unread = set(self._subscribers)
                self._all_read.clear()
                for readings in self._unread:
                    readings.queue.put_nowait(reading)
                if self._unread:
                    await self._all_read.wait()
        except Exception as error:
            self._end(error)
        else:
            self._end(None)
        finally:
            # Also when cancelled other than by the last subscriber (asyncio.run's end cancels
            # every task): a forgotten poll holds nothing of its loop.
            self._forget()
            # Cancelled, the stream is still suspended at a reading: close it (its client) now.
            await stream.aclose()

    def _end(self, error: Exception | None) -> None:
        """The stream ended on its own: no subscriber joins it now; each learns it after its readings."""
        self._forget()
        for readings in self._subscribers:
            readings.queue.put_nowait(_End(error))
        if error is not None:
            log.debug("Shared poll %r failed: %s", self.key, error)

    def _forget(self) -> None:
        if self._polls.get(self.key) is self:
            del self._polls[self.key]
