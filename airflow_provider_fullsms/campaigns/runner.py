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
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.campaigns.ledger import (
    BatchState,
    Decision,
    Ledger,
    OnUnknownOutcome,
    Settlement,
    attempt_of,
    decide,
)
from airflow_provider_fullsms.campaigns.report import CampaignReport
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
    :param log: receives progress lines (at least every ``progress_interval`` seconds while sending).
    """
    report = CampaignReport(
        batches_total=total_batches, recipients_total=total_recipients, send_at=send_at, details=details or {}
    )
    progress = _ProgressLog(report, log, progress_interval, clock)
    breaker = _OutageBreaker(report, stop_after_unknown)
    with _BoundedSender(send, ledger, report, classify, max_concurrency, progress, breaker) as sender:
        for batch in batches:
            if report.stopped_by is not None:
                break
            record = ledger.record(batch.index)
            unsettled = record is not None and record.get("s") in (BatchState.IN_FLIGHT, BatchState.UNKNOWN)
            settlement = ledger.settlement(batch.index, record) if unsettled else None
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
    if total_batches:
        progress.log_now()
    return report


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
    if record.get("s") == BatchState.IN_FLIGHT:
        reason = "in flight when an earlier try ended (its worker died or was stopped mid-request)"
        ledger.mark_unknown(batch, reason, record)
    else:
        reason = f"outcome unknown in an earlier try: {record.get('why') or 'no answer'}"
    if record.get("by"):
        # First: the report keeps 300 characters of it.
        reason = f"resent after an unknown outcome and unknown again, it needs a new decision; {reason}"
    report.outcome_unknown(batch, reason, record)


#: Why a batch marked in flight was not sent after all.
NOT_STARTED = "not started: an earlier batch's outcome stopped the campaign first"


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


class _BoundedSender:
    """
    ``limit`` sending threads, each taking the next batch as soon as FullSMS answered its last.

    The calling thread keeps the ledger: it writes the outcomes the threads report, then marks the
    next batch in flight and hands it over while every thread is still busy (at most one batch
    waits handed over), so a thread that is answered takes that batch at once and no ledger write
    (a call to Airflow's API server) holds a send back. A thread whose batch failed takes no other
    batch until the calling thread has seen the failure: an outage or a refusal stops the campaign
    before another starts.
    """

    def __init__(
        self,
        send: Callable[[Batch], SendResult],
        ledger: Ledger,
        report: CampaignReport,
        classify: Callable[[BaseException], Failure],
        limit: int,
        progress: _ProgressLog,
        breaker: _OutageBreaker,
    ) -> None:
        self._send, self._ledger, self._report, self._classify = send, ledger, report, classify
        self._limit, self._progress, self._breaker = limit, progress, breaker
        self._handed: queue.SimpleQueue[tuple[Batch, dict[str, Any]] | None] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[_Answer] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._out = 0  # batches handed over and not answered yet

    def __enter__(self) -> _BoundedSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Never abandon a request that is out: wait for each even when the loop failed.
        records = self._take_back()
        while self._out:
            records += self._wait_for_some()
        for _ in self._threads:
            self._handed.put(None)
        for thread in self._threads:
            thread.join()
        for record in records:
            record()

    def submit(self, batch: Batch, attempt: int = 1, by: str | None = None) -> None:
        """
        Hand ``batch`` over once a thread is free or about to be (at most one batch waits).

        ``attempt`` and ``by`` go into its in-flight record (:meth:`Ledger.mark_in_flight`).

        The outcomes that came back meanwhile are written first, then ``batch`` is marked in
        flight and handed over: at any moment at most ``limit + 1`` batches are marked in flight,
        those out and the one handed over, which is all a killed task leaves for its retry to
        report unknown. If an outcome stops the campaign meanwhile, ``batch`` is not started.
        """
        while self._out > self._limit:
            for record in self._wait_for_some():
                record()
        if self._report.stopped_by is None:
            self._hand_over(batch, self._ledger.mark_in_flight(batch, attempt, by))

    def drain(self) -> None:
        """Wait for every batch handed over, and record each outcome."""
        while self._out:
            for record in self._wait_for_some():
                record()

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

    def _take_back(self) -> list[Callable[[], None]]:
        """Take back the batch(es) handed over but not started; return their "not sent" records."""
        records: list[Callable[[], None]] = []
        while True:
            try:
                handed = self._handed.get_nowait()
            except queue.Empty:
                return records
            if handed is not None:
                self._out -= 1
                records.append(partial(self._ledger.mark_not_sent, handed[0], NOT_STARTED, handed[1]))

    def _wait_for_some(self) -> list[Callable[[], None]]:
        """Wait for answers; report each and return its ledger write (and those of batches taken back)."""
        try:
            answers = [self._answers.get(timeout=self._progress.interval)]
        except queue.Empty:
            answers = []
        while True:
            try:
                answers.append(self._answers.get_nowait())
            except queue.Empty:
                break
        self._out -= len(answers)
        records = [self._outcome(answer) for answer in answers]
        if self._report.stopped_by is not None:
            records += self._take_back()
        for answer in answers:
            if answer.seen is not None:
                answer.seen.set()
        self._progress.maybe_log()
        return records

    def _outcome(self, answer: _Answer) -> Callable[[], None]:
        """Report how ``answer``'s batch ended (in memory); return the ledger write that records it."""
        batch, sent, error = answer.batch, answer.sent, answer.error
        if error is None:
            result = answer.result
            assert result is not None
            self._report.accepted_now(batch, result)
            self._breaker.accepted()
            return lambda: self._ledger.mark_accepted(batch, result, sent)
        reason = str(error)
        kind = self._classify(error)
        if kind is Failure.UNKNOWN:
            self._report.outcome_unknown(batch, reason, sent)
            self._breaker.unknown(error)
            return lambda: self._ledger.mark_unknown(batch, reason, sent)
        self._report.not_accepted(batch, error, kind)
        return lambda: self._ledger.mark_not_sent(batch, reason, sent)


class _ProgressLog:
    """Log a progress line at most every ``interval`` seconds."""

    def __init__(
        self, report: CampaignReport, log: Callable[[str], None], interval: float, clock: Callable[[], float]
    ) -> None:
        self.report, self.log, self.interval, self.clock = report, log, interval, clock
        self.started = self.last = clock()

    def maybe_log(self) -> None:
        if self.clock() - self.last >= self.interval:
            self.log_now()

    def log_now(self) -> None:
        self.last = now = self.clock()
        report = self.report
        self.log(
            Progress(
                done_recipients=report.sent_recipients,
                total_recipients=report.recipients_total,
                done_batches=report.sent_batches,
                total_batches=report.batches_total,
                elapsed=now - self.started,
                unknown_recipients=report.unknown_recipients,
                unknown_batches=report.unknown_batches,
            ).describe()
        )


@dataclass(frozen=True)
class Progress:
    """A progress snapshot for the log."""

    done_recipients: int
    total_recipients: int
    done_batches: int
    total_batches: int
    elapsed: float
    unknown_recipients: int = 0
    unknown_batches: int = 0

    def describe(self) -> str:
        """
        E.g. ``"Sent 120000/1000000 recipients (240/2000 batches), 4000/s, ETA 3m40s"``.

        Only recipients counted as sent are "sent"; those whose outcome is unknown are named apart.
        """
        handled = self.done_recipients + self.unknown_recipients
        rate = handled / self.elapsed if self.elapsed > 0 else 0.0
        remaining = max(self.total_recipients - handled, 0)
        eta = _duration(remaining / rate) if rate > 0 else "unknown"
        unknown = (
            f"; outcome unknown: {self.unknown_recipients} recipients ({self.unknown_batches} batches)"
            if self.unknown_batches
            else ""
        )
        return (
            f"Sent {self.done_recipients}/{self.total_recipients} recipients "
            f"({self.done_batches}/{self.total_batches} batches){unknown}, {rate:,.0f}/s, ETA {eta}"
        )


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
