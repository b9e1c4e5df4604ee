"""
End to end on the CeleryExecutor: PostgreSQL (metadata DB), Redis (broker), api-server, scheduler,
dag-processor, triggerer and two Celery workers (``worker-a``, ``worker-b``, two slots each), each
in its own process group on loopback and free ports, started and stopped here.

One deployment serves the whole module. The shard test runs first: it needs both workers, and the
kill test leaves only one alive. ``make matrix`` runs the kill test on Airflow 3.0 too (the ledger in
Variables there, read and settled through the REST API as ``fullsms-batches`` does); the shard
test's example DAG needs 3.1.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess
from airflow_provider_fullsms.version_compat import AIRFLOW_V_3_1_PLUS
from benchmarks import bench_celery_shards
from benchmarks._common import connection_json
from tests.conftest import SANDBOX_TOKEN
from tests.e2e.airflow_stack import AirflowStack, celery_stack
from tests.versions import needs_airflow_3_1

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
WORKERS = bench_celery_shards.WORKERS
SEND_PATH = "/messages/send/to_numbers"
BIG_BALANCE = 1_000_000
#: A dead worker is noticed through the task heartbeat timeout (default 300 s): 10 s here, checked
#: every 2 s, with the supervisor heartbeating every 2 s.
HEARTBEAT = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "10",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
}

KILL_DAG_ID = "fullsms_e2e_worker_killed"
KILL_DAG = f'''
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

with DAG("{KILL_DAG_ID}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    FullSmsSendToNumbersOperator(
        task_id="send",
        numbers_file="{{{{ dag_run.conf['numbers_file'] }}}}",
        message="Your Coperato order is on its way. Reply STOP to opt out.",
        max_concurrency=1,  # one batch in flight at a time
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
'''
#: 8 batches of 500, then rows no phone could have: every figure of the summary is exercised.
RECIPIENTS = 4_000
INVALID_ROWS = ["12345", "not a number", "+44 20"]
BATCH = 500
#: FullSMS acts on each send at once and answers 2 s later: long enough for the test to see a
#: batch in flight and kill its worker before the answer comes. A silent resend of that batch
#: would text its phones twice.
ANSWER_DELAY_S = 2


@dataclass
class Deployment:
    stack: AirflowStack
    sandbox: SandboxClient
    work_dir: Path


@pytest.fixture(scope="module")
def celery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("celery")
    dags = root / "dags"
    dags.mkdir()
    (dags / f"{KILL_DAG_ID}.py").write_text(KILL_DAG)
    if AIRFLOW_V_3_1_PLUS:  # its approval step is Human-in-the-loop
        shutil.copy(EXAMPLE_DAGS / f"{bench_celery_shards.DAG_ID}.py", dags)
    with SandboxProcess(balance=BIG_BALANCE, token=SANDBOX_TOKEN) as sandbox:
        env = {"AIRFLOW_CONN_FULLSMS_DEFAULT": connection_json(sandbox.url, sandbox.token), **HEARTBEAT}
        with celery_stack(root, dags, env, WORKERS) as stack:
            stack.wait_for_dag(KILL_DAG_ID)
            if AIRFLOW_V_3_1_PLUS:
                stack.wait_for_dag(bench_celery_shards.DAG_ID)
            yield Deployment(stack, sandbox.client, root / "work")


def fresh_sandbox(client: SandboxClient, kind: str, **delay: float) -> None:
    """An empty inbox, a big balance, and every send delayed by the fault ``kind``."""
    client.reset()
    client.set_balance(BIG_BALANCE)
    client.inject_fault(kind, path=SEND_PATH, count=1_000_000, **delay)


@pytest.mark.slow
@needs_airflow_3_1("Human-in-the-loop approval (ApprovalOperator), which the balance-gated example uses")
def test_shards_of_a_balance_gated_campaign_spread_over_both_workers_and_text_every_phone_once(
    celery: Deployment,
) -> None:
    fresh_sandbox(celery.sandbox, "latency", ms=bench_celery_shards.LATENCY_MS)

    run = bench_celery_shards.run_dag(
        celery.stack, "e2e_shards", shards=4, shard_size=1_000, work_dir=celery.work_dir
    )

    assert run.state == "success", celery.stack.logs()
    per_phone = Counter(message["to"] for message in celery.sandbox.messages())
    assert len(per_phone) == 4 * 1_000
    assert set(per_phone.values()) == {1}
    assert set(run.shard_hosts) == set(WORKERS), run.shard_hosts


def ledger_states(stack: AirflowStack, run_id: str) -> dict[int, str]:
    """``{batch index: state}`` from the send task's state store, as the REST API shows it."""
    store = stack.state_store(KILL_DAG_ID, run_id, "send")
    prefix = "fullsms.batch."
    return {int(key[len(prefix) :]): value["s"] for key, value in store.items() if key.startswith(prefix)}


@pytest.mark.slow
def test_a_worker_killed_mid_campaign_never_texts_anyone_twice_and_the_retry_runs_on_the_other_worker(
    celery: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack, client = celery.stack, celery.sandbox
    fresh_sandbox(client, "slow", seconds=ANSWER_DELAY_S)
    numbers = [f"4477005{i:05d}" for i in range(RECIPIENTS)]
    audience = tmp_path / "audience.csv"
    audience.write_text("number\n" + "\n".join(numbers + INVALID_ROWS) + "\n")
    run_id = "e2e_worker_killed"
    stack.trigger(KILL_DAG_ID, run_id, conf={"numbers_file": str(audience)})

    def some_accepted_and_one_in_flight() -> bool:
        states = list(ledger_states(stack, run_id).values())
        return states.count("accepted") >= 2 and "in_flight" in states

    stack.wait_until("accepted batches and one in flight", some_accepted_and_one_in_flight, 180, 0.2)
    victim = stack.task_instance(KILL_DAG_ID, run_id, "send")["hostname"]
    killed_groups = stack.kill_worker(victim)
    at_kill = ledger_states(stack, run_id)
    in_flight = [index for index, state in at_kill.items() if state == "in_flight"]

    assert stack.wait_for_run(KILL_DAG_ID, run_id, timeout=180) == "failed"
    tries = stack.tries(KILL_DAG_ID, run_id, "send")
    summary = stack.xcom(KILL_DAG_ID, run_id, "send", "fullsms_summary")
    per_phone = Counter(message["to"] for message in client.messages())
    batch_numbers = {index: set(numbers[index * BATCH : (index + 1) * BATCH]) for index in in_flight}
    figures: dict[str, Any] = {
        "killed worker": victim,
        "process groups killed": len(killed_groups),
        "ledger at the kill": at_kill,
        "after the retry": outcome(tries, per_phone, summary),
    }

    # A person checks FullSMS for each unknown batch, records what they found, and clears the task.
    # (The batch just accepted when the worker died may be among them: its record is written once
    # the next batch is out, so no ledger write holds a send back.)
    delivered = {index: numbers_ & set(per_phone) for index, numbers_ in batch_numbers.items()}
    decisions = {f"fullsms.decision.{index}": "sent" if delivered[index] else "resend" for index in in_flight}
    for key, decision in decisions.items():
        stack.set_state(KILL_DAG_ID, run_id, "send", key, decision)
    stack.clear(KILL_DAG_ID, run_id, ["send"])

    def settled_try_finished() -> bool:
        # The run's own state says "failed" until the scheduler picks the cleared task up: wait
        # for the task's next try to end instead.
        ti = stack.task_instance(KILL_DAG_ID, run_id, "send")
        return ti["try_number"] > len(tries) and ti["state"] in {"success", "failed"}

    stack.wait_until("the settled try to finish", settled_try_finished, timeout=180)
    settled_state = stack.wait_for_run(KILL_DAG_ID, run_id, timeout=60)
    settled_tries = stack.tries(KILL_DAG_ID, run_id, "send")
    final = stack.xcom(
        KILL_DAG_ID, run_id, "send", "fullsms_summary" if settled_state == "failed" else "return_value"
    )
    final_per_phone = Counter(message["to"] for message in client.messages())
    store = stack.state_store(KILL_DAG_ID, run_id, "send")
    figures["decisions"] = decisions
    figures["after the decision and a clear"] = outcome(settled_tries, final_per_phone, final)
    report(tmp_path, capsys, figures)
    assert settled_state == "success", stack.logs()

    # Nobody was texted twice, and the retry ran on the worker that is still alive.
    assert max(per_phone.values()) == 1
    assert 1 <= len(in_flight) <= 2, at_kill  # the batch out, and the one handed over to go next
    assert [t["hostname"] for t in tries] == [victim, *(w for w in WORKERS if w != victim)], tries
    # Every row of the file is in exactly one figure of the summary.
    assert summary["invalid"]["count"] == len(INVALID_ROWS)
    assert figure_total(summary) == RECIPIENTS + len(INVALID_ROWS)
    # The batch in flight at the kill is reported unknown, never resent; every other one was sent.
    assert [batch["index"] for batch in summary["batches"]["unknown"]] == in_flight
    unknown = BATCH * len(in_flight)
    assert (summary["sent"], summary["unknown_recipients"]) == (RECIPIENTS - unknown, unknown)
    assert set(numbers) - set().union(*batch_numbers.values()) <= set(per_phone)
    for index in in_flight:
        assert delivered[index] in (set(), batch_numbers[index]), "FullSMS acts on a whole request or none"
    # Settled, the campaign completes: every phone texted exactly once, nobody unknown.
    assert final_per_phone == dict.fromkeys(numbers, 1)
    assert (final["unknown_recipients"], figure_total(final)) == (0, RECIPIENTS + len(INVALID_ROWS))
    # The API token is nowhere: not in the state store, not in any process's or task's log.
    assert SANDBOX_TOKEN not in json.dumps(store)
    logs = [path for path in stack.home.rglob("*.log") if SANDBOX_TOKEN in path.read_text(errors="replace")]
    assert logs == []


def figure_total(summary: dict[str, Any]) -> int:
    """Sent, invalid, unknown and not sent: every row of the audience should be in one of them."""
    return int(
        summary["sent"]
        + summary["invalid"]["count"]
        + summary["unknown_recipients"]
        + summary["not_sent_recipients"]
    )


def outcome(tries: list[dict[str, Any]], per_phone: Counter[str], summary: dict[str, Any]) -> dict[str, Any]:
    """What the lead quotes: each try's worker and state, texts per phone, the summary's figures."""
    return {
        "tries": [f"{t['try_number']}: {t['hostname']} {t['state']}" for t in tries],
        "phones texted": len(per_phone),
        "texts per phone, at most": max(per_phone.values(), default=0),
        "summary": {
            "sent": summary["sent"],
            "invalid": summary["invalid"]["count"],
            "unknown": summary["unknown_recipients"],
            "not sent": summary["not_sent_recipients"],
            "unknown batches": [b["index"] for b in summary["batches"]["unknown"]],
        },
    }


def report(tmp_path: Path, capsys: pytest.CaptureFixture[str], figures: dict[str, Any]) -> None:
    """Keep the figures beside the test's files and print them, before any assertion."""
    text = json.dumps(figures, indent=2, default=str)
    (tmp_path / "figures.json").write_text(text)
    with capsys.disabled():
        print(f"\nworker-killed figures ({tmp_path / 'figures.json'}):\n{text}")
