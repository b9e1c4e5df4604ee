"""
Opt-outs: the numbers a campaign must never text, read into bounded memory.

An ``exclude`` list is read like an audience (:class:`~.audience.Audience`: the same file readers,
the same number parser with the same ``default_region``), streamed entry by entry into a
:class:`~.numbers.CompactNumberSet`, so a million-number suppression list costs about 16 MB, not
the 70 MB of a built-in ``set``. The batcher then leaves out every recipient in it.

An entry that is not a phone number stands for somebody who asked not to be texted, and guessing
past it (``07700 900123`` without a region could be anyone's number) might text them. So by default
(``on_invalid="fail"``) it fails the campaign before any send, naming the entries; with
``on_invalid="report"`` (a CRM export with a few junk rows) the campaign goes on and the summary
lists them. An entry with two readings (``4917612345678`` with ``DE``: ``+49 176 12345678`` or a
German number without its 0, see :mod:`~airflow_provider_fullsms.readings`) is reported the same
way, and both numbers are left out. Blank entries stand for nobody and are skipped. A number
refused only because it lies outside the ranges in use (``number_validation="valid"``) is
skipped too: the audience refuses that number as well, so it can never be texted.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.campaigns.audience import Audience, detect_file_format
from airflow_provider_fullsms.campaigns.numbers import CompactNumberSet
from airflow_provider_fullsms.exceptions import CampaignInputError
from airflow_provider_fullsms.phones import InvalidNumberError, InvalidReason

if TYPE_CHECKING:
    from collections.abc import Callable

#: How many invalid entries the error and the summary name (the count is always exact).
MAX_LISTED_INVALID = 5
#: What an ``exclude`` entry that is not a phone number does.
ON_INVALID_CHOICES = ("fail", "report")


@dataclass
class Exclusions:
    """
    The opted-out numbers, and the entries that could not be read as one.

    :param numbers: E.164 digits as ints, checked by the batcher for every recipient.
    """

    numbers: CompactNumberSet = field(default_factory=CompactNumberSet)
    entries: int = 0
    invalid_count: int = 0
    #: The first :data:`MAX_LISTED_INVALID` invalid entries, each with its position and reason.
    invalid: list[str] = field(default_factory=list)

    def note_invalid(self, position: int, raw: object, reason: str) -> None:
        self.invalid_count += 1
        if len(self.invalid) < MAX_LISTED_INVALID:
            self.invalid.append(f"entry {position:,}: {str(raw)[:40]!r} [{reason}]")

    def fingerprint(self) -> str | None:
        """
        What the list holds, as a hash for the campaign fingerprint; ``None`` when it holds nothing.

        Its numbers whatever their order, and the entries that are not numbers: an approved plan
        never goes out with another opt-out list, even one that changes nobody's text (it may
        have lost entries, and with them the people they stood for). An empty list is no list.
        """
        if not self.numbers and not self.invalid_count:
            return None
        digest = hashlib.blake2b(digest_size=8)
        digest.update(f"{self.numbers.digest()}\x1f{self.invalid_count}\x1f{self.invalid!r}".encode())
        return digest.hexdigest()

    def summary(self) -> dict[str, Any]:
        """What the task's summary says of the exclude list (never the numbers themselves)."""
        return {
            "numbers": len(self.numbers),
            "invalid": {"count": self.invalid_count, "entries": self.invalid},
        }


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
    on_invalid: str = "fail",
) -> Exclusions:
    """
    The opted-out numbers, read in one pass.

    :param exclude: a list of numbers, or a path, URL or ``ObjectStoragePath`` of a CSV (header row
        with ``number_column``), JSON-lines or one-number-a-line file.
    :param parse_number: the audience's number parser
        (:attr:`~airflow_provider_fullsms.campaigns.audience.Audience.parse_number`): a number reads
        the same way in both, e.g. with the same ``default_region``.
    :param number_column: the CSV column / JSON key holding the number.
    :param file_encoding: the file's text encoding (default UTF-8).
    :param on_invalid: ``"fail"`` (default) or ``"report"``: what entries that are not phone
        numbers do (see the module's documentation).
    :raises CampaignInputError: a missing or undecodable file, a wrong ``on_invalid``, or with
        ``on_invalid="fail"`` entries that are not phone numbers.
    """
    if on_invalid not in ON_INVALID_CHOICES:
        raise CampaignInputError(
            f"on_invalid_exclude={on_invalid!r}: use 'fail' (the default: an exclude entry that is not "
            "a phone number stops the campaign) or 'report' (send, and list them in the summary)."
        )
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
    exclusions = Exclusions()
    add = exclusions.numbers.add
    for position, (raw, _) in enumerate(replace(source, param="exclude").entries(rows=False), start=1):
        exclusions.entries = position
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            add(int(parse_number(raw)))
        except InvalidNumberError as err:
            # An entry with two readings (4917612345678 with DE) is one of two people: leave out both.
            for number in err.readings:
                add(int(number))
            if err.reason is not InvalidReason.NOT_VALID:
                exclusions.note_invalid(position, raw, err.reason)
    if exclusions.invalid_count and on_invalid == "fail":
        listed = "\n  ".join(exclusions.invalid)
        raise CampaignInputError(
            f"exclude: {exclusions.invalid_count:,} of {exclusions.entries:,} entries are not phone "
            "numbers, so the people they stand for could be texted although they opted out. Nothing "
            "was sent. Correct or remove them, set default_region= for numbers in national format, or "
            f"pass on_invalid_exclude='report' to send anyway and list them in the summary:\n  {listed}"
        )
    return exclusions
