"""
Reading an audience: where recipients come from, streamed entry by entry.

Recipients come from a list of numbers, a list of row dicts, or a CSV / JSON-lines file (a path or
an ``ObjectStoragePath``) read row by row (:mod:`.files`), so a million-row audience never sits in
memory or in XCom. :class:`Audience` checks the operator's parameters once and gives a fresh pass
over the entries each time it is asked (a campaign reads its audience twice: to plan, then to
send). Its :attr:`Audience.parse_number` reads each number (:mod:`airflow_provider_fullsms.phones`).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice, repeat
from pathlib import Path
from typing import Any, TypeVar

from airflow_provider_fullsms.campaigns.files import Entry, detect_file_format, read_audience_file
from airflow_provider_fullsms.exceptions import CampaignInputError
from airflow_provider_fullsms.phones import InvalidReason, NumberParser, normalise_number

#: How many invalid numbers a summary lists (the count is always exact).
MAX_LISTED_INVALID = 100


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
    #: Valid numbers left out because they are on the ``exclude`` list (counted once each).
    excluded: int = 0
    invalid_count: int = 0
    invalid: list[str] = field(default_factory=list)
    #: Invalid numbers per :class:`~airflow_provider_fullsms.phones.InvalidReason` category.
    reasons: dict[str, int] = field(default_factory=dict)

    def note_invalid(self, raw: object, reason: str = InvalidReason.NOT_A_NUMBER) -> None:
        self.invalid_count += 1
        key = str(reason)  # a plain str, so the summary stays plain JSON
        self.reasons[key] = self.reasons.get(key, 0) + 1
        if len(self.invalid) < self.max_listed_invalid:
            value = raw if isinstance(raw, str) else repr(raw)
            # Capped too, so one huge cell cannot blow up the XCom.
            self.invalid.append(value[:64])


T = TypeVar("T")


class NumberEntries:
    """
    The entries of a plain list of numbers (no rows, so nothing to personalise).

    Iterating gives ``(number, None)`` entries; :meth:`raw_chunks` gives the numbers themselves a
    chunk at a time, so a reader of whole chunks builds no entry per number.
    """

    __slots__ = ("numbers",)

    def __init__(self, numbers: Iterable[object]) -> None:
        self.numbers = numbers

    def __iter__(self) -> Iterator[Entry]:
        return zip(self.numbers, repeat(None))  # built in C: a campaign reads a million of these

    def raw_chunks(self, size: int) -> Iterator[list[object]]:
        """The numbers, ``size`` at a time (slices of a list)."""
        return chunked(self.numbers, size)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter): slices of a list, else read in turn."""
    if isinstance(items, list):
        return (items[start : start + size] for start in range(0, len(items), size))
    iterator = iter(items)
    return iter(lambda: list(islice(iterator, size)), [])


def entries_from_numbers(numbers: Iterable[object]) -> NumberEntries:
    """Entries of a plain list of numbers (no rows, so nothing to personalise)."""
    return NumberEntries(numbers)


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


def as_list(value: Any, what: str) -> list[Any]:
    """
    A list parameter as a list: a list as is, a JSON list string, or items separated by commas,
    semicolons or lines (what a template renders), or a single int.

    :param what: the parameter's name, for the error message.
    :raises CampaignInputError: any other type.
    """
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                return parsed
        return [part for part in re.split(r"[,;\n]", text) if part.strip()]
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    raise CampaignInputError(f"{what}= must be a list, got a {type(value).__name__}.")


def _file_name(file: Any) -> str:
    """A path's or ``ObjectStoragePath``'s file name, for the format and for messages."""
    return str(getattr(file, "name", "") or file)


def _given(value: object) -> bool:
    return value not in (None, "")


@dataclass(frozen=True)
class Audience:
    """
    Exactly one source of recipients, checked once.

    :param numbers: phone numbers (a list, or a string a template rendered).
    :param rows: row dicts, each with ``number_column``.
    :param file: a path, URL string or ``ObjectStoragePath`` of a CSV or JSON-lines file.
    :param number_column: the column / key holding the phone number.
    :param file_format: ``"csv"``, ``"jsonl"`` or ``"lines"``; for a file, resolved from its name
        when not given.
    :param file_encoding: the file's text encoding; UTF-8 may start with a byte-order mark.
    :param parse_number: reads one number into E.164 digits, or raises ``InvalidNumberError``.
    :param param: the operator parameter the file came from, for error messages.
    """

    numbers: list[Any] | None = None
    rows: Sequence[Any] | None = None
    file: Any = None
    number_column: str = "number"
    file_format: str | None = None
    file_encoding: str = "utf-8-sig"
    parse_number: Callable[[object], str] = normalise_number
    param: str = "numbers_file"

    @classmethod
    def from_params(
        cls,
        *,
        numbers: Any = None,
        recipients: Any = None,
        numbers_file: Any = None,
        number_column: str = "number",
        file_format: str | None = None,
        file_encoding: str | None = None,
        default_region: str | None = None,
        number_validation: str | None = None,
    ) -> Audience:
        """
        The audience an operator was given.

        :param default_region: ISO country code for numbers in national format (see
            :class:`~airflow_provider_fullsms.phones.NumberParser`).
        :param number_validation: ``"possible"`` (default) or ``"valid"``.
        :raises CampaignInputError: none or several sources, one of the wrong type, an unknown
            region, validation or encoding.
        """
        parse_number = NumberParser(default_region, number_validation or "possible").parse
        given = [
            name
            for name, value in (
                ("numbers", numbers),
                ("recipients", recipients),
                ("numbers_file", numbers_file),
            )
            if _given(value)
        ]
        if len(given) != 1:
            raise CampaignInputError(
                "Pass exactly one audience: numbers= (a list), recipients= (a list of dicts) or "
                f"numbers_file= (a CSV or JSON-lines file); got {', '.join(given) or 'none'}."
            )
        if _given(numbers):
            return cls(
                numbers=as_list(numbers, "numbers"), number_column=number_column, parse_number=parse_number
            )
        if _given(recipients):
            if not isinstance(recipients, list | tuple):
                raise CampaignInputError(
                    f"recipients= must be a list of dicts, got a {type(recipients).__name__}: with an "
                    "XCom, set render_template_as_native_obj=True on the DAG or pass the list itself."
                )
            return cls(rows=recipients, number_column=number_column, parse_number=parse_number)
        file = numbers_file
        if isinstance(file, str) and "://" in file:
            from airflow.providers.common.compat.sdk import (
                ObjectStoragePath,  # Airflow's object storage, only for URLs
            )

            file = ObjectStoragePath(file)
        elif isinstance(file, str):
            file = Path(file)
        # Decided once, here, so a bad name or format fails before any request.
        resolved = detect_file_format(_file_name(file), file_format)
        return cls(
            file=file,
            number_column=number_column,
            file_format=resolved,
            file_encoding=check_encoding(file_encoding),
            parse_number=parse_number,
        )

    @property
    def has_rows(self) -> bool:
        """Whether entries carry rows (so messages can be personalised)."""
        return self.numbers is None

    def entries(self, *, rows: bool) -> Iterable[Entry]:
        """
        A fresh pass over the audience.

        :param rows: whether each entry needs its whole row (personalised texts).
        :raises CampaignInputError: a missing file, column or key, a line that is not JSON, or a
            CSV cell too long to read.
        """
        if self.numbers is not None:
            return entries_from_numbers(self.numbers)
        if self.rows is not None:
            return entries_from_rows(self.rows, number_column=self.number_column)
        return self._file_entries(rows=rows)

    def _file_entries(self, *, rows: bool) -> Iterator[Entry]:
        name = _file_name(self.file)
        file_format = self.file_format or detect_file_format(name)
        try:
            stream = self.file.open("r", encoding=self.file_encoding, newline="")
        except FileNotFoundError:
            raise CampaignInputError(
                f"{self.param}={str(self.file)!r} does not exist: check the path and the upstream task "
                "that writes it."
            ) from None
        try:
            with stream:
                yield from read_audience_file(
                    stream,
                    file_format=file_format,
                    number_column=self.number_column,
                    rows=rows,
                    name=name,
                )
        except UnicodeDecodeError as err:
            raise self._undecodable(err) from None

    def _undecodable(self, err: UnicodeDecodeError) -> CampaignInputError:
        """The error for a file that is not in :attr:`file_encoding`, with the byte that broke it."""
        # The text stream decodes in chunks, so err.start counts from the chunk, not the file.
        offset, line = _first_undecodable_byte(self.file, self.file_encoding)
        where = f"byte {offset:,} (line {line})" if offset is not None else f"byte {err.start:,} of a chunk"
        bad = err.object[err.start : err.start + 4]
        shown = f" ({bytes(bad)!r})" if bad else ""
        return CampaignInputError(
            f"{self.param}={str(self.file)!r} is not {_encoding_name(self.file_encoding)} text: "
            f"{where}{shown} cannot be decoded. Pass the file's encoding as file_encoding= (e.g. "
            "'latin-1' or 'cp1252' for a spreadsheet export), or save it as UTF-8."
        )


def check_encoding(file_encoding: str | None) -> str:
    """
    ``file_encoding`` checked against Python's codecs; ``None`` or UTF-8 read a BOM too (``utf-8-sig``).

    :raises CampaignInputError: an encoding Python does not know.
    """
    if file_encoding in (None, ""):
        return "utf-8-sig"
    try:
        name = codecs.lookup(str(file_encoding)).name
    except LookupError:
        raise CampaignInputError(
            f"file_encoding={file_encoding!r} is not an encoding Python knows: use e.g. 'utf-8' "
            "(the default), 'latin-1' or 'cp1252'."
        ) from None
    return "utf-8-sig" if name == "utf-8" else name


def _encoding_name(encoding: str) -> str:
    return "UTF-8" if encoding == "utf-8-sig" else encoding


def _first_undecodable_byte(file: Any, encoding: str, chunk: int = 1 << 16) -> tuple[int | None, int]:
    """The file offset and line of the first byte ``encoding`` cannot decode (``None``: not found)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, lines = 0, 1
    with file.open("rb") as raw:
        while data := raw.read(chunk):
            try:
                decoder.decode(data)
            except UnicodeDecodeError as err:
                # The decoder may hold back a partial character from the previous chunk.
                held = len(err.object) - len(data)
                start = offset - held + err.start
                return start, lines + err.object[: err.start].count(b"\n")
            offset += len(data)
            lines += data.count(b"\n")
    return None, lines
