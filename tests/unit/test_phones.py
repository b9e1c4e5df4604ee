"""Specification of phone-number reading: each notation people write, and each refusal's reason."""

from __future__ import annotations

import subprocess
import sys

import pytest

from airflow_provider_fullsms.exceptions import CampaignInputError
from airflow_provider_fullsms.phones import (
    NUMBER_PATTERN,
    InvalidNumberError,
    InvalidReason,
    NumberParser,
    NumberValidation,
    check_region,
    normalise_number,
)
from airflow_provider_fullsms.sms import normalise_number as normalise_number_from_sms


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        pytest.param("447700900001", None, "447700900001", id="canonical"),
        pytest.param(447700900001, None, "447700900001", id="int"),
        pytest.param("+44 1111 111111", None, "441111111111", id="plus-and-spaces"),
        pytest.param("+1-212-555-2368", None, "12125552368", id="plus-and-dashes"),
        pytest.param("0044 1111 111111", None, "441111111111", id="double-zero-prefix"),
        pytest.param("+972 (54) 111-1111", None, "972541111111", id="parentheses-and-dashes"),
        pytest.param("972 54-111-1111", "IL", "972541111111", id="international-without-plus-own-region"),
        pytest.param("+1.212.555.0100", None, "12125550100", id="dots"),
        pytest.param(" +44\u00a01111\t111111\n", None, "441111111111", id="odd-whitespace"),
        pytest.param("6834002", None, "6834002", id="shortest-canonical"),
        pytest.param("493012345678901", None, "493012345678901", id="longest-canonical"),
        pytest.param("+44 (0) 7700 900001", None, "447700900001", id="trunk-prefix-in-parentheses"),
        pytest.param("+44 07700 900001", None, "447700900001", id="trunk-prefix-after-country-code"),
        pytest.param("+39 06 1234 5678", None, "390612345678", id="italian-leading-zero-kept"),
        pytest.param("447700900001.0", None, "447700900001", id="spreadsheet-float-string"),
        pytest.param("tel:+44-7700-900001", None, "447700900001", id="tel-uri"),
        pytest.param("٤٤٧٧٠٠٩٠٠٠٠١", None, "447700900001", id="arabic-indic-digits"),
        pytest.param(
            "\uff0b\uff14\uff14 \uff17\uff17\uff10\uff10 \uff19\uff10\uff10\uff10 \uff10\uff11",
            None,
            "447700900001",
            id="full-width",
        ),
        pytest.param("+44\u200b7700\u200e900001", None, "447700900001", id="zero-width-and-lrm"),
        pytest.param("\u202a+44 7700 900001\u202c", None, "447700900001", id="bidi-embedding"),
        pytest.param("\ufeff447700900001", None, "447700900001", id="byte-order-mark"),
        pytest.param("07700 900123", "GB", "447700900123", id="national-mobile-gb"),
        pytest.param("020 7946 0018", "GB", "442079460018", id="national-landline-gb"),
        pytest.param("07700 900123", "gb", "447700900123", id="region-lower-case"),
        pytest.param("447700900001", "GB", "447700900001", id="canonical-with-its-region"),
        pytest.param("972541111111", "GB", "972541111111", id="foreign-without-plus-too-long-as-national"),
        pytest.param(
            "447700900001", "AT", "447700900001", id="foreign-without-plus-not-a-number-as-national"
        ),
        pytest.param("447 700 900 001.0", None, "447700900001", id="spreadsheet-float-in-thousands"),
        pytest.param("447.700.900.001,0", None, "447700900001", id="spreadsheet-float-in-german-thousands"),
        pytest.param("+4407700900001", None, "447700900001", id="trunk-prefix-after-country-code-unspaced"),
        pytest.param("+330612345678", None, "33612345678", id="french-trunk-prefix-unspaced"),
        pytest.param("+9720541234567", None, "972541234567", id="israeli-trunk-prefix-unspaced"),
        # libphonenumber keeps Colombia's 0 ("+57 0321 ..."); without it the number is the valid one.
        pytest.param(
            "+57 0321 1234567", None, "573211234567", id="colombian-trunk-prefix-after-country-code"
        ),
        pytest.param("+5703211234567", None, "573211234567", id="colombian-trunk-prefix-unspaced"),
        pytest.param("(321) 555-1234", "US", "13215551234", id="national-us-parentheses"),
        pytest.param("(212) 555-2368", "US", "12125552368", id="national-us-area-code-like-a-country-code"),
        pytest.param("+972 54-111-1111", "GB", "972541111111", id="international-with-region"),
        pytest.param("(212) 555-2368", "US", "12125552368", id="national-us"),
        pytest.param("054-111-1111", "IL", "972541111111", id="national-il"),
    ],
)
def test_a_number_is_read_as_the_number_it_spells(raw: object, region: str | None, expected: str) -> None:
    assert NumberParser(region).parse(raw) == expected
    assert NUMBER_PATTERN.fullmatch(expected)


@pytest.mark.parametrize(
    ("raw", "region", "reason", "fragment"),
    [
        pytest.param(
            "07700 900123", None, InvalidReason.NO_REGION, "no default_region", id="national-no-region"
        ),
        pytest.param("01111 111111", None, InvalidReason.NO_REGION, "starts with 0", id="national-landline"),
        pytest.param("4.477E+11", None, InvalidReason.LOSSY_FORMAT, "scientific", id="scientific"),
        pytest.param("4,477e11", None, InvalidReason.LOSSY_FORMAT, "scientific", id="scientific-comma"),
        pytest.param("447700900001.5", None, InvalidReason.LOSSY_FORMAT, "fraction", id="float-fraction"),
        pytest.param("447700900001.00", None, InvalidReason.LOSSY_FORMAT, "fraction", id="float-two-zeros"),
        pytest.param("+44 7700 900001 ext 12", None, InvalidReason.LOSSY_FORMAT, "extension", id="ext"),
        pytest.param("+44 7700 900001 x12", None, InvalidReason.LOSSY_FORMAT, "extension", id="x"),
        pytest.param(
            "tel:+44-7700-900001;ext=1", None, InvalidReason.LOSSY_FORMAT, "extension", id="tel-ext"
        ),
        pytest.param(4.41111111111e11, None, InvalidReason.LOSSY_FORMAT, "is a float", id="float"),
        pytest.param("123456", None, InvalidReason.TOO_SHORT, "too short", id="too-short"),
        pytest.param("1234567", None, InvalidReason.TOO_SHORT, "too short", id="too-short-for-its-country"),
        pytest.param(
            "123456789012345", None, InvalidReason.TOO_LONG, "too long", id="too-long-for-its-country"
        ),
        pytest.param("4917612345678", "DE", InvalidReason.AMBIGUOUS, "+49 176 12345678", id="e164-or-german"),
        pytest.param(
            "447700900001", "DE", InvalidReason.AMBIGUOUS, "+44 7700 900001", id="british-or-german"
        ),
        pytest.param(
            "447 700 900 001.0",
            "DE",
            InvalidReason.AMBIGUOUS,
            "+49 4477 00900001",
            id="float-british-or-german",
        ),
        pytest.param(
            "447700900001", "IT", InvalidReason.AMBIGUOUS, "+39 447700900001", id="british-or-italian"
        ),
        pytest.param(
            "3215551234", "US", InvalidReason.AMBIGUOUS, "+32 15 55 12 34", id="belgian-or-american"
        ),
        pytest.param("3215551234", None, InvalidReason.AMBIGUOUS, "+1 321-555-1234", id="no-region-nanp"),
        pytest.param(
            "(321) 555-1234", None, InvalidReason.AMBIGUOUS, "+1 321-555-1234", id="no-region-nanp-grouped"
        ),
        pytest.param("2125552368", None, InvalidReason.NO_REGION, "North American", id="no-region-nanp-only"),
        # A national number with a trunk prefix other than 0 (make fuzz: texted as +880 01234567 and
        # +86 6123456); with a valid E.164 reading too, ambiguous.
        pytest.param(
            "88001234567", None, InvalidReason.NO_REGION, "+7 800 123-45-67", id="no-region-russian-trunk-8"
        ),
        pytest.param(
            "866123456", None, InvalidReason.NO_REGION, "+993 66 123456", id="no-region-turkmen-trunk-8"
        ),
        pytest.param("84912345678", None, InvalidReason.AMBIGUOUS, "+7 491 234", id="vietnamese-or-russian"),
        pytest.param(
            "(972) 54-111-1111", None, InvalidReason.NO_REGION, "grouped without a +", id="area-code"
        ),
        pytest.param(
            "6123 4567", None, InvalidReason.NO_REGION, "grouped without a +", id="grouped-national"
        ),
        pytest.param(
            "40 41 23 45", None, InvalidReason.NO_REGION, "grouped without a +", id="grouped-like-e164"
        ),
        pytest.param(
            "972 54-111-1111",
            None,
            InvalidReason.NO_REGION,
            "grouped without a +",
            id="international-without-plus",
        ),
        pytest.param(
            "447 700 900 001.5", None, InvalidReason.LOSSY_FORMAT, "fraction", id="thousands-fraction"
        ),
        # A short number's digits in a decimal: not read as grouping (was texted as 24740123 with AC).
        pytest.param("247401.23", "AC", InvalidReason.LOSSY_FORMAT, "fraction", id="short-decimal"),
        pytest.param("24740.12", None, InvalidReason.LOSSY_FORMAT, "fraction", id="shorter-decimal"),
        pytest.param("+44 12", None, InvalidReason.TOO_SHORT, "too short", id="too-short-for-country"),
        pytest.param("1234567890123456", None, InvalidReason.TOO_LONG, "too long", id="too-long"),
        pytest.param("4477009000011", "GB", InvalidReason.TOO_LONG, "'GB'", id="too-long-both-ways"),
        pytest.param("+999 (0) 1234567", None, InvalidReason.NOT_POSSIBLE, "country code", id="no-such-cc"),
        pytest.param("+0441111111111", None, InvalidReason.NOT_POSSIBLE, "starts with 0", id="plus-zero"),
        # One trunk prefix 0 after the country code is dropped, not two.
        pytest.param(
            "+40 0 0731 644 238", None, InvalidReason.TOO_LONG, "too long", id="two-zeros-after-country-code"
        ),
        pytest.param("+44 CALL NOW", None, InvalidReason.NOT_A_NUMBER, "other than digits", id="letters"),
        pytest.param("44+1111111111", None, InvalidReason.NOT_A_NUMBER, "other than digits", id="inner-plus"),
        pytest.param("", None, InvalidReason.NOT_A_NUMBER, "has no digits", id="empty"),
        pytest.param("  ", None, InvalidReason.NOT_A_NUMBER, "has no digits", id="blank"),
        pytest.param("\u200b", None, InvalidReason.NOT_A_NUMBER, "has no digits", id="only-invisible"),
        pytest.param(None, None, InvalidReason.NOT_A_NUMBER, "is a NoneType", id="none"),
        pytest.param(True, None, InvalidReason.NOT_A_NUMBER, "is a bool", id="bool"),
        pytest.param(-441111111111, None, InvalidReason.NOT_A_NUMBER, "is negative", id="negative-int"),
    ],
)
def test_a_number_that_is_not_one_is_refused_with_its_reason(
    raw: object, region: str | None, reason: InvalidReason, fragment: str
) -> None:
    with pytest.raises(InvalidNumberError) as error:
        NumberParser(region).parse(raw)

    assert error.value.reason is reason
    message = str(error.value)
    assert fragment in message
    assert repr(raw)[:20] in message
    assert f"[{reason}]" in message


def test_valid_refuses_a_possible_number_in_no_range_in_use_and_keeps_a_real_one() -> None:
    parser = NumberParser(validation="valid")
    assert parser.parse("+1 212 555 2368") == "12125552368"
    with pytest.raises(InvalidNumberError) as error:
        parser.parse("441111111111")  # the vendor docs' example: possible, not allocated
    assert error.value.reason is InvalidReason.NOT_VALID


def test_possible_passes_the_vendor_docs_and_sandbox_numbers() -> None:
    # The numbers of the examples in the vendor's API documentation, and the sandbox's seed.
    documented = ["441111111111", "442222222222", "972541111111", "972542222222", "972546461393"]
    seeded = ["447700900001", "447700900002", "447700900003", "447700900009"]
    for number in documented + seeded:
        assert NumberParser().parse(number) == number
        assert NumberParser().parse("+" + number) == number
        # Read by libphonenumber too (not the shape-only fast path), it is still possible.
        assert NumberParser().parse(f"+{number[:3]} ({number[3:6]}) {number[6:]}") == number


@pytest.mark.parametrize("value", ["strict", "VALIDATE", 1])
def test_a_wrong_number_validation_names_the_value(value: object) -> None:
    with pytest.raises(CampaignInputError, match=rf"number_validation={value!r}.*'possible'.*'valid'"):
        NumberParser(validation=value)  # type: ignore[arg-type]


def test_number_validation_defaults_to_possible() -> None:
    assert NumberValidation.parse(None) is NumberValidation.POSSIBLE
    assert NumberValidation.parse(" Valid ") is NumberValidation.VALID


def test_an_unknown_region_is_refused_with_a_hint() -> None:
    with pytest.raises(CampaignInputError, match=r"default_region='UK'.*'GB'"):
        check_region("UK")
    assert check_region("") is None


def test_sms_keeps_normalise_number_for_existing_callers() -> None:
    assert normalise_number_from_sms is normalise_number
    assert normalise_number("+44 (0) 7700 900001") == "447700900001"


def test_canonical_numbers_never_import_phonenumbers() -> None:
    # DAG files and bulk sends of canonical numbers must not pay for libphonenumber's import.
    code = (
        "import sys\n"
        # What Airflow itself imports, as any DAG file does, does not count (Airflow 3.1 imports
        # phonenumbers through sqlalchemy_utils): only what the provider's own call brings in.
        "import airflow.models\n"
        "for name in [m for m in sys.modules if m.split('.')[0] == 'phonenumbers']:\n"
        "    del sys.modules[name]\n"
        "from airflow_provider_fullsms.phones import normalise_number\n"
        "assert normalise_number('447700900001') == '447700900001'\n"
        "assert normalise_number('+44 7700 900001') == '447700900001'\n"
        "print('phonenumbers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("region", ["GB", "US", "IL", "DE", "IT", "IN", "MX", "AR"])
def test_the_regions_own_canonical_numbers_read_as_libphonenumber_reads_them(region: str) -> None:
    # The default region's shortcut for canonical digits must agree with libphonenumber's full
    # path on every number, accepted or refused.
    import random

    import phonenumbers

    shortcut = NumberParser(region)
    full = NumberParser(region)
    full._own_country = None
    code = str(phonenumbers.country_code_for_region(region))
    generator = random.Random(region)
    for _ in range(400):
        number = code + str(generator.randrange(10**13))[: generator.randint(5, 15 - len(code))]

        def read(parser: NumberParser, number: str = number) -> str:
            try:
                return parser.parse(number)
            except InvalidNumberError as error:
                return error.reason

        assert read(shortcut) == read(full), number


@pytest.mark.parametrize("region", ["GB", "DE", "FR", "IN", "IL", "NL", "ZA", "US", "RU", "BR"])
def test_a_chunk_of_national_numbers_reads_as_each_number_alone(region: str) -> None:
    # The bulk reading of a chunk must give what libphonenumber gives each number, or step aside
    # (None) so each is read alone: national formats of real number ranges, with and without
    # separators, plus random digits after the trunk prefix.
    import random

    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    bulk = NumberParser(region)
    full = NumberParser(region)
    full._own_country = None
    generator = random.Random(region)
    written = []
    for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
        example = phonenumbers.example_number_for_type(region, kind)
        national = str(example.national_number)
        for _ in range(100):
            number = phonenumbers.parse(
                f"+{example.country_code}{national[:-3]}{generator.randrange(1000):03d}"
            )
            written.append(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    written += ["0" + str(generator.randrange(10**12))[: generator.randint(4, 12)] for _ in range(200)]

    def read(number: str) -> str:
        try:
            return full.parse(number)
        except InvalidNumberError as error:
            return error.reason

    for number in written:
        chunk = bulk.parse_chunk([number, number.replace(" ", "")])
        assert chunk is None or chunk == [read(number)] * 2, number


def test_a_chunk_of_canonical_numbers_is_read_at_once_and_anything_else_one_by_one() -> None:
    parser = NumberParser()

    assert parser.parse_chunk(["447700900001", "12025550123"]) == ["447700900001", "12025550123"]
    # Lengths allowed for one country code and not the other, each number at its own: read at once.
    assert parser.parse_chunk(["447700900001", "33612345678"]) == ["447700900001", "33612345678"]
    # A second reading (North American shape, a 0 after the country code) or a length its country
    # has not: one by one, as parse() reads each.
    assert parser.parse_chunk(["447700900001", "3215551234"]) is None
    assert parser.parse_chunk(["447700900001", "4407700900001"]) is None
    assert parser.parse_chunk(["447700900001", "336123456789"]) is None
    assert parser.parse_chunk(["447700900001", "07700 900123"]) is None
    assert parser.parse_chunk(["447700900001", 447700900002]) is None
    assert parser.parse_chunk(["4477009\n00001"]) is None
    assert NumberParser("GB").parse_chunk(["07700 900123", "020-7946-0018"]) == [
        "447700900123",
        "442079460018",
    ]
    assert NumberParser("GB", "valid").parse_chunk(["07700 900123"]) is None
