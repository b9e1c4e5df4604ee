"""
A report after each campaign, on real Airflow processes: the scheduler runs ``fullsms_crm_to_sms``
from ``example_dags`` against a sandbox process, and its send's asset event (through the alias
``fullsms/fullsms_crm_to_sms/send_campaign``) starts ``fullsms_campaign_report``, which nobody
triggers. The report states what the sandbox's phones received.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_fullsms.sandbox.testing import SandboxProcess
from tests.e2e.airflow_stack import AirflowStack

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
CAMPAIGN, REPORT = "fullsms_crm_to_sms", "fullsms_campaign_report"


@pytest.mark.slow
def test_a_finished_campaign_starts_its_report_with_the_campaigns_figures(tmp_path: Path) -> None:
    with SandboxProcess(balance=500) as sandbox:  # the campaign needs 136.60
        connection = json.dumps(
            {
                "conn_type": "fullsms",
                "host": sandbox.url,
                "password": sandbox.token,
                "extra": {"default_sender": "COPERATO"},
            }
        )
        home = tmp_path / "airflow"
        home.mkdir()
        with AirflowStack(home, EXAMPLE_DAGS, {"AIRFLOW_CONN_FULLSMS_DEFAULT": connection}) as stack:
            stack.wait_for_dag(REPORT)  # unpaused: it runs when the campaign's asset event comes
            stack.wait_for_dag(CAMPAIGN)

            stack.trigger(CAMPAIGN, "crm_campaign", conf={"work_dir": str(tmp_path / "work")})
            assert stack.wait_for_run(CAMPAIGN, "crm_campaign", timeout=300) == "success", stack.logs()

            def report_runs() -> list[dict[str, object]]:
                return list(stack.api("GET", f"dags/{REPORT}/dagRuns")["dag_runs"])

            stack.wait_until(
                "the report's run to finish",
                lambda: [run["state"] for run in report_runs()] in (["success"], ["failed"]),
                timeout=120,
            )
            [run] = report_runs()
            assert run["state"] == "success", stack.logs()
            assert run["run_type"] == "asset_triggered"
            # One line: the campaign, counted once though Airflow files its event twice.
            [line] = stack.xcom(REPORT, str(run["dag_run_id"]), "report")

        texted = len(sandbox.client.messages())
        campaign_ids = {message["campaign_id"] for message in sandbox.client.messages()}
    assert texted > 2000
    assert line.startswith(f"{texted} of ")
    assert f"{texted} of {texted} recipients texted; " in line
    assert all(campaign_id in line for campaign_id in campaign_ids)
