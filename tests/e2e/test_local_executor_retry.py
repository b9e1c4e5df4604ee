"""
The no-duplicate guarantee on a real scheduler and LocalExecutor, on whichever Airflow runs it.

A campaign of 3,000 numbers (6 batches) whose first try dies mid-way -- FullSMS answers 503 to
the third batch until the hook gives up -- is finished by Airflow's retry, everyone texted exactly
once; a campaign whose second batch's answer is lost fails naming that batch, and the clear a
person makes afterwards does not send it again. ``make matrix`` runs this file on every Airflow
minor (the ledger lives in the task state store on 3.3, in Variables before).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import pytest

from airflow_provider_fullsms.sandbox.testing import SandboxProcess
from tests.e2e.airflow_stack import AIRFLOW_2, AirflowStack
from tests.e2e.servers import PostgresServer

SEND = "/messages/send/to_numbers"
DAG_ID = "fullsms_e2e_retry"
RECIPIENTS = 3_000  # six batches of 500
DAG_FILE = f'''
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

with DAG("{DAG_ID}", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
    FullSmsSendToNumbersOperator(
        task_id="send",
        numbers_file="{{{{ dag_run.conf['file'] }}}}",
        message="Your parcel is on its way.",
        max_concurrency=1,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
'''


@pytest.fixture(scope="module")
def stack_and_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("retry")
    dags = root / "dags"
    dags.mkdir()
    (dags / "fullsms_e2e_retry.py").write_text(DAG_FILE)
    audience = root / "audience.csv"
    audience.write_text("number\n" + "".join(f"{447700000000 + i}\n" for i in range(RECIPIENTS)))
    home = root / "airflow"
    home.mkdir()
    with contextlib.ExitStack() as servers:
        sandbox = servers.enter_context(SandboxProcess(balance=100_000))
        env = {"AIRFLOW_CONN_FULLSMS_DEFAULT": sandbox.client.connection_uri()}
        if AIRFLOW_2:  # Airflow 2 refuses the LocalExecutor on SQLite
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = servers.enter_context(PostgresServer()).url
        stack = servers.enter_context(AirflowStack(home, dags, env))
        stack.wait_for_dag(DAG_ID)
        yield stack, sandbox, audience


def texts_per_phone(sandbox: SandboxProcess) -> Counter[str]:
    return Counter(message["to"] for message in sandbox.client.messages())


@pytest.mark.slow
def test_a_first_try_that_dies_mid_campaign_is_finished_by_the_retry_everyone_texted_once(
    stack_and_sandbox: Any,
) -> None:
    stack, sandbox, audience = stack_and_sandbox
    sandbox.client.reset()
    # The third batch gets 503 six times: more than the hook's five attempts, so the try fails.
    sandbox.client.inject_fault("error", path=SEND, after=2, count=6, status=503)

    stack.trigger(DAG_ID, "dies_mid_way", conf={"file": str(audience)})
    state = stack.wait_for_run(DAG_ID, "dies_mid_way", timeout=300)

    assert state == "success", stack.logs()
    assert [t["state"] for t in stack.tries(DAG_ID, "dies_mid_way", "send")] == ["failed", "success"]
    per_phone = texts_per_phone(sandbox)
    assert len(per_phone) == RECIPIENTS
    assert set(per_phone.values()) == {1}
    summary = stack.xcom(DAG_ID, "dies_mid_way", "send")
    assert summary["sent"] == RECIPIENTS
    assert summary["batches"]["skipped_already_accepted"] == 2  # the retry resumed after them


@pytest.mark.slow
def test_a_lost_answer_is_reported_unknown_and_never_sent_again(stack_and_sandbox: Any) -> None:
    stack, sandbox, audience = stack_and_sandbox
    sandbox.client.reset()
    # FullSMS acts on the second batch, then the connection drops before its answer.
    sandbox.client.inject_fault("drop", path=SEND, after=1)

    stack.trigger(DAG_ID, "answer_lost", conf={"file": str(audience)})
    assert stack.wait_for_run(DAG_ID, "answer_lost", timeout=300) == "failed"

    summary = stack.xcom(DAG_ID, "answer_lost", "send", key="fullsms_summary")
    assert [batch["index"] for batch in summary["batches"]["unknown"]] == [1]
    assert summary["unknown_recipients"] == 500
    assert summary["sent"] == RECIPIENTS - 500
    # A person clears the task without settling the batch: the try sends nothing again.
    sent_before = sandbox.client.requests_count(SEND)
    stack.clear(DAG_ID, "answer_lost", ["send"])
    stack.wait_until(
        "the cleared task to run again",
        lambda: (
            len(stack.tries(DAG_ID, "answer_lost", "send")) == 2
            and stack.run_state(DAG_ID, "answer_lost") in {"success", "failed"}
        ),
        timeout=300,
    )
    assert stack.run_state(DAG_ID, "answer_lost") == "failed"
    assert sandbox.client.requests_count(SEND) == sent_before
    per_phone = texts_per_phone(sandbox)
    assert max(per_phone.values()) == 1
    assert len(per_phone) == RECIPIENTS  # the lost batch went out once, before its answer was lost
