"""
Opt-outs: the numbers a campaign must never text, read into bounded memory.

An ``exclude`` list is read like an audience (:class:`~.audience.Audience`: the same file readers,
the same number parser with the same ``default_region``), streamed entry by entry into a
:class:`~.numbers.CompactNumberSet`, so a million-number suppression list costs about 16 MB, not
the 70 MB of a built-in ``set``. The batcher then leaves out every recipient in it.

An entry that is not a phone number fails the campaign before any send: it stands for somebody who
asked not to be texted, and guessing past it (``07700 900123`` without a region could be anyone's
number) might text them. Blank entries stand for nobody and are skipped. A number that is refused
only because it lies outside the ranges in use (``number_validation="valid"``) is skipped too: the
audience refuses that number as well, so it can never be texted.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.campaigns.audience import Audience, detect_file_format
from airflow_provider_fullsms.campaigns.numbers import CompactNumberSet
from airflow_provider_fullsms.exceptions import CampaignInputError
from airflow_provider_fullsms.phones import InvalidNumberError, InvalidReason

if TYPE_CHECKING:
    from collections.abc import Callable

#: How many unreadable entries the error names (the count is always exact).
MAX_LISTED_UNREADABLE = 5


def exclude_file_format(file: Any) -> str:
    """
    The format of an ``exclude`` file, from its name: CSV, JSON lines, else one number a line.

    Unlike an audience, a ``.txt`` or unnamed file is one number a line: what a suppression list
    exported from a phone system or pasted into a file looks like.
    """
    name = str(getattr(file, "name", "") or file)
    if name.lower().endswith(".txt"):
        return "lines"
    try:
        return detect_file_format(name)
    except CampaignInputError:
        return "lines"


def read_exclusions(
    exclude: Any,
    *,
    parse_number: Callable[[object], str],
    number_column: str = "number",
    file_encoding: str | None = None,
) -> CompactNumberSet:
    """
    The opted-out numbers (E.164 digits as ints), read in one pass.

    :param exclude: a list of numbers, or a path, URL or ``ObjectStoragePath`` of a CSV (header row
        with ``number_column``), JSON-lines or one-number-a-line file.

    :param parse_number: the audience's number parser
        (:attr:`~airflow_provider_fullsms.campaigns.audience.Audience.parse_number`): a number reads
        the same way in both, e.g. with the same ``default_region``.
    :param number_column: the CSV column / JSON key holding the number.
    :param file_encoding: the file's text encoding (default UTF-8).
    :raises CampaignInputError: a missing or unreadable file, or entries that are not phone numbers.
    """
    is_list = isinstance(exclude, list | tuple) or (isinstance(exclude, str) and exclude.lstrip()[:1] == "[")
    if not is_list and not isinstance(exclude, str | os.PathLike) and not hasattr(exclude, "open"):
        raise CampaignInputError(
            f"exclude= must be a list of numbers or a file (a path, URL or ObjectStoragePath), got a "
            f"{type(exclude).__name__}."
        )
    source = Audience.from_params(
        numbers=exclude if is_list else None,
        numbers_file=None if is_list else exclude,
        number_column=number_column,
        file_format=None if is_list else exclude_file_format(exclude),
        file_encoding=file_encoding,
    )
    source = replace(source, param="exclude")
    numbers = CompactNumberSet()
    add = numbers.add
    unreadable: list[str] = []
    unreadable_count = position = 0
    for position, (raw, _) in enumerate(source.entries(rows=False), start=1):
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            add(int(parse_number(raw)))
        except InvalidNumberError as err:
            if err.reason is InvalidReason.NOT_VALID:
                continue
            unreadable_count += 1
            if len(unreadable) < MAX_LISTED_UNREADABLE:
                unreadable.append(f"entry {position:,}: {err}")
    if unreadable_count:
        listed = "\n  ".join(unreadable)
        raise CampaignInputError(
            f"exclude: {unreadable_count:,} of {position:,} entries are not phone numbers, so "
            "the people they stand for could be texted although they opted out. Nothing was sent. "
            "Correct or remove them (or set default_region= for numbers in national format):\n  "
            f"{listed}"
        )
    return numbers
