"""
End to end on real Airflow processes: ``fullsms_send_on_top_up`` from ``example_dags`` is started
by its asset watcher, in a real triggerer, when the sandbox's balance is topped up.

While the balance is low the triggerer reads it again and again and no run starts; the top-up
through the sandbox's control API starts exactly one run, which texts the waiting list once. The
run leaves the balance above the threshold: no other run follows, however many reads, also after
the triggerer is killed and restarted. Spent below the threshold and topped up again, the account
gets its second run.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess
from tests.e2e.airflow_stack import AirflowStack

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
DAG_ID = "fullsms_send_on_top_up"
WAITING_LIST = 120
BALANCE_PATH = "/account/balance"


def example_dag_polling_every_second(dags: Path) -> None:
    """The example as it is, but reading the balance every second instead of every minute."""
    source = (EXAMPLE_DAGS / f"{DAG_ID}.py").read_text()
    fast, replaced = re.subn(r"^POKE_INTERVAL = 60\.0$", "POKE_INTERVAL = 1.0", source, flags=re.MULTILINE)
    assert replaced == 1, "the example names its POKE_INTERVAL on one line"
    (dags / "data").mkdir(parents=True)
    (dags / f"{DAG_ID}.py").write_text(fast)
    shutil.copy(EXAMPLE_DAGS / "data" / "waiting_list.csv", dags / "data")


def runs(stack: AirflowStack) -> list[dict[str, Any]]:
    return list(stack.api("GET", f"dags/{DAG_ID}/dagRuns", params={"order_by": "run_after"})["dag_runs"])


def topped_up_asset_id(stack: AirflowStack) -> int:
    (asset,) = stack.api("GET", "assets", params={"name_pattern": "fullsms_balance_topped_up"})["assets"]
    return int(asset["id"])


def wait_for_reads(stack: AirflowStack, client: SandboxClient, more: int) -> None:
    """Wait until the triggerer has read the balance ``more`` more times."""
    seen = client.requests_count(BALANCE_PATH)
    stack.wait_until(
        f"{more} more balance reads",
        lambda: client.requests_count(BALANCE_PATH) >= seen + more,
        timeout=60,
        interval=0.5,
    )


def wait_for_finished_runs(stack: AirflowStack, count: int) -> list[dict[str, Any]]:
    stack.wait_until(
        f"{count} finished run(s) of {DAG_ID}",
        lambda: sum(run["state"] in ("success", "failed") for run in runs(stack)) >= count,
        timeout=180,
    )
    return runs(stack)


@pytest.mark.slow
def test_a_top_up_starts_the_send_once_and_a_low_balance_starts_nothing(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    example_dag_polling_every_second(dags)
    home = tmp_path / "airflow"
    home.mkdir()
    with SandboxProcess(balance=5) as sandbox:
        client = sandbox.client
        # The sandbox's own connection: default sender, price per segment, minimum balance.
        connection = sandbox.client.connection_uri()
        with AirflowStack(home, dags, {"AIRFLOW_CONN_FULLSMS_DEFAULT": connection}) as stack:
            stack.wait_for_dag(DAG_ID)
            # The watcher reads 5.00, below the 25 of a top-up, again and again: nothing starts.
            stack.wait_until(
                "the triggerer to read the balance",
                lambda: client.requests_count(BALANCE_PATH) > 0,
                timeout=120,
                interval=0.5,
            )
            wait_for_reads(stack, client, 5)
            assert runs(stack) == []
            assert client.messages() == []

            client.set_balance(40)
            (first,) = wait_for_finished_runs(stack, 1)
            assert first["state"] == "success", stack.logs()
            assert first["run_type"] == "asset_triggered"
            assert stack.xcom(DAG_ID, first["dag_run_id"], "top_up") == 40.0
            texted = Counter(message["to"] for message in client.messages())
            assert len(texted) == WAITING_LIST
            assert set(texted.values()) == {1}
            assert client.balance() == pytest.approx(40 - WAITING_LIST * 0.05)

            # 34.00 is still a funded account, not a new top-up: read again and again, no new run,
            # also by a triggerer restarted meanwhile (the watched asset's state store remembers).
            wait_for_reads(stack, client, 3)
            stack.kill("triggerer")
            stack.restart("triggerer")
            wait_for_reads(stack, client, 5)
            assert len(runs(stack)) == 1
            asset_id = topped_up_asset_id(stack)
            memory = stack.api("GET", f"assets/{asset_id}/state-store")["asset_state_store"]
            assert [(entry["key"], entry["value"]) for entry in memory] == [
                ("fullsms.top_up.fullsms_default.25", True)
            ]

            # Another campaign spends it below 25; the next top-up starts the second run.
            client.set_balance(10)
            wait_for_reads(stack, client, 2)
            assert len(runs(stack)) == 1
            client.set_balance(40)
            second = wait_for_finished_runs(stack, 2)[1]
            assert second["state"] == "success", stack.logs()
            assert stack.xcom(DAG_ID, second["dag_run_id"], "top_up") == 40.0
            # The watched asset's events only (each send also updates its campaign's asset).
            params = {"asset_id": topped_up_asset_id(stack), "order_by": "timestamp"}
            events = stack.api("GET", "assets/events", params=params)["asset_events"]

        texted = Counter(message["to"] for message in client.messages())
        assert len(texted) == WAITING_LIST
        assert set(texted.values()) == {2}  # once a run
        payloads = [event["extra"]["payload"] for event in events]
        assert payloads == [{"balance": 40.0, "min_balance": 25.0, "fullsms_conn_id": "fullsms_default"}] * 2
