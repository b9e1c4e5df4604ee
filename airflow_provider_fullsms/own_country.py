"""
A region's own numbers read without libphonenumber: the fast paths of :mod:`.phones`.

With a ``default_region``, most rows of a CRM are that country's numbers, either in E.164 digits
(``447700900123``) or in national format with the trunk prefix (``07700 900123``). For regions
whose rules are plain, :class:`OwnCountry` and :class:`NationalLines` repeat libphonenumber's own
reading with a few regular expressions built from its metadata, so such rows cost no
libphonenumber parse; anything they are not sure of takes :class:`~.phones.NumberParser`'s full
path. ``tests/unit/test_phones.py`` checks they agree with libphonenumber.
"""

from __future__ import annotations

import re
from typing import Any


class OwnCountry:
    """
    The default region's own numbers in E.164 digits, recognised as libphonenumber would, cheaply.

    libphonenumber reads digits that start with the region's country code as that country's
    number when they are too long to be a national number, or match its national pattern only
    without the code. For regions whose trunk prefix is a plain pattern, this repeats that rule with
    two regex matches, so a CRM of canonical numbers costs no libphonenumber parse per row. Anything
    else (another country, a trunk prefix, a leading 0, a length not possible) takes the full path.
    """

    def __init__(
        self,
        country_code: str,
        national: re.Pattern[str],
        trunk: re.Pattern[str] | None,
        lengths: frozenset[int],
        national_written: NationalLines | None = None,
    ) -> None:
        self.country_code = country_code
        self.national = national
        self.trunk = trunk
        self.lengths = lengths
        self.longest = max(lengths)
        self.national_written = national_written

    @classmethod
    def of(cls, region: str) -> OwnCountry | None:
        """The shortcut for ``region``, or ``None`` where its rules need libphonenumber itself."""
        import phonenumbers
        from phonenumbers import PhoneMetadata

        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None or metadata.country_code is None:
            return None
        if phonenumbers.region_code_for_country_code(metadata.country_code) != region:
            return None
        general = metadata.general_desc
        if metadata.national_prefix_transform_rule or general is None or not general.national_number_pattern:
            return None
        prefix = metadata.national_prefix_for_parsing or metadata.national_prefix
        trunk = re.compile(prefix) if prefix else None
        if trunk is not None and trunk.match(""):
            return None  # an optional trunk prefix: libphonenumber's stripping rules decide
        national = re.compile(general.national_number_pattern)
        code = str(metadata.country_code)
        lines = NationalLines.of(metadata, code) if prefix else None
        return cls(code, national, trunk, frozenset(general.possible_length), lines)

    def read_national(self, joined: str) -> list[str] | None:
        """E.164 digits of national numbers written one a line, or ``None`` (:class:`NationalLines`)."""
        return self.national_written.read(joined) if self.national_written is not None else None

    def reads(self, raw: str) -> bool:
        """Whether ``raw`` is this country's number in E.164 digits, possible as libphonenumber says."""
        if not (
            raw.isascii() and raw.isdigit() and 7 <= len(raw) <= 15 and raw.startswith(self.country_code)
        ):
            return False
        rest = raw[len(self.country_code) :]
        if rest[:1] == "0" or len(rest) not in self.lengths or (self.trunk and self.trunk.match(rest)):
            return False
        return len(raw) > self.longest or (
            self.national.fullmatch(raw) is None and self.national.fullmatch(rest) is not None
        )


class NationalLines:
    """
    A chunk of the region's national numbers, written with its trunk prefix, read in a few C passes.

    libphonenumber reads ``07700 900123`` with ``GB`` by dropping the separators and the trunk
    prefix (``0``), keeping the rest when it matches the national pattern, and calling it possible
    when its length is one of the region's (not a local-only one). :meth:`read` repeats exactly
    that for a whole chunk, joined by line breaks: one regex for every line, one length check, one
    replace of the prefix by the country code. Only regions where that rule is plain qualify (a
    literal trunk prefix, first in its parsing pattern; no transform rule; a country code that does
    not start like the prefix), and a chunk with any line the regex is not sure of (another
    notation, a prefix the international call prefix could claim) is read one number at a time.
    """

    def __init__(
        self,
        prefix: str,
        country_code: str,
        lines: re.Pattern[str],
        idd: re.Pattern[str],
        lengths: frozenset[int],
    ) -> None:
        self.prefix, self.country_code, self.lines, self.idd, self.lengths = (
            prefix,
            country_code,
            lines,
            idd,
            lengths,
        )

    @classmethod
    def of(cls, metadata: Any, country_code: str) -> NationalLines | None:
        prefix = metadata.national_prefix or ""
        parsing = metadata.national_prefix_for_parsing or prefix
        if not (prefix.isdigit() and "(" not in parsing and parsing.split("|")[0] == prefix):
            return None
        if country_code.startswith(prefix[0]) or not metadata.international_prefix:
            return None
        general = metadata.general_desc
        local_only = set(general.possible_length_local_only or ())
        lengths = frozenset(
            len(prefix) + n
            for n in general.possible_length
            if n not in local_only and 7 <= len(country_code) + n <= 15
        )
        one = f"{prefix}(?=[1-9])(?:{general.national_number_pattern})"
        lines = re.compile(f"(?:{one}\n)*{one}", re.ASCII)
        idd = re.compile(f"^(?:{metadata.international_prefix})", re.ASCII | re.MULTILINE)
        return cls(prefix, country_code, lines, idd, lengths)

    def read(self, joined: str) -> list[str] | None:
        """The E.164 digits of each line of ``joined``, or ``None`` when any line needs libphonenumber."""
        digits = joined.replace(" ", "").replace("-", "")
        if not self.lines.fullmatch(digits) or self.idd.search(digits):
            return None
        if not self.lengths.issuperset(map(len, digits.split("\n"))):
            return None
        code, prefix = self.country_code, self.prefix
        return (code + digits[len(prefix) :].replace("\n" + prefix, "\n" + code)).split("\n")
