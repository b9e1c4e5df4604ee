"""
End to end on real Airflow processes: FullSmsNotifier texts the on-call phone when a DAG run misses
its deadline, and the approver's phone when a campaign's plan starts waiting for approval.

One stack (api-server, scheduler, triggerer, dag-processor; LocalExecutor) and one sandbox process
serve both tests; each phone number belongs to one DAG, so the sandbox's inbox tells them apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess
from tests.e2e.airflow_stack import AirflowStack

ONCALL_ASYNC = "447700900701"
ONCALL_SYNC = "447700900702"
APPROVER = "447700900888"
RECIPIENTS = ["447700900501", "447700900502", "447700900503"]

DAGS = f'''
from __future__ import annotations

import time
from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, AsyncCallback, DeadlineAlert, DeadlineReference, SyncCallback, task

from airflow_provider_fullsms.notifications.fullsms import send_fullsms_notification
from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
LATE = "{{{{ dag_run.dag_id }}}} run {{{{ dag_run.dag_run_id }}}} missed its deadline"

for callback_type, oncall in ((AsyncCallback, "{ONCALL_ASYNC}"), (SyncCallback, "{ONCALL_SYNC}")):
    name = callback_type.__name__.lower()
    deadline = DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(seconds=5),
        callback=callback_type(send_fullsms_notification, kwargs={{"numbers": [oncall], "message": LATE}}),
    )
    with DAG(f"fullsms_e2e_deadline_{{name}}", schedule=None, start_date=START, deadline=deadline):

        @task
        def slow_load() -> None:
            time.sleep(30)

        slow_load()

MESSAGE = "Spring sale: 20% off at Coperato until Sunday. Reply STOP to opt out."
with DAG("fullsms_e2e_approval", schedule=None, start_date=START):
    plan = FullSmsSendToNumbersOperator(task_id="plan", numbers={RECIPIENTS!r}, message=MESSAGE, dry_run=True)

    @task(multiple_outputs=True)
    def approval(plan: dict) -> dict:
        from airflow_provider_fullsms.campaigns import describe_plan, describe_plan_briefly

        return {{"body": describe_plan(plan), "text": describe_plan_briefly(plan)}}

    texts = approval(plan.output)
    approve = ApprovalOperator(
        task_id="approve",
        subject="Send the spring sale?",
        body=texts["body"],
        notifiers=[
            send_fullsms_notification(
                numbers=["{APPROVER}"],
                message="Waiting for you in Airflow: {{{{ task.subject }}}} "
                "{{{{ ti.xcom_pull(task_ids='approval', key='text') }}}}",
            )
        ],
    )
    send = FullSmsSendToNumbersOperator(
        task_id="send",
        numbers={RECIPIENTS!r},
        message=MESSAGE,
        expected_fingerprint=plan.output["fingerprint"],
    )
    approve >> send
'''


@dataclass
class Deployment:
    stack: AirflowStack
    sandbox: SandboxClient


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("alerts")
    dags = root / "dags"
    dags.mkdir()
    (dags / "fullsms_e2e_alerts.py").write_text(DAGS)
    home = root / "airflow"
    home.mkdir()
    with SandboxProcess(balance=100) as sandbox:
        # The sandbox's own connection: default sender, price per segment, minimum balance.
        connection = sandbox.client.connection_uri()
        with AirflowStack(home, dags, {"AIRFLOW_CONN_FULLSMS_DEFAULT": connection}) as stack:
            yield Deployment(stack, sandbox.client)


def texts_to(client: SandboxClient, number: str) -> list[str]:
    return [message["text"] for message in client.messages(to=number)]


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "oncall"), [("asynccallback", ONCALL_ASYNC), ("synccallback", ONCALL_SYNC)])
def test_a_run_that_misses_its_deadline_texts_the_oncall_phone(
    deployment: Deployment, kind: str, oncall: str
) -> None:
    stack, client = deployment.stack, deployment.sandbox
    dag_id, run_id = f"fullsms_e2e_deadline_{kind}", f"e2e_late_{kind}"
    stack.wait_for_dag(dag_id)
    stack.trigger(dag_id, run_id)

    # Five seconds after it was queued, the run is late: its task sleeps for thirty.
    stack.wait_until(f"the deadline text of {run_id}", lambda: texts_to(client, oncall), timeout=120)

    assert texts_to(client, oncall) == [f"{dag_id} run {run_id} missed its deadline"]
    assert stack.run_state(dag_id, run_id) == "running"
    assert stack.wait_for_run(dag_id, run_id, timeout=120) == "success"
    assert texts_to(client, oncall) == [f"{dag_id} run {run_id} missed its deadline"]  # once


@pytest.mark.slow
def test_the_approver_is_texted_the_plan_when_the_approval_starts_waiting(deployment: Deployment) -> None:
    stack, client = deployment.stack, deployment.sandbox
    dag_id, run_id = "fullsms_e2e_approval", "e2e_approval"
    stack.wait_for_dag(dag_id)
    stack.trigger(dag_id, run_id)

    stack.wait_until(
        "the approval to wait",
        lambda: stack.task_states(dag_id, run_id).get("approve") == "awaiting_input",
        120,
    )

    # Nobody has answered yet: the approver has the plan in a text, the recipients have nothing.
    assert texts_to(client, APPROVER) == [
        "Waiting for you in Airflow: Send the spring sale? 3 recipients, 3 SMS segments, cost 0.15"
    ]
    assert not {message["to"] for message in client.messages()} & set(RECIPIENTS)
    assert "**3 recipients**" in stack.hitl_detail(dag_id, run_id, "approve")["body"]

    stack.respond(dag_id, run_id, "approve", "Approve")
    assert stack.wait_for_run(dag_id, run_id, timeout=120) == "success", stack.logs()
    assert sorted(message["to"] for message in client.messages() if message["to"] in RECIPIENTS) == RECIPIENTS
    assert len(texts_to(client, APPROVER)) == 1
