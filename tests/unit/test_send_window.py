"""``send_window``: each recipient texted only inside the window of their own local time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

import pendulum
import pytest

from airflow_provider_fullsms.campaigns import CampaignInputError
from airflow_provider_fullsms.campaigns.batching import Batch, Batcher, SendResult
from airflow_provider_fullsms.campaigns.texts import MessageSource
from airflow_provider_fullsms.campaigns.window import OutsideWindowError, SendWindow
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests.unit.test_operators import Api, api, context, no_sleep, send_op

__all__ = ["api", "no_sleep"]  # fixtures shared with test_operators

WINDOW = SendWindow.parse(("09:00", "20:00"))
UTC_ACCOUNT = pendulum.timezone("UTC")
GB_MOBILE = "447400123456"  # Europe/London (and the Crown Dependencies, same clock)
NEW_YORK = "12125550123"
ALASKA = "19075550123"  # America/Adak and America/Anchorage: the window must hold in both
AU_MOBILE = "61412345678"  # anywhere from Perth to Lord Howe Island
TOKYO = "81312345678"


def send_at(
    number: str, now: datetime, campaign_send_at: datetime | None = None, tz: str = "UTC"
) -> str | None:
    assert WINDOW is not None
    return WINDOW.send_at(number, send_at=campaign_send_at, now=now, tz=pendulum.timezone(tz))


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        # 2027-01-12 06:00 UTC: 06:00 in London, 01:00 in New York, 15:00 in Tokyo, 14:00-17:00 in Australia
        (GB_MOBILE, "2027-01-12 09:00:00"),
        (NEW_YORK, "2027-01-12 14:00:00"),
        (ALASKA, "2027-01-12 19:00:00"),  # 09:00 on Adak is 10:00 in Anchorage
        (TOKYO, None),  # inside the window: now
        (AU_MOBILE, None),
    ],
)
def test_each_recipient_gets_the_next_opening_of_their_own_window(number: str, expected: str | None) -> None:
    assert send_at(number, datetime(2027, 1, 12, 6, 0, tzinfo=UTC)) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        # 2027-01-12 12:00 UTC: 12:00 London and 07:00 New York; 21:00 Tokyo, 20:00-23:00 in Australia
        (GB_MOBILE, None),
        (NEW_YORK, "2027-01-12 14:00:00"),
        (TOKYO, "2027-01-13 00:00:00"),  # 09:00 the next morning in Tokyo
        (AU_MOBILE, "2027-01-13 02:30:00"),  # 09:00 on the Cocos Islands (UTC+6:30): its last zone to open
    ],
)
def test_the_other_side_of_the_window(number: str, expected: str | None) -> None:
    assert send_at(number, datetime(2027, 1, 12, 12, 0, tzinfo=UTC)) == expected


def test_an_explicit_send_at_inside_the_window_is_kept_and_outside_it_moves_to_the_opening() -> None:
    now = datetime(2027, 1, 12, 6, 0, tzinfo=UTC)
    campaign = datetime(2027, 1, 12, 15, 0, tzinfo=UTC)  # 15:00 London, 10:00 New York, 00:00 Tokyo
    assert send_at(GB_MOBILE, now, campaign) == "2027-01-12 15:00:00"
    assert send_at(NEW_YORK, now, campaign) == "2027-01-12 15:00:00"
    assert send_at(TOKYO, now, campaign) == "2027-01-13 00:00:00"


def test_the_opening_follows_daylight_saving_time() -> None:
    # The US moves its clocks forward on 2027-03-14, Europe on 2027-03-28.
    now = datetime(2027, 3, 14, 6, 0, tzinfo=UTC)
    assert send_at(NEW_YORK, now) == "2027-03-14 13:00:00"  # 09:00 EDT, no longer 14:00 UTC
    assert send_at(GB_MOBILE, now) == "2027-03-14 09:00:00"  # still GMT
    assert send_at(GB_MOBILE, datetime(2027, 3, 28, 6, 0, tzinfo=UTC)) == "2027-03-28 08:00:00"  # BST


def test_send_at_is_written_in_the_account_timezone() -> None:
    now = datetime(2027, 1, 12, 6, 0, tzinfo=UTC)
    assert send_at(NEW_YORK, now, tz="Europe/Berlin") == "2027-01-12 15:00:00"


def test_an_opening_the_account_clock_cannot_name_moves_past_the_change() -> None:
    # 09:00 in Tokyo on 2027-10-31 is 01:00 in London, the hour the clocks pass twice there:
    # FullSMS could read it as either, so the text goes at 02:00 GMT (11:00 in Tokyo).
    now = datetime(2027, 10, 30, 15, 0, tzinfo=UTC)
    assert send_at(TOKYO, now, tz="Europe/London") == "2027-10-31 02:00:00"


def test_same_zones_same_group_so_the_same_audience_makes_the_same_batches() -> None:
    assert WINDOW is not None
    assert WINDOW.group_of("12125550123") == WINDOW.group_of("12125550999") == "America/New_York"
    assert WINDOW.group_of(ALASKA) == "America/Adak|America/Anchorage"
    assert WINDOW.group_of(GB_MOBILE) != WINDOW.group_of(NEW_YORK)


def test_a_number_libphonenumber_places_nowhere_takes_its_country_zones() -> None:
    assert WINDOW is not None
    assert "Europe/London" in WINDOW.zones("447700900123")  # a range reserved for fiction


def test_a_window_never_open_in_all_zones_of_a_number_has_no_send_at() -> None:
    one_hour = SendWindow.parse(("09:00", "10:00"))
    assert one_hour is not None
    with pytest.raises(OutsideWindowError, match="never open at the same time"):  # Adak is an hour behind
        one_hour.send_at(ALASKA, send_at=None, now=datetime(2027, 1, 12, 6, 0, tzinfo=UTC), tz=UTC_ACCOUNT)


def test_such_a_batch_is_reported_outside_the_window_masked_and_not_sent() -> None:
    one_hour = SendWindow.parse(("09:00", "10:00"))
    assert one_hour is not None
    batch = Batch(0, (ALASKA, "19075550124"), "Hi", "fp", 2)

    def never(send_at: str | None) -> SendResult:
        raise AssertionError(f"sent with send_at {send_at}")

    result = one_hour.send_batch(batch, None, UTC_ACCOUNT, never)
    assert (result.total_sent, result.invalid_count, result.reasons) == (0, 2, {"outside_window": 2})
    assert result.invalid == ("190••••••23", "190••••••24")


@pytest.mark.parametrize(
    "value",
    [
        ("20:00", "09:00"),
        ("9", "x"),
        ("09:00",),
        "nine to five",
        9,
        # time.fromisoformat takes these; a window does not: an offset, a zone, a basic or a
        # fractional form, a date-time marker. The window is in each recipient's own zone.
        ("09:00+02:00", "20:00"),
        ("09:00+02:00", "20:00+02:00"),
        "09:00+02:00-20:00",
        ("09:00Z", "20:00Z"),
        ("0900", "2000"),
        ("T09:00", "20:00"),
        ("09:00:00.5", "20:00"),
        ("24:00", "25:00"),
        (time(9, tzinfo=UTC), time(20, tzinfo=UTC)),
        ("09:00", "12:00", "20:00"),
    ],
)
def test_a_bad_window_is_refused_naming_it(value: object) -> None:
    with pytest.raises(CampaignInputError, match="send_window="):
        SendWindow.parse(value)


def test_a_time_with_an_offset_is_named_with_what_to_write() -> None:
    with pytest.raises(CampaignInputError) as caught:
        SendWindow.parse(("09:00+02:00", "20:00"))
    assert "'09:00+02:00' is not a local time of day" in str(caught.value)
    assert "HH:MM on a 24-hour clock" in str(caught.value)


@pytest.mark.parametrize(
    "value", ["09:00-20:00", ("9:00", "20:00"), ("09:00:00", "20:00:00"), (time(9), time(20))]
)
def test_no_window_and_the_ways_to_write_one(value: object) -> None:
    assert SendWindow.parse(None) is None
    assert SendWindow.parse(value) == WINDOW


def test_batches_hold_one_text_and_one_group_the_same_each_time() -> None:
    assert WINDOW is not None
    source = MessageSource.from_params(message="Hi", template_id=None)
    audience = [GB_MOBILE, NEW_YORK, "447400123457", "12125550124", TOKYO, "447400123458"]

    def batches() -> list[Batch]:
        batcher = Batcher(source, campaign_key="k", batch_size=2, group_of=WINDOW.group_of)
        return list(batcher.batches((number, None) for number in audience))

    first = batches()
    assert [batch.numbers for batch in first] == [
        (GB_MOBILE, "447400123457"),
        (NEW_YORK, "12125550124"),
        (TOKYO,),
        ("447400123458",),
    ]
    assert {batch.text for batch in first} == {"Hi"}
    assert [batch.fingerprint for batch in batches()] == [batch.fingerprint for batch in first]


# -- through the send operator: one number never stops the campaign --------------------------------

RU_MOBILE = "79123456789"  # 16 zones, from Kaliningrad (UTC+2) to Kamchatka (UTC+12)


def test_a_number_whose_zones_never_share_the_window_is_reported_and_the_rest_are_sent(api: Api) -> None:
    store = MemoryStateStore()
    op = send_op(numbers=[f"+{GB_MOBILE}", f"+{RU_MOBILE}", f"+{NEW_YORK}"], send_window=("09:00", "18:00"))
    summary = op.execute(context(store))
    assert sorted(n for p in api.payloads for n in p["to_numbers"]) == sorted([GB_MOBILE, NEW_YORK])
    assert summary["outside_window"] == {"count": 1, "numbers": ["791••••••89"]}
    assert summary["sent"] == 2
    assert summary["batches"]["outside_window"] == 1
    assert RU_MOBILE not in json.dumps(summary)
    # A retry sends nothing again and still accounts for everyone.
    again = op.execute(context(store))
    assert api.sends == 2
    assert again["outside_window"]["count"] == 1
    assert again["sent"] + again["outside_window"]["count"] == again["recipients"] == 3


def test_the_plan_names_who_is_never_inside_the_window(api: Api) -> None:
    plan = send_op(
        numbers=[f"+{GB_MOBILE}", f"+{RU_MOBILE}"], send_window="09:00-18:00", dry_run=True
    ).execute(context())
    assert plan["outside_window"] == {"count": 1, "numbers": ["791••••••89"]}
    assert api.sends == 0
