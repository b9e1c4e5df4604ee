"""FullSmsNotifier: the alert it builds and the one request it sends (requests-mock)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_fullsms import exceptions as exc
from airflow_provider_fullsms.hooks.fullsms import FullSmsAsyncHook
from airflow_provider_fullsms.models import Campaign
from airflow_provider_fullsms.notifications.fullsms import (
    FullSmsAlert,
    FullSmsNotifier,
    send_fullsms_notification,
)
from airflow_provider_fullsms.sms import analyse_message
from tests import vendor_docs as docs
from tests.conftest import FAKE_URL
from tests.versions import callback_error, needs_airflow_3_1

SEND_URL = f"{FAKE_URL}/messages/send/to_numbers"


def callback_context() -> dict[str, Any]:
    """The parts of a task callback's context the templates below use, and the DAG (always there)."""
    return {
        "dag": DAG(dag_id="nightly_load", schedule=None),
        "ti": SimpleNamespace(dag_id="nightly_load", task_id="extract", try_number=2),
    }


def test_alias_and_template_fields() -> None:
    assert send_fullsms_notification is FullSmsNotifier
    assert FullSmsNotifier.template_fields == ("numbers", "message", "sender")


def test_constructor_is_keyword_only_and_touches_no_connection() -> None:
    with pytest.raises(TypeError):
        FullSmsNotifier(["441111111111"], "x")  # type: ignore[misc]
    notifier = FullSmsNotifier(numbers=["441111111111"], message="x", fullsms_conn_id="nope")
    assert "hook" not in notifier.__dict__


# -- the alert ----------------------------------------------------------------------------------


def test_numbers_are_normalised_and_deduplicated_in_order() -> None:
    notifier = FullSmsNotifier(
        numbers=["+44 1111 111111", "0044-2222-222222", "441111111111", 972541234567], message="hi"
    )
    assert notifier.build_alert() == FullSmsAlert(
        numbers=["441111111111", "442222222222", "972541234567"], message="hi", sender=None
    )


def test_numbers_may_be_one_comma_separated_string() -> None:
    # What a template such as "{{ var.value.oncall_numbers }}" renders to.
    notifier = FullSmsNotifier(numbers="+44 1111 111111; +44 2222 222222,", message="hi")
    assert notifier.build_alert().numbers == ["441111111111", "442222222222"]


@pytest.mark.parametrize("numbers", [[], "", " , ", [" "]])
def test_no_number_is_a_clear_error(numbers: Any) -> None:
    with pytest.raises(exc.FullSmsConfigurationError, match="names nobody"):
        FullSmsNotifier(numbers=numbers, message="hi").build_alert()


def test_a_bad_number_is_named() -> None:
    with pytest.raises(exc.FullSmsConfigurationError, match="'0201 234'"):
        FullSmsNotifier(numbers=["441111111111", "0201 234"], message="hi").build_alert()


def test_a_long_gsm7_message_is_cut_to_one_segment_with_an_ellipsis() -> None:
    alert = FullSmsNotifier(numbers=["441111111111"], message="x" * 200).build_alert()
    assert alert.truncated
    assert alert.message == "x" * 157 + "..."
    assert analyse_message(alert.message).segments == 1


def test_a_long_ucs2_message_is_cut_to_one_segment() -> None:
    alert = FullSmsNotifier(numbers=["441111111111"], message="שלום " * 30).build_alert()
    assert alert.truncated
    assert alert.message.endswith("...")
    assert analyse_message(alert.message).segments == 1


def test_a_short_message_is_untouched() -> None:
    alert = FullSmsNotifier(numbers=["441111111111"], message="x" * 160).build_alert()
    assert not alert.truncated
    assert alert.message == "x" * 160


# -- notify: one request, rendered against the callback context -----------------------------------


def test_callback_renders_the_templates_and_sends_one_request(fullsms_conn: str, requests_mock: Any) -> None:
    requests_mock.post(SEND_URL, json=docs.SEND_TO_NUMBERS)
    notifier = send_fullsms_notification(
        numbers=["+44 1111 111111"],
        message="{{ ti.dag_id }}.{{ ti.task_id }} failed (try {{ ti.try_number }})",
    )

    notifier(callback_context())

    assert requests_mock.call_count == 1
    assert requests_mock.last_request.json() == {
        "to_numbers": ["441111111111"],
        "message": "nightly_load.extract failed (try 2)",
        "from": "COPERATO",
    }


def test_sender_is_templated_and_overrides_the_default(fullsms_conn: str, requests_mock: Any) -> None:
    requests_mock.post(SEND_URL, json=docs.SEND_TO_NUMBERS)
    notifier = FullSmsNotifier(numbers=["441111111111"], message="hi", sender="{{ 'ALERTS' }}")
    notifier(callback_context())
    assert requests_mock.last_request.json()["from"] == "ALERTS"


def test_a_send_of_unknown_outcome_is_never_repeated(
    fullsms_conn: str, requests_mock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    requests_mock.post(SEND_URL, status_code=500, json=docs.SERVER_ERROR)
    notifier = FullSmsNotifier(numbers=["441111111111"], message="hi")
    assert isinstance(callback_error(notifier, callback_context(), caplog), exc.FullSmsOutcomeUnknownError)
    assert requests_mock.call_count == 1


def test_a_refused_send_fails_with_the_servers_message(
    fullsms_conn: str, requests_mock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    requests_mock.post(SEND_URL, status_code=403, json=docs.SENDER_NOT_APPROVED)
    notifier = FullSmsNotifier(numbers=["441111111111"], message="hi", sender="NOPE")
    error = callback_error(notifier, callback_context(), caplog)
    assert isinstance(error, exc.FullSmsSenderIdNotApprovedError)
    assert "Sender ID is not approved" in str(error)
    assert requests_mock.call_count == 1


# -- notify and async_notify send the same alert ------------------------------------------------


@needs_airflow_3_1("awaitable notifiers (BaseNotifier.__await__, what a deadline alert's AsyncCallback uses)")
def test_notify_and_async_notify_send_the_same_alert(
    fullsms_conn: str, requests_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests_mock.post(SEND_URL, json=docs.SEND_TO_NUMBERS)
    sent_async: list[dict[str, Any]] = []

    async def send_to_numbers(self: FullSmsAsyncHook, numbers: list[str], **kwargs: Any) -> Campaign:
        sent_async.append({"numbers": list(numbers), **kwargs})
        return Campaign(campaign_id="c-1", status="approved")

    monkeypatch.setattr(FullSmsAsyncHook, "send_to_numbers", send_to_numbers)
    arguments = {"numbers": ["+44 1111 111111"], "message": "{{ ti.task_id }} " + "y" * 200}

    FullSmsNotifier(**arguments)(callback_context())
    async_notifier = FullSmsNotifier(**arguments)
    async_notifier.context = callback_context()  # type: ignore[assignment]

    async def await_it() -> None:
        await async_notifier

    asyncio.run(await_it())

    sync_body = requests_mock.last_request.json()
    assert sent_async == [
        {"numbers": sync_body["to_numbers"], "message": sync_body["message"], "sender": None}
    ]
    assert sync_body["message"].startswith("extract yyy")
    assert sync_body["message"].endswith("...")
