"""
Phone numbers: the one E.164 number a person wrote, or the reason it is not one.

FullSMS takes numbers as digits-only E.164 (``447700900001``). People write them in many other
ways: ``+44 (0) 7700 900001``, ``07700 900123`` (national, so only a region says which country),
``tel:+44-7700-900001``, Arabic-Indic or full-width digits, invisible bidi marks pasted with them,
``447700900001.0`` from a spreadsheet export. :class:`NumberParser` reads each as the number it
spells, or raises :class:`InvalidNumberError` with a :class:`InvalidReason` category. It never
guesses: a notation that may have lost digits (``4.477E+11``, a fraction other than ``.0``, an
extension) is refused as :attr:`InvalidReason.LOSSY_FORMAT`, and digits with two plausible readings
(``4917612345678`` with ``DE``: E.164, or a German number without its 0) as
:attr:`InvalidReason.AMBIGUOUS`, naming both (:mod:`.readings` has the rule).

Two paths, because campaigns read millions of numbers:

* **Fast**: a string that is already digits-only E.164, or a ``+`` followed by such digits in
  groups separated by single spaces or dashes, is taken as written when libphonenumber would take
  it so too, checked with a table instead of importing it (:func:`~.readings.lengths_as_written`: a known
  country code, a possible length after it, no first digit that could be a trunk prefix). Without
  a region, ten digits shaped like a North American number have a second reading and take the
  full path. With ``default_region``, a digits-only string may be a national number, so only the
  region's own E.164 numbers keep a shortcut (libphonenumber's rule for them, repeated with two
  regex matches); ``number_validation="valid"`` has no fast path.
* **Chunks**: :meth:`NumberParser.parse_chunk` reads a whole chunk of an audience at once when
  every item is what the fast path takes without a region, or (with ``default_region``) the
  region's national number written with its trunk prefix (``07700 900123``): a few C passes over
  the joined chunk repeat the fast path's check, or libphonenumber's rule for national numbers,
  for all of them at once.
* **Full**: everything else goes through Google's libphonenumber (the ``phonenumbers`` package),
  imported on the first such number, never while a DAG file is parsed.

The fast paths answer exactly as the full path would (``tests/unit/test_phone_properties.py``).
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import TYPE_CHECKING, Final, NoReturn

from airflow_provider_fullsms.own_country import OwnCountry
from airflow_provider_fullsms.phone_settings import (
    InvalidNumberError,
    InvalidReason,
    NumberValidation,
    check_region,
)
from airflow_provider_fullsms.readings import lengths_as_written, north_american_shape, trunk_national_shape

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_fullsms.readings import Reading

__all__ = [
    "NUMBER_PATTERN",
    "InvalidNumberError",
    "InvalidReason",
    "NumberParser",
    "NumberValidation",
    "check_region",
    "normalise_number",
]

#: FullSMS's digits-only E.164: country code first (never 0), 7 to 15 digits in all.
NUMBER_PATTERN: Final = re.compile(r"^[1-9]\d{6,14}$", re.ASCII)
# "+44 7700 900001", "+1-212-555-1234": a plus, then digit groups.
_PLAIN_INTERNATIONAL: Final = re.compile(r"^\+[1-9]\d*(?:[ \-]\d+)*$", re.ASCII)
_GROUP_SEPARATORS: Final = re.compile(r"[ \-]", re.ASCII)
# Zero-width characters, bidi marks and embeddings, word joiners and the BOM: pasted with numbers
# from web pages and right-to-left text, invisible, and no part of the number.
_INVISIBLE: Final = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
_SCIENTIFIC: Final = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$", re.ASCII)
# A spreadsheet float: a long integer part and one fraction ("447700900001.0"), the integer part
# maybe in thousands ("447 700 900 001.0", "447,700,900,001.0", "447.700.900.001,0"). Five or six
# digits before a point and one or two after it are a decimal too ("247401.23"): no country groups
# a number's last digits so, and read as grouping they would be texted as if nothing were lost.
_SPREADSHEET_FLOAT: Final = re.compile(
    r"^(\+?\d{7,}|\+?\d{5,6}(?=\.\d\d?$)|\+?\d{1,3}(?:([ ,'\u00a0\u202f])\d{3})(?:\2\d{3})+)\.(\d+)$"
    r"|^(\+?\d{1,3}(?:([. '\u00a0\u202f])\d{3})(?:\5\d{3})+),(\d+)$"
)
_EXTENSION: Final = re.compile(r"(?:e?xt?n?\.?|extension|#|;ext=)\s*\d+\s*#?$", re.ASCII | re.IGNORECASE)
# What may stand between the digits of a number: whitespace, dashes, dots, parentheses, slashes.
_SEPARATORS: Final = re.compile(r"[\s\-./()\[\]]+")
_SHOWN_LENGTH: Final = 40
# Digits one a line, each of a canonical number's shape, for a whole chunk at once.
_CANONICAL_LINES: Final = re.compile(r"(?:[1-9]\d{6,14}\n)*[1-9]\d{6,14}", re.ASCII)
_FIRST_FOUR: Final = itemgetter(slice(0, 4))


def _shown(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 1] + "…"


def _ascii_digits(text: str) -> str:
    """Any script's decimal digits (Arabic-Indic, full-width, …) as ASCII; a full-width plus as ``+``."""
    return "".join(str(int(c)) if c.isdecimal() else c for c in text).replace("\uff0b", "+")


class NumberParser:
    """
    Read phone numbers as users write them into FullSMS's digits-only E.164 form.

    :param default_region: ISO country code for numbers written in national format
        (``"GB"``: ``07700 900123`` -> ``447700900123``); ``None``: a national number is invalid,
        :attr:`InvalidReason.NO_REGION`.
    :param validation: :class:`NumberValidation` (or its value) for numbers read with libphonenumber.
    """

    def __init__(
        self, default_region: str | None = None, validation: str = NumberValidation.POSSIBLE
    ) -> None:
        self.default_region = check_region(default_region)
        self.validation = NumberValidation.parse(validation)
        # The fast paths check the shape only, which is what "possible" asks of a number written
        # in E.164. "valid" sends every number through libphonenumber.
        self._fast = self.validation is NumberValidation.POSSIBLE
        # With a region, digits-only strings may be national numbers: only the region's own
        # numbers keep a (libphonenumber-exact) shortcut.
        # Without a region, canonical digits have one reading unless libphonenumber would read
        # them otherwise or they look North American: the lengths it takes for their first digits.
        self._canonical = (
            lengths_as_written(national_shapes=False) if self._fast and not self.default_region else {}
        )
        self._as_written = lengths_as_written() if self._fast else {}
        self._own_country = OwnCountry.of(self.default_region) if self.default_region and self._fast else None

    def parse(self, raw: object) -> str:
        """
        The E.164 digits of ``raw`` (a str or int).

        :raises InvalidNumberError: not one number, with the reason.
        """
        if type(raw) is str and self._fast:
            if (
                self._canonical
                and raw.isdigit()
                and raw.isascii()
                and len(raw) in self._canonical.get(raw[:4], ())
            ):
                return raw
            if self._own_country is not None and self._own_country.reads(raw):
                return raw
            if _PLAIN_INTERNATIONAL.match(raw):
                digits = _GROUP_SEPARATORS.sub("", raw[1:])
                if len(digits) in self._as_written.get(digits[:4], ()):
                    return digits
        return self._parse(self._text_of(raw), raw)

    __call__ = parse

    def parse_chunk(self, raws: Sequence[object]) -> list[str] | None:
        """
        The E.164 digits of every item of ``raws`` at once, or ``None``: then :meth:`parse` each.

        Bulk audiences come in two shapes: canonical digits (no region), and the region's national
        numbers written with its trunk prefix (``07700 900123`` with ``GB``). For those, a regex
        over the joined chunk (and, for canonical digits, the fast path's table for each distinct
        first four digits and length) checks every item as :meth:`parse` would, in C rather than
        once a number in Python. Any other item (or any doubt) answers ``None``.
        """
        if not self._fast or not raws:
            return None
        try:
            joined = "\n".join(raws)  # type: ignore[arg-type]  # not all str: one by one
        except TypeError:
            return None
        if joined.count("\n") != len(raws) - 1:
            return None  # an item holds a line break of its own
        if self._canonical:
            if not _CANONICAL_LINES.fullmatch(joined):
                return None
            if not self._as_written_at_once(raws):  # type: ignore[arg-type]  # all str: joined
                return None
            # Taken as written, as parse() does; a str subclass becomes the plain str parse() returns.
            return list(raws) if set(map(type, raws)) == {str} else joined.split("\n")  # type: ignore[arg-type]
        if self._own_country is not None:
            return self._own_country.read_national(joined)
        return None

    def _as_written_at_once(self, raws: Sequence[str]) -> bool:
        """Whether every canonical item is one the fast path takes: its table, asked in C-level passes."""
        table = self._canonical
        lengths = set(map(len, raws))
        # A chunk's numbers share a few first four digits and lengths: every pair of them allowed
        # says so for each item; else each item's own pair is asked.
        if all(lengths <= table.get(first, frozenset()) for first in set(map(_FIRST_FOUR, raws))):
            return True
        pairs = set(zip(map(_FIRST_FOUR, raws), map(len, raws), strict=True))
        return all(length in table.get(first, ()) for first, length in pairs)

    def _text_of(self, raw: object) -> str:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            self._refuse(raw, f"is a {type(raw).__name__}", InvalidReason.NOT_A_NUMBER)
        if isinstance(raw, float):
            self._refuse(raw, "is a float", InvalidReason.LOSSY_FORMAT)
        if isinstance(raw, int) and raw < 0:
            self._refuse(raw, "is negative", InvalidReason.NOT_A_NUMBER)
        text = str(raw)
        if not text.isascii():
            text = _ascii_digits(_INVISIBLE.sub("", text))
        text = text.strip()
        if text[:4].lower() == "tel:":
            number, _, parameters = text[4:].partition(";")
            if re.search(r"(?:^|;)(?:ext|isub)=", parameters, re.IGNORECASE):
                self._refuse(raw, "has an extension", InvalidReason.LOSSY_FORMAT)
            text = number
        return text

    def _parse(self, text: str, raw: object) -> str:
        if _SCIENTIFIC.match(text):
            self._refuse(raw, "is in scientific notation, which drops digits", InvalidReason.LOSSY_FORMAT)
        spreadsheet = _SPREADSHEET_FLOAT.match(text)
        if spreadsheet:
            whole, fraction = (
                (spreadsheet[1], spreadsheet[3]) if spreadsheet[1] else (spreadsheet[4], spreadsheet[6])
            )
            if fraction != "0":
                self._refuse(raw, "has a fraction", InvalidReason.LOSSY_FORMAT)
            text = re.sub(r"\D", "", whole)  # a spreadsheet's number: its thousands are no grouping
            text = "+" + text if whole.startswith("+") else text
        if _EXTENSION.search(text):
            self._refuse(raw, "has an extension, which SMS cannot dial", InvalidReason.LOSSY_FORMAT)
        digits = _SEPARATORS.sub("", text)
        if not digits or not digits.lstrip("+").isdigit() or not digits.isascii():
            if not any(c.isdigit() for c in digits):
                self._refuse(raw, "has no digits", InvalidReason.NOT_A_NUMBER)
            self._refuse(
                raw,
                "contains characters other than digits, spaces, dashes, dots, parentheses and a leading +",
                InvalidReason.NOT_A_NUMBER,
            )
        if digits.startswith("00"):  # the international call prefix most of the world dials
            digits = "+" + digits[2:]
        if digits.startswith("+0"):
            self._refuse(
                raw, "starts with 0 after the +, where the country code goes", InvalidReason.NOT_POSSIBLE
            )
        from airflow_provider_fullsms import readings

        # A trunk prefix after the country code ("+44 (0) 7700 ...", now "+4407700...") is dropped
        # where the number without it is the valid one; Italy's leading 0 is kept.
        if digits.startswith("+"):
            return self._one_of(readings.read_international(digits), raw)
        if digits.startswith("0"):  # a trunk prefix, or the region's international call prefix
            if self.default_region is None:
                self._refuse(
                    raw,
                    f"becomes {digits!r}, which starts with 0 (a national format), and no default_region "
                    "says which country it belongs to",
                    InvalidReason.NO_REGION,
                )
            return self._accepted(readings.read(digits, self.default_region, "national"), raw)
        international = readings.read("+" + digits, None, readings.INTERNATIONAL)
        if self.default_region is None:
            if north_american_shape(digits):
                north_american = readings.read("+1" + digits, None, readings.NORTH_AMERICAN)
                plausible = international if international.valid else None
                self._refuse_national(north_american if north_american.valid else None, plausible, raw)
            if trunk_national_shape(digits):
                national = readings.read_trunk_national(digits)
                plausible = international if international.possible and international.valid else None
                self._refuse_national(national, plausible, raw)
            if _SEPARATORS.search(text):
                # Grouped without a +: a national number as its country groups it ("40 41 23 45"
                # in French Polynesia) can start with another country's code, so only digits
                # alone (FullSMS's own form) are E.164 without a region.
                self._refuse(
                    raw,
                    "is grouped without a + before its country code, as a national number is, and no "
                    "default_region says which country it belongs to",
                    InvalidReason.NO_REGION,
                )
            return self._accepted(international, raw)
        national = readings.read(digits, self.default_region, f"a national number of {self.default_region}")
        chosen = readings.choose(
            international,
            national,
            written=digits,
            national_grouping=readings.national_group(text) is not None,
        )
        return self._one_of(chosen, raw)

    def _refuse_national(self, national: Reading | None, international: Reading | None, raw: object) -> None:
        """
        Without a region, input that is a valid national number (ten North American digits, or
        a trunk prefix other than 0) is not read as E.164; ambiguous when E.164 is plausible too.

        :param national: the valid national reading, or ``None`` (then nothing is refused).
        :param international: the E.164 reading when it is plausible too, else ``None``.
        """
        if national is None:
            return
        if international is not None:
            self._refuse_ambiguous(raw, [international, national])
        self._refuse(
            raw,
            f"is {national.label} ({national.shown()}), and no default_region says which country it "
            "belongs to",
            InvalidReason.NO_REGION,
        )

    def _one_of(self, chosen: list[Reading], raw: object) -> str:
        """The one reading's digits, or the refusal of two."""
        if len(chosen) == 2:
            self._refuse_ambiguous(raw, chosen)
        return self._accepted(chosen[0], raw)

    def _accepted(self, reading: Reading, raw: object) -> str:
        """The E.164 digits of the one reading, or its refusal."""
        if reading.refusal is not None:
            kind = reading.refusal[0]
            if kind == "extension":
                self._refuse(raw, "has an extension, which SMS cannot dial", InvalidReason.LOSSY_FORMAT)
            if kind == "length":
                self._refuse(
                    raw, f"becomes {reading.digits!r}, not 7 to 15 digits", InvalidReason.NOT_POSSIBLE
                )
            fallback = (InvalidReason.NOT_POSSIBLE, "is not a possible number")
            reason, problem = _REFUSALS.get(reading.refusal, fallback)
            self._refuse(raw, problem, reason)
        if self.validation is NumberValidation.VALID and not reading.valid:
            self._refuse(
                raw, "is not in a number range in use (number_validation='valid')", InvalidReason.NOT_VALID
            )
        return reading.digits

    def _refuse_ambiguous(self, raw: object, both: list[Reading]) -> NoReturn:
        first, second = both
        self._refuse(
            raw,
            f"has two readings: {first.shown()} ({first.label}) and {second.shown()} ({second.label})",
            InvalidReason.AMBIGUOUS,
            (first.digits, second.digits),
        )

    def _refuse(
        self, raw: object, problem: str, reason: InvalidReason, readings: tuple[str, ...] = ()
    ) -> NoReturn:
        region = f" (read with default_region {self.default_region!r})" if self.default_region else ""
        raise InvalidNumberError(
            f"phone number {_shown(raw)} {problem}{region} [{reason}] — {_ADVICE[reason]}", reason, readings
        )


_ADVICE: Final = {
    InvalidReason.NOT_A_NUMBER: "write it as digits, e.g. '+44 7700 900001'",
    InvalidReason.LOSSY_FORMAT: "export the column as text, not as a number, and without extensions",
    InvalidReason.NO_REGION: "write it with the country code, e.g. '+44 7700 900001', or set default_region",
    InvalidReason.TOO_SHORT: "check for missing digits; write it with + and the country code",
    InvalidReason.TOO_LONG: "check for extra digits; write it with + and the country code",
    InvalidReason.NOT_POSSIBLE: "check the country code and the length, e.g. '+44 7700 900001'",
    InvalidReason.NOT_VALID: "check the number, or use number_validation='possible'",
    InvalidReason.AMBIGUOUS: "write it with + and the country code of the one meant (or, for a national "
    "number, as its country writes it, with the trunk prefix)",
}


_NO_COUNTRY_CODE: Final = (InvalidReason.NOT_POSSIBLE, "has no country code libphonenumber knows")
# What libphonenumber's answers mean for a person: NumberParseException error types ("parse") and
# is_possible_number_with_reason results ("possible"), as plain ints so this module imports no
# phonenumbers.
_REFUSALS: Final[dict[tuple[str, int], tuple[InvalidReason, str]]] = {
    ("parse", 0): _NO_COUNTRY_CODE,
    ("parse", 1): (InvalidReason.NOT_A_NUMBER, "is not a phone number"),
    ("parse", 2): (InvalidReason.TOO_SHORT, "is too short after the international prefix"),
    ("parse", 3): (InvalidReason.TOO_SHORT, "is too short"),
    ("parse", 4): (InvalidReason.TOO_LONG, "is too long"),
    ("possible", 1): _NO_COUNTRY_CODE,
    ("possible", 2): (InvalidReason.TOO_SHORT, "is too short for its country"),
    ("possible", 3): (InvalidReason.TOO_LONG, "is too long for its country"),
    ("possible", 4): (
        InvalidReason.TOO_SHORT,
        "is too short for its country (a local number without area code)",
    ),
    ("possible", 5): (InvalidReason.NOT_POSSIBLE, "has a length no number of its country has"),
}
_DEFAULT_PARSER: NumberParser | None = None


def normalise_number(raw: object) -> str:
    """
    Turn a phone number as users write it into FullSMS's digits-only E.164 form, without a region.

    ``"+44 7700 900001"``, ``"0044 7700 900001"``, ``"+44 (0) 7700 900001"`` and the int
    ``447700900001`` all become ``"447700900001"``. Use :class:`NumberParser` to read national
    numbers with a region.

    :param raw: the number, as a str or int.
    :raises InvalidNumberError: not one number (the error's ``reason`` says why).
    """
    global _DEFAULT_PARSER
    if _DEFAULT_PARSER is None:
        _DEFAULT_PARSER = NumberParser()
    return _DEFAULT_PARSER(raw)
