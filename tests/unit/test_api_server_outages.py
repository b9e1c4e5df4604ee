"""
Airflow's api-server (or its database) restarting mid-campaign: the ledger's writes ride it out.

The task state store is reached through the api-server; when it is down, the Task SDK raises the
``AirflowRuntimeError`` its supervisor reports (``API_SERVER_ERROR``, a ``ConnectError``). A store
that fails like that for a while stands in for it here, with a fake clock: each failed attempt
costs the seconds Airflow's own client retries take, and waits pass on the same clock.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy.exc

# Airflow 2.11 tasks write to the database themselves: there is no api-server, and no Task SDK error
# to stand in for its outage. Said in the run's summary, not hidden.
pytest.importorskip(
    "airflow.sdk.execution_time.comms",
    reason="Airflow 2.11 has no Task SDK api-server between a task and its state",
)
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
from airflow.sdk.execution_time.comms import ErrorResponse
from hypothesis import event, example, given
from hypothesis import strategies as st

from airflow_provider_fullsms.campaigns import Batch, Ledger, run_batches
from airflow_provider_fullsms.campaigns.ledger_writes import LedgerWrites, store_unreachable
from airflow_provider_fullsms.exceptions import (
    CampaignInputError,
    FullSmsConfigurationError,
    LedgerUnreachableError,
)
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests.unit.test_campaigns import FakeApi, classify, make_batches
from tests.unit.test_operators import Api, api, no_sleep, numbers, send_op

__all__ = ["api", "no_sleep"]  # fixtures shared with test_operators

#: Seconds one failed store call takes: Airflow's client tries 5 times with waits in between.
ATTEMPT = 10.0
WINDOW = 60.0
#: When the fake clock reads 0.
START = datetime(2025, 3, 4, 14, 3, 7, tzinfo=UTC)


def api_server_error(**detail: Any) -> AirflowRuntimeError:
    """What the Task SDK raises in the task when its supervisor's call to the api-server failed."""
    return AirflowRuntimeError(ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail=detail))


def refused() -> AirflowRuntimeError:
    """The api-server is down (restarting): the supervisor's httpx call got ``ConnectError``."""
    return api_server_error(
        status_code=None, message="[Errno 111] Connection refused", exception_type="ConnectError"
    )


class Clock:
    """Monotonic seconds that pass only when something waits (or a failed attempt costs time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds

    def wall(self) -> datetime:
        return START + timedelta(seconds=self.now)


class OutageStore(MemoryStateStore):
    """
    A task state store behind an api-server that goes down at the first write ``down_at`` picks and
    stays down for ``outage`` seconds of the clock; reads fail too while it is down.

    :param stored_then_lost: the write that meets the outage is stored, but its answer is lost.
    """

    def __init__(
        self,
        clock: Clock,
        down_at: Callable[[str, dict[str, Any]], bool],
        outage: float,
        *,
        stored_then_lost: bool = False,
    ) -> None:
        super().__init__()
        self.clock, self.down_at, self.outage, self.stored_then_lost = (
            clock,
            down_at,
            outage,
            stored_then_lost,
        )
        self.down_since: float | None = None
        self.events: list[tuple[str, ...]] = []  # ("set", key, state) for each write that succeeded
        self.most_in_flight = 0
        self.marked_at: dict[str, float] = {}  # when each batch was marked in flight (clock time)

    def down(self) -> bool:
        return self.down_since is not None and self.clock() - self.down_since < self.outage

    def _fail(self) -> None:
        self.clock.sleep(ATTEMPT)
        raise refused()

    def get(self, key: str, default: Any = None) -> Any:
        if self.down():
            self._fail()
        return super().get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        if self.down_since is None and self.down_at(key, value):
            self.down_since = self.clock()
            if self.stored_then_lost:
                super().set(key, value)
        if self.down():
            self._fail()
        super().set(key, value)
        self.events.append(("set", key, value.get("s", "")))
        if value.get("s") == "in_flight":
            self.marked_at[key] = self.clock()
        states = [json["s"] for k, json in self.snapshot().items() if k.startswith("fullsms.batch.")]
        self.most_in_flight = max(self.most_in_flight, states.count("in_flight"))

    def snapshot(self) -> dict[str, Any]:
        return {key: MemoryStateStore.get(self, key) for key in self.data}


def writing(state: str, index: int) -> Callable[[str, dict[str, Any]], bool]:
    """The write of batch ``index``'s record in ``state``."""
    return lambda key, value: key == f"fullsms.batch.{index}" and value.get("s") == state


class TimedApi(FakeApi):
    """FakeApi that notes the clock when each send starts."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.started: dict[int, float] = {}

    def send(self, batch: Batch) -> Any:
        self.started[batch.index] = self.clock()
        return super().send(batch)


def campaign(
    store: MemoryStateStore,
    clock: Clock,
    api: FakeApi,
    count: int,
    *,
    concurrency: int = 1,
    window: float = WINDOW,
    log: Callable[[str], None] | None = None,
) -> Any:
    """One try of a ``count``-batch campaign whose ledger waits on ``clock``."""
    writes = LedgerWrites(window, clock=clock, now=clock.wall, sleep=clock.sleep)
    ledger = Ledger(store, writes=writes)
    ledger.open({"fingerprint": "plan", "batches": count})
    return run_batches(
        make_batches(count),
        api.send,
        ledger,
        classify=classify,
        max_concurrency=concurrency,
        total_batches=count,
        total_recipients=count,
        log=log or (lambda line: None),
    )


def states(store: MemoryStateStore, count: int) -> list[str]:
    return [MemoryStateStore.get(store, f"fullsms.batch.{i}", {}).get("s") for i in range(count)]


# -- what counts as "the store is unreachable" ---------------------------------------------------


@pytest.mark.parametrize(
    ("error", "unreachable"),
    [
        (refused(), True),
        (api_server_error(status_code=None, message="timed out", exception_type="ReadTimeout"), True),
        (api_server_error(status_code=None, message="", exception_type="RemoteProtocolError"), True),
        # The api-server up, its database down: a 500 (JSON body, or a plain-text page).
        (api_server_error(status_code=500, message="Server returned error", detail={}), True),
        (api_server_error(status_code=503, message="Service Unavailable"), True),
        (
            api_server_error(
                status_code=None,
                message="Server error '502 Bad Gateway' for url 'http://airflow/execution/…'",
                exception_type="HTTPStatusError",
            ),
            True,
        ),
        # Airflow shut this try out (the task instance was replaced): waiting cannot help.
        (api_server_error(status_code=404, message="Not Found"), False),
        (api_server_error(status_code=409, message="Conflict"), False),
        (api_server_error(status_code=410, message="Gone"), False),
        (
            api_server_error(
                status_code=None, message="Client error '404 Not Found'", exception_type="HTTPStatusError"
            ),
            False,
        ),
        (api_server_error(status_code=400, message="Unhandled request"), False),
        (api_server_error(status_code=None, message="bad", exception_type="ValidationError"), False),
        (AirflowRuntimeError(ErrorResponse(error=ErrorType.GENERIC_ERROR, detail={})), False),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (TimeoutError("timed out"), True),
        (BrokenPipeError(32, "Broken pipe"), False),  # the task's own supervisor is gone
        (ValueError("Cannot set value as None"), False),
        (TypeError("Object of type set is not JSON serializable"), False),
        # Airflow 2.11 writes the Variables ledger straight to its database: a restart or failover.
        (
            sqlalchemy.exc.OperationalError("UPDATE variable", {}, Exception("server closed the connection")),
            True,
        ),
        (sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("connection already closed")), True),
        (sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")), False),
    ],
)
def test_only_an_unreachable_store_is_waited_for(error: BaseException, unreachable: bool) -> None:
    assert store_unreachable(error) is unreachable


def test_a_programming_error_is_raised_at_once() -> None:
    clock = Clock()
    calls = []

    def broken() -> None:
        calls.append(clock())
        raise TypeError("Object of type set is not JSON serializable")

    with pytest.raises(TypeError):
        LedgerWrites(WINDOW, clock=clock, sleep=clock.sleep).call(broken, "recording batch 0 (accepted)")
    assert calls == [0.0]


# -- a restart shorter than the window: nothing lost, nobody twice, no person ---------------------


@pytest.mark.parametrize("concurrency", [1, 3])
@pytest.mark.parametrize(
    ("down_at", "what"),
    [
        (writing("accepted", 0), "the first result"),
        (writing("accepted", 4), "a middle result"),
        (writing("accepted", 9), "the last result"),
        (writing("in_flight", 5), "an in-flight mark"),
    ],
)
def test_an_api_server_restart_mid_campaign_loses_nothing(
    down_at: Callable[[str, dict[str, Any]], bool], what: str, concurrency: int
) -> None:
    clock = Clock()
    store = OutageStore(clock, down_at, outage=40.0)
    api = TimedApi(clock)
    report = campaign(store, clock, api, 10, concurrency=concurrency)
    assert store.down_since is not None, what
    assert sorted(api.sent) == list(range(10))  # everyone once
    assert (report.accepted, report.unknown_batches, report.stopped_by) == (10, 0, None)
    assert states(store, 10) == ["accepted"] * 10
    # No batch was marked in flight while the ledger could not be written, and the only ones that
    # started during the outage were handed over before it began (a thread may pick one up late).
    assert store.most_in_flight <= concurrency + 1
    started_during = [i for i, at in api.started.items() if store.down_since < at < store.down_since + 40]
    assert all(store.marked_at[f"fullsms.batch.{i}"] <= store.down_since for i in started_during)
    assert len(started_during) <= concurrency


def test_each_campaign_id_is_in_the_log_before_its_ledger_write() -> None:
    clock = Clock()
    store = OutageStore(clock, writing("accepted", 2), outage=30.0)
    events = store.events
    campaign(store, clock, FakeApi(), 6, concurrency=2, log=lambda line: events.append(("log", line)))
    for index in range(6):
        logged = next(
            n
            for n, event in enumerate(events)
            if event[0] == "log" and f"campaign id camp-{index}," in event[1]
        )
        written = events.index(("set", f"fullsms.batch.{index}", "accepted"))
        assert logged < written


def test_one_failed_write_keeps_no_other_result_out_of_the_ledger() -> None:
    """The try fails (here a bad row in a streamed audience) with three answers still to record."""
    store = MemoryStateStore()
    api = FakeApi()
    first_accepted = []

    class BrokenOnce(MemoryStateStore):
        def set(self, key: str, value: Any, *, retention: Any = None) -> None:
            if value["s"] == "accepted" and not first_accepted:
                first_accepted.append(key)
                raise RuntimeError("the store refused this one write")
            store.set(key, value)

        def get(self, key: str, default: Any = None) -> Any:
            return store.get(key, default)

    def audience() -> Iterator[Batch]:
        yield from make_batches(3)
        while api.answered < 3:
            time.sleep(0.01)
        time.sleep(0.1)  # their answers are queued for the calling thread
        raise CampaignInputError("row 1501: 'abc' is not a phone number")

    ledger = Ledger(BrokenOnce())
    with pytest.raises(CampaignInputError, match="row 1501"):
        run_batches(audience(), api.send, ledger, classify=classify, max_concurrency=4)
    assert sorted(states(store, 3)) == ["accepted", "accepted", "in_flight"]


# -- an in-flight mark that failed: never sent, so never "unknown" --------------------------------


def test_a_mark_stored_but_answered_with_an_error_is_retried_and_the_batch_sent_once() -> None:
    clock = Clock()
    store = OutageStore(clock, writing("in_flight", 2), outage=25.0, stored_then_lost=True)
    api = FakeApi()
    report = campaign(store, clock, api, 5, concurrency=1)
    assert sorted(api.sent) == [0, 1, 2, 3, 4]
    assert report.unknown_batches == 0
    assert states(store, 5) == ["accepted"] * 5


def test_a_batch_whose_mark_failed_is_recorded_not_sent_and_the_retry_sends_it() -> None:
    """The mark was stored, then the store answered an error that is not worth waiting for."""

    class LostAnswer(MemoryStateStore):
        lost = False

        def set(self, key: str, value: Any, *, retention: Any = None) -> None:
            super().set(key, value)
            if key == "fullsms.batch.2" and value["s"] == "in_flight" and not self.lost:
                self.lost = True
                raise RuntimeError("the answer to this write was lost")

    store = LostAnswer()
    first = FakeApi()
    with pytest.raises(RuntimeError, match="answer to this write was lost"):
        campaign(store, Clock(), first, 5, concurrency=1)
    assert 2 not in first.sent
    record = store.get("fullsms.batch.2")
    assert record["s"] == "not_sent"
    assert record["why"].startswith("never sent: its in-flight mark could not be recorded")
    retry = FakeApi()
    report = campaign(store, Clock(), retry, 5, concurrency=1)
    assert sorted(first.sent + retry.sent) == [0, 1, 2, 3, 4]  # everyone once
    assert (report.unknown_batches, report.accepted + report.skipped_accepted) == (0, 5)


def test_a_batch_left_in_flight_by_a_dead_worker_is_still_unknown() -> None:
    store = MemoryStateStore()
    ledger = Ledger(store)
    ledger.open({"fingerprint": "plan", "batches": 2})
    ledger.mark_in_flight(make_batches(2)[0])  # the worker died with batch 0 out
    report = campaign(store, Clock(), FakeApi(), 2)
    assert [u["index"] for u in report.unknown] == [0]
    assert "in flight when an earlier try ended" in report.unknown[0]["error"]


# -- a restart longer than the window: the try says what and since when --------------------------


def test_when_the_window_runs_out_the_try_fails_naming_what_failed_and_since_when() -> None:
    clock = Clock()
    clock.now = 90.0  # 14:04:37 when the outage begins
    store = OutageStore(clock, writing("accepted", 3), outage=10_000.0)
    api = TimedApi(clock)
    with pytest.raises(LedgerUnreachableError) as caught:
        campaign(store, clock, api, 10, concurrency=2)
    message = str(caught.value)
    assert message.startswith("api-server unreachable while recording batch 3 (accepted) since 14:04:37 UTC")
    assert "ledger_write_window=60 s" in message
    assert "ConnectError" in message
    # Every request out was waited for and named with its campaign id; no batch started after.
    assert "batch 3 accepted, campaign id camp-3 (settle it --sent)" in message
    for index in api.sent:
        assert f"batch {index} " in message or states(store, 10)[index] == "accepted"
    # Threads answer in any order (batch 3 may come back after 4, 5 and 6): the rule is that every
    # batch sent was marked in flight before the outage began, and at most ``limit + 1`` were out.
    assert all(store.marked_at[f"fullsms.batch.{index}"] <= store.down_since for index in api.sent)
    assert len([index for index in api.sent if states(store, 10)[index] != "accepted"]) <= 2 + 1
    report = caught.value.report
    assert report.accepted == len(api.sent)
    assert report.unknown_batches == 0


def test_an_outage_just_longer_than_the_window_leaves_the_never_sent_batch_safe_to_send() -> None:
    """Given up at the in-flight mark of batch 2; the store is back for the try's last writes."""
    clock = Clock()
    store = OutageStore(clock, writing("in_flight", 2), outage=WINDOW + 5, stored_then_lost=True)
    first = FakeApi()
    with pytest.raises(LedgerUnreachableError, match=r"while recording batch 2 \(in flight\) since 14:03:07"):
        campaign(store, clock, first, 5, concurrency=1)
    assert 2 not in first.sent
    assert store.get("fullsms.batch.2")["s"] == "not_sent"
    retry = FakeApi()
    report = campaign(store, clock, retry, 5, concurrency=1)
    assert sorted(first.sent + retry.sent) == [0, 1, 2, 3, 4]
    assert report.unknown_batches == 0


# -- the rule, over generated outages -------------------------------------------------------------


@pytest.mark.property
@given(
    count=st.integers(1, 12),
    concurrency=st.integers(1, 4),
    at=st.integers(0, 24),
    outage=st.floats(1, 200),
    stored_then_lost=st.booleans(),
)
@example(count=10, concurrency=2, at=20, outage=61.0, stored_then_lost=True)
def test_nobody_is_texted_twice_and_no_person_is_needed_for_an_outage_shorter_than_the_window(
    count: int, concurrency: int, at: int, outage: float, stored_then_lost: bool
) -> None:
    """
    The store goes down at its ``at``-th write for ``outage`` seconds. Shorter than the window
    (less one attempt): the try finishes, everyone once, nothing unknown. Longer: the try fails,
    every batch left in flight is named with how to settle it, and that advice is right, so the
    retry after settling texts everyone exactly once.
    """
    clock = Clock()
    writes = iter(range(10_000))
    store = OutageStore(
        clock, lambda key, value: next(writes) == at, outage, stored_then_lost=stored_then_lost
    )
    first = FakeApi()
    try:
        report = campaign(store, clock, first, count, concurrency=concurrency)
    except LedgerUnreachableError as error:
        assert store.most_in_flight <= concurrency + 1
        event("the window ran out: the try failed, a person settles what it names")
        assert outage > WINDOW - ATTEMPT
        advice = dict(re.findall(r"batch (\d+) [^;]*?\(settle it --(sent|resend)\)", str(error)))
        left = [i for i, state in enumerate(states(store, count)) if state == "in_flight"]
        assert sorted(int(i) for i in advice) == sorted(set(left) | {int(i) for i in advice})
        for index in left:
            assert advice[str(index)] == ("sent" if index in first.sent else "resend")
            MemoryStateStore.set(store, f"fullsms.decision.{index}", advice[str(index)])
        store.outage = 0.0
        retry = FakeApi()
        report = campaign(store, clock, retry, count, concurrency=concurrency)
        assert sorted(first.sent + retry.sent) == list(range(count))
    else:
        event("finished in one try" if store.down_since is not None else "no outage reached")
        assert sorted(first.sent) == list(range(count))
        assert report.unknown_batches == 0
        assert store.most_in_flight <= concurrency + 1


# -- the operator: the window is a parameter, the summary so far is pushed ------------------------


@pytest.mark.parametrize("bad", [0, -5, "soon", True, float("inf")])
def test_a_bad_ledger_write_window_is_refused_naming_the_value(bad: object) -> None:
    with pytest.raises(FullSmsConfigurationError, match=re.escape(f"ledger_write_window={bad!r}")):
        send_op(numbers=["447700900001"], ledger_write_window=bad)


def test_the_operator_fails_retryably_and_pushes_the_summary_so_far(api: Api) -> None:
    clock = Clock()
    store = OutageStore(clock, writing("accepted", 1), outage=10_000.0)
    pushed: dict[str, Any] = {}

    class Ti:
        dag_id, run_id, task_id, map_index = "campaign", "manual__1", "send", -1

        def xcom_push(self, key: str, value: Any) -> None:
            pushed[key] = value

    op = send_op(numbers=numbers(2000), ledger_write_window=0.01)
    with pytest.raises(AirflowException) as caught:
        op.execute({"task_state_store": store, "ti": Ti()})
    assert not isinstance(caught.value, AirflowFailException)  # the task's retries apply
    assert str(caught.value).startswith("api-server unreachable while recording batch 1 (accepted) since ")
    assert "batch 1 accepted, campaign id camp-1 (settle it --sent)" in str(caught.value)
    summary = pushed["fullsms_summary"]
    # Batches 0 and 1 were accepted, and 2 if it was out when the outage began; 3 never started.
    assert summary["batches"]["accepted"] in (2, 3)
    assert summary["sent"] == 500 * summary["batches"]["accepted"]
    assert summary["ledger_unreachable"].startswith("api-server unreachable while recording batch 1")
