"""
A file-audience send for the observability run (tests/e2e/test_observability.py): a CSV audience,
a one-number-a-line opt-out file, a balance read, and a price, so every figure has a value.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_provider_fullsms.operators.fullsms import FullSmsGetBalanceOperator, FullSmsSendToNumbersOperator

with DAG(dag_id="fullsms_file_audience", schedule=None, catchup=False):
    balance = FullSmsGetBalanceOperator(task_id="balance")
    send = FullSmsSendToNumbersOperator(
        task_id="send",
        numbers_file=os.environ["FULLSMS_TEST_AUDIENCE"],
        exclude=os.environ["FULLSMS_TEST_OPT_OUTS"],
        message="Hi {first_name}, your parcel is on its way",
        sender="COPERATO",
        price_per_segment=0.05,
    )
    balance >> send
