"""
The report of a campaign: what each batch came to, and the summary the operator returns.

Every recipient ends in exactly one figure: sent (accepted, skipped as accepted earlier, or
assumed sent), invalid, outside the send window, unknown (a batch whose outcome is unknown, or the
part of an accepted batch FullSMS's answer does not account for), or not sent (refused, transient,
or never started). The summary is small at any audience size: counts, campaign ids and capped
lists, never the audience.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.campaigns.answers import OUTSIDE_WINDOW
from airflow_provider_fullsms.campaigns.audience import MAX_LISTED_INVALID, AudienceStats
from airflow_provider_fullsms.campaigns.ledger import Decision
from airflow_provider_fullsms.outcomes import Failure

#: The most batches of each kind (unknown, not sent, assumed sent) listed in the summary.
MAX_LISTED_BATCHES = 50

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow_provider_fullsms.campaigns.answers import SendResult
    from airflow_provider_fullsms.campaigns.batching import Batch


@dataclass
class CampaignReport:
    """
    Everything a run of the batches found; :meth:`summary` is the operator's XCom.

    :param send_at: FullSMS's ``send_at`` of every batch, or ``None`` when sent at once.
    :param details: extra summary entries (e.g. the list ids of a send to lists).
    """

    batches_total: int = 0
    recipients_total: int = 0
    send_at: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    accepted: int = 0
    skipped_accepted: int = 0
    assumed_sent: int = 0
    sent: int = 0
    campaign_ids: list[str] = field(default_factory=list)
    api_invalid_count: int = 0
    api_invalid: list[str] = field(default_factory=list)
    #: Numbers FullSMS refused, per its reason.
    api_reasons: dict[str, int] = field(default_factory=dict)
    #: The first :data:`MAX_LISTED_BATCHES` batches of each kind; the counts below cover all.
    unknown: list[dict[str, Any]] = field(default_factory=list)
    not_sent: list[dict[str, Any]] = field(default_factory=list)
    assumed: list[dict[str, Any]] = field(default_factory=list)
    unknown_batches: int = 0
    #: Of those, the ones that became unknown in this try (the others an earlier try reported).
    unknown_now: int = 0
    unknown_recipients: int = 0
    #: Accepted batches whose answer does not add up (see :meth:`SendResult.of`); their
    #: unaccounted recipients are in ``unknown_recipients``.
    discrepant: list[dict[str, Any]] = field(default_factory=list)
    discrepant_batches: int = 0
    #: Of those, the ones answered in this try (the others were reported by an earlier try).
    discrepant_now: int = 0
    #: Recipients whose time zones are never all inside ``send_window`` at once: not sent.
    outside_window_batches: int = 0
    outside_window_count: int = 0
    outside_window_numbers: list[str] = field(default_factory=list)
    not_sent_batches: int = 0
    #: Recipients of the batches done (accepted now or earlier, assumed sent, or outside the send
    #: window), but those an answer left unknown: each is in sent, invalid or outside_window.
    sent_recipients: int = 0
    stopped_by: BaseException | None = None
    stop_kind: Failure | None = None

    # -- what happened to each batch -------------------------------------------------------------

    def accepted_now(self, batch: Batch, result: SendResult) -> None:
        """FullSMS accepted ``batch`` in this try (or it was kept back: outside the send window)."""
        if OUTSIDE_WINDOW in result.reasons:
            self._outside_window(batch, result.invalid, result.invalid_count)
            return
        self.accepted += 1
        self._count_sent(
            result.campaign_id, result.total_sent, result.invalid, result.invalid_count, result.reasons
        )
        self._settled(batch, result.campaign_id, result.unknown, result.discrepancy, now=True)

    def settled_earlier(self, batch: Batch, decision: Decision, record: Mapping[str, Any] | None) -> None:
        """``batch`` was accepted in an earlier try, or its unknown outcome is settled as sent."""
        record = record or {}
        if decision is Decision.SKIP_ACCEPTED and OUTSIDE_WINDOW in (record.get("ir") or {}):
            self._outside_window(batch, record.get("iv") or (), int(record.get("i") or 0))
            return
        if decision is Decision.SKIP_ACCEPTED:
            self.skipped_accepted += 1
            total_sent = int(record.get("t") or 0)
        else:
            self.assumed_sent += 1
            total_sent = int(record.get("t") or batch.recipients)
            _listed(self.assumed, _named(batch, record))
        self._count_sent(
            record.get("c"),
            total_sent,
            record.get("iv") or (),
            int(record.get("i") or 0),
            record.get("ir") or {},
        )
        # A batch accepted with a discrepancy stays so: its unaccounted recipients stay unknown.
        unknown = int(record.get("u") or 0) if decision is Decision.SKIP_ACCEPTED else 0
        self._settled(batch, record.get("c"), unknown, str(record.get("why") or ""), now=False)

    def _settled(
        self, batch: Batch, campaign_id: str | None, unknown: int, discrepancy: str, *, now: bool
    ) -> None:
        """Count an accepted batch's recipients: sent (or invalid), except those its answer leaves unknown."""
        self.sent_recipients += batch.recipients - unknown
        if not unknown:
            return
        self.unknown_recipients += unknown
        self.discrepant_batches += 1
        self.discrepant_now += now
        _listed(
            self.discrepant,
            {
                "index": batch.index,
                "recipients": batch.recipients,
                "campaign_id": campaign_id,
                "unknown": unknown,
                "answer": discrepancy[:300],
            },
        )

    def _outside_window(self, batch: Batch, masked: Iterable[str], count: int) -> None:
        """``batch`` was not sent: its numbers' zones are never all inside the window at once."""
        self.outside_window_batches += 1
        self.outside_window_count += count
        self.sent_recipients += batch.recipients  # accounted for: in the outside_window figure
        for number in masked:
            if len(self.outside_window_numbers) < MAX_LISTED_INVALID:
                self.outside_window_numbers.append(str(number)[:64])

    def outcome_unknown(self, batch: Batch, error: str, sent: Mapping[str, Any], *, now: bool = True) -> None:
        """
        FullSMS may or may not have sent ``batch``: it is reported, never resent automatically.

        :param sent: the batch's in-flight record (``h`` text hash, ``at`` when it was sent).
        :param now: it became unknown in this try (not: an earlier try reported it unknown already).
        """
        self.unknown_batches += 1
        self.unknown_now += now
        self.unknown_recipients += batch.recipients
        _listed(self.unknown, {**_named(batch, sent), "error": error[:300]})

    def not_accepted(self, batch: Batch, error: BaseException, kind: Failure) -> None:
        """FullSMS provably did not send ``batch``; the first reason stops the campaign."""
        self.not_sent_batches += 1
        _listed(
            self.not_sent, {"index": batch.index, "recipients": batch.recipients, "error": str(error)[:300]}
        )
        # The first stop reason wins; a refusal outranks a transient error (retrying cannot fix it).
        if self.stopped_by is None or (kind is Failure.REFUSED and self.stop_kind is Failure.TRANSIENT):
            self.stopped_by, self.stop_kind = error, kind

    def outage(self, last_error: BaseException) -> None:
        """Stop starting batches: too many outcomes in a row were unknown (FullSMS is likely down)."""
        if self.stopped_by is None:
            self.stopped_by, self.stop_kind = last_error, Failure.UNKNOWN

    def _count_sent(
        self,
        campaign_id: str | None,
        total_sent: int,
        invalid: Iterable[str],
        invalid_count: int,
        reasons: Mapping[str, int],
    ) -> None:
        if campaign_id:
            self.campaign_ids.append(campaign_id)
        self.sent += total_sent
        self.api_invalid_count += invalid_count
        for reason, count in reasons.items():
            self.api_reasons[reason] = self.api_reasons.get(reason, 0) + count
        for number in invalid:
            if len(self.api_invalid) < MAX_LISTED_INVALID:
                self.api_invalid.append(str(number)[:64])

    # -- figures ---------------------------------------------------------------------------------

    @property
    def sent_batches(self) -> int:
        """Batches counted as sent: accepted now or earlier, or assumed sent."""
        return self.accepted + self.skipped_accepted + self.assumed_sent

    @property
    def not_started_batches(self) -> int:
        """Batches this try never reached, because an earlier batch stopped it."""
        settled = (
            self.sent_batches + self.unknown_batches + self.not_sent_batches + self.outside_window_batches
        )
        return max(self.batches_total - settled, 0)

    @property
    def not_sent_recipients(self) -> int:
        """Recipients nobody texted in this try: refused or transient batches, and batches never reached."""
        # sent_recipients holds every recipient of the batches accounted for (sent, invalid,
        # outside the window) but those counted in unknown_recipients.
        return max(self.recipients_total - self.sent_recipients - self.unknown_recipients, 0)

    def summary(self, stats: AudienceStats | None = None) -> dict[str, Any]:
        """
        The JSON-serialisable result: counts, campaign ids, capped invalid lists, problem batches.

        Never the audience itself: numbers appear only in the capped ``invalid.numbers``.
        """
        local_invalid = stats.invalid if stats else []
        local_count = stats.invalid_count if stats else 0
        listed = (local_invalid + self.api_invalid)[:MAX_LISTED_INVALID]
        return {
            "campaign_ids": list(self.campaign_ids),
            "recipients": self.recipients_total,
            "sent": self.sent,
            "scheduled": self.send_at is not None,
            "send_at": self.send_at,
            "invalid": {
                "count": local_count + self.api_invalid_count,
                "numbers": listed,
                "rejected_locally": local_count,
                "rejected_by_fullsms": self.api_invalid_count,
                # Local refusals per reason category (airflow_provider_fullsms.phones.InvalidReason).
                "reasons": dict(stats.reasons) if stats else {},
                # FullSMS's refusals per its own reason (a 422 naming numbers, or its answer's list).
                "fullsms_reasons": dict(self.api_reasons),
            },
            # Recipients whose time zones are never all inside send_window at once (masked): not sent.
            "outside_window": {
                "count": self.outside_window_count,
                # Sorted: batches are answered in any order when several requests are out at once.
                "numbers": sorted(self.outside_window_numbers),
            },
            "duplicates": stats.duplicates if stats else 0,
            # Valid recipients left out because they are on the exclude list (opted out).
            "excluded": stats.excluded if stats else 0,
            "batches": {
                "total": self.batches_total,
                "accepted": self.accepted,
                "skipped_already_accepted": self.skipped_accepted,
                "assumed_sent": self.assumed_sent,
                "assumed": list(self.assumed),
                "unknown_count": self.unknown_batches,
                "unknown_now": self.unknown_now,
                "unknown": list(self.unknown),
                "not_sent_count": self.not_sent_batches,
                "not_sent": list(self.not_sent),
                "not_started": self.not_started_batches,
                "outside_window": self.outside_window_batches,
                # Accepted, but FullSMS's answer does not add up: never resent, check them in FullSMS.
                "discrepant_count": self.discrepant_batches,
                "discrepant": list(self.discrepant),
            },
            "unknown_recipients": self.unknown_recipients,
            "not_sent_recipients": self.not_sent_recipients,
            **self.details,
        }


def _named(batch: Batch, sent: Mapping[str, Any]) -> dict[str, Any]:
    """How the summary and the failure message name a batch, so a person can find it in FullSMS."""
    return {
        "index": batch.index,
        "recipients": batch.recipients,
        "text_hash": sent.get("h"),
        "sent_at": sent.get("at"),
    }


def _listed(items: list[dict[str, Any]], item: dict[str, Any]) -> None:
    if len(items) < MAX_LISTED_BATCHES:
        items.append(item)
