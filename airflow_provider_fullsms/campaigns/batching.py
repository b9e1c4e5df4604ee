"""
Batching and the plan: turning an audience into send requests, the same way every time.

Recipients are grouped by the exact text they get (one buffer per distinct text; a buffer becomes
a :class:`Batch` at 500 numbers), so 100,000 recipients of three personalised texts cost about 200
requests, not 100,000. Everything depends only on the input, so a retry rebuilds the same batches
with the same :attr:`Batch.fingerprint`. :func:`plan_campaign` builds every batch once without
sending: it checks every row and fingerprints the whole campaign before the first request.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING

# What FullSMS answered for a batch lives in its own module; it is imported from here too.
from airflow_provider_fullsms.campaigns.answers import LISTED_INVALID, OUTSIDE_WINDOW, SendResult
from airflow_provider_fullsms.campaigns.approval import RecipientsHash, fingerprint
from airflow_provider_fullsms.campaigns.audience import AudienceStats, Entry, NumberEntries, chunked
from airflow_provider_fullsms.campaigns.numbers import CompactNumberSet
from airflow_provider_fullsms.campaigns.texts import MessageSource, TextChecker
from airflow_provider_fullsms.exceptions import CampaignInputError
from airflow_provider_fullsms.phones import InvalidNumberError, NumberParser, normalise_number
from airflow_provider_fullsms.sms import MAX_NUMBERS_PER_REQUEST

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Hashable, Iterable, Iterator, Sequence

__all__ = [
    "BATCH_SIZE",
    "LISTED_INVALID",
    "OUTSIDE_WINDOW",
    "Batch",
    "Batcher",
    "CampaignPlan",
    "SendResult",
    "chunk_reader",
    "fingerprint",
    "plan_campaign",
    "plan_list_campaign",
]

#: Numbers in a full batch: as many as FullSMS accepts in one request.
BATCH_SIZE = MAX_NUMBERS_PER_REQUEST


@dataclass(frozen=True, slots=True)
class Batch:
    """
    One send request's worth of recipients, all getting the same text.

    :param index: position in the campaign, from 0; stable across retries.
    :param numbers: normalised numbers (for a send to lists: empty).
    :param text: the message (``None`` when a FullSMS template is used).
    :param fingerprint: hash of what the batch sends to whom, to tell a changed campaign apart.
    :param recipients: how many people it reaches (for lists: the subscribed contacts).
    """

    index: int
    numbers: tuple[str, ...]
    text: str | None
    fingerprint: str
    recipients: int

    def text_hash(self) -> str:
        """A short hash of the batch's text, to tell it apart in FullSMS's history without showing it."""
        return fingerprint(self.text)


#: Entries read and checked together: enough for C-level passes to pay, few enough to stream.
CHUNK_SIZE = 4096


def chunk_reader(
    parse_number: Callable[[object], str],
) -> Callable[[Sequence[object]], list[str] | None] | None:
    """The reader of whole chunks that goes with ``parse_number``, when it is a ``NumberParser``'s."""
    parser = getattr(parse_number, "__self__", None)
    return parser.parse_chunk if isinstance(parser, NumberParser) else None


class _Chunk:
    """Up to :data:`CHUNK_SIZE` entries of an audience, as its raw numbers or as whole entries."""

    def __init__(self, *, raws: list[object] | None = None, entries: list[Entry] | None = None) -> None:
        self._raws, self._entries = raws, entries
        self.size = len(raws if raws is not None else entries or ())

    @property
    def raws(self) -> list[object]:
        if self._raws is None:
            self._raws = list(map(itemgetter(0), self.entries))
        return self._raws

    @property
    def entries(self) -> list[Entry]:
        if self._entries is None:
            self._entries = list(zip(self.raws, repeat(None)))
        return self._entries


def _chunks(entries: Iterable[Entry], size: int, *, raw: bool) -> Iterator[_Chunk]:
    """
    ``entries`` a chunk at a time; with ``raw``, a plain list of numbers is sliced as it is.

    :param raw: the reader wants the chunks' raw numbers (a whole chunk read at once).
    """
    if raw and isinstance(entries, NumberEntries):
        for raws in entries.raw_chunks(size):
            yield _Chunk(raws=raws)
        return
    for chunk in chunked(entries, size):
        yield _Chunk(entries=chunk)


class Batcher:
    """
    Turn entries into batches of at most ``batch_size`` numbers sharing one text.

    One buffer per distinct text; a full buffer becomes a batch at once, the rest when the audience
    ends, in the order their texts first appeared. To keep memory flat when nearly every text is
    different (fully personalised messages), at most ``max_open_texts`` buffers are open and at most
    ``max_buffered`` numbers wait in them: past either bound the oldest buffer is sent early. Both
    rules depend only on the input, so the same audience always yields the same batches.

    :param source: how each recipient's text is found.
    :param campaign_key: what every batch shares (sender, ``send_at``, template), part of each
        fingerprint.
    :param stats: filled in with rows, unique, duplicates and invalid numbers.
    :param parse_number: reads one number (the audience's
        :attr:`~airflow_provider_fullsms.campaigns.audience.Audience.parse_number`).
    :param exclude: numbers (E.164 digits as ints) never to send to, counted in ``stats.excluded``
        (see :func:`~airflow_provider_fullsms.campaigns.exclusions.read_exclusions`).
    :param group_of: a number's group beside its text, e.g. its time zones
        (:meth:`~airflow_provider_fullsms.campaigns.window.SendWindow.group_of`): a batch holds
        one text and one group. It depends only on the number, so batches stay the same.
    """

    def __init__(
        self,
        source: MessageSource,
        *,
        campaign_key: str,
        stats: AudienceStats | None = None,
        batch_size: int = BATCH_SIZE,
        max_open_texts: int = 1000,
        max_buffered: int = 50_000,
        parse_number: Callable[[object], str] = normalise_number,
        exclude: Container[int] | None = None,
        group_of: Callable[[str], str] | None = None,
    ) -> None:
        if not 1 <= batch_size <= BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {BATCH_SIZE}, got {batch_size}")
        self.source = source
        self.campaign_key = campaign_key
        self.stats = stats if stats is not None else AudienceStats()
        self.batch_size = batch_size
        self.max_open_texts = max_open_texts
        self.max_buffered = max_buffered
        self.parse_number = parse_number
        self.exclude = exclude
        self.group_of = group_of
        self._parse_chunk = chunk_reader(parse_number)
        self.seen = CompactNumberSet()
        #: Who is texted, in the order of the rows (the campaign fingerprint's recipients part).
        self.recipients = RecipientsHash()
        self._texts = TextChecker()
        # Keyed by text, or with group_of by (text, group).
        self._buffers: dict[Hashable, list[str]] = {}
        self._buffered = 0
        self._next_index = 0

    def batches(self, entries: Iterable[Entry]) -> Iterator[Batch]:
        """Yield the batches of ``entries`` (consumed lazily, a chunk of :data:`CHUNK_SIZE` at a time)."""
        fixed = not self.source.per_row
        fixed_text: str | None = None
        if fixed:
            fixed_text = self.source.text_for(None, 0)
            if fixed_text is not None:
                self._texts.check(fixed_text, 0)
        # One text for everyone, one buffer: a chunk that reads at once joins it whole.
        one_buffer = fixed and self.group_of is None and self.max_buffered >= self.batch_size
        parse_chunk = self._parse_chunk if one_buffer else None
        rows_before = 0
        for chunk in _chunks(entries, CHUNK_SIZE, raw=parse_chunk is not None):
            numbers = self._read_at_once(chunk.raws, parse_chunk) if parse_chunk is not None else None
            if numbers is not None:
                self.stats.rows += len(numbers)
                self.stats.unique += len(numbers)
                self.recipients.add(numbers)
                yield from self._add_all(fixed_text, numbers)
            else:
                yield from self._add_one_by_one(chunk.entries, rows_before, fixed, fixed_text)
            rows_before += chunk.size
        while self._buffers:
            yield self._flush(next(iter(self._buffers)))

    def _read_at_once(
        self, raws: list[object], parse_chunk: Callable[[Sequence[object]], list[str] | None]
    ) -> list[str] | None:
        """
        The chunk's numbers when every one is valid, new and not excluded, else ``None``.

        This is the usual case, settled by C-level passes over the whole chunk (the parser's
        :meth:`~airflow_provider_fullsms.phones.NumberParser.parse_chunk`, then the set's
        :meth:`~airflow_provider_fullsms.campaigns.numbers.CompactNumberSet.add_new`).
        """
        numbers = parse_chunk(raws)
        if numbers is None:
            return None
        keys = list(map(int, numbers))
        if self.exclude is not None and any(map(self.exclude.__contains__, keys)):
            return None
        return numbers if self.seen.add_new(keys) else None

    def _add_all(self, text: str | None, numbers: list[str]) -> Iterator[Batch]:
        buffer = self._buffers.setdefault(text, [])
        buffer.extend(numbers)
        self._buffered += len(numbers)
        while len(buffer) >= self.batch_size:
            yield self._flush(text, self.batch_size)

    def _add_one_by_one(
        self, chunk: list[Entry], rows_before: int, fixed: bool, fixed_text: str | None
    ) -> Iterator[Batch]:
        stats, seen, source, parse_number = self.stats, self.seen, self.source, self.parse_number
        exclude, group_of = self.exclude, self.group_of
        accepted: list[str] = []  # this chunk's recipients, for the recipients hash
        for row_number, (raw, row) in enumerate(chunk, start=rows_before + 1):
            stats.rows += 1
            try:
                number = parse_number(raw)
            except InvalidNumberError as err:
                stats.note_invalid(raw, err.reason)
                continue
            key = int(number)
            if not seen.add(key):
                stats.duplicates += 1
                continue
            if exclude is not None and key in exclude:
                stats.excluded += 1
                continue
            stats.unique += 1
            accepted.append(number)
            if fixed:
                text = fixed_text
            else:
                text = source.text_for(row, row_number)
                if text is not None:
                    self._texts.check(text, row_number)
            buffer_key: Hashable = text if group_of is None else (text, group_of(number))
            buffer = self._buffers.get(buffer_key)
            if buffer is None:
                if len(self._buffers) >= self.max_open_texts:
                    yield self._flush(next(iter(self._buffers)))
                buffer = self._buffers[buffer_key] = []
            buffer.append(number)
            self._buffered += 1
            if len(buffer) >= self.batch_size:
                yield self._flush(buffer_key)
            elif self._buffered > self.max_buffered:
                yield self._flush(next(iter(self._buffers)))
        self.recipients.add(accepted)

    def _flush(self, key: Hashable, count: int | None = None) -> Batch:
        """The batch of ``key``'s buffer: all of it, or its first ``count`` numbers."""
        if count is None:
            numbers = tuple(self._buffers.pop(key))
        else:
            buffer = self._buffers[key]
            numbers = tuple(buffer[:count])
            del buffer[:count]
            if not buffer:
                del self._buffers[key]
        text: str | None = key if self.group_of is None else key[0]  # type: ignore[assignment,index]
        self._buffered -= len(numbers)
        index = self._next_index
        self._next_index += 1
        return Batch(
            index=index,
            numbers=numbers,
            text=text,
            fingerprint=fingerprint(self.campaign_key, text, numbers),
            recipients=len(numbers),
        )


@dataclass(frozen=True)
class CampaignPlan:
    """
    What a dry run over the whole audience found, before anything is sent.

    :param batches: how many batches the campaign has.
    :param recipients: unique valid numbers.
    :param fingerprint: hash of every batch's fingerprint, in order.
    :param distinct_texts: distinct texts (capped count for fully personalised audiences).
    :param kept: the batches themselves, for the send, when the audience is small enough
        (:data:`KEEP_RECIPIENTS`, :data:`KEEP_BATCHES`); ``None``: the send reads it again.
    :param recipients_fingerprint: who is texted, in the order of the rows (:class:`RecipientsHash`).
    :param batch_fingerprints: each batch's :attr:`Batch.fingerprint` as an int, by index: what a
        send that reads the audience again must find (:func:`~.approval.as_planned`).
    """

    batches: int
    recipients: int
    fingerprint: str
    stats: AudienceStats
    distinct_texts: int
    kept: tuple[Batch, ...] | None = field(default=None, repr=False, compare=False)
    recipients_fingerprint: str = ""
    batch_fingerprints: array[int] = field(default_factory=lambda: array("Q"), repr=False, compare=False)


#: A plan keeps its batches for the send, so each number is read, checked and de-duplicated once,
#: up to this many recipients (8 bytes a number: a list's own strings are shared; national numbers
#: are new strings, about 15 MB at most) and batches (personalised texts held once a batch). A
#: bigger audience, or one read from a file (streamed in flat memory), is read again to send.
KEEP_RECIPIENTS = 250_000
KEEP_BATCHES = 1_000


def plan_campaign(
    entries: Iterable[Entry],
    source: MessageSource,
    *,
    campaign_key: str,
    batch_size: int = BATCH_SIZE,
    parse_number: Callable[[object], str] = normalise_number,
    on_batch: Callable[[Batch], None] | None = None,
    exclude: Container[int] | None = None,
    group_of: Callable[[str], str] | None = None,
    keep: bool = True,
) -> CampaignPlan:
    """
    Build every batch once without sending, to check every row and fingerprint the campaign.

    :param exclude: numbers never to send to (see :class:`Batcher`).
    :param group_of: a number's group beside its text (see :class:`Batcher`).
    :param on_batch: called with each batch, e.g. a :class:`~.plan.PlanInspector` pricing it.
    :param keep: keep the batches for the send (see :data:`KEEP_RECIPIENTS`); ``False`` for an
        audience read from a file, whose numbers would otherwise stay in memory: it is read again.
    :raises CampaignInputError: a message that cannot be sent, a missing column, or nobody to send to.
    """
    stats = AudienceStats()
    batcher = Batcher(
        source,
        campaign_key=campaign_key,
        stats=stats,
        batch_size=batch_size,
        parse_number=parse_number,
        exclude=exclude,
        group_of=group_of,
    )
    digest = hashlib.blake2b(digest_size=8)
    count = 0
    texts: set[str | None] = set()
    kept: list[Batch] | None = [] if keep else None
    planned = array("Q")
    for batch in batcher.batches(entries):
        digest.update(batch.fingerprint.encode())
        planned.append(int(batch.fingerprint, 16))
        count += 1
        if kept is not None:
            kept.append(batch)
            if count > KEEP_BATCHES or stats.unique > KEEP_RECIPIENTS:
                kept = None
        if on_batch is not None:
            on_batch(batch)
        if len(texts) < 10_000:
            texts.add(batch.text)
    if stats.unique == 0:
        detail = f"{stats.rows} rows"
        if stats.invalid_count:
            detail += f", {stats.invalid_count} invalid {stats.reasons} (e.g. {stats.invalid[:3]})"
        if stats.duplicates:
            detail += f", {stats.duplicates} duplicates"
        if stats.excluded:
            raise CampaignInputError(
                f"Nobody to send to: every valid number of the audience is on the exclude list "
                f"({detail}, {stats.excluded} excluded)."
            )
        raise CampaignInputError(
            f"Nobody to send to: the audience has no valid phone number ({detail}). Numbers need the "
            "country code, e.g. '+44 7700 900001', or default_region= for numbers in national format."
        )
    return CampaignPlan(
        batches=count,
        recipients=stats.unique,
        fingerprint=digest.hexdigest(),
        stats=stats,
        distinct_texts=len(texts),
        kept=tuple(kept) if kept is not None else None,
        recipients_fingerprint=batcher.recipients.hexdigest(),
        batch_fingerprints=planned,
    )


def plan_list_campaign(
    campaign_key: str, text: str | None, subscribed: int, *, lists: object = None
) -> tuple[CampaignPlan, Batch]:
    """
    The plan of a send to contact lists: one request, so one batch of ``subscribed`` recipients.

    :param campaign_key: what the send is (sender, ``send_at``, template, text, list ids).
    :param subscribed: the lists' subscribed contacts (an upper bound: FullSMS texts a contact on
        two lists once).
    :param lists: what names the recipients (the list ids), for the recipients fingerprint.
    """
    batch = Batch(index=0, numbers=(), text=text, fingerprint=campaign_key, recipients=subscribed)
    stats = AudienceStats(rows=subscribed, unique=subscribed)
    plan = CampaignPlan(
        batches=1,
        recipients=subscribed,
        fingerprint=campaign_key,
        stats=stats,
        distinct_texts=1,
        recipients_fingerprint=fingerprint("contact lists", lists),
    )
    return plan, batch
