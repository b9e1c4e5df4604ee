"""FullSmsBalanceSensor's decisions, against requests-mock serving the vendor's documented bodies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from airflow_provider_fullsms import exceptions as exc
from airflow_provider_fullsms.sensors.fullsms import FullSmsBalanceSensor, coerce_min_balance
from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger
from tests import vendor_docs as docs
from tests.conftest import FAKE_URL, SECRET_TOKEN
from tests.versions import deferral_timeout_kwargs

BALANCE_URL = f"{FAKE_URL}/account/balance"


def make_sensor(**kwargs: Any) -> FullSmsBalanceSensor:
    kwargs = {"task_id": "wait_for_balance", "min_balance": 50, "poke_interval": 1, "timeout": 30, **kwargs}
    return FullSmsBalanceSensor(**kwargs)


# -- construction ------------------------------------------------------------------------------


def test_construction_touches_no_connection() -> None:
    sensor = make_sensor(fullsms_conn_id="does_not_exist", min_balance="{{ ti.xcom_pull('cost') }}")
    assert "hook" not in sensor.__dict__
    assert sensor.template_fields == ("min_balance",)
    assert sensor.deferrable is False  # [operators] default_deferrable is False in the tests


@pytest.mark.parametrize(("value", "expected"), [(50, 50.0), ("12.5", 12.5), (" 7 ", 7.0), (0, 0.0)])
def test_min_balance_accepts_numbers_and_numeric_strings(value: object, expected: float) -> None:
    assert coerce_min_balance(value) == expected


@pytest.mark.parametrize("value", ["abc", "", None, True, "nan", "inf", [5]])
def test_min_balance_that_is_not_a_number_names_the_value(value: object) -> None:
    with pytest.raises(exc.FullSmsConfigurationError, match="min_balance=") as info:
        coerce_min_balance(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("value", [None, "None", "", " "])
def test_min_balance_none_says_a_plan_without_a_price_has_no_required_balance(value: object) -> None:
    # What "{{ ti.xcom_pull(task_ids='plan')['required_balance'] }}" renders from a plan without a price.
    with pytest.raises(exc.FullSmsConfigurationError) as info:
        coerce_min_balance(value)
    message = str(info.value)
    assert f"min_balance={value!r}" in message
    assert "set the connection's price_per_segment extra" in message
    assert "price_per_segment= to the plan task" in message


# -- poke: success, waiting, and which errors are waited out -----------------------------------


def test_poke_is_done_with_the_balance_when_it_is_enough(fullsms_conn: str, requests_mock: Any) -> None:
    requests_mock.get(BALANCE_URL, json=docs.BALANCE)
    result = make_sensor(min_balance=100).poke({})
    assert result.is_done
    assert result.xcom_value == 100.0


def test_poke_waits_while_the_balance_is_below_the_minimum(fullsms_conn: str, requests_mock: Any) -> None:
    requests_mock.get(BALANCE_URL, json={"balance": 49.99})
    result = make_sensor(min_balance="50").poke({})
    assert not result.is_done
    assert result.xcom_value is None


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (500, docs.SERVER_ERROR, {}),
        (502, None, {}),
        (503, docs.GENERAL_INTERNAL, {}),
        (504, None, {}),
        (429, {"message": "Too Many Attempts."}, {"Retry-After": "30"}),
    ],
)
def test_poke_waits_out_transient_api_errors_with_one_request(
    fullsms_conn: str,
    requests_mock: Any,
    capsys: pytest.CaptureFixture[str],
    status: int,
    body: Any,
    headers: dict[str, str],
) -> None:
    if body is None:
        requests_mock.get(BALANCE_URL, status_code=status, text="<html>Bad Gateway</html>", headers=headers)
    else:
        requests_mock.get(BALANCE_URL, status_code=status, json=body, headers=headers)
    assert not make_sensor().poke({})
    # The hook must not retry inside a poke: poke_interval is the only retry loop.
    assert requests_mock.call_count == 1
    # Task logs go through structlog to stdout here.
    assert "Could not read the FullSMS balance" in capsys.readouterr().out


@pytest.mark.parametrize(
    "error", [requests.ConnectionError("refused"), requests.ConnectTimeout("slow"), requests.ReadTimeout("x")]
)
def test_poke_waits_out_network_errors(fullsms_conn: str, requests_mock: Any, error: Exception) -> None:
    requests_mock.get(BALANCE_URL, exc=error)
    assert not make_sensor().poke({})
    assert requests_mock.call_count == 1


@pytest.mark.parametrize(
    ("body", "error_class", "message"),
    [
        (docs.UNAUTHENTICATED, exc.FullSmsAuthenticationError, "Unauthenticated - Missing/Invalid API key"),
        (docs.GENERAL_UNAUTHENTICATED, exc.FullSmsAuthenticationError, "Unauthenticated"),
        (docs.ACCESS_DENIED, exc.FullSmsAccessDeniedError, "Access Denied"),
    ],
)
def test_poke_fails_at_once_on_auth_errors_with_the_servers_message(
    fullsms_conn: str, requests_mock: Any, body: dict[str, Any], error_class: type, message: str
) -> None:
    requests_mock.get(BALANCE_URL, status_code=403, json=body)
    with pytest.raises(error_class, match=message) as info:
        make_sensor().poke({})
    assert SECRET_TOKEN not in str(info.value)
    assert requests_mock.call_count == 1


def test_poke_fails_on_a_connection_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", '{"conn_type": "fullsms", "host": "https://x.test"}')
    with pytest.raises(exc.FullSmsConfigurationError, match="no API token"):
        make_sensor().poke({})


def test_poke_fails_on_a_min_balance_that_is_not_a_number(fullsms_conn: str, requests_mock: Any) -> None:
    requests_mock.get(BALANCE_URL, json=docs.BALANCE)
    with pytest.raises(exc.FullSmsConfigurationError, match="min_balance='None'"):
        make_sensor(min_balance="None").poke({})
    assert requests_mock.call_count == 0


# -- deferrable: poke once, then defer with the sensor's own timeout ---------------------------


def test_deferrable_returns_at_once_when_the_balance_is_already_enough(
    fullsms_conn: str, requests_mock: Any
) -> None:
    requests_mock.get(BALANCE_URL, json=docs.BALANCE)
    assert make_sensor(deferrable=True, min_balance=10).execute({}) == 100.0


def test_deferrable_defers_with_its_own_timeout_and_a_token_free_trigger(
    fullsms_conn: str, requests_mock: Any
) -> None:
    requests_mock.get(BALANCE_URL, json={"balance": 3})
    sensor = make_sensor(deferrable=True, min_balance="50", poke_interval=7, timeout=600)
    with pytest.raises(TaskDeferred) as info:
        sensor.execute({})
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == timedelta(seconds=600)
    assert isinstance(deferred.trigger, FullSmsBalanceTrigger)
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "airflow_provider_fullsms.triggers.fullsms.FullSmsBalanceTrigger"
    assert kwargs == {"min_balance": 50.0, "fullsms_conn_id": "fullsms_default", "poke_interval": 7.0}
    assert requests_mock.call_count == 1


def test_deferrable_fails_before_deferring_on_an_auth_error(fullsms_conn: str, requests_mock: Any) -> None:
    requests_mock.get(BALANCE_URL, status_code=403, json=docs.UNAUTHENTICATED)
    with pytest.raises(exc.FullSmsAuthenticationError):
        make_sensor(deferrable=True).execute({})


def test_deferrable_defers_on_a_transient_first_poke(fullsms_conn: str, requests_mock: Any) -> None:
    requests_mock.get(BALANCE_URL, status_code=503, json=docs.GENERAL_INTERNAL)
    with pytest.raises(TaskDeferred):
        make_sensor(deferrable=True).execute({})


# -- resuming: the event decides -----------------------------------------------------------------


def test_execute_complete_returns_the_balance_of_a_success_event() -> None:
    event = {"status": "success", "balance": 75.5, "min_balance": 50.0}
    assert make_sensor().execute_complete({}, event) == 75.5


@pytest.mark.parametrize(
    ("event", "match"),
    [
        ({"status": "error", "message": "FullSmsAuthenticationError: Unauthenticated"}, "Unauthenticated"),
        (None, "no usable event"),
        ({"status": "maybe"}, "unknown event"),
    ],
)
def test_execute_complete_raises_on_anything_but_success(event: Any, match: str) -> None:
    with pytest.raises(AirflowException, match=match):
        make_sensor().execute_complete({}, event)


def test_a_deferred_timeout_is_a_sensor_timeout() -> None:
    with pytest.raises(AirflowSensorTimeout):
        make_sensor(deferrable=True).resume_execution("__fail__", deferral_timeout_kwargs(), {})


def test_a_deferred_timeout_is_skipped_under_soft_fail() -> None:
    with pytest.raises(AirflowSkipException):
        make_sensor(deferrable=True, soft_fail=True).resume_execution(
            "__fail__", deferral_timeout_kwargs(), {}
        )


def test_an_error_event_still_fails_under_soft_fail_as_in_poke_mode() -> None:
    event = {"status": "error", "message": "FullSmsAuthenticationError: Unauthenticated"}
    sensor = make_sensor(deferrable=True, soft_fail=True)
    with pytest.raises(AirflowException, match="Unauthenticated") as info:
        sensor.resume_execution("execute_complete", {"event": event}, {})
    assert not isinstance(info.value, AirflowSkipException)


def test_a_success_event_resumes_to_the_balance() -> None:
    event = {"status": "success", "balance": 60.0, "min_balance": 50.0}
    assert make_sensor(deferrable=True).resume_execution("execute_complete", {"event": event}, {}) == 60.0
