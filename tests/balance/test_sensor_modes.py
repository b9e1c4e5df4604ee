"""
FullSmsBalanceSensor in real Airflow runs (``dag.test()``) against the sandbox, in every mode.

``dag.test()`` in Airflow 3.3 handles reschedules (the task goes UP_FOR_RESCHEDULE and is run
again) and runs a deferred task's trigger in-process before resuming it, so all three modes run
the code paths a scheduler would. It does not enforce a deferral's timeout (the trigger runs
until it fires), so the deferrable timeout is shown on the resume path in tests/unit/test_sensor.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_fullsms.sandbox.testing import SandboxClient
from airflow_provider_fullsms.sensors.fullsms import FullSmsBalanceSensor
from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger
from tests.balance.conftest import DagResult, TopUp

BALANCE_PATH = "/account/balance"
MODES = ["poke", "reschedule", "deferrable"]


def sensor_dag(mode: str, **sensor_kwargs: Any) -> DAG:
    """A one-task DAG (a unique id per test, so runs never mix) with the sensor in ``mode``."""
    with DAG(dag_id=f"balance_{mode}_{uuid.uuid4().hex[:8]}", schedule=None) as dag:
        FullSmsBalanceSensor(
            task_id="wait_for_balance",
            mode="reschedule" if mode == "reschedule" else "poke",
            deferrable=mode == "deferrable",
            **{"poke_interval": 0.2, **sensor_kwargs},
        )
    return dag


@pytest.fixture
def trigger_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The events of every FullSmsBalanceTrigger that ran: proof that a task really deferred."""
    events: list[dict[str, Any]] = []
    original = FullSmsBalanceTrigger.wait_for_balance

    async def spy(self: FullSmsBalanceTrigger) -> dict[str, Any]:
        event = await original(self)
        events.append(event)
        return event

    monkeypatch.setattr(FullSmsBalanceTrigger, "wait_for_balance", spy)
    return events


@pytest.mark.parametrize("mode", MODES)
def test_sensor_waits_for_a_top_up_and_returns_the_balance(
    mode: str,
    sandbox_conn: SandboxClient,
    run_dag: Callable[[DAG], DagResult],
    top_up: Callable[..., TopUp],
    trigger_runs: list[dict[str, Any]],
) -> None:
    sandbox_conn.set_balance(10)
    # The campaign's cost arrives as a string, as a rendered template would give it.
    dag = sensor_dag(mode, min_balance="150", timeout=120)
    topper = top_up(balance=200, after_checks=2)

    result = run_dag(dag)

    assert topper.done.is_set()
    assert result.state == "success"
    assert result.task_states == {"wait_for_balance": "success"}
    assert result.xcoms == {"wait_for_balance": 200.0}
    checks = sandbox_conn.requests_count(BALANCE_PATH)
    assert checks >= 3  # two below the minimum, then the one that saw the top-up
    if mode == "poke":
        assert result.reschedules == {"wait_for_balance": 0}
        assert trigger_runs == []
    elif mode == "reschedule":
        # Each low balance freed the worker slot: one reschedule per check below the minimum.
        assert result.reschedules["wait_for_balance"] >= 2
        assert trigger_runs == []
    else:
        # One poke on the worker saw 10, then the triggerer's polling saw the top-up.
        assert result.reschedules == {"wait_for_balance": 0}
        assert trigger_runs == [{"status": "success", "balance": 200.0, "min_balance": 150.0}]


@pytest.mark.parametrize("mode", MODES)
def test_sensor_succeeds_at_once_when_the_balance_is_already_enough(
    mode: str,
    sandbox_conn: SandboxClient,
    run_dag: Callable[[DAG], DagResult],
    trigger_runs: list[dict[str, Any]],
) -> None:
    result = run_dag(sensor_dag(mode, min_balance=100, timeout=60))  # the sandbox starts at 100

    assert result.task_states == {"wait_for_balance": "success"}
    assert result.xcoms == {"wait_for_balance": 100.0}
    assert sandbox_conn.requests_count(BALANCE_PATH) == 1
    assert trigger_runs == []  # deferrable: the first poke on the worker was enough


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
@pytest.mark.parametrize(("soft_fail", "expected"), [(False, "failed"), (True, "skipped")])
def test_sensor_timeout_fails_or_skips_under_soft_fail(
    mode: str,
    soft_fail: bool,
    expected: str,
    sandbox_conn: SandboxClient,
    run_dag: Callable[[DAG], DagResult],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox_conn.set_balance(1)
    result = run_dag(sensor_dag(mode, min_balance=1000, timeout=1, soft_fail=soft_fail))

    assert result.task_states == {"wait_for_balance": expected}
    assert result.xcoms == {}
    assert "Sensor has timed out" in capsys.readouterr().out
    assert sandbox_conn.requests_count(BALANCE_PATH) >= 2


#: Transient answers the sensor waits out: (fault, its fields, checks let through first).
TRANSIENT = {
    "503": ("error", {"status": 503}, 0),
    # A proxy's 429 page, with no JSON to read; after=1 so that in deferrable mode the worker's
    # poke sees 10 and defers, and the trigger meets the 429s.
    "html-429": ("rate_limit_html", {"retry_after": 0}, 1),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("kind", "fields", "after"), TRANSIENT.values(), ids=TRANSIENT.keys())
def test_sensor_waits_out_transient_errors(
    mode: str,
    kind: str,
    fields: dict[str, Any],
    after: int,
    sandbox_conn: SandboxClient,
    run_dag: Callable[[DAG], DagResult],
    top_up: Callable[..., TopUp],
) -> None:
    sandbox_conn.set_balance(10)
    sandbox_conn.inject_fault(kind, path=BALANCE_PATH, after=after, count=2, **fields)
    topper = top_up(balance=200, after_checks=3)

    result = run_dag(sensor_dag(mode, min_balance=150, timeout=120))

    assert topper.done.is_set()
    assert result.task_states == {"wait_for_balance": "success"}
    assert result.xcoms == {"wait_for_balance": 200.0}


@pytest.mark.parametrize("mode", MODES)
def test_sensor_never_passes_on_a_balance_that_is_not_a_number(
    mode: str,
    sandbox_conn: SandboxClient,
    run_dag: Callable[[DAG], DagResult],
    top_up: Callable[..., TopUp],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox_conn.set_balance(10)
    # The first check sees 10 (and defers, in deferrable mode); the second reads {"balance": NaN}.
    sandbox_conn.inject_fault("bad_balance", path=BALANCE_PATH, after=1, count=1)
    top_up(balance=200, after_checks=2)  # a sensor that shrugged NaN off would pass on the next check

    result = run_dag(sensor_dag(mode, min_balance=150, timeout=120))

    assert result.task_states == {"wait_for_balance": "failed"}
    assert result.xcoms == {}
    assert "not a finite number" in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
@pytest.mark.parametrize("soft_fail", [False, True])
def test_bad_token_fails_at_once_in_every_mode_even_under_soft_fail(
    mode: str,
    soft_fail: bool,
    sandbox: Any,
    sandbox_conn: SandboxClient,
    run_dag: Callable[[DAG], DagResult],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.conftest import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(sandbox.url, "wrong-token"))
    result = run_dag(sensor_dag(mode, min_balance=50, timeout=120, soft_fail=soft_fail))

    assert result.task_states == {"wait_for_balance": "failed"}
    assert sandbox_conn.requests_count(BALANCE_PATH) == 1
    assert "Unauthenticated" in capsys.readouterr().out


@pytest.mark.parametrize("soft_fail", [False, True])
def test_deferred_error_event_fails_the_task_with_the_servers_message(
    soft_fail: bool,
    sandbox: Any,
    sandbox_conn: SandboxClient,
    run_dag: Callable[[DAG], DagResult],
    trigger_runs: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.conftest import connection_json

    sandbox_conn.set_balance(10)
    spied = FullSmsBalanceTrigger.wait_for_balance

    async def token_revoked_while_deferred(self: FullSmsBalanceTrigger) -> dict[str, Any]:
        # The worker's poke used the good token and deferred; the triggerer reads the connection
        # afresh and finds a revoked one.
        monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(sandbox.url, "revoked-token"))
        return await spied(self)

    monkeypatch.setattr(FullSmsBalanceTrigger, "wait_for_balance", token_revoked_while_deferred)

    result = run_dag(sensor_dag("deferrable", min_balance=150, timeout=120, soft_fail=soft_fail))

    assert result.task_states == {"wait_for_balance": "failed"}
    assert len(trigger_runs) == 1
    assert trigger_runs[0]["status"] == "error"
    assert "FullSmsAuthenticationError" in trigger_runs[0]["message"]
    assert "Waiting for the FullSMS balance failed" in capsys.readouterr().out
    assert sandbox_conn.requests_count(BALANCE_PATH) == 2


def test_min_balance_from_an_upstream_xcom(
    sandbox_conn: SandboxClient, run_dag: Callable[[DAG], DagResult]
) -> None:
    from airflow.providers.common.compat.sdk import task

    with DAG(dag_id=f"balance_xcom_{uuid.uuid4().hex[:8]}", schedule=None) as dag:

        @task
        def campaign_cost() -> float:
            return 42.5

        cost = campaign_cost()
        wait = FullSmsBalanceSensor(
            task_id="wait_for_balance",
            min_balance="{{ ti.xcom_pull(task_ids='campaign_cost') }}",
            poke_interval=0.2,
            timeout=60,
        )
        cost >> wait

    result = run_dag(dag)

    assert result.task_states == {"campaign_cost": "success", "wait_for_balance": "success"}
    assert result.xcoms["wait_for_balance"] == 100.0


def test_min_balance_that_renders_to_text_fails_naming_the_value(
    sandbox_conn: SandboxClient, run_dag: Callable[[DAG], DagResult], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_dag(sensor_dag("poke", min_balance="{{ 'lots' }}", timeout=60))

    assert result.task_states == {"wait_for_balance": "failed"}
    assert "min_balance='lots' is not a number" in capsys.readouterr().out
    assert sandbox_conn.requests_count(BALANCE_PATH) == 0
