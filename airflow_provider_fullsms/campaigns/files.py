"""
Audience files: CSV with a header row, JSON lines, or one number a line, read an entry at a time.

Every way such a file can be malformed is a :class:`~airflow_provider_fullsms.exceptions.CampaignInputError`
naming the file, the line (and for CSV the column) and what to do, raised while the campaign is
planned, so before anything is sent: a missing column, a line that is not JSON or nests too deep,
a CSV cell longer than Python's ``csv`` module reads (:func:`csv.field_size_limit`, 131,072
characters; usually a quote that is never closed, which makes the rest of the file one cell).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from typing import IO, Any

from airflow_provider_fullsms.exceptions import CampaignInputError

#: One audience entry: the raw number and, for personalised sends, its row.
Entry = tuple[object, Mapping[str, Any] | None]

#: The file formats an audience file may have: CSV with a header row, JSON lines, one number a line.
FILE_FORMATS = ("csv", "jsonl", "lines")
#: How much of an overlong CSV record is read again to find its column (beyond the field limit).
_RE_READ_SLACK = 4096


def detect_file_format(name: str, file_format: str | None = None) -> str:
    """
    ``"csv"``, ``"jsonl"`` or ``"lines"``: the explicit ``file_format``, else from the file name's suffix.

    :raises CampaignInputError: an unknown format or suffix.
    """
    if file_format:
        chosen = file_format.lower()
        if chosen in FILE_FORMATS:
            return chosen
        raise CampaignInputError(f"file_format={file_format!r}: use 'csv', 'jsonl' or 'lines'.")
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
    Stream the entries of an open CSV (with a header row), JSON-lines or one-number-a-line text file.

    :param stream: the open file, in text mode (for CSV opened with ``newline=""``).
    :param file_format: ``"csv"``, ``"jsonl"`` or ``"lines"`` (one number a line; a first line
        without digits is a header, and skipped).
    :param number_column: the column (CSV) or key (JSON) holding the phone number.
    :param rows: whether each entry needs its whole row (personalised messages); reading only the
        number column is faster when it does not.
    :param name: the file's name, for error messages.
    :raises CampaignInputError: no such column, a line that is not JSON, or a CSV cell too long to read.
    """
    if file_format == "lines":
        return _line_entries(stream)
    if file_format == "csv":
        return _csv_entries(stream, number_column=number_column, rows=rows, name=name)
    return _jsonl_entries(stream, number_column=number_column, rows=rows, name=name)


def _lines(stream: IO[str]) -> Iterator[str]:
    """
    The lines of ``stream``. Airflow 2.11 opens an ``ObjectStoragePath`` in a wrapper with no
    ``__iter__`` but a ``__getitem__``, which Python would iterate by index (``file[0]``, a
    ``TypeError``); its ``readline`` works on every Airflow.
    """
    if hasattr(type(stream), "__iter__"):
        return iter(stream)
    return iter(stream.readline, "")


def _line_entries(stream: IO[str]) -> Iterator[Entry]:
    for line_number, line in enumerate(_lines(stream), start=1):
        text = line.strip()
        if text and not (line_number == 1 and not any(c.isdigit() for c in text)):
            yield text, None


def _csv_entries(stream: IO[str], *, number_column: str, rows: bool, name: str) -> Iterator[Entry]:
    reader = csv.reader(_lines(stream))
    header: list[str] | None = None
    ended = 0  # the line the last whole record ended on: a record may span lines (quoted newlines)
    try:
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
        ended = reader.line_num
        for record in reader:
            start, ended = ended + 1, reader.line_num
            if not record:
                continue
            if position >= len(record):
                raise CampaignInputError(f"{name}, line {start}: no {number_column!r} value.")
            yield record[position], (dict(zip(header, record, strict=False)) if rows else None)
    except csv.Error as err:
        raise _unreadable_record(stream, err, name=name, start=ended + 1, header=header) from None


def _unreadable_record(
    stream: IO[str], err: csv.Error, *, name: str, start: int, header: list[str] | None
) -> CampaignInputError:
    """The error for a CSV record the ``csv`` module refused, naming its line and, if it can, its column."""
    limit = csv.field_size_limit()
    if "field larger than field limit" not in str(err):
        return CampaignInputError(f"{name}, line {start} is not valid CSV ({err}): correct that line.")
    where = f"{name}, the row starting on line {start:,}"
    found = _overlong_cell(stream, start, limit)
    if found is not None:
        column, quoted = found
        named = header[column] if header and column < len(header) else None
        where += f", column {named!r}" if named is not None else f", column {column + 1}"
    else:
        quoted = False
    hint = (
        f' The cell starts with a quote (") that is never closed, so the rest of the file reads as '
        f"one cell: close or remove that quote on line {start:,}."
        if quoted
        else " An SMS is at most 612 characters: remove that column or shorten the cell."
    )
    return CampaignInputError(
        f"{where}: a cell longer than {limit:,} characters, more than Python's csv module reads.{hint}"
    )


def _overlong_cell(stream: IO[str], start: int, limit: int) -> tuple[int, bool] | None:
    """
    The column (from 0) of the first cell longer than ``limit`` in the record starting on line
    ``start``, and whether that cell is quoted; ``None`` when the file cannot be read again.

    Only for the error message, so a simple reading of the ``excel`` dialect the reader uses.
    """
    try:
        stream.seek(0)
        text = []
        read = 0
        for line_number, line in enumerate(_lines(stream), start=1):
            if line_number < start:
                continue
            text.append(line)
            read += len(line)
            if read > limit + _RE_READ_SLACK:
                break
    except (OSError, ValueError):  # not seekable, or closed
        return None
    record = "".join(text)
    column, length, quoted, cell_quoted, index = 0, 0, False, False, 0
    while index < len(record):
        char = record[index]
        index += 1
        if quoted:
            if char != '"':
                length += 1
            elif record[index : index + 1] == '"':  # a doubled quote is one quote
                index, length = index + 1, length + 1
            else:
                quoted = False
        elif char == '"' and length == 0 and not cell_quoted:
            quoted = cell_quoted = True
        elif char == ",":
            column, length, cell_quoted = column + 1, 0, False
        elif char in "\r\n":
            return None  # the record ended: no cell of it is too long
        else:
            length += 1
        if length > limit:
            return column, cell_quoted
    return None


def _jsonl_entries(stream: IO[str], *, number_column: str, rows: bool, name: str) -> Iterator[Entry]:
    for line_number, line in enumerate(_lines(stream), start=1):
        text = line.strip()
        if not text:
            continue
        try:
            item = json.loads(text)
        except RecursionError:
            raise CampaignInputError(
                f"{name}, line {line_number} nests too deep to read ({text[:40]!r}…): JSON-lines files "
                "hold one flat object (or one number) per line."
            ) from None
        except ValueError as err:
            raise CampaignInputError(
                f"{name}, line {line_number} is not JSON ({err}): {text[:80]!r}. JSON-lines files hold "
                "one object (or one number) per line."
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
