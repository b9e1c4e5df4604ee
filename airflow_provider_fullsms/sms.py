"""SMS message analysis and phone-number normalisation for FullSMS — pure functions.

FullSMS bills and limits messages by encoding (as its API documentation says):
a message that uses only the 3GPP TS 23.038 default alphabet and its extension
table is sent as GSM-7 (at most 612 septets, 160 in one segment, 153 per part when
concatenated); anything else is sent as UCS-2 (at most 268 UTF-16 code units, 70
in one segment, 67 per part). Extension characters (``^ { } \\ [ ~ ] | €`` and form
feed) cost two septets because they are sent as ESC + character, and characters
outside the Basic Multilingual Plane (most emoji) cost two UTF-16 units because they
are sent as a surrogate pair. Neither pair may straddle a segment boundary, so a
long message can need one segment more than ``ceil(units / 153)`` suggests.

Codec choice: this module uses its own character tables rather than the
``gsm0338`` codec library. ``gsm0338`` (the maintained codec, used in the tests and
the benchmark as the reference) agrees with these tables on every Unicode code point
(checked exhaustively) except
a raw ESC (``\\x1b``), which it encodes as a septet and which we treat as not
sendable as text (so it forces UCS-2). But its encoder is a pure-Python per-character
loop that concatenates bytes: about 75,000 messages/s against about 950,000 here,
13 times slower (``python -m benchmarks.bench_message_analysis`` prints the comparison), and
importing it costs an extra ``unicodedata`` import at DAG-parse time. Analysing a
message here is a handful of C-level string operations: an ASCII fast path deletes
the GSM characters with :meth:`bytes.translate`, and other text is checked with
:meth:`frozenset.issuperset`.

Phone numbers are read in :mod:`airflow_provider_fullsms.phones`; ``normalise_number``,
``InvalidNumberError`` and ``NUMBER_PATTERN`` are re-exported here for existing callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from airflow_provider_fullsms.exceptions import FullSmsConfigurationError
from airflow_provider_fullsms.phones import NUMBER_PATTERN, InvalidNumberError, normalise_number

__all__ = [
    "BRAND_LIMITS",
    "GSM7",
    "GSM7_BASIC_CHARACTERS",
    "GSM7_EXTENSION_CHARACTERS",
    "MAX_NUMBERS_PER_REQUEST",
    "MESSAGE_LIMITS",
    "NUMBER_PATTERN",
    "SEGMENT_LIMITS",
    "UCS2",
    "InvalidMessageError",
    "InvalidNumberError",
    "MessageAnalysis",
    "analyse_message",
    "check_brand",
    "check_message",
    "first_non_gsm7",
    "fit_to_one_segment",
    "is_gsm7",
    "normalise_number",
]

GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

#: FullSMS accepts at most this many numbers in one ``to_numbers`` request.
MAX_NUMBERS_PER_REQUEST: Final = 500
#: FullSMS's per-message limits, in GSM-7 septets / UTF-16 code units (4 concatenated parts).
MESSAGE_LIMITS: Final[dict[str, int]] = {GSM7: 612, UCS2: 268}
#: FullSMS's limits for the OTP ``brand`` field.
BRAND_LIMITS: Final[dict[str, int]] = {GSM7: 50, UCS2: 12}
#: (units in a single-segment message, units per part of a concatenated message); the
#: difference is the user-data header that numbers the parts.
SEGMENT_LIMITS: Final[dict[str, tuple[int, int]]] = {GSM7: (160, 153), UCS2: (70, 67)}

#: 3GPP TS 23.038 default alphabet, in table order. ESC (0x1B) is left out on purpose:
#: it is the escape to the extension table, not a character a user can send.
GSM7_BASIC_CHARACTERS: Final = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Characters sent as ESC + character, so each costs two septets.
GSM7_EXTENSION_CHARACTERS: Final = "\f^{}\\[~]|€"

_GSM7_CHARACTERS: Final = frozenset(GSM7_BASIC_CHARACTERS + GSM7_EXTENSION_CHARACTERS)
_EXTENSION: Final = frozenset(GSM7_EXTENSION_CHARACTERS)
# Every extension character except € is ASCII, so in UTF-8 bytes they can be counted with
# a C-level delete of all other byte values (UTF-8 multibyte sequences never contain
# bytes below 0x80, so nothing else can be mistaken for one).
_EXTENSION_ASCII_BYTES: Final = GSM7_EXTENSION_CHARACTERS.replace("€", "").encode("ascii")
_NOT_EXTENSION_ASCII_BYTES: Final = bytes(b for b in range(256) if b not in _EXTENSION_ASCII_BYTES)
_BASIC_ASCII_BYTES: Final = bytes(ord(c) for c in GSM7_BASIC_CHARACTERS if c.isascii())

_SHORTEN_AT: Final = 40


def _shorten(value: object, limit: int = _SHORTEN_AT) -> str:
    """Return ``repr(value)`` cut to about ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class MessageAnalysis:
    """How FullSMS will encode, count and split one message.

    :param encoding: :data:`GSM7` or :data:`UCS2`.
    :param units: GSM-7 septets (extension characters count 2) or UTF-16 code units
        (characters outside the BMP, such as most emoji, count 2).
    :param segments: SMS parts the message is sent as (what the recipient's carrier bills).
    :param limit: the most units FullSMS accepts for this encoding.
    """

    encoding: str
    units: int
    segments: int
    limit: int

    @property
    def fits(self) -> bool:
        """Whether FullSMS accepts a message this long."""
        return self.units <= self.limit

    @property
    def remaining(self) -> int:
        """Units left before the FullSMS limit (negative when the message is too long)."""
        return self.limit - self.units


def is_gsm7(text: str) -> bool:
    """Return whether every character of ``text`` is in the GSM-7 alphabet or its extension.

    :param text: message text.
    """
    return _GSM7_CHARACTERS.issuperset(text)


def first_non_gsm7(text: str) -> str | None:
    """Return the first character that forces ``text`` to UCS-2, or ``None`` if it is GSM-7.

    Useful in messages telling a user which character to replace to halve the cost.

    :param text: message text.
    """
    for char in text:
        if char not in _GSM7_CHARACTERS:
            return char
    return None


def _split_segments(text: str, encoding: str, units: int) -> int:
    """Count segments, never splitting an escape pair or a surrogate pair across two.

    :param text: message text.
    :param encoding: :data:`GSM7` or :data:`UCS2`, as already decided for ``text``.
    :param units: total units of ``text`` in ``encoding``.
    """
    single, part = SEGMENT_LIMITS[encoding]
    if units <= single:
        return 1
    if units == len(text):
        # No double-width characters, so no pair can straddle a boundary.
        return -(-units // part)
    segments, used = 1, 0
    gsm = encoding == GSM7
    for char in text:
        wide = char in _EXTENSION if gsm else char > "\uffff"
        width = 2 if wide else 1
        if used + width > part:
            segments += 1
            used = width
        else:
            used += width
    return segments


def analyse_message(text: str) -> MessageAnalysis:
    """Work out the encoding, length in units and segment count FullSMS will use for ``text``.

    :param text: message text (already personalised, if it is a template).
    """
    if text.isascii():
        # Fast path for most texts: delete every basic GSM-7 byte in C; what is left is
        # either extension characters (2 septets each) or ASCII GSM-7 lacks (` and controls).
        rest = text.encode("ascii").translate(None, _BASIC_ASCII_BYTES)
        if not rest:
            units = len(text)
            return MessageAnalysis(GSM7, units, 1 if units <= 160 else -(-units // 153), 612)
        if rest.translate(None, _EXTENSION_ASCII_BYTES):
            encoding, units = UCS2, len(text)
        else:
            encoding, units = GSM7, len(text) + len(rest)
    elif _GSM7_CHARACTERS.issuperset(text):
        encoding = GSM7
        extension = len(text.encode("utf-8").translate(None, _NOT_EXTENSION_ASCII_BYTES))
        units = len(text) + extension + text.count("€")
    else:
        encoding = UCS2
        # surrogatepass: a lone surrogate (possible in a Python str) still costs one unit.
        units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    return MessageAnalysis(encoding, units, _split_segments(text, encoding, units), MESSAGE_LIMITS[encoding])


class InvalidMessageError(FullSmsConfigurationError):
    """A message or brand FullSMS would reject; the text says which value and what to do."""


def _check_text(text: object, what: str, limits: dict[str, int], advice: str) -> MessageAnalysis:
    if not isinstance(text, str):
        raise InvalidMessageError(
            f"{what} must be a string, got {type(text).__name__} {_shorten(text)} — pass the text as str"
        )
    if not text.strip():
        raise InvalidMessageError(f"{what} {_shorten(text)} is empty — give the text to send")
    analysis = analyse_message(text)
    limit = limits[analysis.encoding]
    if analysis.units > limit:
        if analysis.encoding == UCS2:
            hint = (
                f" (UCS-2 because of {first_non_gsm7(text)!r}; with only GSM-7 characters "
                f"the limit would be {limits[GSM7]})"
            )
        else:
            hint = ""
        raise InvalidMessageError(
            f"{what} {_shorten(text)} is {analysis.units} {analysis.encoding} characters{hint}; "
            f"FullSMS accepts at most {limit} — {advice}"
        )
    return analysis


def check_message(text: object, *, what: str = "message") -> MessageAnalysis:
    """Validate a message before sending it and return its analysis.

    :param text: the message text.
    :param what: how to name the value in the error, e.g. ``"message for list 12"``.
    :raises InvalidMessageError: if ``text`` is not a string, is blank, or is longer than
        FullSMS accepts (612 GSM-7 septets or 268 UCS-2 units).
    """
    return _check_text(text, what, MESSAGE_LIMITS, "shorten it or split it")


def check_brand(brand: str) -> MessageAnalysis:
    """Validate an OTP ``brand`` and return its analysis.

    FullSMS documents 50 GSM-7 / 12 UCS-2 "characters"; extension characters are counted
    as two septets here, the stricter reading, so a brand that passes is never rejected.

    :param brand: the brand shown in the OTP message.
    :raises InvalidMessageError: if ``brand`` is not a string, is blank or is too long.
    """
    return _check_text(brand, "brand", BRAND_LIMITS, "shorten it")


def _longest_prefix(text: str, budget: int, encoding: str) -> int:
    """Return how many leading characters of ``text`` fit in ``budget`` units of ``encoding``.

    For GSM-7 the prefix also stops at the first character GSM-7 cannot encode.
    """
    used = 0
    for index, char in enumerate(text):
        if encoding == GSM7:
            if char not in _GSM7_CHARACTERS:
                return index
            width = 2 if char in _EXTENSION else 1
        else:
            width = 2 if char > "\uffff" else 1
        if used + width > budget:
            return index
        used += width
    return len(text)


def fit_to_one_segment(text: str, ellipsis: str = "...") -> str:
    """Cut ``text`` so it is sent as exactly one SMS segment, ending with ``ellipsis`` if cut.

    Meant for alerts, where one short SMS beats a truncated multi-part one. Text that
    already fits is returned unchanged. When cutting, the longest prefix wins, whether
    it is GSM-7 (160 septets) or UCS-2 (70 units): dropping the tail of a UCS-2 text can
    make it GSM-7 again. A GSM-7 text stays GSM-7: an ``ellipsis`` GSM-7 cannot encode
    (such as ``"…"``) is replaced by ``"..."`` there rather than turning the alert into
    UCS-2 with less than half the room. Cuts fall between code points, so a surrogate pair
    is never split (a multi-code-point emoji sequence may lose its tail).

    :param text: the alert text.
    :param ellipsis: appended when the text is cut.
    :raises ValueError: if ``ellipsis`` alone does not fit in one segment.
    """
    if analyse_message(ellipsis).segments > 1:
        raise ValueError(f"ellipsis {_shorten(ellipsis)} is longer than one SMS segment — use a shorter one")
    if analyse_message(text).segments <= 1:
        return text
    candidates: list[str] = []
    gsm_ellipsis = ellipsis if is_gsm7(ellipsis) else "..."
    for encoding, marker in ((GSM7, gsm_ellipsis), (UCS2, ellipsis)):
        budget = SEGMENT_LIMITS[encoding][0] - analyse_message(marker).units
        keep = _longest_prefix(text, budget, encoding)
        candidates.append(text[:keep].rstrip() + marker)
    # max() keeps the first of equals, so GSM-7 wins a tie.
    return max(candidates, key=len)
