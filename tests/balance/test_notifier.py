"""FullSmsNotifier in real task callbacks (``dag.test()``) and awaited, against the sandbox's inbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_fullsms.notifications.fullsms import FullSmsNotifier, send_fullsms_notification
from airflow_provider_fullsms.sandbox.testing import SandboxClient
from airflow_provider_fullsms.sms import analyse_message
from tests.balance.conftest import DagResult
from tests.versions import CALLBACK_FAILURE_LOGGED, needs_airflow_3_1

SEND_PATH = "/messages/send/to_numbers"
ONCALL = "+44 7700 900123"
ONCALL_E164 = "447700900123"


def failing_dag(notifier: FullSmsNotifier) -> DAG:
    with DAG(dag_id=f"alert_{uuid.uuid4().hex[:8]}", schedule=None) as dag:

        @task(on_failure_callback=[notifier])
        def load() -> None:
            raise RuntimeError("warehouse unreachable: the task's own error")

        load()
    return dag


def test_a_failing_task_texts_the_rendered_alert_once(
    sandbox_conn: SandboxClient, run_dag: Callable[[DAG], DagResult]
) -> None:
    notifier = send_fullsms_notification(numbers=[ONCALL], message="{{ ti.dag_id }}.{{ ti.task_id }} failed")
    dag = failing_dag(notifier)

    result = run_dag(dag)

    assert result.task_states == {"load": "failed"}
    messages = sandbox_conn.messages()
    assert len(messages) == 1
    assert messages[0]["to"] == ONCALL_E164
    assert messages[0]["from"] == "COPERATO"
    assert messages[0]["text"] == f"{dag.dag_id}.load failed"
    assert sandbox_conn.requests_count(SEND_PATH) == 1


def test_a_succeeding_task_can_text_too(
    sandbox_conn: SandboxClient, run_dag: Callable[[DAG], DagResult]
) -> None:
    with DAG(dag_id=f"alert_ok_{uuid.uuid4().hex[:8]}", schedule=None) as dag:

        @task(
            on_success_callback=[
                FullSmsNotifier(numbers=f"{ONCALL}, +44 7700 900456", message="{{ ti.task_id }} done")
            ]
        )
        def load() -> int:
            return 3

        load()

    result = run_dag(dag)

    assert result.task_states == {"load": "success"}
    assert sorted((m["to"], m["text"]) for m in sandbox_conn.messages()) == [
        (ONCALL_E164, "load done"),
        ("447700900456", "load done"),
    ]
    assert sandbox_conn.requests_count(SEND_PATH) == 1  # both numbers in one request


def test_a_long_alert_arrives_as_one_segment(
    sandbox_conn: SandboxClient, run_dag: Callable[[DAG], DagResult]
) -> None:
    long_message = "{{ ti.task_id }} failed: " + "details " * 60
    run_dag(failing_dag(FullSmsNotifier(numbers=[ONCALL], message=long_message)))

    [message] = sandbox_conn.messages()
    assert message["text"].startswith("load failed: details")
    assert message["text"].endswith("details...")  # cut at a word's end, trailing space dropped
    assert analyse_message(message["text"]).segments == 1
    assert message["segments"] == 1


@pytest.mark.parametrize("status", [500, 503])
def test_a_failing_notifier_does_not_hide_the_tasks_error(
    status: int,
    sandbox_conn: SandboxClient,
    run_dag: Callable[[DAG], DagResult],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every send fails: 500 is an unknown outcome (never resent), 503 a refusal (retried, then given up).
    monkeypatch.setattr("airflow_provider_fullsms.hooks.fullsms.time.sleep", lambda seconds: None)
    sandbox_conn.inject_fault("error", path=SEND_PATH, status=status, count=100)

    result = run_dag(failing_dag(FullSmsNotifier(numbers=[ONCALL], message="{{ ti.task_id }} failed")))

    output = capsys.readouterr().out + caplog.text
    assert result.task_states == {"load": "failed"}
    assert "warehouse unreachable: the task's own error" in output
    assert CALLBACK_FAILURE_LOGGED in output
    assert sandbox_conn.messages() == []
    sends = sandbox_conn.requests_count(SEND_PATH)
    assert sends == 1 if status == 500 else sends >= 2


def test_a_notifier_with_a_missing_connection_does_not_hide_the_tasks_error(
    sandbox_conn: SandboxClient, run_dag: Callable[[DAG], DagResult], capsys: pytest.CaptureFixture[str]
) -> None:
    notifier = FullSmsNotifier(numbers=[ONCALL], message="failed", fullsms_conn_id="no_such_connection")

    result = run_dag(failing_dag(notifier))

    output = capsys.readouterr().out
    assert result.task_states == {"load": "failed"}
    assert "warehouse unreachable: the task's own error" in output
    assert "no_such_connection" in output
    assert sandbox_conn.messages() == []


@needs_airflow_3_1("awaitable notifiers (BaseNotifier.__await__, what a deadline alert's AsyncCallback uses)")
def test_async_notify_sends_one_message(sandbox_conn: SandboxClient) -> None:
    notifier = FullSmsNotifier(numbers=[ONCALL], message="{{ ti.dag_id }} is late: " + "z" * 200)
    notifier.context = {"ti": SimpleNamespace(dag_id="nightly_load", task_id="extract")}  # type: ignore[assignment]

    async def await_it() -> Any:
        return await notifier

    asyncio.run(await_it())

    [message] = sandbox_conn.messages()
    assert message["to"] == ONCALL_E164
    assert message["text"].startswith("nightly_load is late: zzz")
    assert message["text"].endswith("...")
    assert len(message["text"]) == 160
    assert sandbox_conn.requests_count(SEND_PATH) == 1
