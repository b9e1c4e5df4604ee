"""
The ledger's life cycle as a state machine: nobody is texted twice, whatever happens in between.

A campaign of :data:`BATCHES` batches goes through any sequence of tries (each batch answered as
FullSMS and the hook would: accepted, each documented refusal, 429, 503, a refused connection, a
500, an answer lost after FullSMS acted, a timeout, a killed worker), people's decisions (``sent``
/ ``resend`` through the CLI's :func:`settle`, the FullSMS page's route, or the state-store key
written by hand; changed and withdrawn; also while a try runs), the scheduler noticing a dead
worker, time passing and ``airflow state-store clean``.

What runs is the real thing: :func:`run_batches`, :class:`Ledger`, ``decide``, ``send_batch``,
``classify_failure`` and the policy's mapping of answers to errors (``read_response``,
``error_for_transport``). FullSMS is a fake that counts each phone's texts; the state store keeps
rows with their expiry as Airflow's does (:class:`AirflowStateStore`). A killed worker is a
``BaseException`` raised in the send: from then on its try reaches neither FullSMS nor the store.

Invariants:

* a batch is sent again only after an answer that proves FullSMS did not act (a refusal, 429,
  503, a refused connection) or a ``resend`` decision;
* nobody is texted more than once, except once more per explicit ``resend`` decision (and, with
  ``on_unknown_outcome="resend"``, once more per batch);
* a person who tells the truth texts nobody twice, and the ledger then agrees with FullSMS;
* every recipient is in exactly one figure of each try's summary, and its campaign ids and
  ``sent`` are FullSMS's;
* a decision applies once, to the attempt it was made about: a resend whose answer is lost too
  waits for a new decision (the allowance above fails otherwise);
* a decision about a batch in flight while a try runs is refused, by the CLI and by the page;
* at most ``max_concurrency + 1`` batches are in flight at once;
* the ledger never expires while a try can still run: never by default, and with an explicit
  retention not within it of the campaign's start (after that, documented, no try is run here).
"""

from __future__ import annotations

import enum
import json
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from airflow_provider_fullsms.campaigns import Batch, Ledger, OnUnknownOutcome, run_batches
from airflow_provider_fullsms.campaigns.ledger import LEDGER_PREFIX, BatchState, Settlement
from airflow_provider_fullsms.campaigns.refusals import send_batch
from airflow_provider_fullsms.exceptions import SettlementRefusedError
from airflow_provider_fullsms.models import Campaign
from airflow_provider_fullsms.policy import TransportFailure, error_for_transport, read_response
from airflow_provider_fullsms.settlement import SETTLEABLE, TaskAddress, settle, withdraw
from airflow_provider_fullsms.version_compat import AIRFLOW_V_3_0_PLUS
from tests import vendor_docs as docs
from tests.unit.airflow_state_store import AirflowStateStore

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_fullsms.campaigns.batching import SendResult

pytestmark = [
    pytest.mark.property,
    # Importing Airflow's FastAPI app imports fastapi.testclient.
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
]

BATCHES, PER_BATCH = 2, 2
PHONES = [tuple(f"4477009{index}{person:04d}" for person in range(PER_BATCH)) for index in range(BATCHES)]
RECIPIENTS = BATCHES * PER_BATCH
PLAN = {"fingerprint": "campaign", "batches": BATCHES, "recipients": RECIPIENTS}
TASK = TaskAddress("campaign", "manual__1", "send")
SEND = "POST messages/send/to_numbers"
TRY_RUNNING = "running"


def batches() -> list[Batch]:
    return [Batch(index, PHONES[index], "Hi", f"fp{index}", PER_BATCH) for index in range(BATCHES)]


class Answer(enum.Enum):
    """What became of one batch's request in a try."""

    ACCEPTED = "accepted"
    ACCESS_DENIED = "403 access denied"
    UNAUTHENTICATED = "403 unauthenticated"
    FROM_INVALID = "403 sender number invalid"
    SENDER_NOT_APPROVED = "403 sender id not approved"
    SHORTLINKS = "403 shortlinks not allowed"
    TEMPLATE_NOT_FOUND = "404 template not found"
    MESSAGE_NOT_STRING = "422 message not a string"
    BALANCE_LOW = "422 balance_low"
    PHONE_REFUSED = "422 to_numbers.0, then the rest accepted"
    RATE_LIMITED = "429 (JSON)"
    RATE_LIMITED_PAGE = "429 (a proxy's HTML page)"
    UNAVAILABLE = "503"
    CONNECTION_REFUSED = "connection refused"
    SERVER_ERROR = "500, FullSMS did nothing"
    SERVER_ERROR_AFTER_ACTING = "500 after FullSMS texted"
    LOST_AFTER_ACTING = "connection dropped after FullSMS texted"
    TIMEOUT = "read timeout after FullSMS texted"
    TIMEOUT_BEFORE_ACTING = "read timeout, FullSMS did nothing"
    KILLED_AFTER_ACTING = "worker killed after FullSMS texted"
    KILLED_BEFORE_ACTING = "worker killed before the request went out"


#: Answers FullSMS gives as an HTTP error, with their documented bodies.
HTTP_ERRORS: dict[Answer, tuple[int, bytes]] = {
    Answer.ACCESS_DENIED: (403, json.dumps(docs.ACCESS_DENIED).encode()),
    Answer.UNAUTHENTICATED: (403, json.dumps(docs.UNAUTHENTICATED).encode()),
    Answer.FROM_INVALID: (403, json.dumps(docs.FROM_INVALID_NUMBER).encode()),
    Answer.SENDER_NOT_APPROVED: (403, json.dumps(docs.SENDER_NOT_APPROVED).encode()),
    Answer.SHORTLINKS: (403, json.dumps(docs.SHORTLINKS).encode()),
    Answer.TEMPLATE_NOT_FOUND: (404, json.dumps(docs.TEMPLATE_NOT_FOUND).encode()),
    Answer.MESSAGE_NOT_STRING: (422, json.dumps(docs.MESSAGE_NOT_STRING).encode()),
    Answer.BALANCE_LOW: (422, json.dumps(docs.BALANCE_LOW).encode()),
    Answer.PHONE_REFUSED: (422, json.dumps(docs.NUMBERS_INVALID).encode()),
    Answer.RATE_LIMITED: (429, b'{"message": "Too Many Attempts."}'),
    Answer.RATE_LIMITED_PAGE: (429, b"<html><body><h1>429 Too Many Requests</h1></body></html>"),
    Answer.UNAVAILABLE: (503, b'{"message": "Service Unavailable"}'),
    Answer.SERVER_ERROR: (500, json.dumps(docs.SERVER_ERROR).encode()),
    Answer.SERVER_ERROR_AFTER_ACTING: (500, json.dumps(docs.SERVER_ERROR).encode()),
}
#: Answers with no HTTP response: what went wrong below HTTP.
TRANSPORT_ERRORS = {
    Answer.CONNECTION_REFUSED: TransportFailure.NOT_CONNECTED,
    Answer.LOST_AFTER_ACTING: TransportFailure.DROPPED,
    Answer.TIMEOUT: TransportFailure.READ_TIMEOUT,
    Answer.TIMEOUT_BEFORE_ACTING: TransportFailure.READ_TIMEOUT,
}
#: Answers after which FullSMS had texted the request's phones.
ACTED = {
    Answer.ACCEPTED,
    Answer.SERVER_ERROR_AFTER_ACTING,
    Answer.LOST_AFTER_ACTING,
    Answer.TIMEOUT,
    Answer.KILLED_AFTER_ACTING,
}
KILLS = {Answer.KILLED_AFTER_ACTING, Answer.KILLED_BEFORE_ACTING}
#: Answers that prove FullSMS did not act on the request: sending the batch again is safe.
NOT_SENT = {
    answer
    for answer, (status, _) in HTTP_ERRORS.items()
    if status in (403, 404, 422, 429, 503) and answer is not Answer.PHONE_REFUSED
} | {Answer.CONNECTION_REFUSED}
#: Each answer as often as it appears here: most batches are accepted, and the rest is spread so
#: that every history is reached often (a flat list shrinks towards its first, "accepted").
WEIGHTED: list[Answer] = [
    *[Answer.ACCEPTED] * 10,
    *[Answer.PHONE_REFUSED] * 2,
    *[Answer.SERVER_ERROR, Answer.TIMEOUT_BEFORE_ACTING] * 5,  # unknown, nobody texted
    *[Answer.SERVER_ERROR_AFTER_ACTING, Answer.LOST_AFTER_ACTING, Answer.TIMEOUT] * 3,  # unknown, texted
    Answer.LOST_AFTER_ACTING,
    Answer.ACCESS_DENIED,  # refused as it is: the campaign stops
    Answer.UNAUTHENTICATED,
    Answer.FROM_INVALID,
    Answer.SENDER_NOT_APPROVED,
    Answer.SHORTLINKS,
    Answer.TEMPLATE_NOT_FOUND,
    Answer.MESSAGE_NOT_STRING,
    Answer.BALANCE_LOW,
    Answer.RATE_LIMITED,  # provably not sent, may work later: the campaign stops, a retry resumes it
    Answer.RATE_LIMITED_PAGE,
    Answer.UNAVAILABLE,
    Answer.CONNECTION_REFUSED,
    *[Answer.KILLED_AFTER_ACTING, Answer.KILLED_BEFORE_ACTING] * 2,
]


class KilledWorker(BaseException):
    """The worker process died (SIGKILL, out of memory): nothing of its try happens after this."""


class FakeFullSms:
    """FullSMS as the phones see it: every text each number got, and every campaign it made."""

    def __init__(self) -> None:
        self.texts: Counter[str] = Counter()
        self.campaigns: dict[str, tuple[str, ...]] = {}
        self.lock = threading.Lock()

    def act(self, numbers: Sequence[str]) -> str:
        with self.lock:
            campaign_id = f"camp-{len(self.campaigns)}"
            self.campaigns[campaign_id] = tuple(numbers)
            self.texts.update(numbers)
        return campaign_id


@dataclass
class Try:
    """One try of the send task: alive until its worker is killed."""

    answers: dict[int, Answer]
    dead: bool = False
    in_flight: int = 0
    most_in_flight: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()


class TryStore:
    """The task's state store as one try writes it: nothing lands once its worker is dead."""

    def __init__(self, store: AirflowStateStore, attempt: Try) -> None:
        self.store, self.attempt = store, attempt
        self._flying: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        return self.store.get(key, default)

    def set(self, key: str, value: Any, *, retention: timedelta | None = None) -> None:
        with self.attempt.lock:
            if self.attempt.dead:
                return
            self.store.set(key, value, retention=retention)
            if key.startswith(f"{LEDGER_PREFIX}.batch."):
                if value["s"] == "in_flight":
                    self._flying.add(key)
                else:
                    self._flying.discard(key)
                self.attempt.most_in_flight = max(self.attempt.most_in_flight, len(self._flying))


class ModelAirflowApi:
    """Airflow's REST API as :class:`~airflow_provider_fullsms.settlement.AirflowApi` calls it."""

    def __init__(self, machine: LedgerLifeCycle) -> None:
        self.machine = machine

    def state_store_entries(self, task: TaskAddress) -> dict[str, dict[str, Any]]:
        return self.machine.store.entries()

    def state_store(self, task: TaskAddress) -> dict[str, Any]:
        return {key: entry["value"] for key, entry in self.state_store_entries(task).items()}

    def set_state(self, task: TaskAddress, key: str, value: Any, *, expires_at: str | None = None) -> None:
        self.machine.store.put(key, value, expires_at)

    def delete_state(self, task: TaskAddress, key: str) -> None:
        self.machine.store.delete(key)

    def task_state(self, task: TaskAddress) -> str | None:
        return self.machine.task_state

    def clear(self, task: TaskAddress) -> None:
        """Nothing to do here: the machine's next try is the cleared task running again."""


class Editor:
    """A page user who may change the DAG's task instances."""

    token = "jwt-for-tests"

    def may_edit_task_instances(self, dag_id: str) -> bool:
        return True


class FullSmsPage:
    """
    The FullSMS page's decision routes, called as FastAPI calls them once it has checked the user
    and read the body (tests/unit/test_ui_ledger_view.py goes through HTTP; here it would cost
    10 ms a call). Their writes go to ``api``.
    """

    routes: dict[str, Any] = {}

    def __init__(self, api: ModelAirflowApi) -> None:
        from fastapi.routing import APIRoute

        from airflow_provider_fullsms.plugins import app

        if not self.routes:  # built once: the app is the same for every history
            self.routes.update(
                (route.path, route.endpoint)
                for route in app.create_app().routes
                if isinstance(route, APIRoute)
            )
        self.api, self.app = api, app

    def post(self, path: str, body: dict[str, Any]) -> int:
        """The status the route answers ``body`` with."""
        from fastapi import HTTPException

        model = self.app.DecisionBody if path == "/api/decision" else self.app.BatchBody
        try:
            self.routes[path](who=Editor(), api=self.api, body=model(**body))
        except HTTPException as error:
            return int(error.status_code)
        return 200


@dataclass(frozen=True)
class Person:
    """Someone deciding about batch ``about`` while batch ``during`` is out (a try is running)."""

    during: int
    about: int
    choice: str
    channel: str


#: Where a person can decide: the CLI, and the FullSMS page where Airflow hosts it (not 2.11).
apps = ["cli", "page"] if AIRFLOW_V_3_0_PLUS else ["cli"]
#: Where a decision is recorded: an app, or the state-store key by hand (docs/campaigns.md's way).
channels = st.sampled_from([*apps, "key", "key"])
indices = st.integers(0, BATCHES - 1)
an_answer = st.sampled_from(WEIGHTED)
#: A try's answers: one for each batch, or (the common case) ``(pick, answer)``: one batch the try
#: will send gets ``answer`` (anything but plainly accepted), the others are accepted.
answers = st.tuples(indices, st.sampled_from([a for a in WEIGHTED if a is not Answer.ACCEPTED])) | st.lists(
    an_answer, min_size=BATCHES, max_size=BATCHES
)
#: What a person says: mostly what they found in FullSMS, sometimes the wrong thing, or they
#: withdraw what they said.
choices = st.sampled_from(["truth", "truth", "truth", "sent", "resend", "withdraw"])
people = st.none() | st.builds(
    Person,
    indices,
    indices,
    choices.filter(lambda choice: choice != "withdraw"),
    st.sampled_from(apps),
)


class LedgerLifeCycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = AirflowStateStore()
        self.fullsms = FakeFullSms()
        self.api = ModelAirflowApi(self)
        self.page = FullSmsPage(self.api) if "page" in apps else None
        self.task_state: str | None = None
        #: How many texts each phone of a batch may have had: one, plus one per resend decision.
        self.allowed = [1] * BATCHES
        #: How many times a batch was sent, and may have been: once, plus once after each answer
        #: that proves FullSMS did not act, plus once per resend decision.
        self.sends = [0] * BATCHES
        self.permits = [1] * BATCHES
        #: A resend decision was recorded since the last try started (a second one adds nothing).
        self.resend_pending = [False] * BATCHES
        #: Every decision about the batch told the truth.
        self.honest = [True] * BATCHES
        #: Phones FullSMS refused (its 422 naming them): never texted, reported invalid.
        self.refused: set[str] = set()
        self.plan_written_at: Any = None
        self.problems: list[str] = []

    @initialize(
        on_unknown=st.sampled_from(
            [*[OnUnknownOutcome.FAIL] * 4, OnUnknownOutcome.ASSUME_SENT, OnUnknownOutcome.RESEND]
        ),
        retention=st.sampled_from([None, None, timedelta(days=60)]),
        concurrency=st.sampled_from([1, 2]),
        stop_after=st.integers(1, 2),
    )
    def a_campaign(
        self, on_unknown: OnUnknownOutcome, retention: timedelta | None, concurrency: int, stop_after: int
    ) -> None:
        self.on_unknown, self.retention = on_unknown, retention
        self.concurrency, self.stop_after = concurrency, stop_after
        if on_unknown is OnUnknownOutcome.RESEND:
            self.allowed = [count + 1 for count in self.allowed]  # it resends each batch once
            self.permits = [count + 1 for count in self.permits]

    # -- what the model knows ----------------------------------------------------------------------

    def record(self, index: int) -> dict[str, Any] | None:
        value = self.store.get(f"{LEDGER_PREFIX}.batch.{index}")
        return value if isinstance(value, dict) else None

    def texted(self, index: int) -> bool:
        """The truth a person finds in FullSMS: some phone of the batch got the text."""
        return any(self.fullsms.texts[phone] for phone in PHONES[index])

    def within_retention(self) -> bool:
        """Whether the ledger may still be used: always by default; with a retention, within it."""
        if self.retention is None or self.plan_written_at is None:
            return True
        return bool(self.store.now < self.plan_written_at + self.retention)

    def a_try_can_run(self) -> bool:
        return self.task_state != TRY_RUNNING and self.within_retention()

    def decided(self, index: int, settlement: Settlement) -> None:
        """A decision was recorded: a resend allows one more text (once per try gap)."""
        if settlement is Settlement.RESEND and not self.resend_pending[index]:
            self.allowed[index] += 1
            self.permits[index] += 1
            self.resend_pending[index] = True
        if (settlement is Settlement.SENT) != self.texted(index):
            self.honest[index] = False

    def saying(self, index: int, choice: str) -> Settlement:
        """What a person says about batch ``index``: ``"truth"`` is what they find in FullSMS."""
        if choice == "truth":
            return Settlement.SENT if self.texted(index) else Settlement.RESEND
        return Settlement(choice)

    def waiting(self) -> list[int]:
        """The batches waiting for a person's decision (as the CLI's ``show`` lists them)."""
        return [i for i in range(BATCHES) if (self.record(i) or {}).get("s") in SETTLEABLE]

    def expected_refusal(self, index: int, deciding: bool) -> bool:
        record = self.record(index)
        if record is None or record.get("s") not in SETTLEABLE:
            return True
        return deciding and record.get("s") == "in_flight" and self.task_state == TRY_RUNNING

    # -- a person, through the CLI or the page -----------------------------------------------------

    def settle_through(self, channel: str, index: int, settlement: Settlement | None) -> bool:
        """Record (``None``: withdraw) a decision through the CLI's functions or the page; return
        whether it was refused."""
        if channel == "cli":
            try:
                if settlement is None:
                    withdraw(self.api, TASK, [index])  # type: ignore[arg-type]
                else:
                    settle(self.api, TASK, [index], settlement)  # type: ignore[arg-type]
            except SettlementRefusedError:
                return True
            return False
        body = {"dag_id": TASK.dag_id, "run_id": TASK.run_id, "task_id": TASK.task_id, "batch": index}
        if settlement is None:
            assert self.page is not None
            status = self.page.post("/api/decision/withdraw", body)
        else:
            status = self.page.post("/api/decision", {**body, "decision": settlement.value})
        assert status in (200, 409), status
        return status == 409

    @rule(pick=indices, choice=choices, channel=channels)
    def a_person_decides_about_a_batch_the_task_reported(self, pick: int, choice: str, channel: str) -> None:
        """About a batch ``show`` lists as waiting for a decision (any batch when none waits)."""
        waiting = self.waiting()
        self.a_person_decides(waiting[pick % len(waiting)] if waiting else pick, choice, channel)

    @rule(index=indices, choice=choices, channel=channels)
    def a_person_decides_about_any_batch(self, index: int, choice: str, channel: str) -> None:
        """Also about a batch whose outcome is known, or never recorded: refused."""
        self.a_person_decides(index, choice, channel)

    def a_person_decides(self, index: int, choice: str, channel: str) -> None:
        waiting = self.waiting()
        if channel == "key":
            if index in waiting and choice != "withdraw":
                self.writes_the_key_by_hand(index, choice)
        else:
            self.decides_through(channel, index, choice)

    def decides_through(self, channel: str, index: int, choice: str) -> None:
        if choice == "withdraw":
            expected = self.expected_refusal(index, deciding=False)
            assert self.settle_through(channel, index, None) == expected
            return
        settlement = self.saying(index, choice)
        expected = self.expected_refusal(index, deciding=True)
        refused = self.settle_through(channel, index, settlement)
        assert refused == expected, f"{channel}: refused={refused} for batch {index}: {self.record(index)}"
        if not refused:
            self.decided(index, settlement)

    def writes_the_key_by_hand(self, index: int, choice: str) -> None:
        """
        ``PUT .../state-store/fullsms.decision.<index>`` with a plain value and Airflow's default
        expiry, as docs/campaigns.md shows: about a batch the task reported unknown.
        """
        settlement = self.saying(index, choice)
        self.store.put(f"{LEDGER_PREFIX}.decision.{index}", settlement.value)
        self.decided(index, settlement)

    # -- the task ----------------------------------------------------------------------------------

    def request(self, attempt: Try, answer: Answer, batch: Batch, numbers: Sequence[str]) -> Campaign:
        """One HTTP request of the send, answered as the hook would report it."""
        if attempt.dead:
            raise KilledWorker  # the process is gone: nothing reaches FullSMS
        if answer is Answer.PHONE_REFUSED and numbers[0] == batch.numbers[0]:
            self.refused.add(numbers[0])  # FullSMS refuses the request; send_batch drops the phone
        elif answer is Answer.PHONE_REFUSED:
            answer = Answer.ACCEPTED
        campaign_id = self.fullsms.act(numbers) if answer in ACTED else None
        if answer is Answer.ACCEPTED:
            return Campaign.from_api(
                {**docs.SEND_TO_NUMBERS, "campaign_id": campaign_id, "total_sent": len(numbers)}
            )
        if answer in KILLS:
            with attempt.lock:
                attempt.dead = True
            raise KilledWorker
        if answer in HTTP_ERRORS:
            status, body = HTTP_ERRORS[answer]
            read_response(status, body, {"Retry-After": "1"}, what=SEND, idempotent=False)
        raise error_for_transport(TRANSPORT_ERRORS[answer], "test", what=SEND, idempotent=False)

    def send(self, attempt: Try, person: Person | None, batch: Batch) -> SendResult:
        if person is not None and person.during == batch.index:
            try:
                settlement = self.saying(person.about, person.choice)
                refused = self.settle_through(person.channel, person.about, settlement)
                if person.about == batch.index and not refused:
                    self.problems.append(f"a decision about batch {batch.index}, in flight, was recorded")
                if not refused:
                    self.decided(person.about, settlement)
            except BaseException as error:  # reported by the rule: here the runner would swallow it
                self.problems.append(f"deciding during a try: {error!r}")
        answer = attempt.answers.get(batch.index, Answer.ACCEPTED)
        if not attempt.dead:  # a dead worker sends nothing more
            self.sends[batch.index] += 1
            self.permits[batch.index] += answer in NOT_SENT
        return send_batch(batch, partial(self.request, attempt, answer, batch))

    @precondition(lambda self: self.a_try_can_run())
    @rule(answers=answers, person=people)
    def the_task_runs(self, answers: Any, person: Person | None) -> None:
        """A try: the first, or Airflow's retry."""
        self.a_try_runs(self.answers(answers), person)

    @precondition(lambda self: self.a_try_can_run())
    @rule(answers=answers, person=people)
    def a_person_clears_the_task(self, answers: Any, person: Person | None) -> None:
        self.a_try_runs(self.answers(answers), person)

    def answers(self, drawn: tuple[int, Answer] | list[Answer]) -> dict[int, Answer]:
        if isinstance(drawn, list):
            return dict(enumerate(drawn))
        pick, answer = drawn
        done = ("accepted", "assumed_sent")
        to_send = [i for i in range(BATCHES) if (self.record(i) or {}).get("s") not in done] or [pick]
        return {to_send[pick % len(to_send)]: answer}

    def a_try_runs(self, answers: dict[int, Answer], person: Person | None) -> None:
        """The task runs: what its batches get is ``answers``; ``person`` decides meanwhile."""
        self.resend_pending = [False] * BATCHES
        for index in self.waiting():  # what the histories reach (pytest --hypothesis-show-statistics)
            decision = self.store.get(f"{LEDGER_PREFIX}.decision.{index}")
            if isinstance(decision, str):
                event("a try starts with a decision written by hand")
            elif isinstance(decision, dict) and decision["attempt"] != (self.record(index) or {}).get("a"):
                event("a try starts with a decision about an earlier attempt")
        attempt = Try(answers)
        sends_before = list(self.sends)
        left_in_flight = {
            i for i in range(BATCHES) if (self.record(i) or {}).get("s") == BatchState.IN_FLIGHT
        }
        self.task_state = TRY_RUNNING
        ledger = Ledger(TryStore(self.store, attempt), retention=self.retention)
        if not ledger.open(PLAN):
            self.plan_written_at = self.store.now
        report = run_batches(
            batches(),
            partial(self.send, attempt, person),
            ledger,
            on_unknown=self.on_unknown,
            max_concurrency=self.concurrency,
            stop_after_unknown=self.stop_after,
            total_batches=BATCHES,
            total_recipients=RECIPIENTS,
        )
        assert not self.problems, self.problems
        assert attempt.most_in_flight <= self.concurrency + 1
        for index in range(BATCHES):
            record = self.record(index) or {}
            if record.get("by") == "decision" and record.get("s") in SETTLEABLE:
                event("a resend on a person's decision is unknown too")
        if attempt.dead:
            event("a worker was killed")
        if attempt.dead:
            return  # a zombie: "running" until the scheduler notices (its report never existed)
        self.task_state = "failed" if report.unknown_batches or report.stopped_by is not None else "success"

        summary = report.summary()
        figures = (
            summary["sent"]
            + summary["invalid"]["count"]
            + summary["unknown_recipients"]
            + summary["not_sent_recipients"]
        )
        assert figures == RECIPIENTS, summary
        counted = summary["batches"]
        assert (
            counted["accepted"]
            + counted["skipped_already_accepted"]
            + counted["assumed_sent"]
            + counted["unknown_count"]
            + counted["not_sent_count"]
            + counted["not_started"]
        ) == BATCHES, summary
        # A batch is counted unknown in the try where it became so (sent now and its answer lost, or
        # left in flight by a dead worker), never again by a try that finds it still unsettled.
        became_unknown = [
            batch["index"]
            for batch in counted["unknown"]
            if self.sends[batch["index"]] > sends_before[batch["index"]] or batch["index"] in left_in_flight
        ]
        assert counted["unknown_now"] == len(became_unknown), (summary, sends_before, left_in_flight)
        # What it calls sent is what FullSMS made (and, for batches assumed sent, the whole batch).
        ids = summary["campaign_ids"]
        assert len(set(ids)) == len(ids), summary
        assert set(ids) <= set(self.fullsms.campaigns), summary
        made = sum(len(self.fullsms.campaigns[campaign_id]) for campaign_id in ids)
        assert summary["sent"] == made + PER_BATCH * counted["assumed_sent"], summary
        assert summary["invalid"]["rejected_by_fullsms"] <= len(self.refused)

    # -- housekeeping ------------------------------------------------------------------------------

    @rule(days=st.sampled_from([1, 1, 31, 400]))
    def time_passes(self, days: int) -> None:
        """The scheduler notices a dead worker (its try failed), and ``airflow state-store clean`` runs."""
        if self.task_state == TRY_RUNNING:
            self.task_state = "failed"
        self.store.now += timedelta(days=days)
        deleted = self.store.clean()
        ledger = [key for key in deleted if not key.startswith(f"{LEDGER_PREFIX}.decision.")]
        if self.retention is None:
            assert ledger == [], f"`airflow state-store clean` deleted the ledger's {ledger}"
        else:
            # An explicit retention is the user's choice: never before it is over.
            assert ledger == [] or not self.within_retention(), ledger

    # -- invariants --------------------------------------------------------------------------------

    @invariant()
    def a_batch_is_sent_again_only_after_a_refusal_or_a_resend_decision(self) -> None:
        assert all(sent <= permitted for sent, permitted in zip(self.sends, self.permits, strict=True)), (
            f"sent {self.sends} times, {self.permits} allowed"
        )

    @invariant()
    def nobody_is_texted_more_than_once_but_once_more_per_resend_decision(self) -> None:
        for index, phones in enumerate(PHONES):
            for phone in phones:
                assert self.fullsms.texts[phone] <= self.allowed[index], (
                    f"{phone} (batch {index}) texted {self.fullsms.texts[phone]} times, "
                    f"{self.allowed[index]} allowed"
                )

    @invariant()
    def who_tells_the_truth_texts_nobody_twice_and_the_ledger_agrees_with_fullsms(self) -> None:
        if self.on_unknown is OnUnknownOutcome.RESEND:
            return  # a blanket resend may be wrong: the allowance above covers it
        for index, phones in enumerate(PHONES):
            if not self.honest[index]:
                continue
            assert all(self.fullsms.texts[phone] <= 1 for phone in phones), (index, self.fullsms.texts)
            record = self.record(index)
            if self.on_unknown is OnUnknownOutcome.ASSUME_SENT or not self.within_retention():
                continue
            state = record.get("s") if record else None
            if state in ("accepted", "assumed_sent"):
                assert all(self.fullsms.texts[p] == 1 for p in phones if p not in self.refused), (
                    index,
                    record,
                )
            elif state in (None, "not_sent"):
                assert not self.texted(index), (index, record)


# 25 steps make a history long enough for a resend lost twice, and 250 histories (about 20 s
# under the ci profile) reach each such history several times; one bug is shrunk at a time.
LedgerLifeCycle.TestCase.settings = settings(
    settings.default,
    max_examples=max(settings.default.max_examples, 250),
    stateful_step_count=25,
    report_multiple_bugs=False,
    phases=[phase for phase in Phase if phase is not Phase.explain],  # minutes for a history this long
)
TestLedgerLifeCycle = LedgerLifeCycle.TestCase
