"""The sandbox's vocabulary: the vendor paths, FullSMS's time and money formats, campaigns and OTPs.

Pure Python, like :mod:`~airflow_provider_fullsms.sandbox.state`, which keeps these records.
"""

from __future__ import annotations

import calendar
import enum
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

#: Paths of the vendor API, as FullSMS documents them (with a leading slash).
VENDOR_PATHS: tuple[str, ...] = (
    "/account/balance",
    "/account/numbers",
    "/account/lists",
    "/account/senderids",
    "/account/templates",
    "/messages/send/to_lists",
    "/messages/send/to_numbers",
    "/otp/create",
    "/otp/verify",
    "/otp/cancel",
    "/otp/search",
)

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def format_time(timestamp: float | None) -> str | None:
    """Format a UNIX timestamp the way FullSMS does (``YYYY-MM-DD HH:MM:SS``, UTC).

    :param timestamp: seconds since the epoch, or ``None`` (rendered as ``None``).
    """
    if timestamp is None:
        return None
    return time.strftime(TIME_FORMAT, time.gmtime(timestamp))


def parse_time(text: str) -> float:
    """Parse ``YYYY-MM-DD HH:MM:SS`` (UTC) strictly into a UNIX timestamp.

    :param text: the date and time as FullSMS writes it.
    :raises ValueError: if ``text`` has another shape or is not a real date.
    """
    problem = ValueError(f"{text!r} is not a UTC date and time in the form YYYY-MM-DD HH:MM:SS")
    # strptime alone accepts "2025-1-1 8:5:7"; FullSMS documents the zero-padded form only.
    if len(text) != 19 or text[4] != "-" or text[7] != "-" or text[10] != " ":
        raise problem
    digits = text[:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:]
    if not (digits.isascii() and digits.isdigit()):
        raise problem
    try:
        return float(calendar.timegm(time.strptime(text, TIME_FORMAT)))
    except ValueError:
        raise problem from None


def money_json(value: Decimal) -> int | float:
    """Render money as FullSMS does: ``100`` for whole amounts, else up to 4 decimals.

    :param value: an amount of money.
    """
    if value == value.to_integral_value():
        return int(value)
    return float(value.quantize(Decimal("0.0001")))


@dataclass(kw_only=True)
class Campaign:
    """One send: a text from one sender to many recipients (an OTP is a campaign of one).

    Recipients are kept as a list of strings rather than one object per message, so a benchmark
    sending hundreds of 500-number requests a second stays cheap in time and memory; the
    per-message view is built only when the inbox is read.

    A send sets ``campaign_id``, the code SMS of an OTP ``otp_id``; ``seq``, ``delivered_at`` and
    ``cost`` are set by :class:`~airflow_provider_fullsms.sandbox.state.SandboxState` when it
    keeps the campaign.
    """

    campaign_id: str | None = None
    otp_id: str | None = None
    sender: str
    text: str
    encoding: str
    segments: int
    recipients: list[str]
    created_at: float
    send_at: float | None = None
    seq: int = field(init=False, default=0)
    delivered_at: float | None = field(init=False, default=None)
    #: What the account was charged for it (all recipients and segments).
    cost: Decimal = field(init=False, default=Decimal(0))

    def messages(self) -> list[dict[str, Any]]:
        """One inbox entry per recipient, as ``/_sandbox/messages`` shows them."""
        status = "delivered" if self.delivered_at is not None else "scheduled"
        common = {
            "from": self.sender,
            "text": self.text,
            "campaign_id": self.campaign_id,
            "otp_id": self.otp_id,
            "segments": self.segments,
            "encoding": self.encoding,
            "status": status,
            "created_at": format_time(self.created_at),
            "send_at": format_time(self.send_at),
            "delivered_at": format_time(self.delivered_at),
        }
        return [{"to": to, **common} for to in self.recipients]


class OtpStatus(enum.StrEnum):
    """The statuses ``otp/search`` documents; only ``in_progress`` can still be verified."""

    IN_PROGRESS = "in_progress"
    APPROVED = "approved"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"


@dataclass
class Otp:
    """One OTP and its checks.

    ``status`` is a plain ``str`` because a state file may seed any status; the sandbox itself
    only writes :class:`OtpStatus` values.
    """

    otp_id: str
    account: str
    destination: str
    sender: str
    brand: str
    code: int
    status: str
    created_at: float
    expires_at: float | None
    last_check_at: float | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    wrong_codes: int = 0

    def refresh(self, now: float) -> None:
        """Expire the OTP lazily: nothing runs in the background, every read looks at the clock.

        :param now: the current UNIX time.
        """
        if self.active and self.expires_at is not None and now >= self.expires_at:
            self.status = OtpStatus.EXPIRED

    @property
    def active(self) -> bool:
        return self.status == OtpStatus.IN_PROGRESS

    def to_json(self) -> dict[str, Any]:
        """The ``otp/search`` body (``"created at"`` with a space, as documented)."""
        return {
            "uuid": self.otp_id,
            "status": self.status,
            "destination": self.destination,
            "sender_value": self.sender,
            "brand": self.brand,
            "created at": format_time(self.created_at),
            "last_check_at": format_time(self.last_check_at),
            "checks": list(self.checks),
        }
