"""
What an approval binds: the campaign fingerprint, and each batch checked against the plan.

A plan's ``fingerprint`` (a dry run's, passed to the send as ``expected_fingerprint``) is seven
short hashes joined by ``-``, one per thing a person approves (:data:`FINGERPRINT_PARTS`):

* recipients: who is texted, in the order of the audience's rows (:class:`RecipientsHash`);
* texts: the distinct texts whatever their order, and a FullSMS template's id and content;
* pairing: which text each recipient gets (every batch's numbers with its text, in order);
* sender; schedule: the ``send_at`` asked for; window: the ``send_window``;
* exclusions: what the ``exclude`` list holds (its numbers whatever their order, and any entries
  that are not numbers), so a plan approved with one opt-out list never goes out with another.

Adding or leaving out somebody changes the recipients, editing a text the texts, and both change
the pairing too (it holds numbers and texts); a window regroups the batches, so it changes the
pairing as well. :func:`check_fingerprint` therefore names the pairing only when none of those
changed: then it means exactly that the same people get the same texts, but not each their own
(two customers' amounts swapped).

The order of the rows is part of the campaign: it makes the batches, and an order-free hash of
the recipients would cost a step per number. The same audience exported in another order is a
changed campaign (its recipients). Everything here costs a step per batch or per chunk of rows,
never per number.

Within one task, a send that reads its audience a second time (a file, or an audience too big to
keep) checks each batch against the plan's before it goes out (:func:`as_planned`).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from airflow_provider_fullsms.campaigns.numbers import CompactNumberSet
from airflow_provider_fullsms.exceptions import AudienceChangedError, CampaignInputError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from airflow_provider_fullsms.campaigns.batching import Batch, CampaignPlan

#: What a campaign fingerprint is made of, in order.
FINGERPRINT_PARTS = ("recipients", "texts", "pairing", "sender", "schedule", "window", "exclusions")
#: What each part stands for, in the message of a refused campaign.
PART_MEANINGS = {
    "recipients": "who is texted, in the order of the audience's rows",
    "texts": "the messages, or the FullSMS template's content",
    "pairing": "the same recipients and texts, but not each recipient their own text",
    "sender": "the number or sender ID the texts come from",
    "schedule": "send_at",
    "window": "send_window",
    "exclusions": "the numbers of the exclude list, or its entries that are not numbers",
}
#: The parts whose change changes the pairing too (see the module's documentation).
_PAIRED = frozenset({"recipients", "texts", "window"})
#: The parts of a fingerprint made before the pairing, window and exclusions were parts of it.
_EARLIER_PARTS = ("recipients", "texts", "sender", "schedule")
#: Hex digits of each part of a fingerprint.
PART_DIGITS = 8


def fingerprint(*parts: object) -> str:
    """A short, stable hash of ``parts`` (16 hex digits)."""
    digest = hashlib.blake2b(digest_size=8)
    for part in parts:
        digest.update(repr(part).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()


class RecipientsHash:
    """
    Who is texted, in the order of the rows, whatever their texts and batches.

    Fed a chunk of numbers at a time (one C-level join per chunk, nothing per number); each number
    is followed by a comma, so the hash does not depend on where the chunks begin.
    """

    __slots__ = ("_digest",)

    def __init__(self) -> None:
        self._digest = hashlib.blake2b(digest_size=8)

    def add(self, numbers: list[str]) -> None:
        """The next recipients, in order (E.164 digits)."""
        if numbers:
            self._digest.update(f"{','.join(numbers)},".encode())

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class BatchHashes:
    """
    The texts and pairing parts, from the batches as they go by.

    :param audience: what names the recipients when batches carry no numbers (a send to lists).
    """

    def __init__(self, audience: str | None = None) -> None:
        self._texts = 0
        self._seen_texts = CompactNumberSet()  # 8 bytes a distinct text: a million stay flat
        self._pairing = hashlib.blake2b(digest_size=8)
        if audience is not None:
            self._pairing.update(f"{audience}\x1e".encode("utf-8", "surrogatepass"))

    def __call__(self, batch: Batch) -> None:
        text_hash = int(fingerprint(batch.text), 16)
        # The set of texts: each distinct one counted once (its hash's top 63 bits as the key),
        # whatever its order or how many batches share it.
        if self._seen_texts.add(text_hash >> 1 or 1):
            self._texts = (self._texts + text_hash) % 2**64
        numbers = ",".join(batch.numbers)
        self._pairing.update(f"{batch.text!r}\x1f{numbers}\x1e".encode("utf-8", "surrogatepass"))

    def fingerprint(
        self,
        *,
        recipients: object,
        sender: object,
        schedule: object,
        template: tuple[object, str | None] | None = None,
        window: object = None,
        exclusions: object = None,
    ) -> str:
        """
        The campaign's fingerprint, once every batch went by.

        :param recipients: who is texted (:class:`RecipientsHash`'s digest, or the list ids).
        :param template: a FullSMS template's id and content, when one is sent.
        :param window: the ``send_window`` (``None``: none).
        :param exclusions: the ``exclude`` list's content hash (``None``: no list, or an empty one).
        """
        parts = {
            "recipients": fingerprint(recipients),
            "texts": fingerprint(self._texts, template),
            "pairing": self._pairing.hexdigest(),
            "sender": fingerprint(sender),
            "schedule": fingerprint(schedule),
            "window": fingerprint(window),
            "exclusions": fingerprint(exclusions),
        }
        return "-".join(parts[name][:PART_DIGITS] for name in FINGERPRINT_PARTS)


def check_fingerprint(expected: str | None, actual: str) -> None:
    """
    Refuse a campaign that is not the one approved.

    :param expected: the approved plan's ``fingerprint`` (``None`` or empty: nothing to check).
    :param actual: this campaign's fingerprint.
    :raises CampaignInputError: they differ, naming what changed.
    """
    if not expected or str(expected).strip() == actual:
        return
    approved = str(expected).strip().split("-")
    if len(approved) == len(_EARLIER_PARTS):
        raise CampaignInputError(
            f"expected_fingerprint={str(expected)[:80]!r} was made by an earlier version of the provider "
            f"(four parts: {', '.join(_EARLIER_PARTS)}; a fingerprint now also binds which text each "
            "recipient gets, the send window and the exclude list). Nothing was sent: plan the campaign "
            "again with dry_run=True and approve that plan."
        )
    if len(approved) != len(FINGERPRINT_PARTS):
        raise CampaignInputError(
            f"expected_fingerprint={str(expected)[:80]!r} is not a campaign fingerprint: pass the "
            f"'fingerprint' of a plan made with dry_run=True ({len(FINGERPRINT_PARTS)} hashes joined by "
            "'-'). Nothing was sent."
        )
    changed = [
        name
        for name, old, new in zip(FINGERPRINT_PARTS, approved, actual.split("-"), strict=True)
        if old != new
    ]
    if _PAIRED.intersection(changed):
        changed = [name for name in changed if name != "pairing"]  # implied by those
    meanings = "; ".join(f"{name}: {PART_MEANINGS[name]}" for name in changed)
    raise CampaignInputError(
        f"This campaign is not the one approved: its {', '.join(changed)} changed since the plan "
        f"({meanings}; approved fingerprint {str(expected).strip()}, now {actual}). Nothing was "
        "sent: plan and approve it again."
    )


def as_planned(
    batches: Iterable[Batch], plan: CampaignPlan, audience: str = "The audience"
) -> Iterator[Batch]:
    """
    ``batches`` read again for the send, each checked against the plan's before it is handed on.

    A send too big to keep its plan's batches, or one reading a file, reads the audience a second
    time. What goes out must be what was checked: each batch's fingerprint (its numbers, its text,
    the campaign's sender and schedule) is compared with the planned batch of the same index
    before the runner sees it, so an audience that changed after the checks stops the campaign
    before its first changed batch.

    :param plan: the plan made from the first read (:attr:`CampaignPlan.batch_fingerprints`).
    :param audience: what the audience is, for the error (``"The audience file /data/a.csv"``).
    :raises AudienceChangedError: a batch differs from the planned one, or there are more or fewer.
    """
    planned = plan.batch_fingerprints
    count = 0
    for batch in batches:
        index = batch.index
        if index >= len(planned):
            raise _changed(audience, f"it has more batches than the {len(planned):,} checked", index)
        if int(batch.fingerprint, 16) != planned[index]:
            raise _changed(audience, f"batch {index} is not the one checked (other numbers or texts)", index)
        count += 1
        yield batch
    if count != len(planned):
        raise _changed(audience, f"it ended after {count:,} of the {len(planned):,} batches checked", count)


def _changed(audience: str, what: str, index: int) -> AudienceChangedError:
    went = f"batches 0-{index - 1} were exactly the ones checked" if index else "no batch was sent"
    return AudienceChangedError(
        f"{audience} changed after it was checked: {what}. Nothing from batch {index} on was sent; "
        f"{went} (the ledger records which went out). Keep the audience unchanged while the task "
        "runs (write a new file for a new audience): restore the one checked and clear the task to "
        "send the rest, or start a new run."
    )


class UntilChanged:
    """
    The batches until the audience read again differs from the plan's
    (:func:`as_planned`); the difference is kept, so
    the batches already checked and handed over still go out before the try fails.
    """

    def __init__(self, batches: Iterable[Batch]) -> None:
        self.batches = batches
        self.changed: AudienceChangedError | None = None

    def __iter__(self) -> Iterator[Batch]:
        try:
            yield from self.batches
        except AudienceChangedError as error:
            self.changed = error
