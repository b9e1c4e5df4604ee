"""
Pausing a campaign for credit: which balance lets the rest of it go out.

FullSMS refuses a send with ``422 balance_low`` when the balance is below the account's minimum or
cannot pay for it; nothing of that batch was sent, so the ledger records it *not sent* and the
campaign stops. A deferrable send task then waits in the triggerer (on the balance trigger) for
the balance :func:`credit_to_resume` names, and resumes from the ledger: accepted batches are
skipped, the rest go out.

:class:`SegmentTally` counts the SMS segments of the batches a try did not send, so the balance
to wait for is the price of exactly what is left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_fullsms.sms import analyse_message

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from airflow_provider_fullsms.campaigns.batching import Batch
    from airflow_provider_fullsms.campaigns.report import CampaignReport

#: Without a price, the balance must rise at least this much over the balance at the pause: any
#: top-up releases the campaign, and a balance that did not move never does.
TOP_UP_MARGIN = 0.01

# FullSMS's balance_low message: "Balance must be over $1.00 to create or schedule new campaigns ..."
_MINIMUM_IN_MESSAGE = re.compile(r"over\s*\D{0,3}?(\d+(?:\.\d+)?)")


def minimum_named_in(message: str) -> float | None:
    """The minimum balance FullSMS's ``balance_low`` message names (``"… over $1.00 …"``), if any."""
    found = _MINIMUM_IN_MESSAGE.search(message)
    return float(found.group(1)) if found else None


@dataclass(frozen=True)
class CreditWait:
    """
    The balance a paused campaign waits for, and why, in words for the task log.

    :param min_balance: the balance that releases the campaign.
    :param reason: how it was worked out.
    """

    min_balance: float
    reason: str


def credit_to_resume(
    *,
    balance: float,
    refusal: str,
    remaining_segments: int | None,
    price_per_segment: float | None,
    minimum_balance: float | None,
) -> CreditWait:
    """
    The balance that lets a campaign stopped by ``balance_low`` send what is left.

    With a price: ``remaining_segments * price_per_segment + minimum_balance`` (the same
    ``required_balance`` a dry run plans). Without one (or for a FullSMS template, whose text the
    provider does not price): any top-up, that is a balance above both the balance at the pause
    and the minimum FullSMS's message names, by :data:`TOP_UP_MARGIN`. If that top-up pays for
    only part of the rest, those batches go out and the campaign pauses again. Either way the
    balance asked for is above the balance at the pause, so a campaign never resumes into the same
    refusal.

    :param balance: the balance read when the campaign paused.
    :param refusal: FullSMS's ``balance_low`` message.
    :param remaining_segments: SMS segments of the batches not sent, ``None`` when unknown.
    :param price_per_segment: the account's price of one segment, ``None`` when unknown.
    :param minimum_balance: what FullSMS keeps back; default: the amount its message names.
    """
    minimum = minimum_balance if minimum_balance else (minimum_named_in(refusal) or 0.0)
    top_up = round(max(balance, minimum) + TOP_UP_MARGIN, 6)
    if price_per_segment is None or remaining_segments is None:
        return CreditWait(
            top_up,
            f"no price per segment is known, so any top-up resumes it: a balance of at least {top_up:g} "
            f"(above the {balance:g} at the pause and the {minimum:g} FullSMS keeps back)",
        )
    cost = round(remaining_segments * price_per_segment, 6)
    needed = round(cost + minimum, 6)
    return CreditWait(
        max(needed, top_up),
        f"{remaining_segments} segments left x {price_per_segment:g} = {cost:g}, plus the {minimum:g} "
        f"FullSMS keeps back: {needed:g}",
    )


class SegmentTally:
    """
    Count the SMS segments of the batches a try did not send.

    Wrap the batches a try sends; after it stopped, :meth:`remaining` adds up the batches the
    runner saw but did not send (refused, or taken but not started) and those it never reached
    (by reading the rest of the stream).

    :param batches: the campaign's batches, in order.
    :param template_text: the FullSMS template's content, when batches carry no text; ``None``
        leaves template batches unpriced.
    """

    def __init__(self, batches: Iterable[Batch], template_text: str | None = None) -> None:
        self._batches = iter(batches)
        self._template_text = template_text
        # Each batch seen, as its text and recipients only: a million numbers must not stay in
        # memory because the send might pause.
        self._seen: dict[int, tuple[str | None, int]] = {}

    def __iter__(self) -> Iterator[Batch]:
        for batch in self._batches:
            self._seen[batch.index] = (batch.text, batch.recipients)
            yield batch

    def total(self) -> int | None:
        """
        Segments of every batch seen (the whole campaign once the runner read them all), each
        text times its recipients; ``None`` when one has no known text.
        """
        total = 0
        for batch_text, recipients in self._seen.values():
            text = batch_text if batch_text is not None else self._template_text
            if text is None:
                return None
            total += analyse_message(text).segments * recipients
        return total

    def remaining(self, report: CampaignReport) -> int | None:
        """
        Segments of every batch not sent nor possibly sent; ``None`` when one has no known text.

        :param report: the try's report, naming the batches it did not send.
        """
        done = report.sent_batches + report.unknown_batches + report.not_sent_batches
        left = [self._seen[item["index"]] for item in report.not_sent if item["index"] in self._seen]
        # The runner took the last batches seen but did not start them: it saw it must stop.
        taken = sorted(self._seen)
        left.extend(self._seen[index] for index in taken[done:])
        left.extend((batch.text, batch.recipients) for batch in self._batches)  # never reached
        total = 0
        for batch_text, recipients in left:
            text = batch_text if batch_text is not None else self._template_text
            if text is None:
                return None
            total += analyse_message(text).segments * recipients
        return total
