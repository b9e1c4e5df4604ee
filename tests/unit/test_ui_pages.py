"""What the FullSMS page shows a person: words for states, one time format, every value escaped."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from airflow_provider_fullsms.plugins.app import create_app
from airflow_provider_fullsms.plugins.ledger_view import campaign_view
from airflow_provider_fullsms.plugins.pages import campaign_page, list_page
from airflow_provider_fullsms.settlement import TaskAddress

TASK = TaskAddress("crm", "run_1", "send", -1)
PLAN = {"fullsms.plan": {"v": 1, "fp": "f", "batches": 5, "recipients": 50}}


def view(task: TaskAddress = TASK, **batches: dict[str, Any]) -> Any:
    entries = {**PLAN, **{f"fullsms.batch.{index[1:]}": record for index, record in batches.items()}}
    return campaign_view(task, entries, started_at="2025-01-01 09:30:00 UTC", task_state="failed")


def text(html: str) -> str:
    """What a person reads: the markup without its tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


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
        list_page([campaign], [task.dag_id], dag_id=task.dag_id, attention=False, csrf="c"),
    ]

    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "<b>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_filter_that_matches_nothing_says_so() -> None:
    filtered = list_page([], ["crm"], dag_id="crm", attention=True, csrf="c")
    nothing_yet = list_page([], [], dag_id=None, attention=False, csrf="c")

    assert "No campaign matches DAG crm and needs attention." in text(filtered)
    assert "No campaign yet" not in filtered
    assert "No campaign yet: the send operators record one when they run." in nothing_yet


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_the_stylesheet_scripts_and_icons_need_no_login() -> None:
    client = TestClient(create_app())

    answers = {
        name: client.get(f"/static/{name}")
        for name in ("fullsms.css", "fullsms.js", "theme.js", "fullsms.svg", "fullsms-dark.svg")
    }

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(answers, 200)
    assert answers["fullsms.svg"].headers["content-type"].startswith("image/svg+xml")
