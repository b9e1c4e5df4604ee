"""
What a person decides about phone numbers, and the words a refused one is reported in.

* :class:`NumberValidation` and :func:`check_region`: the ``number_validation`` and
  ``default_region`` settings (a connection's extras or an operator's arguments), checked once.
* :class:`InvalidReason` and :class:`InvalidNumberError`: why :class:`~.phones.NumberParser`
  refused a number, the categories of a summary's ``invalid.reasons``.

:mod:`.phones` reads the numbers themselves (and exports these names too).
"""

from __future__ import annotations

from enum import StrEnum

from airflow_provider_fullsms.exceptions import CampaignInputError, FullSmsConfigurationError


class InvalidReason(StrEnum):
    """Why a number was refused: the categories of the summary's ``invalid.reasons``."""

    NOT_A_NUMBER = "not_a_number"
    LOSSY_FORMAT = "lossy_format"
    NO_REGION = "no_region"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NOT_POSSIBLE = "not_possible"
    NOT_VALID = "not_valid"
    AMBIGUOUS = "ambiguous"


class InvalidNumberError(FullSmsConfigurationError):
    """
    A phone number that is not one E.164 number; the message names it and says what to do.

    :param reason: the :class:`InvalidReason` category.
    :param readings: for :attr:`InvalidReason.AMBIGUOUS`, the E.164 digits of each number it could
        be (an opt-out list leaves out both).
    """

    def __init__(
        self,
        message: str,
        reason: InvalidReason = InvalidReason.NOT_A_NUMBER,
        readings: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.readings = readings


class NumberValidation(StrEnum):
    """How strictly numbers read with libphonenumber are checked."""

    #: Length and country code plausible (the vendor's example numbers pass).
    POSSIBLE = "possible"
    #: libphonenumber's full validation: a number range in use for that country.
    VALID = "valid"

    @classmethod
    def parse(cls, value: object, *, where: str = "number_validation") -> NumberValidation:
        """
        ``value`` as a choice; ``None`` or ``""`` is the default, ``"possible"``.

        :param where: what set it, for the message.
        :raises CampaignInputError: any other value.
        """
        if value in (None, ""):
            return cls.POSSIBLE
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise CampaignInputError(
                f"{where}={value!r} is not a number validation: use 'possible' (length and country "
                "plausible, the default) or 'valid' (libphonenumber's full validation)."
            ) from None


def check_region(value: object, *, where: str = "default_region") -> str | None:
    """
    An ISO 3166 country code libphonenumber knows (``"GB"``), upper-cased; ``None`` when not given.

    :param where: what set it, for the message.
    :raises CampaignInputError: an unknown code.
    """
    if value in (None, ""):
        return None
    import phonenumbers  # only when a region is set: the import costs ~40 ms

    region = str(value).strip().upper()
    if region in phonenumbers.SUPPORTED_REGIONS:
        return region
    hint = " (the United Kingdom is 'GB')" if region == "UK" else ""
    raise CampaignInputError(
        f"{where}={value!r} is not a country code libphonenumber knows{hint}: use a two-letter ISO "
        "3166 code such as 'GB', 'US' or 'IL'."
    )
