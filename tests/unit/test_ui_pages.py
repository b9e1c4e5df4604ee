"""What the FullSMS page shows a person: words for states, one time format, every value escaped."""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from airflow_provider_fullsms.plugins.ledger_view import campaign_view
from airflow_provider_fullsms.plugins.pages import Listing, campaign_page, list_page
from airflow_provider_fullsms.settlement import TaskAddress
from tests.versions import needs_airflow_3

# The page is a FastAPI app in Airflow 3's api-server; its campaigns are read from the ledger.
pytestmark = needs_airflow_3("api-server to host the FullSMS page (there: the fullsms-batches CLI)")

TASK = TaskAddress("crm", "run_1", "send", -1)
PLAN = {"fullsms.plan": {"v": 1, "fp": "f", "batches": 5, "recipients": 50}}


def view(task: TaskAddress = TASK, **batches: dict[str, Any]) -> Any:
    entries = {**PLAN, **{f"fullsms.batch.{index[1:]}": record for index, record in batches.items()}}
    return campaign_view(task, entries, started_at="2025-01-01 09:30:00 UTC", task_state="failed")


def listing(campaigns: list[Any], dag_ids: list[str], *, attention: bool = False, **filters: Any) -> Listing:
    from airflow_provider_fullsms.plugins.store import CampaignFilter

    return Listing(campaigns, dag_ids, CampaignFilter(**filters), attention, len(campaigns), 1, 1)


def text(html: str) -> str:
    """What a person reads: the markup without its tags, spaces collapsed."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def cells(html: str) -> list[str]:
    return [text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


def test_batch_states_read_as_words_and_accepted_is_never_called_delivered() -> None:
    campaign = view(
        b0={"s": "accepted", "n": 10, "t": 10, "c": "c-1", "at": "2025-01-01T09:30:05+00:00"},
        b1={"s": "assumed_sent", "n": 10},
        b2={"s": "unknown", "n": 10, "at": "2025-01-01T09:31:00+00:00"},
        b3={"s": "not_sent", "n": 10, "why": "HTTP 422"},
    )

    page = campaign_page(campaign, may_edit=False, csrf="c")

    shown = cells(page)
    for label in ("accepted by FullSMS", "assumed sent", "unknown — check in FullSMS", "not sent"):
        assert label in shown
    assert "assumed_sent" not in shown
    assert "not_sent" not in shown
    assert "delivered" not in page


def test_every_time_is_written_one_way() -> None:
    campaign = view(b0={"s": "accepted", "n": 1, "t": 1, "c": "c", "at": "2025-01-01T11:30:05+02:00"})

    page = campaign_page(campaign, may_edit=False, csrf="c")

    assert re.findall(r"<time>(.*?)</time>", page) == ["2025-01-01 09:30:00 UTC", "2025-01-01 09:30:05 UTC"]


def test_what_a_campaign_holds_is_escaped() -> None:
    task = TaskAddress("<script>alert(1)</script>", "run'\"<b>", "send", 3)
    campaign = view(task, b0={"s": "not_sent", "n": 1, "why": "<img src=x onerror=alert(1)>"})

    pages = [
        campaign_page(campaign, may_edit=True, csrf="c"),
        list_page(listing([campaign], [task.dag_id], dag_id=task.dag_id), csrf="c"),
    ]

    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "<b>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_filter_that_matches_nothing_says_so() -> None:
    filtered = list_page(listing([], ["crm"], dag_id="crm", search="Sale", attention=True), csrf="c")
    nothing_yet = list_page(listing([], []), csrf="c")

    assert 'No campaign matches DAG crm and "Sale" and needs attention.' in text(filtered)
    assert "No campaign yet" not in filtered
    assert "No campaign yet: the send operators record one when they run." in nothing_yet


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_the_stylesheet_scripts_and_icons_need_no_login() -> None:
    from airflow_provider_fullsms.plugins.app import create_app

    client = TestClient(create_app())

    answers = {
        name: client.get(f"/static/{name}")
        for name in ("fullsms.css", "fullsms.js", "theme.js", "fullsms.svg", "fullsms-dark.svg")
    }

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(answers, 200)
    assert answers["fullsms.svg"].headers["content-type"].startswith("image/svg+xml")


SUMMARY = {
    "message": {
        "text": "Hi {first_name}, your table is booked.",
        "template_id": None,
        "message_column": None,
        "personalised": True,
        "sender": "COPERATO",
    },
    "send_at_utc": "2025-01-02T08:00:00+00:00",
    "send_window": "09:00-20:00 recipient's local time",
    "segments": 100,
    "price_per_segment": 0.05,
    "estimated_cost": 5.0,
}


def test_a_campaign_shows_its_text_sender_schedule_window_and_cost_at_the_plans_price() -> None:
    campaign = campaign_view(
        TASK, PLAN, started_at="2025-01-01 09:30:00 UTC", task_state="success", summary=SUMMARY
    )

    page = text(campaign_page(campaign, may_edit=False, csrf="c"))

    assert "text (personalised for each recipient) Hi {first_name}, your table is booked." in page
    assert "sender COPERATO" in page
    assert "schedule scheduled for 2025-01-02 08:00:00 UTC" in page
    assert "send window 09:00-20:00 recipient's local time" in page
    assert "cost at the plan's price 5.0 (100 segments x 0.05; an estimate: FullSMS bills)" in page
    # The JSON says the same.
    shown = campaign.to_json()
    assert (shown["message"]["text"], shown["send_at"], shown["segments"], shown["cost"]) == (
        "Hi {first_name}, your table is booked.",
        "2025-01-02 08:00:00 UTC",
        100,
        5.0,
    )


def test_a_campaign_links_to_its_dag_run_task_instance_and_log_in_airflow() -> None:
    mapped = TaskAddress("crm", "manual__2025-01-01T09:30:00+00:00", "send", 2)
    campaign = campaign_view(mapped, PLAN, started_at="2025-01-01 09:30:00 UTC", task_state="failed")

    page = campaign_page(campaign, may_edit=False, csrf="c")

    links = dict(re.findall(r'<a href="([^"]+)" data-airflow>([^<]+)</a>', page))
    run = "../dags/crm/runs/manual__2025-01-01T09%3A30%3A00%2B00%3A00"
    assert links == {
        run: "DAG run",
        f"{run}/tasks/send/mapped/2/details": "task instance",
        f"{run}/tasks/send/mapped/2": "log",
        f"{run}/tasks/send/mapped/2/task-state-store": "ledger (task state store)",
    }


def test_an_unknown_batch_shows_when_it_went_out_its_text_hash_recipients_and_masked_first_and_last() -> None:
    campaign = view(
        b0={
            "s": "unknown",
            "n": 500,
            "h": "3f2a9c",
            "at": "2025-01-01T09:31:00+00:00",
            "f": "447•••••••01",
            "l": "447•••••••99",
            "why": "timeout",
        },
    )

    [row] = [
        cells(row)
        for row in re.findall(
            r'<tr data-batch="0">(.*?)</tr>', campaign_page(campaign, may_edit=False, csrf="c"), re.S
        )
    ]

    assert row[:7] == [
        "0",
        "unknown — check in FullSMS",
        "500",
        "0",
        "-",
        "2025-01-01 09:31:00 UTC",
        "3f2a9c",
    ]
    assert row[7] == "447•••••••01 to 447•••••••99"


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_the_filter_form_left_empty_lists_everything_and_a_bad_date_is_named() -> None:
    from airflow_provider_fullsms.plugins.app import _filters
    from airflow_provider_fullsms.plugins.store import CampaignFilter

    assert _filters(dag_id="", q=" ", since="", until="") == CampaignFilter()
    assert _filters(since="2025-01-02").since == date(2025, 1, 2)
    with pytest.raises(HTTPException, match="since='2025-13-01': use YYYY-MM-DD"):
        _filters(since="2025-13-01")
