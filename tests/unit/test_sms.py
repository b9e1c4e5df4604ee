"""Specification of message analysis, as tables of cases (numbers: ``test_phones.py``)."""

from __future__ import annotations

import pytest

from airflow_provider_fullsms.sms import (
    BRAND_LIMITS,
    GSM7,
    MESSAGE_LIMITS,
    UCS2,
    InvalidMessageError,
    MessageAnalysis,
    analyse_message,
    check_brand,
    check_message,
    first_non_gsm7,
    fit_to_one_segment,
    is_gsm7,
)

WAVE = "\N{WAVING HAND SIGN}"  # outside the BMP: two UTF-16 units


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        pytest.param("Hello World", GSM7, 11, 1, id="plain"),
        pytest.param("Price: 5€ [sale]", GSM7, 19, 1, id="extension-chars-count-2"),
        pytest.param("Привет", UCS2, 6, 1, id="cyrillic"),
        pytest.param(f"hi {WAVE}", UCS2, 5, 1, id="emoji-is-surrogate-pair"),
        pytest.param("", GSM7, 0, 1, id="empty"),
        pytest.param("a" * 160, GSM7, 160, 1, id="160-gsm-one-segment"),
        pytest.param("a" * 161, GSM7, 161, 2, id="161-gsm-two-segments"),
        pytest.param("a" * 306, GSM7, 306, 2, id="306-gsm-two-segments"),
        pytest.param("a" * 307, GSM7, 307, 3, id="307-gsm-three-segments"),
        pytest.param("П" * 70, UCS2, 70, 1, id="70-ucs2-one-segment"),
        pytest.param("П" * 71, UCS2, 71, 2, id="71-ucs2-two-segments"),
        pytest.param("a" * 612, GSM7, 612, 4, id="612-gsm-max"),
        pytest.param("П" * 268, UCS2, 268, 4, id="268-ucs2-max"),
        pytest.param("a`b", UCS2, 3, 1, id="backtick-forces-ucs2"),
        pytest.param("a\tb", UCS2, 3, 1, id="tab-forces-ucs2"),
        pytest.param("garçon", UCS2, 6, 1, id="lowercase-c-cedilla-forces-ucs2"),
        pytest.param("GARÇON", GSM7, 6, 1, id="uppercase-c-cedilla-is-gsm7"),
        pytest.param("\x1b", UCS2, 1, 1, id="raw-escape-is-not-text"),
        pytest.param("ΔΦΓΛΩΠΨΣΘΞ", GSM7, 10, 1, id="greek-capitals-in-gsm7"),
        pytest.param("αβ", UCS2, 2, 1, id="greek-lowercase-forces-ucs2"),
        pytest.param("Zoë", UCS2, 3, 1, id="e-diaeresis-forces-ucs2"),
        pytest.param("é€{x}", GSM7, 8, 1, id="non-ascii-gsm7-with-extension"),
        pytest.param("\f^{}\\[~]|€", GSM7, 20, 1, id="whole-extension-table"),
        pytest.param("a\u00a0b", UCS2, 3, 1, id="no-break-space-forces-ucs2"),
        pytest.param("€" * 80, GSM7, 160, 1, id="80-euros-fill-one-segment"),
        pytest.param("€" * 81, GSM7, 162, 2, id="81-euros-need-two"),
        pytest.param(WAVE * 35, UCS2, 70, 1, id="35-emoji-fill-one-segment"),
        # An escape pair may not straddle the 153-septet boundary: the € moves whole.
        pytest.param("a" * 152 + "€" + "a" * 10, GSM7, 164, 2, id="escape-pair-at-153-short"),
        # ... and that wasted septet costs a third part where ceil(306 / 153) says two.
        pytest.param("a" * 152 + "€" + "a" * 152, GSM7, 306, 3, id="escape-pair-at-153-pushes-over"),
        pytest.param("a" * 153 + "€" + "a" * 151, GSM7, 306, 2, id="escape-pair-after-boundary"),
        # Likewise a surrogate pair at the 67-unit boundary.
        pytest.param("a" * 66 + WAVE + "a" * 4, UCS2, 72, 2, id="surrogate-pair-at-67-short"),
        pytest.param("a" * 66 + WAVE + "a" * 66, UCS2, 134, 3, id="surrogate-pair-at-67-pushes-over"),
        pytest.param("a" * 67 + WAVE + "a" * 65, UCS2, 134, 2, id="surrogate-pair-after-boundary"),
    ],
)
def test_analyse_message(text: str, encoding: str, units: int, segments: int) -> None:
    analysis = analyse_message(text)

    assert analysis == MessageAnalysis(encoding, units, segments, MESSAGE_LIMITS[encoding])
    assert is_gsm7(text) is (encoding == GSM7)


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        pytest.param("a" * 612, True, id="612-gsm-fits"),
        pytest.param("a" * 613, False, id="613-gsm-too-long"),
        pytest.param("a" * 610 + "€", True, id="610-plus-euro-fits"),
        pytest.param("a" * 611 + "€", False, id="611-plus-euro-too-long"),
        pytest.param("П" * 268, True, id="268-ucs2-fits"),
        pytest.param("П" * 269, False, id="269-ucs2-too-long"),
        pytest.param("П" * 266 + WAVE, True, id="266-plus-emoji-fits"),
        pytest.param("П" * 267 + WAVE, False, id="267-plus-emoji-too-long"),
    ],
)
def test_fits(text: str, fits: bool) -> None:
    assert analyse_message(text).fits is fits


def test_remaining_counts_down_to_the_limit() -> None:
    assert analyse_message("Hello").remaining == 607
    assert analyse_message("a" * 613).remaining == -1


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Hello", None), ("Hi Иван", "И"), ("a`b", "`"), (f"ok {WAVE}", WAVE)],
)
def test_first_non_gsm7(text: str, expected: str | None) -> None:
    assert first_non_gsm7(text) == expected


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("Hello", GSM7), ("a" * 612, GSM7), ("Привет", UCS2), ("П" * 268, UCS2)],
)
def test_check_message_accepts_what_fullsms_accepts(text: str, encoding: str) -> None:
    assert check_message(text).encoding == encoding


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        pytest.param(42, ["message must be a string", "int 42", "as str"], id="not-a-string"),
        pytest.param(None, ["message must be a string", "NoneType"], id="none"),
        pytest.param("", ["message '' is empty", "give the text"], id="empty"),
        pytest.param("  \n", ["is empty"], id="blank"),
        pytest.param(
            "a" * 700,
            [
                "message 'aaaa",
                "is 700 GSM-7 characters; FullSMS accepts at most 612 — shorten it or split it",
            ],
            id="gsm-too-long",
        ),
        pytest.param(
            "П" * 300,
            ["is 300 UCS-2 characters", "because of 'П'", "accepts at most 268"],
            id="ucs2-too-long-names-the-culprit",
        ),
    ],
)
def test_check_message_rejects(value: object, fragments: list[str]) -> None:
    with pytest.raises(InvalidMessageError) as error:
        check_message(value)

    for fragment in fragments:
        assert fragment in str(error.value)


def test_check_message_shortens_the_value_and_uses_what() -> None:
    with pytest.raises(InvalidMessageError, match=r"^alert text ") as error:
        check_message("x" * 5000, what="alert text")

    assert len(str(error.value)) < 200


@pytest.mark.parametrize(
    ("brand", "ok"),
    [
        pytest.param("Your Brand", True, id="documented-example"),
        pytest.param("B" * BRAND_LIMITS[GSM7], True, id="50-gsm-fits"),
        pytest.param("B" * 51, False, id="51-gsm-too-long"),
        pytest.param("Б" * BRAND_LIMITS[UCS2], True, id="12-ucs2-fits"),
        pytest.param("Б" * 13, False, id="13-ucs2-too-long"),
        pytest.param("B" * 49 + "€", False, id="extension-counts-2"),
        pytest.param("", False, id="empty"),
    ],
)
def test_check_brand(brand: str, ok: bool) -> None:
    if ok:
        assert check_brand(brand).units <= BRAND_LIMITS[check_brand(brand).encoding]
    else:
        with pytest.raises(InvalidMessageError, match=r"^brand "):
            check_brand(brand)


@pytest.mark.parametrize(
    ("text", "ellipsis", "expected"),
    [
        pytest.param("short alert", "...", "short alert", id="fits-unchanged"),
        pytest.param("a" * 160, "...", "a" * 160, id="exactly-one-segment-unchanged"),
        pytest.param("a" * 161, "...", "a" * 157 + "...", id="gsm-cut"),
        pytest.param("a" * 300, "…", "a" * 157 + "...", id="non-gsm-ellipsis-keeps-gsm7"),
        pytest.param("a" * 156 + "€" * 10, "...", "a" * 156 + "...", id="escape-pair-not-half-kept"),
        pytest.param("a" * 155 + "   " + "b" * 20, "...", "a" * 155 + "...", id="trailing-space-dropped"),
        pytest.param("П" * 100, "…", "П" * 69 + "…", id="ucs2-cut"),
        pytest.param("П" * 67 + WAVE * 5, "...", "П" * 67 + "...", id="emoji-not-split"),
        pytest.param("b" * 200 + "П", "...", "b" * 157 + "...", id="cut-makes-it-gsm7-again"),
    ],
)
def test_fit_to_one_segment(text: str, ellipsis: str, expected: str) -> None:
    result = fit_to_one_segment(text, ellipsis)

    assert result == expected
    assert analyse_message(result).segments == 1


def test_fit_to_one_segment_rejects_an_ellipsis_longer_than_a_segment() -> None:
    with pytest.raises(ValueError, match="ellipsis"):
        fit_to_one_segment("П" * 100, "П" * 71)
