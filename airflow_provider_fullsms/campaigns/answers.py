"""
What FullSMS answered for one batch, reconciled with what was asked: :class:`SendResult`.

FullSMS's ``200`` is not taken on trust. It counts as everyone sent only when its status is
``approved`` and its ``total_sent`` plus the numbers its ``invalid`` lists is every number of the
request; otherwise only what it proves is sent and the rest are unknown (:meth:`SendResult.of`).
A batch kept back because its numbers' time zones never share the send window is a result too
(:meth:`SendResult.outside_window`), so it is recorded and reported like any other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_provider_fullsms.campaigns.batching import Batch
    from airflow_provider_fullsms.models import Campaign

#: FullSMS's reason for the numbers its ``200`` answer lists as invalid (it gives none).
LISTED_INVALID = "listed invalid in FullSMS's answer"
#: Numbers of a batch outside the send window kept (masked) for the summary.
MAX_LISTED_OUTSIDE_WINDOW = 10
#: The status of a FullSMS answer that says the send went ahead.
APPROVED = "approved"
#: Why a batch was kept back: its numbers' time zones are never all inside ``send_window`` at once.
OUTSIDE_WINDOW = "outside_window"


@dataclass(frozen=True)
class SendResult:
    """
    What FullSMS answered for an accepted batch, reconciled with what was asked.

    ``total_sent`` counts only what the answer proves was sent. When the answer does not add up
    (:meth:`of`), FullSMS acted on the request (it has a campaign id) but nobody can tell for
    whom: those recipients are ``unknown``, and the batch is never sent again automatically.
    """

    campaign_id: str
    total_sent: int
    status: str = APPROVED
    invalid: tuple[str, ...] = ()
    invalid_count: int = 0
    #: How many numbers FullSMS refused, per its reason.
    reasons: Mapping[str, int] = field(default_factory=dict)
    #: Recipients whose outcome FullSMS's answer leaves unknown (0 when it reconciles).
    unknown: int = 0
    #: Why, naming the campaign id and the counts; empty when the answer reconciles.
    discrepancy: str = ""

    @classmethod
    def of(cls, campaign: Campaign, batch: Batch, refused: Mapping[str, str] | None = None) -> SendResult:
        """
        The result of ``batch`` from FullSMS's answer to its (last) request.

        The answer reconciles when its status is ``approved`` and ``total_sent`` plus the numbers
        its ``invalid`` lists (each one asked for) is every number of the request. Otherwise only
        what it proves is counted: with status ``approved`` and a smaller ``total_sent``, that
        many were sent and the rest are unknown; with any other status, a larger, negative or
        missing count, or a listed number that was not asked for, all of them are unknown. A send
        to lists answers no count: its status alone says whether it went ahead.

        :param campaign: the hook's answer.
        :param refused: numbers of the batch left out of the request because FullSMS refused them
            earlier (its ``422`` naming them), with its reason.
        """
        refused = dict(refused or {})
        if batch.numbers:
            requested = [number for number in batch.numbers if number not in refused]
            asked, count = set(requested), len(requested)
        else:  # a send to lists: its recipients are the lists' subscribed contacts
            asked, count = set(), batch.recipients
        named = set(campaign.invalid_numbers)
        listed = [number for number in dict.fromkeys(campaign.invalid_numbers) if number in asked]
        strangers = len(named) - len(listed)
        expected = count - len(listed)
        total = campaign.total_sent if batch.numbers else expected
        refused.update(dict.fromkeys(listed, LISTED_INVALID))
        if campaign.status == APPROVED and total == expected and not strangers:
            return cls(campaign.campaign_id, expected, campaign.status, *_invalid(refused))
        proven = campaign.status == APPROVED and total is not None and 0 <= total < expected and not strangers
        sent = total if proven and total is not None else 0
        unknown = expected - sent
        discrepancy = (
            f"FullSMS accepted the request (campaign {campaign.campaign_id!r}) but its answer does not add "
            f"up: status {campaign.status!r}, total_sent {total} for {count} numbers"
            + (f" with {len(listed)} listed invalid" if listed else "")
            + (f", and it listed {strangers} number(s) invalid that were not asked for" if strangers else "")
            + f"; {sent} counted as sent, the outcome of {unknown} is unknown"
        )
        return cls(
            campaign.campaign_id,
            sent,
            campaign.status,
            *_invalid(refused),
            unknown=unknown,
            discrepancy=discrepancy,
        )

    @classmethod
    def nobody(cls, refused: Mapping[str, str]) -> SendResult:
        """FullSMS refused every number of the batch, so nothing was sent."""
        return cls("", 0, "refused", *_invalid(refused))

    @classmethod
    def outside_window(cls, batch: Batch, mask: Callable[[str], str]) -> SendResult:
        """
        ``batch`` was not sent: its numbers' time zones are never all inside the send window at once.

        :param mask: how a number is shown (the numbers are valid: never shown whole).
        """
        masked = tuple(mask(number) for number in batch.numbers[:MAX_LISTED_OUTSIDE_WINDOW])
        return cls("", 0, OUTSIDE_WINDOW, masked, batch.recipients, {OUTSIDE_WINDOW: batch.recipients})


def _invalid(refused: Mapping[str, str]) -> tuple[tuple[str, ...], int, dict[str, int]]:
    return tuple(refused), len(refused), dict(Counter(refused.values()))
