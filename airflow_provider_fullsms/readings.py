"""
The readings of what was written: which numbers digits could spell, and which one they do.

Digits written without a country marker (no ``+``, ``00`` or ``tel:+``) can mean two numbers:
E.164 written without its plus (FullSMS's own form, ``447700900001``), and a national number of
``default_region`` (``4917612345678`` with ``DE`` is both ``+49 176 12345678`` and
``+49 4917 612345678``). Without a region, ten digits shaped like a North American number
(``3215551234``) are both ``+32 15551234`` and ``+1 321-555-1234``. :func:`choose` keeps the
reading libphonenumber's validity makes the only plausible one, or answers both: then the input is
refused as ambiguous. The rule is written down in ``docs/campaigns.md`` ("How numbers are read").

The helpers at the top (:data:`COUNTRY_CODES`, :func:`lengths_as_written`,
:func:`north_american_shape`) import nothing: the fast paths of :mod:`.phones` use them to leave
every input with a second reading to the full path. The rest imports libphonenumber on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from phonenumbers import PhoneNumber

# Every country calling code libphonenumber knows (a prefix-free set), with what its
# is_possible_number accepts after it (the national number's lengths, local-only ones left out)
# and the first digits of a national number that libphonenumber may read as a trunk prefix after
# it ("+44 07700 ..."): "code:lengths:digits". The tests check it against libphonenumber's metadata.
_COUNTRIES: Final = """
1:10:1 7:10,14:8 20:8,9,10:0 27:5,6,7,8,9,10:0 30:10,11,12: 31:5,6,7,8,9,10,11:0 32:8,9:0
33:9:0 34:9: 36:8,9:0 39:6,7,8,9,10,11,12: 40:6,9:0 41:9,12:0 43:4,5,6,7,8,9,10,11,12,13:0
44:7,9,10:01 45:8: 46:6,7,8,9,10,12:0 47:5,8: 48:6,7,8,9,10:
49:4,5,6,7,8,9,10,11,12,13,14,15:0 51:8,9:0 52:10: 53:6,7,8,10:0 54:10,11:0123 55:8,9,10,11:09
56:9,10,11: 57:8,10,11:0 58:10:0 60:8,9,10:0 61:5,6,7,8,9,10,12:01
62:7,8,9,10,11,12,13,14,15,16,17:0 63:6,8,9,10,11,12,13:0 64:5,6,7,8,9,10:0 65:8,10,11:
66:8,9,10,13:0 81:8,9,10,11,12,13,14,15,16,17:0 82:5,6,8,9,10,11,12,13,14:0 84:7,8,9,10:0
86:7,8,9,10,11,12:01 90:7,10,12,13:0 91:8,9,10,11,12,13:0 92:8,9,10,11,12:0 93:9:0 94:9:0
95:6,7,8,9,10:0 98:4,5,6,7,10:0 211:9:0 212:9:0 213:8,9:0 216:8: 218:9:0 220:7,9: 221:9:
222:8: 223:8: 224:8,9: 225:10: 226:8: 227:8: 228:8: 229:10: 230:7,8,10: 231:7,8,9:0 232:8:0
233:8,9:0 234:10,11,12,13,14:0 235:8: 236:8: 237:8,9: 238:7: 239:7: 240:9: 241:7,8:0 242:9:
243:7,8,9,10:0 244:9: 245:7,9: 246:7: 247:5,6: 248:7: 249:9:0 250:8,9:0 251:9:0 252:6,7,8,9:0
253:8: 254:7,8,9,10:0 255:9:0 256:9:0 257:8: 258:8,9: 260:9:0 261:9:02456789 262:9:0
263:7,9,10:0 264:8,9:0 265:7,9:0 266:8: 267:7,8,10: 268:8,9: 269:7: 290:4,5: 291:7:0 297:7:
298:6:1 299:6: 350:8: 351:9: 352:4,5,6,7,8,9,10,11:1 353:7,8,9,10:0 354:7,9: 355:6,7,8,9:0
356:8: 357:8: 358:5,6,7,8,9,10,11,12:0 359:6,7,8,9,12:0 370:8:08 371:8: 372:7,8,10: 373:8:0
374:8:0 375:6,7,8,9,10,11:08 376:6,8,9: 377:8,9:0 378:8,10:89 380:9,10:0
381:6,7,8,9,10,11,12:0 382:8,9:0 383:8,9,10,11,12:0 385:7,8,9:0 386:5,6,7,8:0 387:8,9:0
389:8:0 420:9,10,11,12: 421:6,7,9:0 423:7,9:01 500:5: 501:7,11: 502:8,11: 503:7,8,11:
504:8,11: 505:8: 506:8,10:1 507:7,8,10,11: 508:6,9:0 509:8: 590:9:0 591:8,9:0 592:7:
593:8,9,10,11:0 594:9:0 595:6,7,8,9,10,11:0 596:9:0 597:6,7: 598:4,5,6,7,8,9,10,11,12,13:0
599:7,8: 670:7,8: 672:6:01258 673:7: 674:7: 675:7,8: 676:5,7: 677:5,7: 678:5,7: 679:7,11:
680:7: 681:6,9: 682:5: 683:4,7: 685:5,6,7,10: 686:5,8:0 687:6: 688:5,6,7: 689:6,8,9:
690:4,5,6,7: 691:7: 692:7:1 800:8: 808:8: 850:8,10:0 852:5,6,7,8,9,11: 853:7,8: 855:8,9,10:0
856:8,9,10:0 870:9,12: 878:12: 880:6,7,8,9,10:0 881:9,10: 882:7,8,9,10,11,12:
883:8,9,10,11,12: 886:7,8,9,10,11:0 888:11: 960:7,10: 961:7,8:0 962:8,9:0 963:8,9:0
964:8,9,10:0 965:7,8: 966:9,10:0 967:7,8,9:0 968:7,8,9: 970:8,9,10:0 971:5,6,7,8,9,10,11,12:0
972:7,8,9,10,11,12:0 973:8: 974:7,8,9,11: 975:7,8: 976:8,9,10:0 977:8,10,11:0 979:9: 992:9:
993:8:8 994:9:0 995:9:0 996:9,10:0 998:9:
"""
_NORTH_AMERICAN_FIRST: Final = frozenset("23456789")
# National numbers written with a trunk prefix other than 0 (nor a country code, as North
# America's 1 is) can look like E.164: Russia's 8 800 123-45-67 is 88001234567, which is also
# Bangladesh's +880 01234567. "region:written:first:lengths": the digits a national format of the
# region writes before the national number ("8", Belarus's "8 0"), the first digits of the numbers
# it formats so, and the lengths of the digits written, prefix included. The tests check it
# against libphonenumber's metadata.
_TRUNK_NATIONAL: Final = """
RU:8:34789:11 RU:8:8:15 KZ:8:78:11,15 BY:8:8:7,8,9,10,11,12 BY:80:1234:11 BY:8:9:11,12
TM:8:1234567:9
"""

#: Labels of the readings, as the refusal names them.
INTERNATIONAL: Final = "E.164 written without its +"
NORTH_AMERICAN: Final = "a North American number without its country code 1"


@cache
def trunk_national() -> dict[str, frozenset[int]]:
    """The first digits of national numbers written with a trunk prefix other than 0, and their lengths."""
    shapes: dict[str, set[int]] = {}
    for item in _TRUNK_NATIONAL.split():
        _region, written, first, lengths = item.split(":")
        for digit in first:
            shapes.setdefault(written + digit, set()).update(int(n) for n in lengths.split(","))
    return {start: frozenset(lengths) for start, lengths in sorted(shapes.items())}


@cache
def trunk_regions() -> tuple[str, ...]:
    """The regions of :data:`_TRUNK_NATIONAL`, each once."""
    return tuple(dict.fromkeys(item.partition(":")[0] for item in _TRUNK_NATIONAL.split()))


def trunk_national_shape(digits: str) -> bool:
    """Whether ``digits`` may be a national number with a trunk prefix other than 0 (``88001234567``)."""
    return any(
        digits.startswith(start) and len(digits) in lengths for start, lengths in trunk_national().items()
    )


@cache
def countries() -> dict[str, tuple[frozenset[int], str]]:
    """Each country code's possible national lengths and the first digits a trunk prefix may take."""
    table = {}
    for item in _COUNTRIES.split():
        code, lengths, trunk = item.split(":")
        table[code] = (frozenset(int(n) for n in lengths.split(",")), trunk)
    return table


#: Every country calling code libphonenumber knows.
COUNTRY_CODES: Final = frozenset(item.partition(":")[0] for item in _COUNTRIES.split())
_TWO_DIGIT_CODES: Final = frozenset(code for code in COUNTRY_CODES if len(code) == 2)


@cache
def lengths_as_written(*, national_shapes: bool = True) -> dict[str, frozenset[int]]:
    """
    For the first four digits of E.164 digits, the lengths (7 to 15) at which libphonenumber reads
    ``+`` and the digits as those digits, a possible number: a known country code, a possible
    length after it, and a first digit after it that it cannot take for a trunk prefix
    (``4407700900001``, where the 0 goes, or Italy's ``390612345678``, where it stays). The fast
    paths take digits as written when ``len(digits) in table.get(digits[:4], ())``: one look-up.

    :param national_shapes: ``False`` leaves out the digits a reader without a region must also
        weigh as a national number: ten shaped like a North American number without its 1
        (:func:`north_american_shape`), and those shaped like a national number written with a
        trunk prefix other than 0 (:func:`trunk_national_shape`). Their second reading needs the
        full path.
    """
    table: dict[str, frozenset[int]] = {}
    shared: dict[frozenset[int], frozenset[int]] = {}
    for first in range(1000, 10000):
        prefix = str(first)
        code = (
            prefix[:1] if prefix[0] in "17" else prefix[:2] if prefix[:2] in _TWO_DIGIT_CODES else prefix[:3]
        )
        rule = countries().get(code)
        if rule is None or prefix[len(code)] in rule[1]:
            continue
        lengths = {len(code) + n for n in rule[0] if 7 <= len(code) + n <= 15}
        if not national_shapes:
            if north_american_shape(prefix + "000000"):
                lengths.discard(10)
            for start, shaped in trunk_national().items():
                if prefix.startswith(start):
                    lengths -= shaped
        if lengths:
            table[prefix] = shared.setdefault(frozenset(lengths), frozenset(lengths))
    return table


def north_american_shape(digits: str) -> bool:
    """Whether ``digits`` are ten digits shaped ``NXX NXX XXXX``: a North American number without its 1."""
    return len(digits) == 10 and digits[0] in _NORTH_AMERICAN_FIRST and digits[3] in _NORTH_AMERICAN_FIRST


def national_group(text: str) -> str | None:
    """
    The first group of ``text`` when it groups its digits as a national number: in parentheses
    (``(321) 555-1234``), or no country code (``321 555 1234``); else ``None``.

    International format written without its plus starts with the country code alone
    (``32 15 55 12 34``); digits written without separators are not grouped at all.
    """
    text = text.lstrip()
    if text.startswith(("(", "[")):
        close = text.find(")" if text[0] == "(" else "]")
        return text[: close + 1] if close > 0 else text[0]
    end = 0
    while end < len(text) and text[end].isdigit():
        end += 1
    return text[:end] if end < len(text) and text[:end] not in COUNTRY_CODES else None


@dataclass
class Reading:
    """
    One reading of an input: the number libphonenumber makes of it, or why it makes none.

    :param label: what the reading takes the input for, as a refusal names it.
    :param number: the number; ``None`` when libphonenumber cannot parse it.
    :param refusal: why it is not a possible number, as ``(kind, code)``: a NumberParseException
        error type (``"parse"``), an ``is_possible_number_with_reason`` result (``"possible"``),
        ``("extension", 0)`` or ``("length", 0)`` (E.164 would not have 7 to 15 digits); ``None``
        when possible.
    :param digits: the E.164 digits (``""`` without a number).
    """

    label: str
    number: PhoneNumber | None
    refusal: tuple[str, int] | None
    digits: str

    @property
    def possible(self) -> bool:
        return self.refusal is None

    @cached_property
    def valid(self) -> bool:
        """libphonenumber's ``is_valid_number`` (asked only when a choice or the campaign needs it)."""
        import phonenumbers

        return self.number is not None and phonenumbers.is_valid_number(self.number)

    @cached_property
    def national_digits(self) -> str:
        """The digits of the number in its region's national format (``0176 12345678``)."""
        import phonenumbers

        if self.number is None:
            return ""
        national = phonenumbers.format_number(self.number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return phonenumbers.normalize_digits_only(national)

    def shown(self) -> str:
        """The number in international format (``+49 176 12345678``), for a refusal."""
        import phonenumbers

        if self.number is None:
            return "+" + self.digits
        return phonenumbers.format_number(self.number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def read(text: str, region: str | None, label: str) -> Reading:
    """
    libphonenumber's reading of ``text`` (``+`` and digits, or digits with ``region``).

    :param label: what this reading takes the input for.
    """
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as err:
        return Reading(label, None, ("parse", err.error_type), "")
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    possible = phonenumbers.is_possible_number_with_reason(number)
    refusal: tuple[str, int] | None = None
    if number.extension:
        refusal = ("extension", 0)
    elif possible != phonenumbers.ValidationResult.IS_POSSIBLE:
        refusal = ("possible", possible)
    elif not (7 <= len(digits) <= 15):
        refusal = ("length", 0)
    return Reading(label, number, refusal, digits)


def read_international(text: str) -> list[Reading]:
    """
    The reading of ``+`` and digits; two when ambiguous.

    A ``0`` right after the country code of a country whose trunk prefix is 0 is either that
    prefix, written out of habit (``+44 (0) 7700 900001``), or part of the number. libphonenumber
    drops it where the rest still fits the country's pattern (it keeps Colombia's
    ``+57 0321 1234567`` whole); here validity decides, as in :func:`choose`: the valid reading is
    the number, two valid readings are ambiguous, and with neither libphonenumber's reading stands.
    Only that one ``0`` is weighed: where libphonenumber already dropped it, its reading stands, and
    the reading without it must keep the rest as written (``+40 0 0731 644 238`` is not
    ``+40 731 644 238``).

    :param text: ``+`` and the digits.
    """
    import phonenumbers

    reading = read(text, None, "E.164")
    country = reading.number.country_code if reading.number is not None else None
    if country is None or reading.digits != text[1:]:
        return [reading]  # not a number, or libphonenumber dropped the 0 (or more) itself
    code = str(country)
    if text[1 + len(code) : 2 + len(code)] != "0":
        return [reading]
    rest = text[2 + len(code) :]
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        country, phonenumbers.region_code_for_country_code(country)
    )
    if metadata is None or metadata.national_prefix != "0":
        return [reading]
    dropped = read(f"+{code}{rest}", None, "E.164 with its trunk prefix 0 written after the code")
    if dropped.digits != code + rest or not dropped.possible:
        return [reading]  # only the one 0 is dropped: "+40 0 0731 ..." is not "+40 731 ..."
    valid = [r for r in (reading, dropped) if r.possible and r.valid]
    return valid if valid else [reading]


def read_trunk_national(digits: str) -> Reading | None:
    """
    The valid national number ``digits`` are, written as its region writes it with a trunk prefix
    other than 0 (``88001234567``: Russia's ``8 800 123-45-67``); ``None`` when they are none.

    Without a region such digits have a second reading beside E.164 (``+880 01234567``), as ten
    digits shaped like a North American number have.
    """
    import phonenumbers

    for region in trunk_regions():
        national = read(digits, region, "")
        if national.possible and national.valid and national.national_digits == digits:
            assert national.number is not None  # valid
            own = phonenumbers.region_code_for_number(national.number)
            national.label = f"a national number of {own} with its trunk prefix"
            return national
    return None


def choose(
    international: Reading, national: Reading, *, written: str, national_grouping: bool
) -> list[Reading]:
    """
    The reading of digits written without a country marker, under a region; two when ambiguous.

    A valid number is a strong reading. So is E.164 when merely possible, where the national
    reading lacks the trunk prefix the region writes (``447700900001`` with ``DE`` is the
    sandbox's British number as much as a German one without its 0). One strong reading is the
    number; two are ambiguous. Without a strong one, a single possible reading is the number
    (``number_validation="possible"`` reads numbers in no range in use) and two are ambiguous.
    Where the region writes its national numbers without a trunk prefix and the input is grouped as
    one (``(321) 555-1234`` with ``US``), the national reading is the only one.

    :param written: the digits as written.
    :param national_grouping: the input groups its digits as a national number
        (:func:`national_group`).
    :return: the chosen reading (possibly not possible: the caller refuses it with its reason), or
        the two readings of an ambiguous input.
    """
    if national.number is not None and national.digits == international.digits:
        return [national]  # digits that start with the region's own country code, read as such
    written_as_national = national.number is not None and national.national_digits == written
    if written_as_national and national_grouping:
        return [national]
    lacks_trunk_prefix = national.number is not None and not written_as_national
    readings = [r for r in (international, national) if r.possible]
    strong = [r for r in readings if r.valid or (r is international and lacks_trunk_prefix)]
    if len(strong) == 1:
        return strong
    if len(strong) == 2 or len(readings) == 2:
        return readings
    return readings or [national]
