"""
The DAGs of :mod:`benchmarks.bench_throughput_stack`: one per side, one task each, the audience file
in the run's ``conf``. The benchmark copies this file into its stack's DAGs folder and sets:

* ``FULLSMS_BENCH_READ_FIRST``: ``1`` (default): the provider's task reads the file into a list
  before its clock starts, as the limit's does; ``0``: the provider reads the file itself;
* ``FULLSMS_BENCH_LEDGER_WRITES``: how many writes the ledger-writes-alone DAG makes.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG

from benchmarks.bench_throughput import CONCURRENCY, TEXT
from benchmarks.bench_throughput_stack import DAGS, TASK_ID
from benchmarks.stack_tasks import LedgerWritesOperator, LimitSendOperator, TimedSendToNumbersOperator

AUDIENCE = "{{ dag_run.conf['file'] }}"
READ_FIRST = os.environ.get("FULLSMS_BENCH_READ_FIRST", "1") == "1"
ARGS = {"schedule": None, "start_date": datetime(2025, 1, 1), "catchup": False}

# (a) the provider, its ledger through the api-server; (a0) the same, its ledger in the task's memory.
for dag_id, in_memory_ledger in ((DAGS["provider"], False), (DAGS["memory_ledger"], True)):
    with DAG(dag_id, **ARGS):
        TimedSendToNumbersOperator(
            task_id=TASK_ID,
            numbers_file=AUDIENCE,
            message=TEXT,
            max_concurrency=CONCURRENCY,
            read_first=READ_FIRST,
            in_memory_ledger=in_memory_ledger,
        )

with DAG(DAGS["limit"], **ARGS):
    LimitSendOperator(task_id=TASK_ID, numbers_file=AUDIENCE, message=TEXT, concurrency=CONCURRENCY)

with DAG(DAGS["ledger_writes"], **ARGS):
    LedgerWritesOperator(task_id=TASK_ID, writes=int(os.environ.get("FULLSMS_BENCH_LEDGER_WRITES", "801")))
