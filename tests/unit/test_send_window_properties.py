"""
``send_window`` as a property: for any window, any number of any region and any moment, the number
is either sent with a ``send_at`` inside the window in every zone it may be in, or reported
``outside_window`` because no moment is; and a campaign never fails because of one number.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from airflow_provider_fullsms.campaigns import Ledger, run_batches
from airflow_provider_fullsms.campaigns.batching import Batch, Batcher, SendResult
from airflow_provider_fullsms.campaigns.plan import mask_number
from airflow_provider_fullsms.campaigns.texts import MessageSource
from airflow_provider_fullsms.campaigns.window import OutsideWindowError, SendWindow
from airflow_provider_fullsms.connection import SEND_AT_FORMAT
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore

pytestmark = pytest.mark.property

#: Accounts' timezones, in which FullSMS reads ``send_at`` (two with daylight-saving time).
ACCOUNT_ZONES = ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"]
QUARTER = timedelta(minutes=15)


@functools.cache
def example_numbers() -> list[str]:
    """libphonenumber's example number of every region and kind, and of every non-geographic code."""
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    kinds = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE)
    found = [
        phonenumbers.example_number_for_type(region, kind)
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
        for kind in kinds
    ]
    found += [
        phonenumbers.example_number_for_non_geo_entity(code)
        for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
    ]
    return sorted({phonenumbers.format_number(n, PhoneNumberFormat.E164)[1:] for n in found if n is not None})


@functools.cache
def spread_numbers() -> list[str]:
    """The example numbers that may be in several zones (a country's, an area code across two)."""
    window = SendWindow(time(0), time(23, 59))
    return [number for number in example_numbers() if len(window.zones(number)) > 1]


#: A number of any region and kind: an example number with its last three digits drawn; half of
#: them numbers that may be in several zones, the ones a window can miss.
numbers = st.builds(
    lambda number, tail: number[:-3] + tail,
    st.one_of(
        st.deferred(lambda: st.sampled_from(example_numbers())),
        st.deferred(lambda: st.sampled_from(spread_numbers())),
    ),
    st.from_regex(r"[0-9]{3}", fullmatch=True),
)


@st.composite
def windows(draw: st.DrawFn) -> SendWindow:
    """A window opening and closing on a quarter hour (as every UTC offset in use is whole quarters)."""
    start = draw(st.integers(0, 94))
    end = draw(st.integers(start + 1, 95))
    return SendWindow(time(*divmod(start * 15, 60)), time(*divmod(end * 15, 60)))


nows = st.datetimes(datetime(2026, 1, 1), datetime(2031, 1, 1)).map(
    lambda moment: moment.replace(microsecond=0, tzinfo=UTC)
)


def inside(window: SendWindow, moment: datetime, zones: tuple[str, ...]) -> bool:
    """Whether ``moment`` is inside the window in every zone of ``zones`` (checked afresh)."""
    return all(window.start <= moment.astimezone(ZoneInfo(zone)).time() < window.end for zone in zones)


def quarters(earliest: datetime, until: datetime) -> list[datetime]:
    """``earliest`` and every quarter hour after it, before ``until``."""
    first = earliest.replace(minute=earliest.minute // 15 * 15, second=0) + QUARTER
    return [earliest, *(first + QUARTER * step for step in range(int((until - first) / QUARTER) + 1))]


def ever_inside(window: SendWindow, zones: tuple[str, ...], earliest: datetime) -> bool:
    """Whether any moment of the two days from ``earliest`` is inside the window in every zone."""
    return any(inside(window, moment, zones) for moment in quarters(earliest, earliest + timedelta(days=2)))


def moment_of(send_at: str | None, now: datetime, account: str) -> datetime:
    """When FullSMS sends: ``send_at`` read in the account's timezone, or now."""
    if send_at is None:
        return now
    return datetime.strptime(send_at, SEND_AT_FORMAT).replace(tzinfo=ZoneInfo(account))


RU_MOBILE = "79123456789"  # 16 zones, from Kaliningrad (UTC+2) to Kamchatka (UTC+12)


@given(
    window=windows(),
    number=numbers,
    now=nows,
    account=st.sampled_from(ACCOUNT_ZONES),
    later=st.one_of(st.none(), st.integers(0, 5 * 24 * 60)),
)
@example(
    window=SendWindow(time(9), time(18)),
    number=RU_MOBILE,
    now=datetime(2027, 1, 12, 6, tzinfo=UTC),
    account="UTC",
    later=None,
)
@example(  # found by the property: the zones only share the window once Australia's DST ends, 2 days on
    window=SendWindow(time(0, 30), time(4, 45)),
    number="611800123000",
    now=datetime(2026, 4, 2, 18, tzinfo=UTC),
    account="UTC",
    later=None,
)
@example(  # the first of Adak's and Anchorage's two zones to close is Anchorage's
    window=SendWindow(time(9), time(10, 15)),
    number="19075550123",
    now=datetime(2027, 1, 12, 6, tzinfo=UTC),
    account="UTC",
    later=None,
)
def test_a_number_is_sent_inside_its_window_in_every_zone_or_reported_outside_it(
    window: SendWindow, number: str, now: datetime, account: str, later: int | None
) -> None:
    zones = window.zones(number)
    campaign = now + timedelta(minutes=later) if later is not None else None
    earliest = max(campaign, now) if campaign is not None else now
    try:
        send_at = window.send_at(number, send_at=campaign, now=now, tz=pendulum.timezone(account))
    except OutsideWindowError:
        # Reported only when truly never inside it: no moment of the next two days is.
        assert not ever_inside(window, zones, earliest)
        return
    moment = moment_of(send_at, now, account)
    assert moment >= earliest
    assert inside(window, moment, zones)
    # The next opening, not some later one (a quarter hour later at most: the account's clock
    # cannot name every moment around its own daylight-saving change).
    earlier = [m for m in quarters(earliest, moment - QUARTER) if m < moment - QUARTER]
    assert not any(inside(window, m, zones) for m in earlier)


@given(window=windows(), audience=st.lists(numbers, min_size=1, max_size=25, unique=True), now=nows)
@example(
    window=SendWindow(time(9), time(18)),
    audience=["447400123456", RU_MOBILE, "12125550123"],
    now=datetime(2027, 1, 12, 6, tzinfo=UTC),
)
def test_a_campaign_never_fails_because_of_one_number(
    window: SendWindow, audience: list[str], now: datetime
) -> None:
    batcher = Batcher(MessageSource(message="Hi"), campaign_key="k", batch_size=5, group_of=window.group_of)
    batches = list(batcher.batches((f"+{number}", None) for number in audience))
    sent: dict[str, str | None] = {}

    def send(batch: Batch) -> SendResult:
        def request(send_at: str | None) -> SendResult:
            sent.update(dict.fromkeys(batch.numbers, send_at))
            return SendResult("camp", batch.recipients)

        return window.send_batch(batch, None, pendulum.timezone("UTC"), request, now=now)

    report = run_batches(
        batches,
        send,
        Ledger(MemoryStateStore()),
        max_concurrency=1,
        total_batches=len(batches),
        total_recipients=batcher.stats.unique,
    )
    summary: dict[str, Any] = report.summary(batcher.stats)
    assert report.stopped_by is None
    assert summary["sent"] + summary["outside_window"]["count"] == summary["recipients"]
    assert summary["unknown_recipients"] == summary["not_sent_recipients"] == 0
    for number, send_at in sent.items():
        assert inside(window, moment_of(send_at, now, "UTC"), window.zones(number))
    reported = {batch.index for batch in batches} - {b.index for b in batches if b.numbers[0] in sent}
    masked = sorted(mask_number(n) for b in batches if b.index in reported for n in b.numbers)
    assert sorted(summary["outside_window"]["numbers"]) == masked
    for number in {n for b in batches if b.index in reported for n in b.numbers}:
        assert not ever_inside(window, window.zones(number), now)
