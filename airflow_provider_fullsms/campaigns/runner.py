"""
Running the batches: bounded concurrency, the ledger kept from one thread, progress in the log.

:func:`run_batches` is a short loop: for each batch, ask the ledger what an earlier try left,
then send it, skip it or report it. At most ``max_concurrency`` requests are out at once, each
sending thread taking the next batch itself as soon as it is answered, and only two batches
more are built (one handed over, one waiting its turn), so the audience streams rather than
piling up. Only the calling thread touches the ledger: it marks a batch in flight just before
handing it over (while the threads are still busy) and writes the outcomes they report, so
ledger writes never hold a send back. After a transient or refused failure, or
``stop_after_unknown`` outcomes unknown in a row (an outage), no new batch starts, but every
request already out is waited for and recorded.

Each answer is logged (an accepted batch with its campaign id) before its ledger write, and the
writes are done one by one, oldest first. While Airflow's api-server cannot be reached, a write
is retried (:mod:`.ledger_writes`) and no batch starts meanwhile; the answers of the requests out
are still collected. A batch marked in flight that never reached a sending thread is recorded
``not_sent``, never left to look as if it had gone out.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.campaigns.approval import UntilChanged
from airflow_provider_fullsms.campaigns.ledger import (
    BatchState,
    Decision,
    Ledger,
    OnUnknownOutcome,
    Settlement,
    attempt_of,
    decide,
)
from airflow_provider_fullsms.campaigns.progress import ProgressLog
from airflow_provider_fullsms.campaigns.report import CampaignReport
from airflow_provider_fullsms.exceptions import LedgerUnreachableError
from airflow_provider_fullsms.outcomes import Failure, classify_failure

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from airflow_provider_fullsms.campaigns.batching import Batch, SendResult


def run_batches(
    batches: Iterable[Batch],
    send: Callable[[Batch], SendResult],
    ledger: Ledger,
    *,
    classify: Callable[[BaseException], Failure] = classify_failure,
    on_unknown: OnUnknownOutcome = OnUnknownOutcome.FAIL,
    max_concurrency: int = 4,
    stop_after_unknown: int = 3,
    total_batches: int = 0,
    total_recipients: int = 0,
    send_at: str | None = None,
    details: Mapping[str, Any] | None = None,
    log: Callable[[str], None] = lambda message: None,
    progress_interval: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
) -> CampaignReport:
    """
    Send ``batches`` with at most ``max_concurrency`` requests out at once, keeping the ledger.

    :param send: sends one batch; raises on failure.
    :param classify: what a failure of ``send`` means (default:
        :func:`~airflow_provider_fullsms.outcomes.classify_failure`).
    :param on_unknown: what to do with batches an earlier try left unknown or in flight, unless a
        person settled them one by one (:meth:`Ledger.settlement`).
    :param stop_after_unknown: after this many outcomes unknown in a row no new batch starts.
    :param send_at: FullSMS's ``send_at`` of the batches, for the report.
    :param details: extra entries for the report's summary.
    :param log: receives progress lines (at least every ``progress_interval`` seconds while sending)
        and each answer (an accepted batch's campaign id) before it is written to the ledger.
    :raises AudienceChangedError: a batch read again differs from the plan's; the batches before it
        went out. Its ``report`` is the report so far.
    :raises LedgerUnreachableError: the ledger could not be written for ``ledger.writes.window``
        seconds; every request out was waited for first. Its ``report`` is the report so far.
    """
    report = CampaignReport(
        batches_total=total_batches, recipients_total=total_recipients, send_at=send_at, details=details or {}
    )
    progress = ProgressLog(report, log, progress_interval, clock)
    breaker = _OutageBreaker(report, stop_after_unknown)
    sender = _BoundedSender(send, ledger, report, classify, max_concurrency, progress, breaker)
    retried = ledger.writes.call  # reads too: the store is behind the same api-server
    checked = UntilChanged(batches)
    try:
        with sender:
            for batch in checked:
                if report.stopped_by is not None:
                    break
                record = retried(partial(ledger.record, batch.index), f"reading batch {batch.index}")
                unsettled = record is not None and record.get("s") in _UNSETTLED
                settlement = (
                    retried(
                        partial(ledger.settlement, batch.index, record),
                        f"reading batch {batch.index}'s decision",
                    )
                    if unsettled
                    else None
                )
                decision = decide(record, batch, on_unknown, settlement)
                if decision is Decision.SEND:
                    sender.submit(batch, *_next_attempt(record, unsettled, settlement))
                elif decision is Decision.UNKNOWN:
                    _still_unknown(batch, record or {}, ledger, report)
                else:
                    if decision is Decision.ASSUME_SENT and unsettled:
                        ledger.mark_assumed_sent(batch, record or {})
                    report.settled_earlier(batch, decision, record)
                progress.maybe_log()
            sender.drain()
    except LedgerUnreachableError as error:
        progress.log_now()
        stopped = LedgerUnreachableError(f"{error}. {sender.describe_unrecorded()}")
        stopped.report = report
        raise stopped from error
    if total_batches:
        progress.log_now()
    if checked.changed is not None:
        # The batches checked before it went out and were recorded; the summary says how far it got.
        checked.changed.report = report
        raise checked.changed
    return report


_UNSETTLED = (BatchState.IN_FLIGHT, BatchState.UNKNOWN)


def _next_attempt(
    record: Mapping[str, Any] | None, unsettled: bool, settlement: Settlement | None
) -> tuple[int, str | None]:
    """
    The attempt number of a batch about to be sent, and why it is resent after an unknown outcome.

    A new attempt makes every decision about the earlier one stale: a resend whose answer is lost
    too waits for a new decision. The reason carries over a refusal of the resend, so
    ``on_unknown_outcome="resend"`` never resends a batch twice.
    """
    if record is None:
        return 1, None
    if unsettled:
        return attempt_of(record) + 1, "decision" if settlement is Settlement.RESEND else "on_unknown_outcome"
    by = record.get("by")
    return attempt_of(record) + 1, str(by) if by else None


def _still_unknown(batch: Batch, record: Mapping[str, Any], ledger: Ledger, report: CampaignReport) -> None:
    """Report a batch an earlier try left unknown; one left in flight (its worker died) becomes unknown."""
    left_in_flight = record.get("s") == BatchState.IN_FLIGHT
    if left_in_flight:
        reason = "in flight when an earlier try ended (its worker died or was stopped mid-request)"
        ledger.mark_unknown(batch, reason, record)
    else:
        reason = f"outcome unknown in an earlier try: {record.get('why') or 'no answer'}"
    if record.get("by"):
        # First: the report keeps 300 characters of it.
        reason = f"resent after an unknown outcome and unknown again, it needs a new decision; {reason}"
    report.outcome_unknown(batch, reason, record, now=left_in_flight)


#: Why a batch marked in flight was not sent after all (the reasons its ``not_sent`` record gives).
NOT_STARTED = "not started: an earlier batch's outcome stopped the campaign first"
HELD_BACK = "not started: held back while the ledger could not be written (the api-server unreachable)"
ENDED = "not started: the try ended first ({error})"
NEVER_HANDED_OVER = "never sent: its in-flight mark could not be recorded ({error}); never handed over"


class _OutageBreaker:
    """Stop the campaign after ``limit`` outcomes unknown in a row: FullSMS is likely down."""

    def __init__(self, report: CampaignReport, limit: int) -> None:
        self.report, self.limit, self.in_a_row = report, limit, 0

    def accepted(self) -> None:
        self.in_a_row = 0

    def unknown(self, error: BaseException) -> None:
        self.in_a_row += 1
        if self.in_a_row >= self.limit:
            self.report.outage(error)


@dataclass
class _Answer:
    """How a sending thread's batch ended: FullSMS's result, or the error."""

    batch: Batch
    sent: dict[str, Any]  # its in-flight record: attempt, text hash, when it was sent
    result: SendResult | None = None
    error: BaseException | None = None
    #: Set once the calling thread has seen a failure; until then its thread takes no other batch.
    seen: threading.Event | None = None


@dataclass
class _Write:
    """A batch's outcome, reported and logged, waiting for its ledger write."""

    batch: Batch
    what: str  # e.g. "accepted, campaign id 123", for the log if it is never written
    write: Callable[[], None]
    #: What a person settles the batch as if the write never happens (a retry reports it unknown).
    settle: str = ""


class _BoundedSender:
    """
    ``limit`` sending threads, each taking the next batch as soon as FullSMS answered its last.

    The calling thread keeps the ledger: it logs and writes the outcomes the threads report, one by
    one and oldest first (a write that fails keeps its place, so no outcome is dropped), then marks
    the next batch in flight and hands it over while every thread is still busy (at most one batch
    waits handed over), so a thread that is answered takes that batch at once and no ledger write
    (a call to Airflow's API server) holds a send back. While a write is retried (the api-server is
    unreachable) the batch waiting handed over is held back, so no batch starts, and the answers
    of the requests out are collected. A thread whose batch failed takes no other batch until the
    calling thread has seen the failure: an outage or a refusal stops the campaign before another
    starts.
    """

    def __init__(
        self,
        send: Callable[[Batch], SendResult],
        ledger: Ledger,
        report: CampaignReport,
        classify: Callable[[BaseException], Failure],
        limit: int,
        progress: ProgressLog,
        breaker: _OutageBreaker,
    ) -> None:
        self._send, self._ledger, self._report, self._classify = send, ledger, report, classify
        self._limit, self._progress, self._breaker = limit, progress, breaker
        self._writes = ledger.writes
        self._handed: queue.SimpleQueue[tuple[Batch, dict[str, Any]] | None] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[_Answer] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._out = 0  # batches handed over and not answered yet
        self._pending: deque[_Write] = deque()  # outcomes not written to the ledger yet, oldest first
        self._held: list[tuple[Batch, dict[str, Any]]] = []  # marked in flight, taken back in an outage
        #: The outcomes this try could not write to the ledger (it failed first).
        self.unrecorded: list[_Write] = []

    def __enter__(self) -> _BoundedSender:
        self._writes.wait = self._wait_for_the_ledger
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, traceback: object) -> None:
        # Never abandon a request that is out: wait for each even when the loop failed.
        self._held += self._take_back()
        while self._out:
            self._collect()
        for _ in self._threads:
            self._handed.put(None)
        for thread in self._threads:
            thread.join()
        self._writes.wait = self._writes.sleep
        reason = HELD_BACK if self._writes.gave_up else ENDED.format(error=str(exc)[:150])
        self._pending.extend(self._not_sent(batch, reason, sent) for batch, sent in self._held)
        self._held.clear()
        self._record_the_rest()

    def submit(self, batch: Batch, attempt: int = 1, by: str | None = None) -> None:
        """
        Hand ``batch`` over once a thread is free or about to be (at most one batch waits).

        ``attempt`` and ``by`` go into its in-flight record (:meth:`Ledger.mark_in_flight`).

        The outcomes that came back meanwhile are written first, then ``batch`` is marked in
        flight and handed over: at any moment at most ``limit + 1`` batches are marked in flight,
        those out and the one handed over, which is all a killed task leaves for its retry to
        report unknown. If an outcome stops the campaign meanwhile, ``batch`` is not started.
        """
        self._flush()
        while self._out > self._limit:
            self._collect()
            self._flush()
        if self._report.stopped_by is not None:
            return
        try:
            sent = self._ledger.mark_in_flight(batch, attempt, by)
        except Exception as error:
            # Never handed over, so not sent, whatever the store kept of the mark.
            reason = NEVER_HANDED_OVER.format(error=str(error)[:150])
            self._pending.append(self._not_sent(batch, reason, {"a": attempt, "by": by}))
            raise
        if self._report.stopped_by is not None:  # an answer that came while the mark was retried
            self._pending.append(self._not_sent(batch, NOT_STARTED, sent))
            return
        self._hand_over(batch, sent)

    def drain(self) -> None:
        """Wait for every batch handed over, and record each outcome."""
        self._flush()
        while self._out:
            self._collect()
            self._flush()

    def describe_unrecorded(self) -> str:
        """What this try could not write to the ledger, and how a person settles each after a retry."""
        if not self.unrecorded:
            return "Every outcome is in the ledger; a retry resumes the campaign."
        listed = "; ".join(
            f"batch {w.batch.index} {w.what}" + (f" (settle it --{w.settle})" if w.settle else "")
            for w in self.unrecorded
        )
        return (
            f"Not in the ledger (each is in the task log): {listed}. No new batch was started and every "
            "request out was waited for; a retry reports these batches unknown until settled."
        )

    def _flush(self) -> None:
        """Write the outcomes that came back, oldest first; then let the batches held back go."""
        while True:
            while self._pending:
                self._pending[0].write()  # retried while the store is unreachable
                self._pending.popleft()
            if not self._held:
                return
            held, self._held = self._held, []
            for batch, sent in held:
                if self._report.stopped_by is None:
                    self._hand_over(batch, sent)
                else:
                    self._pending.append(self._not_sent(batch, NOT_STARTED, sent))

    def _record_the_rest(self) -> None:
        """At the end of a failed try: write what is left, one by one (a failed write drops no other)."""
        unreachable = None
        while self._pending:
            item = self._pending.popleft()
            try:
                if unreachable is not None:  # every other write would wait as long
                    raise unreachable
                item.write()
            except Exception as error:
                self.unrecorded.append(item)
                self._progress.log(f"Batch {item.batch.index} ({item.what}) is not in the ledger: {error}")
                if isinstance(error, LedgerUnreachableError):
                    unreachable = error

    def _wait_for_the_ledger(self, seconds: float) -> None:
        """Between two attempts of a ledger write: no batch starts; answers of requests out are collected."""
        self._held += self._take_back()
        clock = self._writes.clock
        until = clock() + seconds
        while self._out and (left := until - clock()) > 0:
            self._collect(min(left, self._progress.interval))
        if (left := until - clock()) > 0:
            self._writes.sleep(left)

    def _hand_over(self, batch: Batch, sent: dict[str, Any]) -> None:
        self._handed.put((batch, sent))
        self._out += 1
        if len(self._threads) < min(self._out, self._limit):
            thread = threading.Thread(
                target=self._work, name=f"fullsms-send-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        """A sending thread: the batches handed over, one at a time, until told to stop."""
        while (handed := self._handed.get()) is not None:
            batch, sent = handed
            try:
                self._answers.put(_Answer(batch, sent, result=self._send(batch)))
            except BaseException as error:  # reported to the calling thread, which decides
                seen = threading.Event()
                self._answers.put(_Answer(batch, sent, error=error, seen=seen))
                seen.wait()

    def _take_back(self) -> list[tuple[Batch, dict[str, str]]]:
        """Take back the batch(es) handed over but not started yet."""
        taken: list[tuple[Batch, dict[str, str]]] = []
        while True:
            try:
                handed = self._handed.get_nowait()
            except queue.Empty:
                return taken
            if handed is not None:
                self._out -= 1
                taken.append(handed)

    def _collect(self, timeout: float | None = None) -> None:
        """Wait for answers (up to ``timeout``, default the progress interval); report and queue each."""
        try:
            answers = [self._answers.get(timeout=self._progress.interval if timeout is None else timeout)]
        except queue.Empty:
            answers = []
        while True:
            try:
                answers.append(self._answers.get_nowait())
            except queue.Empty:
                break
        self._out -= len(answers)
        self._pending.extend(self._outcome(answer) for answer in answers)
        if self._report.stopped_by is not None:
            stopped = [*self._held, *self._take_back()]
            self._held.clear()
            self._pending.extend(self._not_sent(batch, NOT_STARTED, sent) for batch, sent in stopped)
        for answer in answers:
            if answer.seen is not None:
                answer.seen.set()
        self._progress.maybe_log()

    def _outcome(self, answer: _Answer) -> _Write:
        """Report and log how ``answer``'s batch ended (in memory); return its ledger write."""
        batch, sent, error = answer.batch, answer.sent, answer.error
        log = self._progress.log
        if error is None:
            result = answer.result
            assert result is not None
            self._report.accepted_now(batch, result)
            self._breaker.accepted()
            # In the log before the ledger: if the write never happens, a person still finds it.
            if result.campaign_id:
                what = f"accepted, campaign id {result.campaign_id}"
                log(f"Batch {batch.index} {what}, {result.total_sent} sent")
            else:  # kept back (outside the send window) or every number refused: no campaign
                reasons = ", ".join(f"{count} {reason}" for reason, count in result.reasons.items())
                what = f"sent to nobody ({reasons or result.status})"
                log(f"Batch {batch.index} {what}")
            return _Write(batch, what, partial(self._ledger.mark_accepted, batch, result, sent), "sent")
        reason = str(error)
        kind = self._classify(error)
        if kind is Failure.UNKNOWN:
            self._report.outcome_unknown(batch, reason, sent)
            self._breaker.unknown(error)
            log(f"Batch {batch.index}: outcome unknown ({reason[:200]})")
            return _Write(batch, "outcome unknown", partial(self._ledger.mark_unknown, batch, reason, sent))
        self._report.not_accepted(batch, error, kind)
        log(f"Batch {batch.index} not sent: {reason[:200]}")
        return self._not_sent(batch, reason, sent)

    def _not_sent(self, batch: Batch, reason: str, sent: Mapping[str, Any] | None) -> _Write:
        """:param sent: the attempt it was (or was to be) marked in flight as."""
        return _Write(batch, "not sent", partial(self._ledger.mark_not_sent, batch, reason, sent), "resend")
