"""A small personalised campaign for the browser tests: four people, four texts, so four batches."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

PEOPLE = [
    {"number": "447700900101", "name": "Ada"},
    {"number": "447700900102", "name": "Grace"},
    {"number": "447700900103", "name": "Alan"},
    {"number": "447700900104", "name": "Edsger"},
]

with DAG(
    dag_id="fullsms_ui_campaign",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fullsms", "browser-test"],
):
    FullSmsSendToNumbersOperator(
        task_id="send_campaign",
        recipients=PEOPLE,
        message="Hi {name}, your table for two is booked for Friday.",
        # One batch at a time, so the sandbox's faults hit known batches.
        max_concurrency=1,
        # The page shows what the campaign comes to at this price.
        price_per_segment=0.05,
    )
