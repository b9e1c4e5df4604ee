"""
The ledger: each batch's outcome in the task's state store, so a retry resumes and never resends.

Airflow 3.3 keeps ``context["task_state_store"]`` between the tries of a task on every executor.
The ledger writes a plan record before the first send (the campaign's fingerprint, to tell a
changed campaign apart), then one small key per batch: *in flight* before the request goes out,
then *accepted* (with the campaign id), *unknown* or *not sent*. :func:`decide` says what a try
does with a batch an earlier try recorded: accepted batches are skipped; a batch found in flight
(the worker died mid-request) or unknown is never resent unless a person says so — per batch, with
a decision key in the same store (:class:`Settlement`, written through Airflow's REST API or
``fullsms-batches``), or for all of them with :class:`OnUnknownOutcome`.

Each send of a batch is an *attempt* (``a`` in its record, 1 for the first). A decision is about
one attempt (:class:`BatchDecision`) and applies once: a resend is a new attempt, so when its
answer is lost too the old decision no longer applies and the batch waits for a new one.

Every key is written never to expire (Airflow's ``NEVER_EXPIRE``): ``airflow state-store clean``
leaves the ledger alone, and it goes with its DAG run (the table's foreign key cascades), when no
try can run any more. An explicit ``retention`` is the user's choice: a try that starts after the
plan record expired would not see the earlier tries.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_fullsms.campaigns.ledger_writes import LedgerWrites
from airflow_provider_fullsms.campaigns.plan import mask_number
from airflow_provider_fullsms.exceptions import CampaignInputError, LedgerMismatchError

if TYPE_CHECKING:
    from airflow_provider_fullsms.campaigns.batching import Batch, CampaignPlan, SendResult

#: Key prefix in the task state store.
LEDGER_PREFIX = "fullsms"
LEDGER_VERSION = 1


class StateStore(Protocol):
    """
    The part of Airflow's ``context["task_state_store"]`` the ledger uses.

    Airflow's ``set`` also takes ``retention=`` (a ``timedelta``, or ``NEVER_EXPIRE``); the ledger
    passes it when the store's ``set`` accepts it, so a plain dict-like store works too.
    """

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


def never_expire() -> timedelta:
    """Airflow's ``NEVER_EXPIRE`` (the store compares by identity), or ``timedelta.max`` without it."""
    try:
        from airflow.sdk.execution_time.context import NEVER_EXPIRE
    except ImportError:  # Airflow < 3.3 has no task state store: the ledger is in Variables
        return timedelta.max
    return NEVER_EXPIRE


def has_task_state_store() -> bool:
    """Whether this Airflow gives a task a ``task_state_store`` (3.3 and later)."""
    try:
        from airflow.sdk.execution_time.context import NEVER_EXPIRE  # noqa: F401
    except ImportError:
        return False
    return True


def _takes_retention(store: StateStore) -> bool:
    try:
        parameters = inspect.signature(store.set).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "retention" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


class OnUnknownOutcome(enum.StrEnum):
    """What to do with a batch whose outcome is unknown (timeout, dropped connection, ambiguous 5xx)."""

    FAIL = "fail"  # report it and never resend it, so nobody is texted twice
    ASSUME_SENT = "assume_sent"  # the user checked FullSMS: it went out
    RESEND = "resend"  # the user checked FullSMS: it did not go out

    @classmethod
    def parse(cls, value: object) -> OnUnknownOutcome:
        """
        The choice a user passed (a template renders it as a string).

        :raises CampaignInputError: anything but the three choices.
        """
        if isinstance(value, str) and value in cls._value2member_map_:
            return cls(value)
        raise CampaignInputError(
            f"on_unknown_outcome={value!r}: use 'fail' (report batches whose outcome is unknown and "
            "never resend them), 'assume_sent' or 'resend'."
        )


#: The choices of :class:`OnUnknownOutcome`, as strings.
ON_UNKNOWN_CHOICES = tuple(OnUnknownOutcome)


class BatchState(enum.StrEnum):
    """A batch's recorded state."""

    IN_FLIGHT = "in_flight"  # marked before the request goes out
    ACCEPTED = "accepted"  # FullSMS answered with a campaign id
    UNKNOWN = "unknown"  # FullSMS may or may not have acted on it
    NOT_SENT = "not_sent"  # provably refused (4xx, 429, 503, refused connection): safe to resend
    ASSUMED_SENT = "assumed_sent"  # its outcome was unknown; a person said it went out


class Settlement(enum.StrEnum):
    """A person's decision about one batch whose outcome is unknown (key ``fullsms.decision.<index>``)."""

    SENT = "sent"  # "it was sent": count it as sent, never send it again
    RESEND = "resend"  # "send it again": FullSMS did not send it

    @classmethod
    def parse(cls, value: object, key: str) -> Settlement:
        """
        The decision stored under ``key``.

        :raises CampaignInputError: anything but ``"sent"`` or ``"resend"``.
        """
        return BatchDecision.parse(value, key).settlement


@dataclass(frozen=True)
class BatchDecision:
    """
    A decision as stored: what a person said, and about which attempt of the batch.

    The CLI and the FullSMS page write ``{"decision": "resend", "attempt": 2}``. A plain
    ``"sent"`` / ``"resend"`` (written by hand through the REST API, or by an earlier version) has
    no attempt: it is about the attempt current when a try reads it, and the try then binds it to
    that attempt, so it applies once.
    """

    settlement: Settlement
    attempt: int | None = None

    @classmethod
    def parse(cls, value: object, key: str) -> BatchDecision:
        """
        :raises CampaignInputError: a value that is no decision, naming the key and what to write.
        """
        if isinstance(value, str) and value in Settlement._value2member_map_:
            return cls(Settlement(value))
        if isinstance(value, Mapping):
            decision, attempt = value.get("decision"), value.get("attempt")
            if (
                isinstance(decision, str)
                and decision in Settlement._value2member_map_
                and isinstance(attempt, int)
                and not isinstance(attempt, bool)
                and attempt >= 1
            ):
                return cls(Settlement(decision), attempt)
        raise CampaignInputError(
            f'State store key {key!r} holds {value!r}: set it to "sent" (FullSMS sent the batch) or '
            '"resend" (it did not), then clear the task.'
        )

    @classmethod
    def read(cls, value: object) -> BatchDecision | None:
        """The decision in ``value``, or ``None`` when there is none (or it is no decision)."""
        try:
            return None if value is None else cls.parse(value, "")
        except CampaignInputError:
            return None

    def about(self, record: Mapping[str, Any] | None) -> bool:
        """Whether this decision is about the batch's current attempt (a plain one always is)."""
        return self.attempt is None or self.attempt == attempt_of(record)

    def to_value(self, attempt: int) -> dict[str, Any]:
        """The value to store: this decision bound to ``attempt``."""
        return {"decision": self.settlement.value, "attempt": attempt}


def attempt_of(record: Mapping[str, Any] | None) -> int:
    """The attempt a batch record is about (records of earlier versions have none: their first)."""
    attempt = (record or {}).get("a")
    return attempt if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt >= 1 else 1


def pending_settlement(record: Mapping[str, Any] | None, value: object) -> Settlement | None:
    """
    The decision in ``value`` (a ``fullsms.decision.<index>`` key) that the next try would apply to
    the batch of ``record``, if any: one about its current attempt. For views; reads only.
    """
    decision = BatchDecision.read(value)
    return decision.settlement if decision is not None and decision.about(record) else None


class Decision(enum.StrEnum):
    """What to do with a batch at the start of a try."""

    SEND = "send"
    SKIP_ACCEPTED = "skip_accepted"
    ASSUME_SENT = "assume_sent"
    UNKNOWN = "unknown"


def decide(
    record: Mapping[str, Any] | None,
    batch: Batch,
    on_unknown: OnUnknownOutcome = OnUnknownOutcome.FAIL,
    settlement: Settlement | None = None,
) -> Decision:
    """
    What a try does with ``batch`` given its ledger record from earlier tries.

    :param record: the stored record, or ``None`` when the batch never started.
    :param on_unknown: what to do with a batch left in flight or unknown, unless settled. Its
        ``resend`` applies once: a batch already resent after an unknown outcome waits for a person.
    :param settlement: a person's decision about this attempt of the batch
        (:meth:`Ledger.settlement`); it wins over ``on_unknown``.
    :raises LedgerMismatchError: the record is for different recipients or another text.
    """
    if record is None:
        return Decision.SEND
    if record.get("fp") != batch.fingerprint:
        raise LedgerMismatchError(
            f"Batch {batch.index} was recorded by an earlier try for other recipients or another text "
            f"(fingerprint {record.get('fp')!r}, now {batch.fingerprint!r}): the audience or the "
            "message changed between tries, so nothing more was sent. Start a new run for the new "
            "audience, or clear the task state once the earlier sends are accounted for."
        )
    state = record.get("s")
    if state == BatchState.ACCEPTED:
        return Decision.SKIP_ACCEPTED
    if state == BatchState.ASSUMED_SENT:
        return Decision.ASSUME_SENT
    if state in (BatchState.IN_FLIGHT, BatchState.UNKNOWN):
        if settlement is not None:
            return Decision.ASSUME_SENT if settlement is Settlement.SENT else Decision.SEND
        if on_unknown == OnUnknownOutcome.ASSUME_SENT:
            return Decision.ASSUME_SENT
        if on_unknown == OnUnknownOutcome.RESEND and not record.get("by"):
            return Decision.SEND
        return Decision.UNKNOWN
    return Decision.SEND


_UNREAD = object()


class Ledger:
    """
    Per-batch outcome records in a task state store, one small key per batch.

    Keys: ``fullsms.plan`` (version, campaign fingerprint, batch count, recipients) written before
    the first send, and ``fullsms.batch.<index>`` (``s`` state, ``fp`` batch fingerprint, ``n``
    recipients, ``a`` attempt, ``by`` why it was resent after an unknown outcome, ``h`` text hash,
    ``at`` when it was sent, ``c`` campaign id, ``t`` total sent, ``i`` invalid numbers count,
    ``iv`` first invalid numbers, ``ir`` FullSMS's reasons for them, ``u`` recipients an accepted
    batch's answer left unknown, ``why`` the error or discrepancy). A million
    recipients make 2,000 keys of under 300 bytes, each written twice; no big value is ever
    rewritten. A person's decision about an unknown batch is ``fullsms.decision.<index>``.

    :param store: ``context["task_state_store"]``, or ``None``: then nothing is kept between tries
        (resumption is off), and a batch that turns unknown is still never resent in this try.
    :param retention: how long each key lives after it is written; ``None`` (the default): never
        expires (Airflow's ``NEVER_EXPIRE``). Ignored by a store whose ``set`` takes no retention.
    :param writes: how writes are retried while the store is unreachable (default: for
        :data:`~airflow_provider_fullsms.campaigns.ledger_writes.DEFAULT_WRITE_WINDOW` seconds).
    """

    def __init__(
        self,
        store: StateStore | None,
        *,
        prefix: str = LEDGER_PREFIX,
        retention: timedelta | None = None,
        writes: LedgerWrites | None = None,
    ) -> None:
        self.store = store
        self.writes = writes or LedgerWrites()
        self.prefix = prefix
        self.resuming = False
        self._earlier_plan: Any = _UNREAD
        self._retention: dict[str, timedelta] = {}
        if store is not None and _takes_retention(store):
            self._retention = {"retention": retention if retention is not None else never_expire()}

    def _set(self, key: str, value: Any, what: str) -> None:
        # Retried while the store is unreachable: setting a key to the same value twice is harmless.
        if self.store is not None:
            self.writes.call(partial(self.store.set, key, value, **self._retention), what)

    @property
    def _plan_key(self) -> str:
        return f"{self.prefix}.plan"

    def _key(self, index: int) -> str:
        return f"{self.prefix}.batch.{index}"

    def decision_key(self, index: int) -> str:
        """Where a person records :class:`Settlement` for batch ``index``."""
        return f"{self.prefix}.decision.{index}"

    def _read_earlier_plan(self) -> Any:
        # Each read is a call to Airflow's API server: the plan record is read once per try.
        if self._earlier_plan is _UNREAD:
            self._earlier_plan = self.store.get(self._plan_key) if self.store is not None else None
        return self._earlier_plan

    def started(self) -> bool:
        """Whether an earlier try of this task started a campaign (wrote its plan)."""
        return bool(self._read_earlier_plan())

    def open(self, plan: CampaignPlan | Mapping[str, Any]) -> bool:
        """
        Compare with (or write) the plan record; return whether an earlier try left records.

        :param plan: the campaign's plan, or a mapping with ``fingerprint`` and ``batches``.
        :raises LedgerMismatchError: an earlier try recorded a different campaign.
        """
        if self.store is None:
            return False
        if isinstance(plan, Mapping):
            fp, batches, recipients = plan["fingerprint"], plan["batches"], plan.get("recipients")
        else:
            fp, batches, recipients = plan.fingerprint, plan.batches, plan.recipients
        stored = self._read_earlier_plan()
        if stored is not None:
            if stored.get("fp") != fp or stored.get("batches") != batches:
                raise LedgerMismatchError(
                    f"An earlier try of this task sent a different campaign ({stored.get('batches')} "
                    f"batches, fingerprint {stored.get('fp')!r}; now {batches} batches, {fp!r}): the "
                    "audience, message, sender or send_at changed between tries, so this try sent "
                    "nothing. Start a new run for the new campaign, or clear the task state once the "
                    "earlier sends are accounted for."
                )
            self.resuming = True
            return True
        plan_record = {"v": LEDGER_VERSION, "fp": fp, "batches": batches, "recipients": recipients}
        self._set(self._plan_key, plan_record, "recording the campaign's plan")
        self._earlier_plan = _UNREAD  # the store now holds this try's plan
        return False

    def record(self, index: int) -> dict[str, Any] | None:
        """The stored record of batch ``index`` (only read when resuming)."""
        if self.store is None or not self.resuming:
            return None
        value = self.store.get(self._key(index))
        return dict(value) if isinstance(value, Mapping) else None

    def settlement(self, index: int, record: Mapping[str, Any] | None) -> Settlement | None:
        """
        A person's decision about the current attempt of batch ``index``, if any (asked only of
        batches left unknown or in flight). A decision about another attempt is ignored; a plain
        one is bound to the current attempt before it is acted on, so it applies once.

        :param record: the batch's record, as :meth:`record` read it.
        :raises CampaignInputError: the key holds something that is no decision.
        """
        if self.store is None:
            return None
        key = self.decision_key(index)
        value = self.store.get(key)
        if value is None:
            return None
        decision = BatchDecision.parse(value, key)
        if decision.attempt is None:
            self._set(key, decision.to_value(attempt_of(record)), f"binding the decision about batch {index}")
        return decision.settlement if decision.about(record) else None

    def _write(self, batch: Batch, state: BatchState, sent: Mapping[str, Any] | None, **fields: Any) -> None:
        if self.store is not None:
            record = {"s": state.value, "fp": batch.fingerprint, "n": batch.recipients, "a": attempt_of(sent)}
            if sent and sent.get("by"):
                record["by"] = sent["by"]
            what = f"recording batch {batch.index} ({state.value.replace('_', ' ')})"
            self._set(self._key(batch.index), {**record, **fields}, what)

    def mark_in_flight(self, batch: Batch, attempt: int = 1, by: str | None = None) -> dict[str, Any]:
        """
        Record that ``batch`` is about to go out; return its attempt, when and with which text.

        :param attempt: which send of the batch this is (1, or one more than its record's).
        :param by: why a batch whose outcome was unknown is sent again (``"decision"``,
            ``"on_unknown_outcome"``).
        """
        sent: dict[str, Any] = {
            "h": batch.text_hash(),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "a": attempt,
            **({"by": by} if by else {}),
            **_first_and_last(batch),
        }
        self._write(batch, BatchState.IN_FLIGHT, sent, **_named(sent))
        return sent

    def mark_accepted(self, batch: Batch, result: SendResult, sent: Mapping[str, Any] | None = None) -> None:
        """:param sent: what :meth:`mark_in_flight` returned (its attempt)."""
        self._write(
            batch,
            BatchState.ACCEPTED,
            sent,
            **(_named(sent) if sent else {}),
            c=result.campaign_id,
            t=result.total_sent,
            i=result.invalid_count,
            iv=list(result.invalid[:10]),
            **({"ir": dict(result.reasons)} if result.reasons else {}),
            # FullSMS's answer did not add up: these recipients stay unknown, the batch is never resent.
            **({"u": result.unknown, "why": result.discrepancy[:300]} if result.unknown else {}),
        )

    def mark_unknown(self, batch: Batch, reason: str, sent: Mapping[str, Any]) -> None:
        """
        Record that FullSMS may or may not have sent ``batch``.

        :param sent: its in-flight record (attempt, ``h`` and ``at``).
        """
        self._write(batch, BatchState.UNKNOWN, sent, **_named(sent), why=reason[:300])

    def mark_assumed_sent(self, batch: Batch, record: Mapping[str, Any]) -> None:
        """Record that a person (or ``on_unknown_outcome``) said the unknown ``batch`` went out."""
        self._write(batch, BatchState.ASSUMED_SENT, record, **_named(record))

    def mark_not_sent(self, batch: Batch, reason: str, sent: Mapping[str, Any] | None = None) -> None:
        """:param sent: what :meth:`mark_in_flight` returned, when it was marked in flight."""
        self._write(batch, BatchState.NOT_SENT, sent, why=reason[:300])


def _first_and_last(batch: Batch) -> dict[str, str]:
    """
    The batch's first and last numbers, masked (``447•••••••01``): enough for a person to find an
    unknown batch in FullSMS's history, never a usable number. A send to lists has none.
    """
    if not batch.numbers:
        return {}
    return {"f": mask_number(batch.numbers[0]), "l": mask_number(batch.numbers[-1])}


def _named(sent: Mapping[str, Any]) -> dict[str, Any]:
    """What names a batch's attempt in its record: text hash, when, first and last numbers masked."""
    return {"h": sent.get("h"), "at": sent.get("at"), **{k: sent[k] for k in ("f", "l") if k in sent}}
