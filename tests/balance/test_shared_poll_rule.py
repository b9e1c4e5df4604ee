"""
The shared poll's rule, over generated histories of triggers joining, reading, leaving and polls failing.

:func:`~airflow_provider_fullsms.triggers.shared_poll.subscribe` is what a balance trigger's own
``run()`` reads through on Airflow 2.11 to 3.2 (and under ``dag.test()``); the named scenarios in
``test_shared_poll.py`` check it against the sandbox. Here a state machine drives it with a stream
it controls, in one event loop, whatever the order, and checks after every step that:

* a key never has two streams open (one balance request per connection and interval), and has
  none once its last trigger left;
* a trigger reads exactly the readings made while it was there, in order: none made before it
  joined, none skipped;
* no reading is made that nobody reads, nor before every trigger took the last one;
* a stream that fails ends every trigger then reading it, after its readings, with that error;
  the next trigger of its key starts a new one.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from airflow_provider_fullsms.triggers.shared_poll import subscribe

pytestmark = pytest.mark.property

KEYS = ("conn-a/60", "conn-b/60")


class PollFailed(Exception):
    """What a failing stream raises: FullSMS refusing the token, say."""


@dataclass
class Stream:
    """One stream the poll opened: each reading it made, and who was there to read it."""

    key: str
    #: Which poll of its key: one more each time a poll of the key failed.
    generation: int
    #: (reading, the triggers there to read it, those of them yet to take the one before)
    made: list[tuple[int, frozenset[int], frozenset[int]]] = field(default_factory=list)
    closed: bool = False
    #: Each release lets the stream make one reading, or fail, when it is next asked for one.
    go: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(0))
    fail: bool = False


@dataclass
class Trigger:
    """A trigger reading its key's poll; it takes a reading only when a step allows it."""

    id: int
    key: str
    permits: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(0))
    present: bool = False
    #: Waiting for its next reading (rather than for a step to let it take one).
    asking: bool = False
    #: The generation of the poll it joined.
    generation: int = -1
    got: list[int] = field(default_factory=list)
    ended_by: BaseException | None = None
    task: asyncio.Task[None] | None = None


class SharedPollHistory(RuleBasedStateMachine):
    triggers = Bundle("triggers")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.streams: list[Stream] = []
        self.all: list[Trigger] = []
        self.readings = itertools.count()
        self.ids = itertools.count()
        self.generation = dict.fromkeys(KEYS, 0)
        history = self

        class FakeTrigger:
            """A trigger with what Airflow's shared streams need, streaming from this history."""

            def __init__(self, key: str) -> None:
                self.key = key

            def shared_stream_key(self) -> str:
                return self.key

            def serialize(self) -> tuple[str, dict[str, Any]]:
                return "tests.FakeTrigger", {"key": self.key}

            @classmethod
            def open_shared_stream(cls, kwargs: dict[str, Any]) -> Any:
                return history.stream(kwargs["key"])

        self.trigger_class = FakeTrigger

    async def stream(self, key: str) -> Any:
        stream = Stream(key, self.generation[key])
        self.streams.append(stream)
        try:
            while True:
                await stream.go.acquire()
                present = self.reading_from(stream)
                if stream.fail:
                    self.generation[key] += 1  # a trigger arriving from now on starts a new poll
                    raise PollFailed(f"poll of {key} failed")
                unread = frozenset(t.id for t in present if len(self.made_for(t)) > len(t.got))
                reading = next(self.readings)
                stream.made.append((reading, frozenset(t.id for t in present), unread))
                yield reading
        finally:
            stream.closed = True

    def reading_from(self, stream: Stream) -> list[Trigger]:
        return [t for t in self.all if t.present and (t.key, t.generation) == (stream.key, stream.generation)]

    def made_for(self, trigger: Trigger) -> list[int]:
        """The readings made on its poll while it was there, in order."""
        return [
            reading
            for stream in self.streams
            if (stream.key, stream.generation) == (trigger.key, trigger.generation)
            for reading, present, _ in stream.made
            if trigger.id in present
        ]

    async def read(self, trigger: Trigger) -> None:
        async with subscribe(self.trigger_class(trigger.key)) as readings:
            trigger.present, trigger.generation = True, self.generation[trigger.key]
            try:
                while True:
                    trigger.asking = True
                    reading = await anext(readings)
                    trigger.asking = False
                    trigger.got.append(reading)
                    await trigger.permits.acquire()
            except StopAsyncIteration:
                pass
            except PollFailed as error:
                trigger.ended_by = error
            finally:
                trigger.present = False

    def settle(self) -> None:
        """Let every task run until none can move without a step."""

        async def idle() -> None:
            for _ in range(12):
                await asyncio.sleep(0)

        self.loop.run_until_complete(idle())

    def open_streams(self, key: str) -> list[Stream]:
        return [s for s in self.streams if s.key == key and not s.closed]

    # -- steps --------------------------------------------------------------------------------------

    @rule(target=triggers, key=st.sampled_from(KEYS))
    def join(self, key: str) -> Trigger:
        trigger = Trigger(next(self.ids), key)
        # Its first reading is taken on arrival; each later one waits for a `take` step.
        self.all.append(trigger)
        trigger.task = self.loop.create_task(self.read(trigger))
        self.settle()
        return trigger

    @rule(trigger=triggers)
    def take(self, trigger: Trigger) -> None:
        trigger.permits.release()
        self.settle()

    @rule(trigger=consumes(triggers))
    def leave(self, trigger: Trigger) -> None:
        """The triggerer cancels the trigger (its task instance was cleared, or it fired)."""
        assert trigger.task is not None
        trigger.task.cancel()
        self.settle()
        assert trigger.task.done()
        assert not trigger.present

    @rule(key=st.sampled_from(KEYS))
    def reading(self, key: str) -> None:
        """The balance check of the key's poll comes round."""
        for stream in self.open_streams(key):
            stream.go.release()
        self.settle()

    @rule(key=st.sampled_from(KEYS))
    def fails(self, key: str) -> None:
        for stream in self.open_streams(key):
            stream.fail = True
            stream.go.release()
        self.settle()

    def teardown(self) -> None:
        for trigger in self.all:
            if trigger.task is not None:
                trigger.task.cancel()
        self.settle()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    # -- the rule ---------------------------------------------------------------------------------

    @invariant()
    def one_stream_per_key_and_none_without_a_trigger(self) -> None:
        for key in KEYS:
            # Those there when a poll failed learn it when they next read; the others read the one
            # open stream of the key's current poll.
            current = (key, self.generation[key])
            present = [t.id for t in self.all if t.present and (t.key, t.generation) == current]
            assert len(self.open_streams(key)) == (1 if present else 0), (key, present)

    @invariant()
    def each_trigger_reads_what_was_made_while_it_was_there_in_order(self) -> None:
        for trigger in self.all:
            made_for_it = self.made_for(trigger)
            assert trigger.got == made_for_it[: len(trigger.got)], (trigger, made_for_it)
            # Nothing skipped: only the last one may be unread, waiting in its queue (also when it
            # left with it there).
            assert len(made_for_it) - len(trigger.got) <= 1

    @invariant()
    def no_reading_nobody_reads_nor_before_the_last_was_taken(self) -> None:
        for stream in self.streams:
            for reading, present, unread in stream.made:
                assert present, (stream.key, reading)
                assert not unread, (stream.key, reading, unread)

    @invariant()
    def a_failed_poll_ends_its_triggers_with_its_error_after_their_readings(self) -> None:
        for trigger in self.all:
            if trigger.present and trigger.generation < self.generation[trigger.key]:
                assert not trigger.asking, f"{trigger} waits on a poll that failed"
            if trigger.ended_by is not None:
                assert not trigger.present
                assert trigger.generation < self.generation[trigger.key]  # its poll failed
                assert str(trigger.ended_by) == f"poll of {trigger.key} failed"
                assert trigger.got == self.made_for(trigger)  # every reading first


# 30 steps: several triggers of both keys joining, reading, failing and leaving in one history.
SharedPollHistory.TestCase.settings = settings(settings.default, stateful_step_count=30)
TestSharedPollHistory = SharedPollHistory.TestCase
