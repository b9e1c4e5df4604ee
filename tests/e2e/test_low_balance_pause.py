"""
End to end on real Airflow processes: a campaign whose credit runs out after one batch pauses in
the triggerer (state ``deferred``, no worker slot), and a top-up through the sandbox resumes it on
a worker from its ledger, with every phone texted exactly once.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from airflow_provider_fullsms.sandbox.testing import SandboxProcess
from tests.e2e.airflow_stack import AirflowStack

DAG_ID = "fullsms_e2e_low_balance_pause"
DAG = f"""
from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

with DAG({DAG_ID!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    FullSmsSendToNumbersOperator(
        task_id="send",
        numbers=[str(447700000000 + i) for i in range(3000)],
        message="Spring sale: 30% off this week",
        deferrable=True,
        low_balance_poke_interval=1,
        low_balance_timeout=300,
    )
"""
#: One batch of 500 one-segment texts at the sandbox's 0.05, plus the 1.00 it keeps back.
ONE_BATCH = 500 * 0.05 + 1.0
#: What the other 2,500 need.
REST = 2500 * 0.05 + 1.0


@pytest.mark.slow
def test_a_campaign_out_of_credit_waits_in_the_triggerer_and_a_top_up_finishes_it(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(DAG)
    home = tmp_path / "airflow"
    home.mkdir()
    with SandboxProcess(balance=ONE_BATCH) as sandbox:
        client = sandbox.client
        connection = json.dumps(
            {
                "conn_type": "fullsms",
                "host": sandbox.url,
                "password": sandbox.token,
                "extra": {"default_sender": "COPERATO", "price_per_segment": 0.05, "minimum_balance": 1},
            }
        )
        with AirflowStack(home, dags, {"AIRFLOW_CONN_FULLSMS_DEFAULT": connection}) as stack:
            stack.wait_for_dag(DAG_ID)
            run_id = "e2e_out_of_credit"
            stack.trigger(DAG_ID, run_id)

            def state() -> str | None:
                return stack.task_states(DAG_ID, run_id).get("send")

            stack.wait_until("the send to pause", lambda: state() == "deferred", timeout=60)
            assert len(client.messages()) == 500
            # A top-up that does not cover the rest keeps it waiting: the triggerer checks again.
            client.set_balance(REST - 10)
            checks = client.requests_count("/account/balance")
            stack.wait_until(
                "the trigger to check the balance again",
                lambda: client.requests_count("/account/balance") > checks + 1,
                timeout=30,
                interval=0.5,
            )
            assert state() == "deferred"
            assert len(client.messages()) == 500

            # The worker's exit when it deferred reaches the scheduler as an executor event; on a
            # loaded machine it can come after a prompt top-up re-queued the task, and Airflow then
            # fails the task ("finished (success) although the task says it's queued"). A real
            # top-up comes minutes later; wait for the event as the scheduler logs it.
            scheduler_log = stack.home / "scheduler.log"
            stack.wait_until(
                "the scheduler to see the worker exit when the task deferred",
                lambda: (
                    f"Received executor event with state success for task instance TaskInstanceKey("
                    f"dag_id='{DAG_ID}'" in scheduler_log.read_text(errors="replace")
                ),
                timeout=60,
                interval=0.5,
            )
            client.set_balance(REST + 5)
            stack.wait_until(
                "the run to finish", lambda: stack.run_state(DAG_ID, run_id) in {"success", "failed"}, 60
            )
            assert stack.run_state(DAG_ID, run_id) == "success", stack.logs()

        per_phone = Counter(message["to"] for message in client.messages())
        assert len(per_phone) == 3000
        assert set(per_phone.values()) == {1}
        assert client.balance() == pytest.approx(5 + 1.0)
