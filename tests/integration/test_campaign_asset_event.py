"""
A send's campaign asset event in a real DAG run (``dag.test()``): recorded by Airflow where it can
be, and never the reason a send that texted everyone fails.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_fullsms.assets import api_host, campaign_uri
from airflow_provider_fullsms.campaigns.counts import read_asset_extra
from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
from airflow_provider_fullsms.version_compat import ASSET_EVENT_RECORDS_UNKNOWN_ALIAS
from tests.versions import recorded_asset_events, register_dag

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess

NUMBERS = ["447700900001", "447700900002"]


def campaign_dag(dag_id: str) -> Any:
    with DAG(dag_id, schedule=None, start_date=datetime(2025, 1, 1)) as dag:
        FullSmsSendToNumbersOperator(task_id="send", numbers=NUMBERS, message="Spring sale!")
    return dag


def test_a_finished_campaign_is_recorded_as_an_event_of_its_asset_with_its_counts(
    sandbox: SandboxProcess, sandbox_conn: SandboxClient, airflow_db: None
) -> None:
    dag = campaign_dag("fullsms_asset_event_stored")
    register_dag(dag)  # as the DAG processor writes a DAG file's DAG

    run = dag.test()

    assert run.state == "success"
    assert sorted(m["to"] for m in sandbox_conn.messages()) == NUMBERS
    uri = campaign_uri(api_host(sandbox.url), dag.dag_id, "send")
    [extra] = recorded_asset_events(uri)
    counts = read_asset_extra(extra)
    assert (counts["recipients"], counts["accepted"], counts["invalid"]) == (2, 2, 0)
    assert counts["campaign_ids"] == sorted({m["campaign_id"] for m in sandbox_conn.messages()})


@pytest.mark.skipif(
    ASSET_EVENT_RECORDS_UNKNOWN_ALIAS,
    reason="Airflow 3 records an event through an alias it has no record of",
)
def test_on_airflow_2_11_a_dag_never_stored_sends_and_says_why_its_event_is_not_recorded(
    sandbox: SandboxProcess,
    sandbox_conn: SandboxClient,
    airflow_db: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Airflow 2.11's dag.test() leaves the DAG, and so its alias, out of the metadata database, and
    # fails a task whose event goes through an alias it has no record of.
    dag = campaign_dag("fullsms_asset_event_never_stored")

    run = dag.test()

    assert run.state == "success"
    assert sorted(m["to"] for m in sandbox_conn.messages()) == NUMBERS
    assert recorded_asset_events(campaign_uri(api_host(sandbox.url), dag.dag_id, "send")) == []
    said = capsys.readouterr().out + caplog.text
    assert "No FullSMS campaign asset event: Airflow has no record of the asset alias " in said
    assert "fullsms/fullsms_asset_event_never_stored/send" in said
