"""``send_window`` against the sandbox: each phone's ``send_at`` inside its own local window."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient

SEND = "/messages/send/to_numbers"
WINDOW = ("09:00", "20:00")
# Each phone and the zones it may be in: in January the window opens at the UTC time in
# OPENS_UTC (none: 06:00 UTC is inside it).
ZONES = {
    "447400123456": ("Europe/London",),
    "447400123457": ("Europe/London",),
    "12125550123": ("America/New_York",),
    "12125550124": ("America/New_York",),
    "81312345678": ("Asia/Tokyo",),
    "13105550123": ("America/Los_Angeles",),
    "19075550123": ("America/Adak", "America/Anchorage"),  # 09:00 on Adak is 10:00 in Anchorage
    "61412345678": ("Australia/Perth", "Australia/Sydney"),  # an Australian mobile: anywhere in it
}
OPENS_UTC = {
    "447400123456": "09:00:00",
    "447400123457": "09:00:00",
    "12125550123": "14:00:00",
    "12125550124": "14:00:00",
    "81312345678": None,
    "13105550123": "17:00:00",
    "19075550123": "19:00:00",
    "61412345678": None,
}
#: 06:00 UTC on 15 January next year: 06:00 in London, 01:00 in New York, 15:00 in Tokyo.
SEND_AT_DAY = f"{datetime.now(UTC).year + 1}-01-15"
#: What each phone's send_at is with send_at at 06:00 UTC that day (UTC, the account's timezone).
EXPECTED_SEND_AT = {number: f"{SEND_AT_DAY} {opens or '06:00:00'}" for number, opens in OPENS_UTC.items()}


@pytest.fixture
def sbx(sandbox_conn: SandboxClient) -> SandboxClient:
    sandbox_conn.set_balance(1000)
    return sandbox_conn


def send_op(**kwargs: Any) -> FullSmsSendToNumbersOperator:
    kwargs.setdefault("numbers", list(ZONES))
    kwargs.setdefault("message", "Spring sale: 30% off this week")
    kwargs.setdefault("send_window", WINDOW)
    return FullSmsSendToNumbersOperator(task_id="send", **kwargs)


def ctx(store: MemoryStateStore | None = None) -> Any:
    return cast("Any", {"task_state_store": store or MemoryStateStore()})


def send_at_of(sbx: SandboxClient) -> dict[str, str]:
    messages = sbx.messages()
    assert Counter(m["to"] for m in messages) == dict.fromkeys(ZONES, 1)
    return {m["to"]: m["send_at"] for m in messages}


def local(send_at: str, zone: str) -> datetime:
    return datetime.fromisoformat(send_at).replace(tzinfo=UTC).astimezone(ZoneInfo(zone))


def test_with_send_at_each_phone_gets_it_then_or_when_its_own_window_opens(sbx: SandboxClient) -> None:
    summary = send_op(send_at=f"{SEND_AT_DAY}T06:00:00+00:00").execute(ctx())
    received = send_at_of(sbx)
    assert received == EXPECTED_SEND_AT
    for number, zones in ZONES.items():
        assert all("09:00" <= f"{local(received[number], zone):%H:%M}" < "20:00" for zone in zones)
    assert {m["status"] for m in sbx.messages()} == {"scheduled"}
    # One batch per zone set, each one request: London, New York, Tokyo, LA, Alaska, Australia.
    assert sbx.requests_count(SEND) == 6
    assert summary["sent"] == 8
    assert summary["send_window"] == "09:00-20:00"


def test_without_send_at_phones_inside_their_window_get_it_now_the_others_at_its_opening(
    sbx: SandboxClient,
) -> None:
    send_op(numbers=[n for n, zones in ZONES.items() if len(zones) == 1]).execute(ctx())
    delivered: defaultdict[str, list[datetime]] = defaultdict(list)
    scheduled: defaultdict[str, list[datetime]] = defaultdict(list)
    for message in sbx.messages():
        (zone,) = ZONES[message["to"]]
        when = local(message["send_at"] or message["delivered_at"], zone)  # no send_at: at once
        assert "09:00" <= f"{when:%H:%M}" < "20:00", message
        (scheduled if message["status"] == "scheduled" else delivered)[zone].append(when)
    # Tokyo, London, New York and Los Angeles are never all open, nor all closed, at once.
    assert delivered
    assert scheduled
    assert all(f"{when:%H:%M:%S}" == "09:00:00" for whens in scheduled.values() for when in whens)


def test_the_same_audience_makes_the_same_batches_so_a_retry_resumes(sbx: SandboxClient) -> None:
    store = MemoryStateStore()
    send_at = f"{SEND_AT_DAY}T06:00:00+00:00"
    plan = send_op(send_at=send_at, dry_run=True).execute(ctx())
    # Credit for the first two batches (London and New York, two phones each) only: FullSMS
    # keeps 1.00 back.
    sbx.set_balance(1 + 3 * 0.05)
    with pytest.raises(AirflowFailException, match="Balance must be over"):
        send_op(send_at=send_at, max_concurrency=1, expected_fingerprint=plan["fingerprint"]).execute(
            ctx(store)
        )
    assert {m["to"] for m in sbx.messages()} == set(list(ZONES)[:4])

    sbx.set_balance(1000)
    summary = send_op(send_at=send_at, max_concurrency=1, expected_fingerprint=plan["fingerprint"]).execute(
        ctx(store)
    )
    assert summary["batches"]["skipped_already_accepted"] == 2
    assert summary["batches"]["accepted"] == 4
    assert summary["fingerprint"] == plan["fingerprint"]
    assert send_at_of(sbx) == EXPECTED_SEND_AT


def test_a_changed_window_is_another_campaign(sbx: SandboxClient) -> None:
    plan = send_op(dry_run=True).execute(ctx())
    with pytest.raises(AirflowFailException, match="its window changed since the plan"):
        send_op(send_window=("08:00", "20:00"), expected_fingerprint=plan["fingerprint"]).execute(ctx())
    assert sbx.requests_count(SEND) == 0


def test_a_phone_whose_zones_never_share_the_window_is_reported_and_the_others_get_it(
    sbx: SandboxClient,
) -> None:
    # One hour: Adak is an hour behind Anchorage, and an Australian mobile may be anywhere from
    # Perth to Sydney, so neither phone's zones ever share it; the other six get the text.
    outside = {"19075550123": "190••••••23", "61412345678": "614••••••78"}
    send_at = f"{SEND_AT_DAY}T06:00:00+00:00"
    plan = send_op(send_window=("09:00", "10:00"), send_at=send_at, dry_run=True).execute(ctx())
    assert plan["outside_window"] == {"count": 2, "numbers": list(outside.values())}
    summary = send_op(send_window=("09:00", "10:00"), send_at=send_at).execute(ctx())
    received = {m["to"]: m["send_at"] for m in sbx.messages()}
    assert set(received) == set(ZONES) - set(outside)
    for number, when in received.items():
        assert all("09:00" <= f"{local(when, zone):%H:%M}" < "10:00" for zone in ZONES[number])
    assert summary["outside_window"] == {"count": 2, "numbers": list(outside.values())}
    assert summary["sent"] == len(ZONES) - 2
    assert not any(number in json.dumps(summary) for number in outside)


def test_a_window_that_is_not_one_fails_as_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match=r"send_window=\('20:00', '09:00'\)"):
        send_op(send_window=("20:00", "09:00"))


def test_a_window_with_an_offset_fails_as_the_dag_is_parsed_naming_it(sbx: SandboxClient) -> None:
    named = r"'09:00\+02:00' is not a local time of day\. Write each end as HH:MM"
    with pytest.raises(ValueError, match=named):
        send_op(send_window="09:00+02:00-20:00")
    assert sbx.requests_count() == 0


def test_a_templated_window_with_an_offset_fails_before_any_send(sbx: SandboxClient) -> None:
    op = send_op(send_window="{{ params.window }}")
    op.send_window = ("09:00+02:00", "20:00+02:00")  # what the template rendered
    with pytest.raises(AirflowFailException, match="is not a local time of day"):
        op.execute(ctx())
    assert sbx.requests_count(SEND) == 0
