"""
The FullSMS page in the Airflow UI, on a real Airflow stack, in a real browser.

A campaign of four people (four personalised texts, four batches) runs against the sandbox: the
second request is dropped after FullSMS handled it (so those people *were* texted) and the third
gets a 500 (not texted). Both batches are unknown and the task fails. A person then settles them
entirely from the browser — "It was sent" and "Send it again" — and clears the task with the page's
button. The retry finishes the campaign, and every phone has exactly one text.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

import pytest
import requests
from fastapi.routing import APIRoute
from playwright.sync_api import expect

from airflow_provider_fullsms.campaigns.plan import mask_number
from airflow_provider_fullsms.plugins.app import create_app
from tests.browser.dags.fullsms_ui_campaign import PEOPLE

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from airflow_provider_fullsms.sandbox.testing import SandboxProcess
    from tests.browser.conftest import LoginStack, Screenshot

pytestmark = pytest.mark.slow

DAG_ID, TASK_ID = "fullsms_ui_campaign", "send_campaign"
SEND = "/messages/send/to_numbers"
#: Every route the plugin's app serves, read from the app itself so a new one cannot be missed.
ROUTES = sorted(
    (method, route.path)
    for route in create_app().routes
    if isinstance(route, APIRoute)
    for method in route.methods
)


def call(stack: LoginStack, method: str, path: str, **kwargs: object) -> requests.Response:
    params = {"dag_id": DAG_ID, "run_id": "none", "task_id": TASK_ID}
    body = {**params, "batch": 0, "decision": "sent"}
    return requests.request(
        method, f"{stack.url}/fullsms{path}", params=params, json=body, timeout=60, **kwargs
    )


def test_every_fullsms_endpoint_refuses_a_request_without_a_valid_session(stack: LoginStack) -> None:
    viewer = stack.token("viewer")
    writes = [(method, path) for method, path in ROUTES if method == "POST"]
    assert {path for _, path in ROUTES} >= {"/", "/campaign", "/api/campaigns", "/api/decision", "/api/clear"}

    anonymous = {(m, p): call(stack, m, p).status_code for m, p in ROUTES}
    forged = {
        (m, p): call(stack, m, p, headers={"Authorization": "Bearer forged"}).status_code for m, p in ROUTES
    }
    # The session cookie alone does not make a change: the page's CSRF header must come with it.
    cookie_only = {
        (m, p): call(stack, m, p, cookies={"_token": stack.token()}).status_code for m, p in writes
    }
    read_only = {(m, p): call(stack, m, p, headers={"Authorization": f"Bearer {viewer}"}) for m, p in writes}

    assert anonymous == dict.fromkeys(ROUTES, 401)
    assert forged == dict.fromkeys(ROUTES, 403)
    assert cookie_only == dict.fromkeys(writes, 403)
    assert {key: response.status_code for key, response in read_only.items()} == dict.fromkeys(writes, 403)
    assert all("may not change the task instances" in r.text for r in read_only.values())
    viewer_list = requests.get(
        f"{stack.url}/fullsms/api/campaigns", headers={"Authorization": f"Bearer {viewer}"}, timeout=60
    )
    assert viewer_list.status_code == 200


def test_a_person_settles_two_unknown_batches_from_the_browser_and_everyone_is_texted_once(
    stack: LoginStack, sandbox: SandboxProcess, page: Page, screenshot: Screenshot
) -> None:
    client = sandbox.client
    client.reset()
    client.inject_fault("drop", path=SEND, after=1, count=1)  # handled, then the connection drops
    client.inject_fault("error", path=SEND, after=2, count=1, status=500)  # refused with a 500
    stack.wait_for_dag(DAG_ID)
    run_id = "settle_in_browser"
    stack.trigger(DAG_ID, run_id)
    stack.wait_until(
        "the campaign to fail on its unknown batches",
        lambda: stack.run_state(DAG_ID, run_id) in {"success", "failed"},
        timeout=180,
    )
    assert stack.task_states(DAG_ID, run_id) == {TASK_ID: "failed"}
    assert len(client.messages()) == 3  # batch 2 got the 500

    page.context.add_cookies([{"name": "_token", "value": stack.token(), "url": stack.url}])
    page.goto(f"{stack.url}/fullsms/?attention=1")
    row = page.locator("#campaigns tr", has_text=run_id)
    expect(row).to_contain_text("needs attention")
    cells = row.locator("td")
    # recipients, sent, invalid / excluded, unknown batches, batches not started
    expect(cells.nth(4)).to_have_text("4")
    expect(cells.nth(5)).to_have_text("2")
    expect(cells.nth(7)).to_have_text("2")
    expect(cells.nth(8)).to_have_text("0")
    screenshot(page, "airflow-fullsms-campaigns.png")

    row.get_by_role("link", name=TASK_ID).click()
    expect(page.locator(".note")).to_contain_text("Clearing the task applies your decisions")
    # What was sent, from whom, when and at what price; never a whole number.
    expect(page.locator("#text")).to_have_text("Hi {name}, your table for two is booked for Friday.")
    expect(page.locator("#facts")).to_contain_text("personalised for each recipient")
    expect(page.locator("#sender")).to_have_text("COPERATO")
    expect(page.locator("#schedule")).to_have_text("sent at once")
    expect(page.locator("#segments")).to_have_text("4")
    expect(page.locator("#cost")).to_contain_text("0.2 (4 segments x 0.05; an estimate: FullSMS bills)")
    batch_0 = page.locator("#batches tr[data-batch='0']")
    batch_1 = page.locator("#batches tr[data-batch='1']")
    batch_2 = page.locator("#batches tr[data-batch='2']")
    expect(batch_0.locator("td").nth(1)).to_have_text("accepted by FullSMS")
    expect(batch_1.locator("td").nth(1)).to_have_text("unknown — check in FullSMS")
    expect(batch_2.locator("td").nth(1)).to_have_text("unknown — check in FullSMS")
    # An unknown batch: when it went out, its text's hash, its recipients, its numbers masked.
    unknown = batch_1.locator("td")
    expect(unknown.nth(2)).to_have_text("1")
    expect(unknown.nth(5)).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    expect(unknown.nth(6)).to_have_text(re.compile(r"^\w{6,}$"))
    expect(unknown.nth(7)).to_have_text(mask_number(PEOPLE[1]["number"]))
    assert PEOPLE[1]["number"] not in page.content()
    screenshot(page, "airflow-fullsms-campaign.png")

    batch_1.get_by_role("button", name="It was sent").click()
    expect(batch_1).to_contain_text("recorded: it was sent")
    batch_2.get_by_role("button", name="Send it again").click()
    expect(batch_2).to_contain_text("recorded: send it again")
    page.get_by_role("button", name="Clear the task").click()
    expect(page.locator("#message")).to_contain_text("Cleared: the task will run again.")

    # The page follows the task's new try and shows its outcome without being reloaded by hand.
    expect(page.locator("#sent")).to_have_text("4", timeout=180_000)
    expect(page.locator(".note")).to_have_count(0)
    expect(page.locator("#task-state")).to_have_text("success")
    assert stack.task_states(DAG_ID, run_id) == {TASK_ID: "success"}, stack.logs()
    for batch in (batch_0, batch_1, batch_2):
        expect(batch.locator("td").nth(1)).to_have_text(re.compile("^(accepted by FullSMS|assumed sent)$"))
    texted = Counter(message["to"] for message in client.messages())
    assert texted == Counter({person["number"]: 1 for person in PEOPLE})

    # The sandbox inbox shows what the phones got: a personalised text is a send of its own, so
    # the campaign is four campaigns of one recipient, each greeting its person by name.
    page.goto(f"{sandbox.url}/")
    cards = page.locator("article.campaign")
    expect(page.locator(".summary")).to_contain_text("4 campaign(s), newest first.")
    expect(cards.filter(has_text="from COPERATO").filter(has_text="1 recipient(s)")).to_have_count(4)
    assert sorted(cards.locator(".text").all_inner_texts()) == sorted(
        f"Hi {person['name']}, your table for two is booked for Friday." for person in PEOPLE
    )
    screenshot(page, "sandbox-inbox-campaign.png")
    # Grace's batch was dropped after FullSMS handled it and settled as "It was sent": one text.
    grace = PEOPLE[1]["number"]
    cards.get_by_role("link", name=grace).click()
    expect(page.get_by_role("heading", name=f"Thread with {grace}")).to_be_visible()
    expect(page.locator(".bubble .text")).to_have_text(["Hi Grace, your table for two is booked for Friday."])
    screenshot(page, "sandbox-inbox-campaign-thread.png")


def test_the_airflow_ui_has_a_fullsms_entry_that_shows_the_page(
    stack: LoginStack, sandbox: SandboxProcess, page: Page, screenshot: Screenshot
) -> None:
    page.context.add_cookies([{"name": "_token", "value": stack.token(), "url": stack.url}])
    page.goto(f"{stack.url}/plugin/fullsms")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_role("heading", name="FullSMS campaigns")).to_be_visible(timeout=60_000)
    # The menu shows FullSMS's own icon, served by the plugin.
    expect(page.locator("img[src$='fullsms/static/fullsms.svg']")).to_be_visible()
    # The address Airflow shows: the frame's own after the entry's /plugin/fullsms (see docs/campaigns.md).
    expect(page).to_have_url(re.compile(r"/plugin/fullsms/fullsms/$"))
    frame.get_by_role("button", name="Read balances").click()
    balance = frame.locator("#balances tr", has_text="fullsms_default")
    expect(balance).to_be_visible()
    expect(balance.locator("td").nth(1)).to_have_text(f"{sandbox.client.balance():g}")
    expect(frame.locator("#balance-table th")).to_have_text(
        ["connection", "balance (account currency)", "read at"]
    )
    expect(balance.locator("td").nth(2)).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    assert sandbox.token not in page.content() + frame.locator("html").inner_html()
    screenshot(page, "airflow-fullsms-nav.png")


def test_the_list_is_searched_and_an_empty_result_says_what_matched_nothing(
    stack: LoginStack, page: Page
) -> None:
    page.context.add_cookies([{"name": "_token", "value": stack.token(), "url": stack.url}])
    page.goto(f"{stack.url}/fullsms/")
    search = page.get_by_role("searchbox", name="Search")

    search.fill("settle_in")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#campaigns tbody tr")).to_have_count(1)
    expect(page.locator("#count")).to_have_text("1-1 of 1 campaign")

    search.fill("booked for Friday")  # the campaign's text
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#campaigns tbody tr")).to_have_count(1)

    search.fill("no such campaign")
    page.locator("input[name=since]").fill("2025-01-01")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#empty")).to_have_text(
        'No campaign matches "no such campaign" and from 2025-01-01. Show all campaigns'
    )


def test_a_campaign_links_to_its_task_in_airflow_from_inside_airflows_frame(
    stack: LoginStack, page: Page
) -> None:
    page.context.add_cookies([{"name": "_token", "value": stack.token(), "url": stack.url}])
    [campaign] = requests.get(
        f"{stack.url}/fullsms/api/campaigns",
        params={"q": "settle_in_browser"},
        headers={"Authorization": f"Bearer {stack.token()}"},
        timeout=60,
    ).json()["campaigns"]
    query = f"dag_id={DAG_ID}&run_id={campaign['run_id']}&task_id={TASK_ID}&map_index=-1"
    # A campaign's address in Airflow can be shared: it opens the campaign in the frame.
    page.goto(f"{stack.url}/plugin/fullsms/fullsms/campaign?{query}")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_role("link", name="log")).to_be_visible(timeout=60_000)

    frame.get_by_role("link", name="task instance").click()

    expect(page).to_have_url(
        re.compile(rf"/dags/{DAG_ID}/runs/{campaign['run_id']}/tasks/{TASK_ID}/details$")
    )
    expect(page.locator("iframe")).to_have_count(0)


def test_the_fullsms_campaign_extra_link_on_airflows_task_page_opens_the_campaign(
    stack: LoginStack, page: Page
) -> None:
    page.context.add_cookies([{"name": "_token", "value": stack.token(), "url": stack.url}])
    run_id = "settle_in_browser"  # the campaign the first test ran
    page.goto(f"{stack.url}/dags/{DAG_ID}/runs/{run_id}/tasks/{TASK_ID}/details")
    link = page.get_by_role("link", name="FullSMS campaign")
    expect(link).to_be_visible(timeout=60_000)

    link.click()

    expect(page).to_have_url(
        re.compile(rf"/fullsms/campaign\?dag_id={DAG_ID}&run_id={run_id}&task_id={TASK_ID}&map_index=-1$")
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{DAG_ID} · {run_id} · {TASK_ID}")
    expect(page.locator("#text")).to_contain_text("your table for two is booked for Friday")


def test_the_page_follows_airflows_dark_theme(stack: LoginStack, page: Page, screenshot: Screenshot) -> None:
    page.context.add_cookies([{"name": "_token", "value": stack.token(), "url": stack.url}])
    page.add_init_script("window.localStorage.setItem('theme', 'dark')")
    page.goto(f"{stack.url}/plugin/fullsms")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_role("heading", name="FullSMS campaigns")).to_be_visible(timeout=60_000)

    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    expect(frame.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    expect(frame.locator("body")).to_have_css("background-color", "rgb(0, 0, 0)")
    expect(page.locator("img[src$='fullsms/static/fullsms-dark.svg']")).to_be_visible()
    screenshot(page, "airflow-fullsms-nav-dark.png")

    # Switching Airflow's theme switches the page's at once.
    page.evaluate("document.documentElement.classList.replace('dark', 'light')")
    expect(frame.locator("body")).to_have_css("background-color", "rgb(255, 255, 255)")
    page.evaluate("document.documentElement.classList.replace('light', 'dark')")
    expect(frame.locator("body")).to_have_css("background-color", "rgb(0, 0, 0)")

    frame.locator("#campaigns a").first.click()
    expect(frame.locator("#facts")).to_be_visible()
    screenshot(page, "airflow-fullsms-campaign-dark.png")


def test_times_read_in_the_timezone_chosen_in_airflow(stack: LoginStack, page: Page) -> None:
    page.context.add_cookies([{"name": "_token", "value": stack.token(), "url": stack.url}])
    # Where Airflow's UI keeps the timezone a user picks (as JSON, like its other settings).
    page.add_init_script("window.localStorage.setItem('timezone', JSON.stringify('Asia/Tokyo'))")
    page.goto(f"{stack.url}/fullsms/")

    started = page.locator("#campaigns tbody tr").first.locator("time")

    expect(started).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Asia/Tokyo$"))
    expect(started).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
