"""
FullSmsNotifier as a deadline alert's callback, run the way Airflow 3.3 runs one, against the sandbox.

When a DAG run misses its deadline, the scheduler hands the callback's kwargs, plus a small context
(``dag_run`` as the REST API shows it, and ``deadline``), to the triggerer (``AsyncCallback``:
Airflow's ``CallbackTrigger``) or to the executor (``SyncCallback``: Airflow's
``execute_callback``). Both are called here as Airflow calls them; ``tests/e2e/test_alerts.py``
runs a missed deadline on a real scheduler.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

pytest.importorskip("airflow.sdk.definitions.deadline", reason="deadline alerts came with Airflow 3.1")
import structlog

from airflow_provider_fullsms.notifications.fullsms import send_fullsms_notification
from airflow_provider_fullsms.sandbox.testing import SandboxClient
from tests.versions import deadline_callbacks

ONCALL = "+44 7700 900123"
ONCALL_E164 = "447700900123"
MESSAGE = (
    "{{ dag_run.dag_id }} run {{ dag_run.dag_run_id }} missed its deadline ({{ deadline.deadline_time }})"
)
#: What the scheduler adds to the callback's kwargs (``Deadline.handle_miss``), for one missed run.
MISSED = {
    "dag_run": {
        "dag_id": "nightly_load",
        "dag_run_id": "scheduled__2025-06-01T02:00:00+00:00",
        "state": "running",
    },
    "deadline": {"id": "0197-deadline", "deadline_time": "2025-06-01T03:00:00+00:00"},
}
EXPECTED_TEXT = (
    "nightly_load run scheduled__2025-06-01T02:00:00+00:00 missed its deadline (2025-06-01T03:00:00+00:00)"
)


def callback_trigger() -> Any:
    """The trigger Airflow awaits an ``AsyncCallback`` in (on 3.1: ``DeadlineCallbackTrigger``)."""
    try:
        from airflow.triggers.callback import CallbackTrigger
    except ImportError:
        from airflow.triggers.deadline import DeadlineCallbackTrigger as CallbackTrigger
    return CallbackTrigger


def alert(callback_type: Any) -> Any:
    try:
        from airflow.sdk import DeadlineAlert, DeadlineReference
    except ImportError:  # Airflow 3.1
        from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    try:
        return DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(hours=1),
            callback=callback_type(
                send_fullsms_notification, kwargs={"numbers": [ONCALL], "message": MESSAGE}
            ),
        )
    except ValueError as refused:  # Airflow 3.1 takes only an AsyncCallback
        if "not currently supported" not in str(refused):
            raise
        pytest.skip(f"this Airflow's deadline alerts refuse it: {refused}")


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_deadline_alert_takes_the_notifier_as_an_async_or_a_sync_callback(kind: str) -> None:
    async_callback, sync_callback = deadline_callbacks()
    callback = alert(async_callback if kind == "async" else sync_callback).callback
    assert callback.path == "airflow_provider_fullsms.notifications.fullsms.FullSmsNotifier"
    assert callback.kwargs == {"numbers": [ONCALL], "message": MESSAGE}


def test_an_async_callback_texts_the_missed_run_from_the_triggerer(sandbox_conn: SandboxClient) -> None:
    AsyncCallback, _ = deadline_callbacks()
    CallbackTrigger = callback_trigger()
    callback = alert(AsyncCallback).callback
    trigger = CallbackTrigger(callback.path, {**callback.kwargs, "context": MISSED})

    async def run() -> list[Any]:
        return [event.payload async for event in trigger.run()]

    events = asyncio.run(run())

    assert [event["state"] for event in events] == ["running", "success"]
    [message] = sandbox_conn.messages()
    assert (message["to"], message["from"], message["text"]) == (ONCALL_E164, "COPERATO", EXPECTED_TEXT)


def test_a_sync_callback_texts_the_missed_run_from_the_executor(
    sandbox_conn: SandboxClient, tmp_path: Any
) -> None:
    _, SyncCallback = deadline_callbacks()
    execute_callback = pytest.importorskip(
        "airflow.sdk.execution_time.callback_supervisor", reason="executors run callbacks from Airflow 3.3"
    ).execute_callback

    callback = alert(SyncCallback).callback
    kwargs = {**callback.kwargs, "context": MISSED}

    ok, error = execute_callback(callback.path, kwargs, "dag.py", tmp_path, structlog.get_logger())

    assert (ok, error) == (True, None)
    [message] = sandbox_conn.messages()
    assert (message["to"], message["text"]) == (ONCALL_E164, EXPECTED_TEXT)


@pytest.mark.parametrize(
    "kwargs", [{"numbers": [], "message": "late"}, {"numbers": [ONCALL], "message": "late"}]
)
def test_a_callback_that_cannot_text_fails_in_the_triggerer_with_the_reason(
    sandbox_conn: SandboxClient, monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any]
) -> None:
    CallbackTrigger = callback_trigger()
    monkeypatch.setenv(
        "AIRFLOW_CONN_FULLSMS_DEFAULT", '{"conn_type": "fullsms", "host": "http://127.0.0.1:9"}'
    )
    trigger = CallbackTrigger(
        "airflow_provider_fullsms.notifications.fullsms.FullSmsNotifier", {**kwargs, "context": MISSED}
    )

    async def run() -> list[Any]:
        return [event.payload async for event in trigger.run()]

    running, failed = asyncio.run(run())

    assert (running["state"], failed["state"]) == ("running", "failed")
    reason = "names nobody" if not kwargs["numbers"] else "has no API token"
    assert reason in failed["body"]
    assert sandbox_conn.messages() == []
