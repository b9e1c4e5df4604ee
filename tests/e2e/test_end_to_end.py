"""
End to end on real Airflow processes: api-server, scheduler, triggerer and dag-processor run
``fullsms_balance_gated_batches`` from ``example_dags`` against a sandbox process.

The account starts too poor for the campaign, so the deferrable balance sensor must be seen
``deferred`` (waiting in the triggerer, holding no worker slot) on the plan's required balance; a
top-up through the sandbox releases it, the approval task then waits for a person, who approves
through Airflow's REST API, and every recipient of every shard is texted exactly once. A second
run is rejected: nothing is sent.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from airflow_provider_fullsms.sandbox.testing import SandboxProcess
from tests.e2e.airflow_stack import AirflowStack

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
DAG_ID = "fullsms_balance_gated_batches"
SHARDS, SHARD_SIZE = 3, 600
#: 1,800 one-segment texts at 0.05, plus the 1.00 the account keeps back.
NEEDED = SHARDS * SHARD_SIZE * 0.05 + 1.0


@pytest.mark.slow
def test_deferred_balance_sensor_waits_for_a_top_up_then_every_approved_shard_is_sent_once(
    tmp_path: Path,
) -> None:
    work_dir = tmp_path / "work"
    with SandboxProcess(balance=5) as sandbox:
        client = sandbox.client
        connection = json.dumps(
            {
                "conn_type": "fullsms",
                "host": sandbox.url,
                "password": sandbox.token,
                "extra": {"default_sender": "COPERATO", "minimum_balance": 1},
            }
        )
        home = tmp_path / "airflow"
        home.mkdir()
        with AirflowStack(home, EXAMPLE_DAGS, {"AIRFLOW_CONN_FULLSMS_DEFAULT": connection}) as stack:
            stack.wait_for_dag(DAG_ID)
            run_id = "e2e_low_balance"
            stack.trigger(
                DAG_ID, run_id, conf={"shards": SHARDS, "shard_size": SHARD_SIZE, "work_dir": str(work_dir)}
            )

            def sensor_state() -> str | None:
                return stack.task_states(DAG_ID, run_id).get("wait_for_balance")

            stack.wait_until("the balance sensor to defer", lambda: sensor_state() == "deferred", timeout=90)
            # Still deferred after the triggerer has checked the low balance again: it is waiting,
            # not failing, and nothing was sent.
            checks = client.requests_count("/account/balance")
            stack.wait_until(
                "the trigger to check the balance again",
                lambda: client.requests_count("/account/balance") > checks,
                timeout=30,
                interval=0.5,
            )
            assert sensor_state() == "deferred"
            assert client.messages() == []
            assert client.requests_count("/messages/send/to_numbers") == 0

            assert stack.xcom(DAG_ID, run_id, "campaign_plan", key="required_balance") == NEEDED

            client.set_balance(NEEDED + 50)
            # The money is there; a person reads the plan and approves it.
            stack.respond(DAG_ID, run_id, "approve_send", "Approve")
            body = stack.hitl_detail(DAG_ID, run_id, "approve_send")["body"]
            assert "**1,800 recipients**" in body
            assert "required balance 91.00" in body
            assert "to 447•••••••00: Your Coperato parcel" in body
            assert client.requests_count("/messages/send/to_numbers") == 0
            stack.wait_until(
                "the run to finish",
                lambda: stack.run_state(DAG_ID, run_id) in {"success", "failed"},
                timeout=120,
            )
            states = stack.task_states(DAG_ID, run_id)
            assert stack.run_state(DAG_ID, run_id) == "success", f"{states}\n{stack.logs()}"

            assert client.balance() == pytest.approx(50 + 1.0)

            # A second campaign, rejected: the sends are skipped.
            stack.trigger(
                DAG_ID, "e2e_rejected", conf={"shards": 1, "shard_size": 10, "work_dir": str(work_dir)}
            )
            stack.respond(DAG_ID, "e2e_rejected", "approve_send", "Reject")
            assert stack.wait_for_run(DAG_ID, "e2e_rejected", timeout=120) == "success"
            rejected = stack.task_states(DAG_ID, "e2e_rejected")

        assert states == {
            "build_shards": "success",
            **{f"plan_shard[{i}]": "success" for i in range(SHARDS)},
            "campaign_plan": "success",
            "approved_sends": "success",
            "wait_for_balance": "success",
            "approve_send": "success",
            **{f"send_shard[{i}]": "success" for i in range(SHARDS)},
            "report": "success",
        }
        assert (rejected["approve_send"], rejected["send_shard"], rejected["report"]) == (
            "success",
            "skipped",
            "skipped",
        )
        per_number = Counter(message["to"] for message in client.messages())
        assert len(per_number) == SHARDS * SHARD_SIZE
        assert set(per_number.values()) == {1}
        shards = work_dir.glob(f"*/{run_id}/shard-*.csv")
        assert set(per_number) == {line for path in shards for line in path.read_text().split()[1:]}
        assert client.balance() == pytest.approx(50 + 1.0)  # the rejected run sent nothing


TIMEOUT_DAG = """
from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_fullsms.sensors.fullsms import FullSmsBalanceSensor

with DAG("fullsms_e2e_sensor_timeout", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    FullSmsBalanceSensor(
        task_id="soft", min_balance=1000, deferrable=True, poke_interval=1, timeout=6, soft_fail=True
    )
    FullSmsBalanceSensor(task_id="hard", min_balance=1000, deferrable=True, poke_interval=1, timeout=6)
"""


@pytest.mark.slow
def test_a_deferred_sensor_times_out_in_the_triggerer_like_in_any_other_mode(tmp_path: Path) -> None:
    """The deferral carries the sensor's timeout: skipped under soft_fail, failed without it."""
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "fullsms_e2e_sensor_timeout.py").write_text(TIMEOUT_DAG)
    home = tmp_path / "airflow"
    home.mkdir()
    with SandboxProcess(balance=5) as sandbox:
        connection = sandbox.client.connection_uri()
        with AirflowStack(home, dags, {"AIRFLOW_CONN_FULLSMS_DEFAULT": connection}) as stack:
            dag_id, run_id = "fullsms_e2e_sensor_timeout", "e2e_timeout"
            stack.wait_for_dag(dag_id)
            stack.trigger(dag_id, run_id)
            stack.wait_until(
                "both sensors to defer",
                lambda: set(stack.task_states(dag_id, run_id).values()) == {"deferred"},
                90,
            )
            stack.wait_until(
                "the run to finish", lambda: stack.run_state(dag_id, run_id) in {"success", "failed"}, 120
            )
            states = stack.task_states(dag_id, run_id)
        checks = sandbox.client.requests_count("/account/balance")
    assert states == {"soft": "skipped", "hard": "failed"}
    assert checks >= 4, "the triggerer kept checking until the timeout"
