"""
Quiet hours in the recipient's own local time: ``send_window=("09:00", "20:00")``.

Each number's time zones come from libphonenumber's time-zone data
(:func:`phonenumbers.timezone.time_zones_for_number`): one zone for most numbers, several for a
number that could be anywhere in a country with many (a US area code across two zones, an
Australian mobile). The window must hold in every one of them. A recipient whose window is open
gets the text now (or at the campaign's ``send_at``); the others get FullSMS ``send_at`` at the
next moment the window is open in all their zones. A number whose zones are never all inside the
window at once (a Russian mobile, anywhere from Kaliningrad to Kamchatka, with a two-hour window)
concerns that recipient only: it is reported ``outside_window``, masked, and the rest are sent.

Recipients are batched by their time zones (:meth:`SendWindow.group_of`), which depends only on
the number, so the same audience always makes the same batches and the ledger resumes them
unchanged. A batch's ``send_at`` is worked out when it goes out (:meth:`SendWindow.send_at`):
a batch resumed hours later still reaches nobody outside their window.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from airflow_provider_fullsms.connection import SEND_AT_FORMAT, format_send_at
from airflow_provider_fullsms.exceptions import CampaignInputError, FullSmsConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

    from pendulum.tz.timezone import FixedTimezone, Timezone

    from airflow_provider_fullsms.campaigns.answers import SendResult
    from airflow_provider_fullsms.campaigns.batching import Batch

#: How far ahead the next opening is looked for; a window that never holds in all of a number's
#: zones within it never will.
_HORIZON_DAYS = 3
#: The step by which an opening is moved past a daylight-saving change of the account's timezone,
#: where FullSMS's wall-clock ``send_at`` could not name it.
_DST_STEP = timedelta(minutes=15)
#: A local time of day as a window takes it: 24-hour ``HH:MM`` (or ``H:MM``, ``HH:MM:SS``). Not
#: :meth:`datetime.time.fromisoformat`, which also takes ``"09:00+02:00"`` (an offset: the window is
#: in each recipient's own zone), ``"0900"``, ``"T09"`` and fractions of a second.
_TIME_OF_DAY = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?")
#: The longest number prefix in libphonenumber's time-zone data
#: (``phonenumbers.tzdata.TIMEZONE_LONGEST_PREFIX``, not imported here: it is heavy).
_LONGEST_PREFIX = 9


@dataclass(frozen=True)
class SendWindow:
    """
    The local time of day a recipient may receive a text: from ``start`` (included) to ``end``.

    :param start: when the window opens, local time.
    :param end: when it closes, local time; after ``start`` (a window does not span midnight).
    :param fallback_zone: the zone of a number libphonenumber places nowhere (the account's).
    """

    start: time
    end: time
    fallback_zone: str = "UTC"

    @classmethod
    def parse(cls, value: object, fallback_zone: str = "UTC") -> SendWindow | None:
        """
        ``("09:00", "20:00")`` (or ``"09:00-20:00"``) as a window; ``None`` or empty for none.

        Each time is a local time of day on a 24-hour clock, ``HH:MM`` (or ``HH:MM:SS``, or a
        ``datetime.time`` without a zone): the window is in each recipient's own time zone, so an
        offset (``"09:00+02:00"``) has no meaning and is refused, like anything else.

        :raises CampaignInputError: anything else, naming the value and what to write.
        """
        if value is None or value in ("", (), []):
            return None
        parts: Any = value.split("-") if isinstance(value, str) else value
        if not isinstance(parts, list | tuple) or len(parts) != 2:
            raise CampaignInputError(
                f"send_window={value!r}: pass the local opening and closing time, e.g. ('09:00', '20:00') "
                "or '09:00-20:00'."
            )
        start, end = (_time_of_day(part, value) for part in parts)
        if start >= end:
            raise CampaignInputError(
                f"send_window={value!r}: pass the local opening and closing time, e.g. ('09:00', '20:00'), "
                "the opening first (a window does not span midnight)."
            )
        return cls(start, end, fallback_zone)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def group_of(self, number: str) -> str:
        """The batching key of ``number``: its time zones (recipients sharing it share batches)."""
        return "|".join(self.zones(number))

    def zones(self, number: str) -> tuple[str, ...]:
        """The IANA zones ``number`` (E.164 digits) may be in: its own, else its country's."""
        # Numbers of one block of a thousand share an area and a type, hence their zones: a block
        # is looked up once (a lookup costs ~0.1 ms), and never less than libphonenumber's longest
        # prefix is kept, so the block cannot span two of its areas.
        return _zones_of_block(
            number[: max(len(number) - 3, _LONGEST_PREFIX)], len(number), self.fallback_zone
        )

    def opening(self, zones: tuple[str, ...], earliest: datetime) -> datetime:
        """
        The first moment from ``earliest`` on when the window is open in every zone of ``zones``.

        :raises OutsideWindowError: the window is never open in all of them at once.
        """
        candidates = [earliest]
        for name in zones:
            zone = ZoneInfo(name)
            first_day = earliest.astimezone(zone).date()
            for day in range(-1, _HORIZON_DAYS):
                opens = datetime.combine(first_day + timedelta(days=day), self.start, tzinfo=zone)
                if opens.astimezone(UTC) > earliest:
                    candidates.append(opens.astimezone(UTC))
        for moment in sorted(candidates):
            if all(self.is_open(moment, name) for name in zones):
                return moment
        named = ", ".join(zones[:6]) + (f" and {len(zones) - 6} more" if len(zones) > 6 else "")
        raise OutsideWindowError(
            f"send_window {self} is never open at the same time in all the "
            f"time zones a number may be in ({named}): widen the window."
        )

    def is_open(self, moment: datetime, zone: str) -> bool:
        """Whether the window is open at ``moment`` in ``zone``."""
        local = moment.astimezone(ZoneInfo(zone)).time()
        return self.start <= local < self.end

    def send_at(
        self, number: str, *, send_at: datetime | None, now: datetime, tz: Timezone | FixedTimezone
    ) -> str | None:
        """
        FullSMS's ``send_at`` for the batch holding ``number``, or ``None`` to send at once.

        :param send_at: the campaign's own delivery time, ``None`` for now.
        :param now: the current time (aware).
        :param tz: the account's timezone, in which FullSMS reads ``send_at``.
        """
        earliest = max(send_at, now) if send_at is not None else now
        zones = self.zones(number)
        moment = self.opening(zones, earliest)
        if moment == now:
            return None
        # The account's wall clock cannot name a time the clocks skip or pass twice: move on to
        # the first moment it can, still inside the window.
        while True:
            try:
                return format_send_at(moment, tz)
            except FullSmsConfigurationError:
                moment = self.opening(zones, moment + _DST_STEP)

    def send_at_now(
        self, number: str, send_at: str | None, tz: Timezone | FixedTimezone, *, now: datetime | None = None
    ) -> str | None:
        """
        :meth:`send_at` for a batch going out now.

        :param send_at: the campaign's FullSMS ``send_at`` (in ``tz``), ``None`` for now.
        :param now: the current time (aware); default: the clock.
        :raises OutsideWindowError: the window is never open in all of the number's zones at once.
        """
        campaign = datetime.strptime(send_at, SEND_AT_FORMAT).replace(tzinfo=tz) if send_at else None
        return self.send_at(number, send_at=campaign, now=now or datetime.now(UTC), tz=tz)

    def send_batch(
        self,
        batch: Batch,
        send_at: str | None,
        tz: Timezone | FixedTimezone,
        send: Callable[[str | None], SendResult],
        *,
        now: datetime | None = None,
    ) -> SendResult:
        """
        Send ``batch`` with its own ``send_at``, or report it outside the window without sending.

        A batch holds numbers of one set of zones (:meth:`group_of`), so one verdict holds for all
        of them. It is made as the batch goes out, like its ``send_at``.

        :param send_at: the campaign's FullSMS ``send_at`` (in ``tz``), ``None`` for now.
        :param send: sends the batch with the ``send_at`` it is given.
        :param now: the current time (aware); default: the clock.
        """
        from airflow_provider_fullsms.campaigns.answers import SendResult
        from airflow_provider_fullsms.campaigns.plan import mask_number

        try:
            batch_send_at = self.send_at_now(batch.numbers[0], send_at, tz, now=now)
        except OutsideWindowError:
            return SendResult.outside_window(batch, mask_number)
        return send(batch_send_at)


class OutsideWindowError(CampaignInputError):
    """The window is never open in all the time zones a number may be in at once."""


class OutsideWindowTally:
    """
    The recipients of a plan's batches that are never inside the window (a dry run reports them).

    :param watch: what else sees each batch (the plan's inspector).
    :param send_at: the campaign's FullSMS ``send_at`` (in ``tz``), ``None`` for now.
    """

    def __init__(
        self,
        window: SendWindow,
        watch: Callable[[Batch], None],
        send_at: str | None,
        tz: Timezone | FixedTimezone,
    ) -> None:
        self.window, self.watch, self.send_at, self.tz = window, watch, send_at, tz
        self.count = 0
        self.numbers: list[str] = []

    def __call__(self, batch: Batch) -> None:
        from airflow_provider_fullsms.campaigns.audience import MAX_LISTED_INVALID
        from airflow_provider_fullsms.campaigns.plan import mask_number

        self.watch(batch)
        try:
            self.window.send_at_now(batch.numbers[0], self.send_at, self.tz)
        except OutsideWindowError:
            self.count += batch.recipients
            room = MAX_LISTED_INVALID - len(self.numbers)
            self.numbers.extend(mask_number(number) for number in batch.numbers[: max(room, 0)])

    def summary(self) -> dict[str, Any]:
        """``{"count": …, "numbers": [masked, …]}``, as the send's summary has it."""
        return {"count": self.count, "numbers": list(self.numbers)}


def _time_of_day(part: object, value: object) -> time:
    """One end of a window: a local time of day (see :data:`_TIME_OF_DAY`)."""
    if isinstance(part, time) and part.tzinfo is None:
        return part
    match = _TIME_OF_DAY.fullmatch(part.strip()) if isinstance(part, str) else None
    if match is None:
        raise CampaignInputError(
            f"send_window={value!r}: {part!r} is not a local time of day. Write each end as HH:MM on a "
            "24-hour clock, e.g. ('09:00', '20:00'); without an offset or zone: the window is in each "
            "recipient's own time zone."
        )
    hours, minutes, seconds = match.groups()
    return time(int(hours), int(minutes), int(seconds or 0))


@functools.lru_cache(maxsize=65536)
def _zones_of_block(block: str, length: int, fallback_zone: str) -> tuple[str, ...]:
    """
    The zones of the numbers of ``length`` digits starting with ``block``.

    They are looked up for the block's first number, so they never depend on which number of the
    block the audience happens to list first.
    """
    import phonenumbers
    from phonenumbers import timezone

    number = block.ljust(length, "0")
    try:
        parsed = phonenumbers.parse(f"+{number}")
    except phonenumbers.NumberParseException:
        return (fallback_zone,)
    zones = timezone.time_zones_for_number(parsed)
    if zones == (timezone.UNKNOWN_TIMEZONE,):
        # A range libphonenumber does not place (e.g. reserved for fiction): its country's zones.
        country = phonenumbers.PhoneNumber(country_code=parsed.country_code, national_number=0)
        zones = timezone.time_zones_for_geographical_number(country)
    if zones == (timezone.UNKNOWN_TIMEZONE,):
        return (fallback_zone,)
    return tuple(sorted(zones))
