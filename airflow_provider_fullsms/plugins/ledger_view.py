"""
What a send task's ledger says about its campaign, as the FullSMS page shows it. Pure Python.

The send operators keep, in the task's state store, ``fullsms.plan`` (the campaign: ``batches``,
``recipients``, fingerprint) and one ``fullsms.batch.<index>`` record per batch started
(:class:`~airflow_provider_fullsms.campaigns.ledger.Ledger`). A person settles a batch whose outcome
is unknown with ``fullsms.decision.<index>`` (``"sent"`` or ``"resend"``, about the batch's current
attempt); the next try applies it.
This module turns those keys (and the task's summary XCom, when there is one) into one
:class:`CampaignView`. It never shows a whole phone number (:func:`mask_numbers`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from airflow_provider_fullsms.campaigns.ledger import LEDGER_PREFIX, BatchState, Ledger, pending_settlement
from airflow_provider_fullsms.campaigns.plan import mask_number

if TYPE_CHECKING:
    from airflow_provider_fullsms.settlement import TaskAddress

PLAN_KEY = f"{LEDGER_PREFIX}.plan"
BATCH_PREFIX = f"{LEDGER_PREFIX}.batch."
DECISION_PREFIX = f"{LEDGER_PREFIX}.decision."
#: Task states in which a batch recorded *in flight* may really be on the wire right now.
_ACTIVE_TASK_STATES = frozenset({"running", "queued", "scheduled", "restarting", "deferred"})
#: What people and exports write between a number's digits: spaces, dashes, dots, slashes,
#: parentheses, brackets, soft hyphens and invisible marks (see :mod:`airflow_provider_fullsms.phones`).
_SEPARATOR = (
    "[\\s\\-./()\\[\\]"
    "\u2010-\u2015\u2212"  # typographic dashes and the minus sign
    "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"  # invisible marks
)
#: A run of digits, maybe after a ``+`` and split by separators: one number, or several in a row.
_DIGIT_RUN = re.compile(rf"\+?\d(?:{_SEPARATOR}*\d)*")
#: A run of this many digits or more may be a phone number (the shortest E.164 numbers have 7).
_MIN_DIGITS = 7
#: A batch's state as the page names it. FullSMS has no delivery reports: "accepted", never "delivered".
STATE_LABELS = {
    BatchState.IN_FLIGHT: "being sent",
    BatchState.ACCEPTED: "accepted by FullSMS",
    BatchState.UNKNOWN: "unknown — check in FullSMS",
    BatchState.NOT_SENT: "not sent",
    BatchState.ASSUMED_SENT: "assumed sent",
}
#: The one way the page writes a time.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def format_time(value: datetime | str | None) -> str | None:
    """
    ``value`` as the page shows every time: ``2025-01-01 09:30:00 UTC``.

    :param value: an aware datetime, or an ISO 8601 text (the ledger's); one that does not parse is
        shown as it is.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        moment = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def decision_key(index: int) -> str:
    """The state-store key where a person records what happened to batch ``index``."""
    return Ledger(None).decision_key(index)


def mask_numbers(text: str) -> str:
    """
    ``text`` with every run of 7 or more digits masked by :func:`~.plan.mask_number`, whatever
    its notation (``+44 7700 900001``, ``(0)7700-900-001``): an error FullSMS answered may quote
    a number. Dates and addresses with that many digits are masked too: better than a number shown.
    """
    return _DIGIT_RUN.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    run = match.group()
    return mask_number(run) if sum(char.isdecimal() for char in run) >= _MIN_DIGITS else run


def task_params(task: TaskAddress) -> dict[str, str]:
    """The query parameters of a campaign's page."""
    return {
        "dag_id": task.dag_id,
        "run_id": task.run_id,
        "task_id": task.task_id,
        "map_index": str(task.map_index),
    }


@dataclass
class BatchView:
    """One batch as the campaign page lists it."""

    index: int
    state: str
    recipients: int
    sent: int
    campaign_id: str | None
    at: str | None
    error: str | None
    #: A person's recorded decision about its current attempt, not applied yet.
    decision: str | None
    #: The hash of its text, and its first and last numbers masked: to find it in FullSMS.
    text_hash: str | None = None
    first: str | None = None
    last: str | None = None

    @property
    def unknown(self) -> bool:
        return self.state == BatchState.UNKNOWN

    @property
    def label(self) -> str:
        """Its state in words (``assumed_sent`` is "assumed sent")."""
        return STATE_LABELS.get(self.state, self.state.replace("_", " "))  # type: ignore[call-overload]


@dataclass
class CampaignView:
    """A campaign recorded by one send task's ledger."""

    task: TaskAddress
    started_at: str
    task_state: str | None
    planned_batches: int
    recipients: int | None
    batches: list[BatchView] = field(default_factory=list)
    invalid: int | None = None
    excluded: int | None = None
    #: What the campaign comes to at the plan's price per segment (an estimate: FullSMS bills).
    cost: float | None = None
    #: Its text as the DAG wrote it, FullSMS template, sender (the summary's ``message``).
    message: dict[str, Any] = field(default_factory=dict)
    send_at: str | None = None
    send_window: str | None = None
    segments: int | None = None
    price_per_segment: float | None = None

    @property
    def airflow_links(self) -> dict[str, str]:
        """Its DAG run, task instance, log and ledger in Airflow's UI, relative to the page."""
        task = self.task
        run = f"../dags/{quote(task.dag_id, safe='')}/runs/{quote(task.run_id, safe='')}"
        instance = f"{run}/tasks/{quote(task.task_id, safe='')}"
        if task.map_index >= 0:
            instance += f"/mapped/{task.map_index}"
        return {
            "DAG run": run,
            "task instance": f"{instance}/details",
            "log": instance,
            "ledger (task state store)": f"{instance}/task-state-store",
        }

    @property
    def sent(self) -> int:
        return sum(batch.sent for batch in self.batches)

    @property
    def query(self) -> str:
        """The query string of its page."""
        return urlencode(task_params(self.task))

    @property
    def unknown(self) -> list[BatchView]:
        return [batch for batch in self.batches if batch.unknown]

    @property
    def not_sent(self) -> list[BatchView]:
        return [batch for batch in self.batches if batch.state == BatchState.NOT_SENT]

    @property
    def not_started(self) -> int:
        return max(0, self.planned_batches - len(self.batches))

    @property
    def needs_attention(self) -> bool:
        """Some batch waits for a person, or for a retry that has not come."""
        finished = self.task_state not in _ACTIVE_TASK_STATES
        return bool(self.unknown) or (finished and (bool(self.not_sent) or self.not_started > 0))

    def to_json(self) -> dict[str, Any]:
        return {
            **task_params(self.task),
            "map_index": self.task.map_index,
            "started_at": self.started_at,
            "task_state": self.task_state,
            "recipients": self.recipients,
            "sent": self.sent,
            "invalid": self.invalid,
            "excluded": self.excluded,
            "cost": self.cost,
            "segments": self.segments,
            "price_per_segment": self.price_per_segment,
            "message": self.message,
            "send_at": self.send_at,
            "send_window": self.send_window,
            "batches": self.planned_batches,
            "unknown_batches": [batch.index for batch in self.unknown],
            "not_sent_batches": [batch.index for batch in self.not_sent],
            "not_started_batches": self.not_started,
            "needs_attention": self.needs_attention,
        }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def batch_view(index: int, record: dict[str, Any], decision: Any, task_state: str | None) -> BatchView:
    """
    One batch from its ledger record.

    A batch left *in flight* by a try that is over counts as unknown: that try died mid-request.

    :param decision: the value of its ``fullsms.decision.<index>`` key, if any (one about an
        earlier attempt of the batch is not shown: it no longer applies).
    """
    state = str(record.get("s"))
    if state == BatchState.IN_FLIGHT and task_state not in _ACTIVE_TASK_STATES:
        state = BatchState.UNKNOWN
    recipients = _int(record.get("n"))
    if state == BatchState.ACCEPTED:
        sent = _int(record.get("t")) if "t" in record else recipients
    else:
        sent = recipients if state == BatchState.ASSUMED_SENT else 0
    settlement = pending_settlement(record, decision) if state == BatchState.UNKNOWN else None
    error = record.get("why")
    return BatchView(
        index=index,
        state=state,
        recipients=recipients,
        sent=sent,
        campaign_id=record.get("c"),
        at=format_time(record.get("at")),
        error=mask_numbers(str(error)) if error else None,
        decision=settlement.value if settlement is not None else None,
        text_hash=_text(record.get("h")),
        first=_text(record.get("f")),
        last=_text(record.get("l")),
    )


def _text(value: Any) -> str | None:
    return str(value)[:64] if isinstance(value, str | int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("count")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def campaign_view(
    task: TaskAddress,
    entries: dict[str, Any],
    *,
    started_at: str,
    task_state: str | None,
    summary: dict[str, Any] | None = None,
) -> CampaignView:
    """
    The campaign of one task instance from its state-store entries.

    :param entries: the task's ``fullsms.*`` state-store keys and their values (``fullsms.plan`` included).
    :param started_at: when the plan was written (the first try started sending).
    :param task_state: the task instance's state now.
    :param summary: the send operator's summary XCom (``fullsms_summary`` or the return value), if any.
    """
    plan = entries.get(PLAN_KEY) or {}
    summary = summary or {}
    batches = []
    for key, record in entries.items():
        if key.startswith(BATCH_PREFIX) and key[len(BATCH_PREFIX) :].isdigit() and isinstance(record, dict):
            index = int(key[len(BATCH_PREFIX) :])
            batches.append(batch_view(index, record, entries.get(decision_key(index)), task_state))
    batches.sort(key=lambda batch: batch.index)
    recipients = plan.get("recipients")
    message = summary.get("message")
    segments = summary.get("segments")
    return CampaignView(
        task=task,
        started_at=started_at,
        task_state=task_state,
        planned_batches=_int(plan.get("batches")),
        recipients=recipients if isinstance(recipients, int) else _count(summary.get("recipients")),
        batches=batches,
        invalid=_count(summary.get("invalid")),
        excluded=_count(summary.get("excluded")),
        cost=_number(summary.get("estimated_cost")),
        message=message if isinstance(message, dict) else {},
        send_at=format_time(send_at) if isinstance(send_at := summary.get("send_at_utc"), str) else None,
        send_window=_text(summary.get("send_window")),
        segments=segments if isinstance(segments, int) and not isinstance(segments, bool) else None,
        price_per_segment=_number(summary.get("price_per_segment")),
    )
