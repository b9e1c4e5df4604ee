"""
Campaign bookkeeping for the send operators: audiences, batches, the outcome ledger, the summary.

Pure Python, no Airflow imports, so every rule here is tested with plain tables of cases.

How a send to many numbers works:

1. **Audience.** Recipients come from a list, a list of row dicts, or a CSV / JSON-lines file
   streamed row by row (:func:`read_audience_file`), so a million-row audience never sits in
   memory or in XCom. Numbers are normalised and de-duplicated in a :class:`CompactNumberSet`
   (8 bytes a number instead of a ``set`` of ints' ~70), invalid ones counted with a capped list.
2. **Batches.** :class:`Batcher` groups recipients by the exact text they get (one buffer per
   distinct text; a buffer becomes a batch at 500 numbers), so 100,000 recipients of three
   personalised texts cost about 200 requests, not 100,000. Everything is deterministic, so a
   retry rebuilds the same batches with the same :attr:`Batch.fingerprint`.
3. **Ledger.** :class:`Ledger` records each batch in the task's state store under its own key
   (``fullsms.batch.<index>``): *in flight* before the request goes out, then *accepted* (with the
   campaign id), *unknown* or *not sent*. A retry skips accepted batches; a batch found *in
   flight* (the worker died mid-request) or *unknown* is never resent unless the user says so
   (:data:`ON_UNKNOWN_CHOICES`). A plan record written before the first send holds the
   fingerprint of the whole campaign, so a changed audience or message is refused, not guessed.
4. **Run.** :func:`run_batches` sends with a bounded thread pool and bounded work in flight, writes
   the ledger from one thread only, logs progress, and stops submitting after a transient or
   refused batch while still recording every request already out.
"""

from __future__ import annotations

import enum
import hashlib
import json
import string
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from airflow_provider_fullsms.exceptions import FullSmsConfigurationError
from airflow_provider_fullsms.sms import (
    InvalidMessageError,
    InvalidNumberError,
    check_message,
    normalise_number,
)

#: FullSMS accepts at most 500 numbers per ``to_numbers`` request.
BATCH_SIZE = 500
#: How many invalid numbers a summary lists (the count is always exact).
MAX_LISTED_INVALID = 100
#: What to do with a batch whose outcome is unknown (timeout, dropped connection, ambiguous 5xx).
ON_UNKNOWN_CHOICES = ("fail", "assume_sent", "resend")
#: Key prefix in the task state store.
LEDGER_PREFIX = "fullsms"
LEDGER_VERSION = 1


class CampaignInputError(FullSmsConfigurationError):
    """The audience or the message cannot be sent as given; nothing was sent."""


class LedgerMismatchError(CampaignInputError):
    """The state store holds a different campaign for this task: the audience or message changed."""


# -- compact de-duplication --------------------------------------------------------------------

_EMPTY = 0  # a normalised number never is 0 (7-15 digits, no leading zero)
_FIB = 11400714819323198485  # 2**64 / golden ratio: scatters consecutive numbers over the table
_MASK64 = (1 << 64) - 1


class CompactNumberSet:
    """
    A set of positive 64-bit ints in ``array('q')`` tables: open addressing, linear probing.

    A Python ``set`` of a million ints costs about 70 MB (a 32-byte int object plus a 16-byte
    table slot, at most 60 % full); these tables cost 8 bytes a slot at most 75 % full, about
    16 MB for a million numbers. The keys are spread over 64 segments by the top bits of a
    Fibonacci hash (which also scatters consecutive numbers, a common shape of generated
    audiences, so probes stay short). Each segment doubles on its own, so growing never holds
    the old and the new copy of the whole set at once: the peak stays within about 1/64 of the
    steady size, and memory grows smoothly with the audience.

    Probing in Python costs about 1.4 µs a key against 0.2 µs for the built-in ``set``, so the
    first ``small_limit`` keys (17 MB at the default) live in a plain ``set``: a typical campaign
    never pays for compactness, and a million-number one moves to the tables once, when the set
    fills up.

    :param small_limit: keys held in a built-in ``set`` before moving to the compact tables.
    """

    __slots__ = ("_bits", "_count", "_limits", "_small", "_small_limit", "_tables")

    _SEGMENT_BITS = 6
    _SEGMENTS = 1 << _SEGMENT_BITS
    _LOAD = 0.75

    def __init__(self, small_limit: int = 250_000) -> None:
        self._count = 0
        self._small: set[int] | None = set()
        self._small_limit = small_limit
        self._bits = [4] * self._SEGMENTS
        self._tables = [self._new_table(4) for _ in range(self._SEGMENTS)]
        self._limits = [int(16 * self._LOAD)] * self._SEGMENTS

    @staticmethod
    def _new_table(bits: int) -> array[int]:
        # Repetition builds the array in place: no temporary bytes object of the same size.
        return array("q", [_EMPTY]) * (1 << bits)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int) or key <= 0:
            return False
        if self._small is not None:
            return key in self._small
        hashed = (key * _FIB) & _MASK64
        segment = hashed >> (64 - self._SEGMENT_BITS)
        bits = self._bits[segment]
        table, mask = self._tables[segment], (1 << bits) - 1
        slot = (hashed >> (64 - self._SEGMENT_BITS - bits)) & mask
        while True:
            value = table[slot]
            if value == key:
                return True
            if value == _EMPTY:
                return False
            slot = (slot + 1) & mask

    def add(self, key: int) -> bool:
        """
        Add ``key``; return ``True`` if it was new.

        :param key: a positive int below 2**63.
        """
        if key <= 0:
            raise ValueError(f"CompactNumberSet holds positive ints only, got {key!r}")
        small = self._small
        if small is not None:
            if key in small:
                return False
            small.add(key)
            self._count += 1
            if self._count > self._small_limit:
                self._move_to_tables()
            return True
        hashed = (key * _FIB) & _MASK64
        segment = hashed >> (64 - self._SEGMENT_BITS)
        if self._insert(segment, hashed, key):
            self._count += 1
            return True
        return False

    def _insert(self, segment: int, hashed: int, key: int) -> bool:
        bits = self._bits[segment]
        table, mask = self._tables[segment], (1 << bits) - 1
        slot = (hashed >> (64 - self._SEGMENT_BITS - bits)) & mask
        while True:
            value = table[slot]
            if value == key:
                return False
            if value == _EMPTY:
                break
            slot = (slot + 1) & mask
        table[slot] = key
        self._limits[segment] -= 1
        if self._limits[segment] < 0:
            self._grow(segment)
        return True

    def _grow(self, segment: int) -> None:
        old = self._tables[segment]
        bits = self._bits[segment] + 1
        self._bits[segment] = bits
        self._tables[segment] = self._new_table(bits)
        self._limits[segment] = int((1 << bits) * self._LOAD)
        for value in old:
            if value != _EMPTY:
                self._insert(segment, (value * _FIB) & _MASK64, value)

    def _move_to_tables(self) -> None:
        small, self._small = self._small or set(), None
        for key in small:
            hashed = (key * _FIB) & _MASK64
            self._insert(hashed >> (64 - self._SEGMENT_BITS), hashed, key)

    @property
    def nbytes(self) -> int:
        """Bytes held: the compact tables, or the built-in set and its int objects while small."""
        if self._small is not None:
            return sys.getsizeof(self._small) + 32 * len(self._small)
        return sum(table.itemsize * len(table) for table in self._tables)


# -- audience ----------------------------------------------------------------------------------


@dataclass
class AudienceStats:
    """
    What de-duplication and local checks made of an audience.

    :param max_listed_invalid: how many invalid values to keep for the summary.
    """

    max_listed_invalid: int = MAX_LISTED_INVALID
    rows: int = 0
    unique: int = 0
    duplicates: int = 0
    invalid_count: int = 0
    invalid: list[str] = field(default_factory=list)

    def note_invalid(self, raw: object) -> None:
        self.invalid_count += 1
        if len(self.invalid) < self.max_listed_invalid:
            value = raw if isinstance(raw, str) else repr(raw)
            # Capped too, so one huge cell cannot blow up the XCom.
            self.invalid.append(value[:64])


#: One audience entry: the raw number and, for personalised sends, its row.
Entry = tuple[object, Mapping[str, Any] | None]


def entries_from_numbers(numbers: Iterable[object]) -> Iterator[Entry]:
    """Entries of a plain list of numbers (no rows, so nothing to personalise)."""
    for number in numbers:
        yield number, None


def entries_from_rows(rows: Iterable[object], *, number_column: str = "number") -> Iterator[Entry]:
    """
    Entries of a list of dicts, each with a number column (and whatever columns a message uses).

    :raises CampaignInputError: a row that is not a mapping or has no number column.
    """
    for row_number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise CampaignInputError(
                f"recipient {row_number} is a {type(row).__name__}, not a dict: pass rows such as "
                f"{{'{number_column}': '+44 7700 900001', 'first_name': 'Ada'}}."
            )
        if number_column not in row:
            raise CampaignInputError(
                f"recipient {row_number} has no {number_column!r} key (keys: {sorted(row)[:10]}): "
                f"set number_column= to the key that holds the phone number."
            )
        yield row[number_column], row


def detect_file_format(name: str, file_format: str | None = None) -> str:
    """
    ``"csv"`` or ``"jsonl"``: the explicit ``file_format``, else from the file name's suffix.

    :raises CampaignInputError: an unknown format or suffix.
    """
    if file_format:
        chosen = file_format.lower()
        if chosen in ("csv", "jsonl"):
            return chosen
        raise CampaignInputError(f"file_format={file_format!r}: use 'csv' or 'jsonl'.")
    lowered = name.lower()
    if lowered.endswith((".csv", ".txt")):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    raise CampaignInputError(
        f"Cannot tell the format of {name!r} from its name: pass file_format='csv' or 'jsonl'."
    )


def read_audience_file(
    stream: IO[str], *, file_format: str, number_column: str = "number", rows: bool, name: str = "file"
) -> Iterator[Entry]:
    """
    Stream the entries of an open CSV (with a header row) or JSON-lines text file.

    :param stream: the open file, in text mode.
    :param file_format: ``"csv"`` or ``"jsonl"``.
    :param number_column: the column (CSV) or key (JSON) holding the phone number.
    :param rows: whether each entry needs its whole row (personalised messages); reading only the
        number column is faster when it does not.
    :param name: the file's name, for error messages.
    :raises CampaignInputError: no such column, or a line that is not JSON.
    """
    if file_format == "csv":
        import csv

        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        if number_column not in header:
            raise CampaignInputError(
                f"{name} has no {number_column!r} column (columns: {header[:20]}): set number_column= "
                "to the column that holds the phone numbers."
            )
        position = header.index(number_column)
        for line_number, record in enumerate(reader, start=2):
            if not record:
                continue
            if position >= len(record):
                raise CampaignInputError(f"{name}, line {line_number}: no {number_column!r} value.")
            yield record[position], (dict(zip(header, record, strict=False)) if rows else None)
        return
    for line_number, line in enumerate(stream, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            item = json.loads(text)
        except ValueError:
            raise CampaignInputError(
                f"{name}, line {line_number} is not JSON: {text[:80]!r}. JSON-lines files hold one "
                "object (or one number) per line."
            ) from None
        if isinstance(item, Mapping):
            if number_column not in item:
                raise CampaignInputError(
                    f"{name}, line {line_number} has no {number_column!r} key "
                    f"(keys: {sorted(item)[:10]}): set number_column= to the key of the phone number."
                )
            yield item[number_column], (item if rows else None)
        else:
            yield item, None


# -- messages ----------------------------------------------------------------------------------


def template_fields_of(message: str) -> list[str]:
    """
    The ``{column}`` fields of a personalised message, in order; empty for a plain text.

    :raises CampaignInputError: a malformed template (e.g. an unmatched ``{``).
    """
    try:
        return [name for _, name, _, _ in string.Formatter().parse(message) if name is not None]
    except ValueError as err:
        raise CampaignInputError(
            f"message {message[:60]!r} is not a valid template ({err}): write columns as {{first_name}} "
            "and a literal brace as {{{{ or }}}}."
        ) from None


@dataclass(frozen=True)
class MessageSource:
    """
    How each recipient's text is found.

    :param message: the text, or a template such as ``"Hi {first_name}"`` filled from each row.
    :param template_id: a FullSMS template (the text lives on the server) instead of ``message``.
    :param message_column: a row column holding a ready text; it wins over ``message`` when set
        and non-empty in a row.
    :param personalise: fill ``message`` from each row's columns.
    """

    message: str | None = None
    template_id: str | None = None
    message_column: str | None = None
    personalise: bool = False

    @property
    def per_row(self) -> bool:
        """Whether texts may differ between recipients."""
        return self.template_id is None and (self.personalise or self.message_column is not None)

    def text_for(self, row: Mapping[str, Any] | None, row_number: int) -> str | None:
        """
        The text this row gets (``None`` when a FullSMS template is used).

        :raises CampaignInputError: no text for the row, or a column the template names is missing.
        """
        if self.template_id is not None:
            return None
        if row is not None and self.message_column is not None:
            value = row.get(self.message_column)
            if value not in (None, ""):
                return str(value)
        if self.message is None:
            raise CampaignInputError(
                f"recipient {row_number} has no {self.message_column!r} value and no message= was "
                "given: add the column to every row or pass message= as the fallback."
            )
        if not self.personalise or row is None:
            return self.message
        try:
            return self.message.format_map(row)
        except KeyError as err:
            raise CampaignInputError(
                f"message {self.message[:60]!r} uses {{{err.args[0]}}}, but recipient {row_number} has no "
                f"such column (columns: {sorted(row)[:10]}): add it, or write a literal brace as {{{{."
            ) from None
        except (IndexError, ValueError, AttributeError) as err:
            raise CampaignInputError(
                f"message {self.message[:60]!r} cannot be filled from recipient {row_number}: {err}."
            ) from None


class _CheckedTexts:
    """Check each distinct text once; forget them all past a bound so memory stays flat."""

    def __init__(self, limit: int = 4096) -> None:
        self._seen: set[str] = set()
        self._limit = limit

    def check(self, text: str, row_number: int) -> None:
        if text in self._seen:
            return
        try:
            check_message(text)
        except InvalidMessageError as err:
            where = f"recipient {row_number}'s message" if row_number else "message"
            raise CampaignInputError(f"{where} cannot be sent: {err}") from None
        if len(self._seen) >= self._limit:
            self._seen.clear()
        self._seen.add(text)


# -- batches -----------------------------------------------------------------------------------


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


def fingerprint(*parts: object) -> str:
    """A short, stable hash of ``parts`` (16 hex digits)."""
    digest = hashlib.blake2b(digest_size=8)
    for part in parts:
        digest.update(repr(part).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()


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
    ) -> None:
        if not 1 <= batch_size <= BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {BATCH_SIZE}, got {batch_size}")
        self.source = source
        self.campaign_key = campaign_key
        self.stats = stats if stats is not None else AudienceStats()
        self.batch_size = batch_size
        self.max_open_texts = max_open_texts
        self.max_buffered = max_buffered
        self.seen = CompactNumberSet()
        self._texts = _CheckedTexts()
        self._buffers: dict[str | None, list[str]] = {}
        self._buffered = 0
        self._next_index = 0

    def batches(self, entries: Iterable[Entry]) -> Iterator[Batch]:
        """Yield the batches of ``entries`` (consumed lazily)."""
        stats, seen, source = self.stats, self.seen, self.source
        fixed = not source.per_row
        fixed_text: str | None = None
        if fixed:
            fixed_text = source.text_for(None, 0)
            if fixed_text is not None:
                self._texts.check(fixed_text, 0)
        for row_number, (raw, row) in enumerate(entries, start=1):
            stats.rows += 1
            try:
                number = normalise_number(raw)
            except InvalidNumberError:
                stats.note_invalid(raw)
                continue
            if not seen.add(int(number)):
                stats.duplicates += 1
                continue
            stats.unique += 1
            if fixed:
                text = fixed_text
            else:
                text = source.text_for(row, row_number)
                if text is not None:
                    self._texts.check(text, row_number)
            buffer = self._buffers.get(text)
            if buffer is None:
                if len(self._buffers) >= self.max_open_texts:
                    yield self._flush(next(iter(self._buffers)))
                buffer = self._buffers[text] = []
            buffer.append(number)
            self._buffered += 1
            if len(buffer) >= self.batch_size:
                yield self._flush(text)
            elif self._buffered > self.max_buffered:
                yield self._flush(next(iter(self._buffers)))
        while self._buffers:
            yield self._flush(next(iter(self._buffers)))

    def _flush(self, text: str | None) -> Batch:
        numbers = tuple(self._buffers.pop(text))
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
    """

    batches: int
    recipients: int
    fingerprint: str
    stats: AudienceStats
    distinct_texts: int


def plan_campaign(
    entries: Iterable[Entry], source: MessageSource, *, campaign_key: str, batch_size: int = BATCH_SIZE
) -> CampaignPlan:
    """
    Build every batch once without sending, to check every row and fingerprint the campaign.

    :raises CampaignInputError: a message that cannot be sent, a missing column, or nobody to send to.
    """
    stats = AudienceStats()
    batcher = Batcher(source, campaign_key=campaign_key, stats=stats, batch_size=batch_size)
    digest = hashlib.blake2b(digest_size=8)
    count = 0
    texts: set[str | None] = set()
    for batch in batcher.batches(entries):
        digest.update(batch.fingerprint.encode())
        count += 1
        if len(texts) < 10_000:
            texts.add(batch.text)
    if stats.unique == 0:
        detail = f"{stats.rows} rows"
        if stats.invalid_count:
            detail += f", {stats.invalid_count} invalid (e.g. {stats.invalid[:3]})"
        if stats.duplicates:
            detail += f", {stats.duplicates} duplicates"
        raise CampaignInputError(
            f"Nobody to send to: the audience has no valid phone number ({detail}). Numbers need the "
            "country code, e.g. '+44 7700 900001'."
        )
    return CampaignPlan(
        batches=count,
        recipients=stats.unique,
        fingerprint=digest.hexdigest(),
        stats=stats,
        distinct_texts=len(texts),
    )


# -- ledger ------------------------------------------------------------------------------------


class StateStore(Protocol):
    """The part of Airflow's ``context["task_state_store"]`` the ledger uses."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


class MemoryStateStore:
    """
    An in-memory stand-in for ``context["task_state_store"]`` with the same ``get``/``set`` API.

    For tests, and for calling an operator's ``execute()`` by hand while keeping a ledger between
    two calls (a simulated retry). Values are copied through JSON, as the real store does.
    """

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.writes = 0

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(self.data[key]) if key in self.data else default

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")
        self.data[key] = json.dumps(value)
        self.writes += 1

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def clear(self) -> None:
        self.data.clear()


class BatchState(enum.StrEnum):
    """A batch's recorded state."""

    IN_FLIGHT = "in_flight"  # marked before the request goes out
    ACCEPTED = "accepted"  # FullSMS answered with a campaign id
    UNKNOWN = "unknown"  # FullSMS may or may not have acted on it
    NOT_SENT = "not_sent"  # provably refused (4xx, 429, 503, refused connection): safe to resend


class Decision(enum.StrEnum):
    """What to do with a batch at the start of a try."""

    SEND = "send"
    SKIP_ACCEPTED = "skip_accepted"
    ASSUME_SENT = "assume_sent"
    UNKNOWN = "unknown"


def decide(record: Mapping[str, Any] | None, batch: Batch, on_unknown: str = "fail") -> Decision:
    """
    What a try does with ``batch`` given its ledger record from earlier tries.

    :param record: the stored record, or ``None`` when the batch never started.
    :param on_unknown: ``"fail"`` (report it, never resend), ``"assume_sent"`` or ``"resend"``.
    :raises LedgerMismatchError: the record is for different recipients or another text.
    """
    if on_unknown not in ON_UNKNOWN_CHOICES:
        raise CampaignInputError(f"on_unknown_outcome={on_unknown!r}: use one of {ON_UNKNOWN_CHOICES}.")
    if record is None:
        return Decision.SEND
    if record.get("fp") != batch.fingerprint:
        raise LedgerMismatchError(
            f"Batch {batch.index} was recorded by an earlier try for other recipients or another text "
            f"(fingerprint {record.get('fp')!r}, now {batch.fingerprint!r}): the audience or the "
            "message changed between tries. Nothing more was sent. Check which batches went out in "
            "the task's state store, then start a new run (or clear the task state) with the new audience."
        )
    state = record.get("s")
    if state == BatchState.ACCEPTED:
        return Decision.SKIP_ACCEPTED
    if state in (BatchState.IN_FLIGHT, BatchState.UNKNOWN):
        if on_unknown == "assume_sent":
            return Decision.ASSUME_SENT
        if on_unknown == "resend":
            return Decision.SEND
        return Decision.UNKNOWN
    return Decision.SEND


class Ledger:
    """
    Per-batch outcome records in a task state store, one small key per batch.

    Keys: ``fullsms.plan`` (version, campaign fingerprint, batch count) written before the first
    send, and ``fullsms.batch.<index>`` (``s`` state, ``fp`` batch fingerprint, ``n`` recipients,
    ``c`` campaign id, ``t`` total sent, ``i`` invalid numbers count, ``iv`` first invalid
    numbers). A million recipients make 2,000 keys of under 200 bytes, each written twice; no big
    value is ever rewritten.

    :param store: ``context["task_state_store"]``, or ``None``: then nothing is kept between tries
        (resumption is off), and a batch that turns unknown is still never resent in this try.
    """

    def __init__(self, store: StateStore | None, *, prefix: str = LEDGER_PREFIX) -> None:
        self.store = store
        self.prefix = prefix
        self.resuming = False

    @property
    def enabled(self) -> bool:
        return self.store is not None

    def _key(self, index: int) -> str:
        return f"{self.prefix}.batch.{index}"

    def open(self, plan: CampaignPlan | Mapping[str, Any]) -> bool:
        """
        Compare with (or write) the plan record; return whether an earlier try left records.

        :param plan: the campaign's plan, or a mapping with ``fingerprint`` and ``batches``.
        :raises LedgerMismatchError: an earlier try recorded a different campaign.
        """
        if self.store is None:
            return False
        fp = plan.fingerprint if isinstance(plan, CampaignPlan) else plan["fingerprint"]
        batches = plan.batches if isinstance(plan, CampaignPlan) else plan["batches"]
        key = f"{self.prefix}.plan"
        stored = self.store.get(key)
        if stored is not None:
            if stored.get("fp") != fp or stored.get("batches") != batches:
                raise LedgerMismatchError(
                    f"An earlier try of this task sent a different campaign ({stored.get('batches')} "
                    f"batches, fingerprint {stored.get('fp')!r}; now {batches} batches, {fp!r}): the "
                    "audience, message, sender or send_at changed between tries. Nothing was sent by "
                    "this try. Start a new run for the new campaign, or clear the task state if the "
                    "earlier sends are accounted for."
                )
            self.resuming = True
            return True
        self.store.set(key, {"v": LEDGER_VERSION, "fp": fp, "batches": batches})
        return False

    def record(self, index: int) -> dict[str, Any] | None:
        """The stored record of batch ``index`` (only read when resuming)."""
        if self.store is None or not self.resuming:
            return None
        value = self.store.get(self._key(index))
        return dict(value) if isinstance(value, Mapping) else None

    def _write(self, batch: Batch, state: BatchState, **fields: Any) -> None:
        if self.store is not None:
            record = {"s": state.value, "fp": batch.fingerprint, "n": batch.recipients, **fields}
            self.store.set(self._key(batch.index), record)

    def mark_in_flight(self, batch: Batch) -> None:
        self._write(batch, BatchState.IN_FLIGHT)

    def mark_accepted(self, batch: Batch, result: SendResult) -> None:
        self._write(
            batch,
            BatchState.ACCEPTED,
            c=result.campaign_id,
            t=result.total_sent,
            i=result.invalid_count,
            iv=list(result.invalid[:10]),
        )

    def mark_unknown(self, batch: Batch, reason: str) -> None:
        self._write(batch, BatchState.UNKNOWN, why=reason[:300])

    def mark_not_sent(self, batch: Batch, reason: str) -> None:
        self._write(batch, BatchState.NOT_SENT, why=reason[:300])


# -- running -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    """What FullSMS answered for an accepted batch."""

    campaign_id: str
    total_sent: int
    status: str = "approved"
    invalid: tuple[str, ...] = ()
    invalid_count: int = 0


class Failure(enum.StrEnum):
    """How a failed send is treated (the operator classifies its exceptions into these)."""

    UNKNOWN = "unknown"  # may have been processed: never resend automatically
    TRANSIENT = "transient"  # provably not processed, may work later: stop, let Airflow retry
    REFUSED = "refused"  # provably not processed, will not work as is: stop, fail


@dataclass
class CampaignReport:
    """Everything a run of the batches found; :meth:`summary` is the operator's XCom."""

    batches_total: int = 0
    recipients_total: int = 0
    accepted: int = 0
    skipped_accepted: int = 0
    assumed_sent: int = 0
    sent: int = 0
    scheduled: bool = False
    campaign_ids: list[str] = field(default_factory=list)
    api_invalid_count: int = 0
    api_invalid: list[str] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)
    not_sent: list[dict[str, Any]] = field(default_factory=list)
    #: Recipients of the batches this try settled as sent or unknown (accepted, skipped, assumed).
    settled_recipients: int = 0
    stopped_by: BaseException | None = None
    stop_kind: Failure | None = None

    def add_accepted(
        self, index: int, campaign_id: str | None, total_sent: int, invalid: Iterable[str], invalid_count: int
    ) -> None:
        if campaign_id:
            self.campaign_ids.append(campaign_id)
        self.sent += total_sent
        self.api_invalid_count += invalid_count
        for number in invalid:
            if len(self.api_invalid) < MAX_LISTED_INVALID:
                self.api_invalid.append(str(number)[:64])

    @property
    def unknown_recipients(self) -> int:
        return sum(item["recipients"] for item in self.unknown)

    @property
    def not_started_batches(self) -> int:
        """Batches this try never reached, because an earlier batch stopped it."""
        settled = (
            self.accepted + self.skipped_accepted + self.assumed_sent + len(self.unknown) + len(self.not_sent)
        )
        return max(self.batches_total - settled, 0)

    @property
    def not_sent_recipients(self) -> int:
        """Recipients nobody texted in this try: refused or transient batches, and batches never reached."""
        return max(self.recipients_total - self.settled_recipients, 0)

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
            "scheduled": self.scheduled,
            "invalid": {
                "count": local_count + self.api_invalid_count,
                "numbers": listed,
                "rejected_locally": local_count,
                "rejected_by_fullsms": self.api_invalid_count,
            },
            "duplicates": stats.duplicates if stats else 0,
            "batches": {
                "total": self.batches_total,
                "accepted": self.accepted,
                "skipped_already_accepted": self.skipped_accepted,
                "assumed_sent": self.assumed_sent,
                "unknown": list(self.unknown),
                "not_sent": list(self.not_sent),
                "not_started": self.not_started_batches,
            },
            "unknown_recipients": self.unknown_recipients,
            "not_sent_recipients": self.not_sent_recipients,
        }


@dataclass(frozen=True)
class Progress:
    """A progress snapshot for the log."""

    done_recipients: int
    total_recipients: int
    done_batches: int
    total_batches: int
    elapsed: float

    def describe(self) -> str:
        """E.g. ``"Sent 120000/1000000 recipients (240/2000 batches), 4000/s, ETA 3m40s"``."""
        rate = self.done_recipients / self.elapsed if self.elapsed > 0 else 0.0
        remaining = max(self.total_recipients - self.done_recipients, 0)
        eta = _duration(remaining / rate) if rate > 0 else "unknown"
        return (
            f"Sent {self.done_recipients}/{self.total_recipients} recipients "
            f"({self.done_batches}/{self.total_batches} batches), {rate:,.0f}/s, ETA {eta}"
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


def run_batches(
    batches: Iterable[Batch],
    send: Callable[[Batch], SendResult],
    ledger: Ledger,
    *,
    classify: Callable[[BaseException], Failure],
    on_unknown: str = "fail",
    max_concurrency: int = 4,
    total_batches: int = 0,
    total_recipients: int = 0,
    log: Callable[[str], None] = lambda message: None,
    progress_interval: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
) -> CampaignReport:
    """
    Send ``batches`` with at most ``max_concurrency`` requests out at once, keeping the ledger.

    Only this (the calling) thread touches the ledger: a batch is marked in flight before it is
    submitted, and its outcome is written when its future completes. At most ``max_concurrency``
    batches are submitted ahead, so the audience streams rather than piling up in the queue. After
    a transient or refused failure no new batch is submitted, but every request already out is
    waited for and recorded before returning.

    :param send: sends one batch; raises on failure.
    :param classify: maps a failure of ``send`` to :class:`Failure`.
    :param on_unknown: what to do with batches an earlier try left unknown or in flight.
    :param log: receives progress lines (at least every ``progress_interval`` seconds while sending).
    """
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    report = CampaignReport(batches_total=total_batches, recipients_total=total_recipients)
    started = last_log = clock()
    done_recipients = 0
    done_batches = 0
    in_flight: dict[Future[SendResult], Batch] = {}

    def note_done(batch: Batch) -> None:
        nonlocal done_recipients, done_batches
        done_recipients += batch.recipients
        done_batches += 1
        report.settled_recipients += batch.recipients

    def collect(futures: Iterable[Future[SendResult]]) -> None:
        for future in futures:
            batch = in_flight.pop(future)
            error = future.exception()
            if error is None:
                result = future.result()
                ledger.mark_accepted(batch, result)
                report.accepted += 1
                report.scheduled = report.scheduled or result.status == "scheduled"
                report.add_accepted(
                    batch.index, result.campaign_id, result.total_sent, result.invalid, result.invalid_count
                )
                note_done(batch)
                continue
            kind = classify(error)
            if kind is Failure.UNKNOWN:
                ledger.mark_unknown(batch, str(error))
                report.unknown.append(
                    {"index": batch.index, "recipients": batch.recipients, "error": str(error)[:300]}
                )
                note_done(batch)
                continue
            ledger.mark_not_sent(batch, str(error))
            report.not_sent.append(
                {"index": batch.index, "recipients": batch.recipients, "error": str(error)[:300]}
            )
            # The first stop reason wins; a refusal outranks a transient error (retrying cannot fix it).
            if report.stopped_by is None or (
                kind is Failure.REFUSED and report.stop_kind is Failure.TRANSIENT
            ):
                report.stopped_by, report.stop_kind = error, kind

    def maybe_log(force: bool = False) -> None:
        nonlocal last_log
        now = clock()
        if force or now - last_log >= progress_interval:
            last_log = now
            log(
                Progress(
                    done_recipients, total_recipients, done_batches, total_batches, now - started
                ).describe()
            )

    pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="fullsms-send")
    try:
        for batch in batches:
            if report.stopped_by is not None:
                break
            record = ledger.record(batch.index)
            decision = decide(record, batch, on_unknown)
            if decision is Decision.SKIP_ACCEPTED or decision is Decision.ASSUME_SENT:
                record = record or {}
                if decision is Decision.SKIP_ACCEPTED:
                    report.skipped_accepted += 1
                else:
                    report.assumed_sent += 1
                report.add_accepted(
                    batch.index,
                    record.get("c"),
                    int(record.get("t") or (batch.recipients if decision is Decision.ASSUME_SENT else 0)),
                    record.get("iv") or (),
                    int(record.get("i") or 0),
                )
                note_done(batch)
                continue
            if decision is Decision.UNKNOWN:
                report.unknown.append(
                    {
                        "index": batch.index,
                        "recipients": batch.recipients,
                        "error": "outcome unknown in an earlier try",
                    }
                )
                note_done(batch)
                continue
            ledger.mark_in_flight(batch)
            in_flight[pool.submit(send, batch)] = batch
            while len(in_flight) >= max_concurrency:
                finished, _ = wait(list(in_flight), timeout=progress_interval, return_when=FIRST_COMPLETED)
                collect(finished)
                maybe_log()
            maybe_log()
        while in_flight:
            finished, _ = wait(list(in_flight), timeout=progress_interval, return_when=FIRST_COMPLETED)
            collect(finished)
            maybe_log()
    finally:
        # Never abandon a request that is out: wait for it even when the loop above failed.
        pool.shutdown(wait=True)
        if in_flight:
            collect([future for future in list(in_flight) if future.done()])
    if total_batches:
        maybe_log(force=True)
    return report
