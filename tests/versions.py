"""
What a test needs of the installed Airflow, as marks: one place, like the provider's version_compat.

* :data:`needs_ledger_store` -- the test needs a ledger that survives between tries. Airflow 3.3 has
  ``context["task_state_store"]``; the store for older Airflow is being built (issue 23), and the
  mark comes off each test when it lands. Strict: a test that passes without it fails the run.
* :data:`needs_airflow_3` -- the test is about something Airflow 2.11 does not have at all (the
  Task SDK's api-server between a task and its state, the api-server that hosts the FullSMS page).
"""

from __future__ import annotations

import pytest

from airflow_provider_fullsms.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_3_PLUS

LEDGER_STORE_PENDING = "ledger store for Airflow < 3.3: issue 23, in progress"

needs_ledger_store = pytest.mark.xfail(not AIRFLOW_V_3_3_PLUS, strict=True, reason=LEDGER_STORE_PENDING)


def needs_airflow_3(what: str) -> pytest.MarkDecorator:
    """Skipped, saying why, on Airflow 2.11: ``what`` names the Airflow 3 piece the test is about."""
    return pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason=f"Airflow 2.11 has no {what}")


def deferral_timeout_kwargs() -> dict[str, object]:
    """The ``next_kwargs`` the installed Airflow resumes a task with when its trigger timed out."""
    try:
        from airflow.sdk.bases.operator import TriggerFailureReason
    except ImportError:  # Airflow 2.11: the scheduler's words (SchedulerJobRunner.check_trigger_timeouts)
        return {"error": "Trigger/execution timeout"}
    return {"error": TriggerFailureReason.TRIGGER_TIMEOUT}
