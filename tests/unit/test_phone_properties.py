"""
Properties of number reading: whatever the notation and the default region, the number texted is
the one written, or the input is refused; the fast paths and the chunk reader answer as the full
reading does; a number written two ways is one person, for de-duplication and for opt-outs.

Numbers are generated from libphonenumber's own metadata: an example number of every region and
number type, with its last digits varied while it stays valid, rendered in the notations people
use (see :func:`render`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from phonenumbers import PhoneMetadata, PhoneNumberFormat, PhoneNumberType

from airflow_provider_fullsms.campaigns import MessageSource, plan_campaign
from airflow_provider_fullsms.campaigns.exclusions import read_exclusions
from airflow_provider_fullsms.phones import InvalidNumberError, InvalidReason, NumberParser
from airflow_provider_fullsms.readings import (
    COUNTRY_CODES,
    countries,
    north_american_shape,
    trunk_national,
    trunk_regions,
)

if TYPE_CHECKING:
    from phonenumbers import PhoneNumber

pytestmark = pytest.mark.property

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
_TYPES = (
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.UAN,
    PhoneNumberType.PAGER,
)
#: Notations whose country is written: a valid number in them is always read, as written.
UNAMBIGUOUS = (
    "e164_plus",
    "double_zero",
    "international",
    "international_dashes",
    "international_dots",
    "tel_uri",
    "plus_float",
    "arabic_indic",
    "full_width",
    "ideographic_spaces",
)
#: Notations read as the number, or refused, depending on the region (never another number).
OTHERS = (
    "e164_digits",
    "e164_int",
    "international_without_plus",
    "spreadsheet_float",
    "spreadsheet_thousands",
    "national",
    "national_digits",
    "national_dashes",
    "trunk_after_country_code",
    "trunk_after_country_code_spaced",
    "trunk_in_parentheses",
)
#: A trunk prefix 0 written after the country code.
TRUNK = ("trunk_after_country_code", "trunk_after_country_code_spaced", "trunk_in_parentheses")
#: Notations of a national number: read in its own region, refused without one.
NATIONAL = ("national", "national_dashes", "national_digits")
#: Notations that lose digits: always refused.
LOSSY = ("scientific", "truncated_float")
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_FULL_WIDTH = str.maketrans("0123456789+", "".join(chr(0xFF10 + d) for d in range(10)) + "\uff0b")


@dataclass(frozen=True)
class Written:
    """A generated number, one notation of it, and the region it is read with."""

    number: str  # E.164 digits
    region: str  # the number's own region
    notation: str
    text: object
    default_region: str | None


@cache
def examples() -> list[PhoneNumber]:
    """An example number of every region and number type libphonenumber has one for."""
    found = []
    for region in REGIONS:
        for kind in _TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None and _sendable(number):
                found.append(number)
    return found


@st.composite
def valid_numbers(draw: st.DrawFn) -> PhoneNumber:
    """An example number with up to its last four digits redrawn, kept when it can still be texted."""
    base = draw(st.sampled_from(examples()))
    national = phonenumbers.national_significant_number(base)
    changed = draw(st.integers(0, min(4, len(national) - 1)))
    tail = "".join(str(draw(st.integers(0, 9))) for _ in range(changed))
    derived = phonenumbers.parse(f"+{base.country_code}{national[: len(national) - changed]}{tail}")
    return derived if _sendable(derived) else base


def _sendable(number: PhoneNumber) -> bool:
    """Valid, possible as E.164, and of the 7 to 15 digits FullSMS takes: a number one can text."""
    # Canada's 310-1234 is valid but dialled only locally; Iran's +98 9601 is valid with 6 digits.
    possible = phonenumbers.is_possible_number_with_reason(number)
    digits = phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]
    return (
        phonenumbers.is_valid_number(number)
        and possible == phonenumbers.ValidationResult.IS_POSSIBLE
        and 7 <= len(digits) <= 15
    )


def _thousands(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    return separator.join([digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)])


def render(number: PhoneNumber, notation: str) -> object:
    """``number`` written in ``notation``."""
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    digits = e164[1:]
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    code = str(number.country_code)
    rest = digits[len(code) :]
    rendered: dict[str, object] = {
        "e164_plus": e164,
        "double_zero": "00" + digits,
        "international": international,
        "international_dashes": international.replace(" ", "-"),
        "international_dots": "+" + international[1:].replace(" ", "."),
        "tel_uri": "tel:" + international.replace(" ", "-"),
        "plus_float": e164 + ".0",
        "arabic_indic": international.translate(_ARABIC_INDIC),
        "full_width": international.translate(_FULL_WIDTH),
        "ideographic_spaces": international.replace(" ", "\u3000"),
        "e164_digits": digits,
        "e164_int": int(digits),
        "international_without_plus": international[1:],
        "spreadsheet_float": digits + ".0",
        "spreadsheet_thousands": _thousands(digits, "\u00a0") + ".0",
        "national": national,
        "national_digits": phonenumbers.normalize_digits_only(national),
        "national_dashes": national.replace(" ", "-"),
        "trunk_after_country_code": f"+{code}0{rest}",
        "trunk_after_country_code_spaced": f"+{code} 0{rest}",
        "trunk_in_parentheses": f"+{code} (0) {rest}",
        "scientific": f"{int(digits):.6E}",
        # Its last digits after a point: a fraction no spreadsheet export of the number has (one
        # digit would not be: 447700900010 as "44770090001.0" is the export of 44770090001).
        "truncated_float": f"{digits[:-2]}.{digits[-2:]}",
    }
    return rendered[notation]


@st.composite
def written(draw: st.DrawFn, notations: tuple[str, ...] = UNAMBIGUOUS + OTHERS + LOSSY) -> Written:
    """A valid number in one notation, with no region, its own, or any other."""
    number = draw(valid_numbers())
    region = phonenumbers.region_code_for_number(number)
    notation = draw(st.sampled_from(notations))
    if notation in TRUNK and PhoneMetadata.metadata_for_region(region).national_prefix != "0":
        notation = "e164_plus"  # a 0 after the country code is another number there (Italy's)
    text = render(number, notation)
    if notation in NATIONAL:
        # A national number means a number only in its own country: under another region it is
        # that region's (07700 900123 is French with FR), which no reader could tell. Nor could
        # one tell digits alone without a region from E.164 (61234567: +61 234567 or Singapore's
        # 6123 4567), unless a trunk prefix or a North American shape gives them away.
        own = st.just(region)
        default_region = draw(st.one_of(st.none(), own) if _national_without_region(number, text) else own)
    else:
        default_region = draw(st.one_of(st.none(), st.just(region), st.sampled_from(REGIONS)))
    digits = phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]
    return Written(digits, region, notation, text, default_region)


def _national_without_region(number: PhoneNumber, text: object) -> bool:
    """Whether a national notation is one a reader without a region can tell for national."""
    if not isinstance(text, str) or not text.isdigit():
        return True  # grouped as its country writes it
    prefix = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_number(number)).national_prefix
    return bool(prefix and text.startswith(prefix)) or north_american_shape(text)


@cache
def parser_for(default_region: str | None) -> NumberParser:
    """The parser of a region, built once (it compiles the region's shortcut)."""
    return NumberParser(default_region)


@cache
def full_reading(default_region: str | None) -> NumberParser:
    """A parser without its shortcuts: every input read by libphonenumber."""
    parser = NumberParser(default_region)
    parser._fast = False  # the switch of every shortcut (off for number_validation="valid")
    return parser


def reading(parser: NumberParser, text: object) -> str:
    """The number read, or the refusal's reason."""
    try:
        return parser.parse(text)
    except InvalidNumberError as error:
        return f"refused: {error.reason}"


@given(written())
@example(Written("4917612345678", "DE", "e164_digits", "4917612345678", "DE"))
@example(Written("447700900001", "GB", "e164_digits", "447700900001", "DE"))
@example(Written("447700900001", "GB", "e164_digits", "447700900001", "AT"))
@example(Written("447700900001", "GB", "e164_digits", "447700900001", "IT"))
@example(Written("447700900001", "GB", "spreadsheet_thousands", "447 700 900 001.0", "DE"))
@example(Written("13215551234", "US", "national", "(321) 555-1234", None))
@example(Written("13215551234", "US", "national_digits", "3215551234", None))
@example(Written("447700900001", "GB", "trunk_after_country_code", "+4407700900001", None))
@example(Written("33612345678", "FR", "trunk_after_country_code", "+330612345678", None))
@example(Written("972541234567", "IL", "trunk_after_country_code", "+9720541234567", None))
@example(Written("68940412345", "PF", "national", "40 41 23 45", None))  # +40 412345 is possible
@example(Written("573211234567", "CO", "trunk_after_country_code", "+5703211234567", None))
@example(Written("24740123", "AC", "truncated_float", "247401.23", "AC"))  # make fuzz: read as 24740123
@example(Written("78001234567", "RU", "national_digits", "88001234567", None))  # make fuzz: +880 01234567
@example(Written("99366123456", "TM", "national_digits", "866123456", None))  # make fuzz: +86 6123456
def test_the_number_read_is_the_one_written_or_the_input_is_refused(case: Written) -> None:
    read = reading(parser_for(case.default_region), case.text)

    assert read == case.number or read.startswith("refused"), case
    if case.notation in NATIONAL and case.default_region is None:
        assert read.startswith("refused"), case
    if case.notation in LOSSY:
        assert read == f"refused: {InvalidReason.LOSSY_FORMAT}", case
    if case.notation in UNAMBIGUOUS or (case.notation == "national" and case.default_region == case.region):
        assert read == case.number, case


@given(written())
def test_the_fast_paths_answer_as_the_full_reading(case: Written) -> None:
    parser = parser_for(case.default_region)

    assert reading(parser, case.text) == reading(full_reading(case.default_region), case.text), case


@given(st.lists(written(), min_size=1, max_size=6), st.one_of(st.none(), st.sampled_from(REGIONS)))
def test_a_chunk_reads_as_each_number_alone(cases: list[Written], default_region: str | None) -> None:
    parser = parser_for(default_region)
    texts = [case.text for case in cases]

    chunk = parser.parse_chunk(texts)

    assert chunk is None or chunk == [reading(parser, text) for text in texts]


@given(written(UNAMBIGUOUS + OTHERS), st.data())
def test_a_number_written_two_ways_is_one_recipient_and_one_opt_out(
    first: Written, data: st.DataObject
) -> None:
    # The same number in a second notation its reader may take, read with the same region.
    trunk = PhoneMetadata.metadata_for_region(first.region).national_prefix == "0"
    second = data.draw(
        st.sampled_from(
            [
                notation
                for notation in UNAMBIGUOUS + OTHERS
                if (notation not in NATIONAL or first.default_region == first.region)
                and (notation not in TRUNK or trunk)
            ]
        )
    )
    parser = parser_for(first.default_region)
    texts = [first.text, render(phonenumbers.parse("+" + first.number), second)]
    read = [reading(parser, text) for text in texts]
    if any(r.startswith("refused") for r in read):
        return

    plan = plan_campaign(
        ((text, None) for text in texts),
        MessageSource.from_params(message="Hi", template_id=None),
        campaign_key="property",
        parse_number=parser.parse,
    )
    opted_out = read_exclusions([texts[0]], parse_number=parser.parse)

    assert plan.recipients == 1, (first, texts, read)
    assert int(read[1]) in opted_out.numbers, (first, texts, read)


def test_the_country_codes_are_libphonenumbers() -> None:
    assert {str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE} == COUNTRY_CODES


def test_every_region_has_a_generated_number() -> None:
    regions = {phonenumbers.region_code_for_number(number) for number in examples()}
    # Regions without any example number in libphonenumber's metadata are the only ones left out.
    missing = {r for r in REGIONS if r not in regions}
    assert all(PhoneMetadata.metadata_for_region(r).general_desc.example_number is None for r in missing)


def _first_digits(pattern: str) -> str:
    """The digits a match of ``pattern`` can start with (its FIRST set, from Python's own parse)."""
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    def first(items: list) -> tuple[set[str], bool]:  # (first characters, can match empty)
        found: set[str] = set()
        for op, arg in items:
            if op is c.LITERAL:
                return found | {chr(arg)}, False
            if op is c.IN:
                chars = set()
                for kind, value in arg:
                    if kind is c.LITERAL:
                        chars.add(chr(value))
                    elif kind is c.RANGE:
                        chars.update(chr(x) for x in range(value[0], value[1] + 1))
                    elif kind is c.CATEGORY:
                        chars.update("0123456789")
                return found | chars, False
            if op is c.SUBPATTERN:
                inner, empty = first(list(arg[-1]))
            elif op is c.BRANCH:
                results = [first(list(branch)) for branch in arg[1]]
                inner, empty = set().union(*(r[0] for r in results)), any(r[1] for r in results)
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                inner, empty = first(list(arg[2]))
                empty = empty or arg[0] == 0
            elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
                continue
            else:
                raise AssertionError(f"unexpected {op} in {pattern}")
            found |= inner
            if not empty:
                return found, False
        return found, True

    return "".join(sorted(d for d in first(list(_parser.parse(pattern)))[0] if d.isdigit()))


def test_the_country_table_is_libphonenumbers_metadata() -> None:
    # For each country code: the national lengths is_possible_number accepts, and the digits its
    # national_prefix_for_parsing can start with (where libphonenumber may strip a trunk prefix).
    expected = {}
    for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        region = phonenumbers.region_code_for_country_code(code)
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        general = metadata.general_desc
        local = set(general.possible_length_local_only or ())
        lengths = frozenset(n for n in general.possible_length if n > 0 and n not in local)
        prefix = metadata.national_prefix_for_parsing
        expected[str(code)] = (lengths, _first_digits(prefix) if prefix else "")

    assert countries() == expected


def _pattern_lengths(pattern: str) -> set[int]:
    """The lengths a number format's pattern (groups of ``\\d``, ``\\d{n}`` or ``\\d{m,n}``) matches."""
    lengths = {0}
    for low, high in re.findall(r"\\d(?:\{(\d+)(?:,(\d+))?\})?", pattern):
        low, high = int(low or 1), int(high or low or 1)
        lengths = {n + k for n in lengths for k in range(low, high + 1)}
    return lengths


def test_the_trunk_national_table_is_libphonenumbers_metadata() -> None:
    # For each region whose trunk prefix is neither 0 nor its country code: the digits each national
    # format writes before the number, the first digits of the numbers it formats, and the lengths
    # written (a region without formats of its own, Kazakhstan, writes its prefix before any).
    expected: dict[str, set[int]] = {}
    regions = []
    for region in REGIONS:
        metadata = PhoneMetadata.metadata_for_region(region)
        prefix = metadata.national_prefix
        if not prefix or prefix.startswith("0") or prefix == str(metadata.country_code):
            continue
        general = metadata.general_desc
        local = set(general.possible_length_local_only or ())
        possible = {n for n in general.possible_length if n > 0 and n not in local}
        formats = [(f.national_prefix_formatting_rule, f) for f in metadata.number_format] or [(prefix, None)]
        for rule, number_format in formats:
            if not rule:
                continue  # its national format writes no prefix: digits alone as E.164
            written = "".join(c for c in rule.split("\\1")[0] if c.isdigit())
            if number_format is None:
                first, lengths = _first_digits(general.national_number_pattern), possible
            else:
                first = _first_digits(number_format.leading_digits_pattern[0])
                lengths = possible & _pattern_lengths(number_format.pattern)
            for digit in first:
                expected.setdefault(written + digit, set()).update(len(written) + n for n in lengths)
            regions.append(region)

    assert trunk_national() == expected
    assert set(trunk_regions()) == set(regions)
