"""
The FullSMS connection form in Airflow's UI, in a real browser: a person adds a FullSMS connection.

The form is built from the provider's ``conn-fields`` and ``ui-field-behaviour``
(:mod:`airflow_provider_fullsms.get_provider_info`): the host and password relabelled, the extras
with their descriptions. What was saved is read back through the REST API (which, like the page,
shows the token as ``***``) and Airflow's CLI (the token as typed).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from airflow_provider_fullsms.get_provider_info import get_provider_info

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from airflow_provider_fullsms.sandbox.testing import SandboxProcess
    from tests.browser.conftest import LoginStack, Screenshot

pytestmark = pytest.mark.slow

CONN_ID = "fullsms_marketing"
#: The extra fields as the provider declares them: label -> description (or None).
EXTRA_FIELDS = {
    field["label"]: field.get("description")
    for field in get_provider_info()["connection-types"][0]["conn-fields"].values()
}


def field(form: Locator, label: str) -> Locator:
    """
    The form field labelled ``label``: its label, description and input.

    Found through its group, not ``get_by_label``: Airflow's form points a text extra's ``<label>``
    at an id its ``<input>`` does not have.
    """
    label_text = re.compile(rf"^{re.escape(label)}\s*$")
    return form.locator("[data-part=root][role=group]").filter(
        has=form.page.locator("label", has_text=label_text)
    )


def test_a_person_adds_a_fullsms_connection_in_the_airflow_ui(
    stack: LoginStack, sandbox: SandboxProcess, page: Page, screenshot: Screenshot
) -> None:
    page.context.add_cookies([{"name": "_token", "value": stack.token(), "url": stack.url}])
    page.goto(f"{stack.url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    form = page.get_by_role("dialog")
    form.get_by_label("Connection ID").fill(CONN_ID)
    form.get_by_label("Connection Type").fill("FullSMS")
    page.get_by_role("option", name="FullSMS", exact=True).click()

    # The standard fields FullSMS uses, relabelled; the ones it does not use are hidden.
    expect(form.get_by_label("Base URL")).to_have_attribute("placeholder", "https://api.fullsms.com")
    expect(form.get_by_label("API Token")).to_have_attribute("type", "password")
    for hidden in ("Host", "Password", "Login", "Port", "Schema"):
        expect(form.get_by_label(hidden, exact=True)).to_have_count(0)
    form.get_by_label("Base URL").fill(sandbox.url)
    form.get_by_label("API Token").fill(sandbox.token)
    screenshot(page, "airflow-connection-form.png")

    form.get_by_role("button", name="Extra Fields", exact=True).click()
    for label, description in EXTRA_FIELDS.items():
        expect(field(form, label)).to_have_count(1)
        if description:
            expect(field(form, label)).to_contain_text(description)
    expect(field(form, "Read timeout (seconds)").locator("input")).to_have_value("30")
    field(form, "Default sender").locator("input").fill("COPERATO")
    field(form, "Default region for phone numbers").locator("input").fill("GB")
    # A closed set of values is a choice, not a text to type (and mistype).
    validation = field(form, "Phone number validation")
    expect(validation).to_contain_text("possible: length and country plausible")
    validation.get_by_role("combobox").click()
    options = page.get_by_role("option")
    expect(options).to_have_text(
        ["possible: length and country plausible", "valid: libphonenumber's full validation"]
    )
    options.filter(has_text="valid: libphonenumber").click()
    field(form, "Price per SMS segment").locator("input").fill("0.05")
    field(form, "Max concurrent requests").locator("input").fill("8")
    screenshot(page, "airflow-connection-form-extras.png")
    form.get_by_role("button", name="Save").click()

    row = page.locator("tr", has_text=CONN_ID)
    expect(row.locator("[data-testid=table-cell-conn_type]")).to_have_text("fullsms")
    expect(row.locator("[data-testid=table-cell-host]")).to_have_text(sandbox.url)
    stored = stack.api("GET", f"connections/{CONN_ID}")
    assert (stored["conn_type"], stored["host"], stored["password"]) == ("fullsms", sandbox.url, "***")
    assert json.loads(stored["extra"]) == {
        "timeout": 30,
        "connect_timeout": 10,
        "default_sender": "COPERATO",
        "timezone": "UTC",
        "default_region": "GB",
        "number_validation": "valid",
        "price_per_segment": 0.05,
        "minimum_balance": 0,
        "max_concurrency": 8,
        "ledger_write_window": 120,
    }

    # Opened again, the form keeps the token hidden: the page never has it.
    row.get_by_role("button", name="Edit Connection").click()
    expect(form.get_by_label("Base URL")).to_have_value(sandbox.url)
    expect(form.get_by_label("API Token")).to_have_value("***")
    assert sandbox.token not in page.content()
    screenshot(page, "airflow-connection-edit.png")

    # The token was stored as typed, where only Airflow reads it.
    assert stack.stored_connection(CONN_ID)["password"] == sandbox.token
