"""Properties of message analysis, checked against the ``gsm0338`` reference codec."""

from __future__ import annotations

import codecs

import gsm0338  # noqa: F401  -- registers the "gsm03.38" codec used as the reference
import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_fullsms.sms import (
    GSM7,
    GSM7_BASIC_CHARACTERS,
    GSM7_EXTENSION_CHARACTERS,
    UCS2,
    analyse_message,
    fit_to_one_segment,
)

pytestmark = pytest.mark.property

# Hypothesis' default text rarely hits the GSM-7 alphabet, so mix in texts drawn from it
# (and from it plus a few characters that force UCS-2) to exercise both encodings and
# the 153/67 boundaries. A raw ESC is left out: gsm0338 encodes it as a septet, while we
# deliberately treat it as not sendable text (see the sms module docstring).
_GSM = GSM7_BASIC_CHARACTERS + GSM7_EXTENSION_CHARACTERS
_MIXED = _GSM + "`\tçПΩ\N{WAVING HAND SIGN}\N{GRINNING FACE}"
_texts = st.one_of(
    st.text(alphabet=_GSM, max_size=700),
    st.text(alphabet=_MIXED, max_size=400),
    st.text(max_size=300),
).filter(lambda text: "\x1b" not in text)


@given(st.text(alphabet=_GSM, max_size=700))
def test_gsm7_units_are_never_fewer_than_characters(text: str) -> None:
    analysis = analyse_message(text)

    assert analysis.encoding == GSM7
    assert analysis.units >= len(text)


@given(_texts, st.characters(blacklist_characters="\x1b"))
def test_appending_a_character_never_lowers_segments(text: str, char: str) -> None:
    assert analyse_message(text + char).segments >= analyse_message(text).segments


@given(_texts)
def test_encoding_and_units_agree_with_gsm0338(text: str) -> None:
    analysis = analyse_message(text)

    try:
        septets = codecs.encode(text, "gsm03.38")
    except UnicodeEncodeError:
        assert analysis.encoding == UCS2
        assert analysis.units == len(text.encode("utf-16-le")) // 2
    else:
        assert analysis.encoding == GSM7
        assert analysis.units == len(septets)


@given(_texts)
def test_segments_are_between_plain_ceil_and_one_more_per_boundary(text: str) -> None:
    analysis = analyse_message(text)
    single, part = (160, 153) if analysis.encoding == GSM7 else (70, 67)

    if analysis.units <= single:
        assert analysis.segments == 1
    else:
        plain = -(-analysis.units // part)
        # Each boundary can waste at most one unit, by moving a pair whole.
        assert plain <= analysis.segments <= -(-(analysis.units + plain) // part)


@given(_texts, st.sampled_from(["...", "…", "", " [cut]"]))
def test_fit_to_one_segment_always_yields_one_segment(text: str, ellipsis: str) -> None:
    result = fit_to_one_segment(text, ellipsis)

    assert analyse_message(result).segments == 1
    if analyse_message(text).segments == 1:
        assert result == text
    elif analyse_message(text).encoding == GSM7:
        assert analyse_message(result).encoding == GSM7
