"""
``[core] hostname_callable`` of the end-to-end Celery workers: each worker reports its own name.

The suite's workers share one machine, so the default (the machine's FQDN) would be the same for
all of them. With a name each, a task instance's ``hostname`` says which worker ran each try.
"""

from __future__ import annotations

import os

#: The environment variable :class:`~tests.e2e.airflow_stack.AirflowStack` sets per worker.
VARIABLE = "FULLSMS_E2E_WORKER_HOSTNAME"


def from_environment() -> str:
    """This worker's name."""
    return os.environ[VARIABLE]
