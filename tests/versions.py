"""
What a test needs of the installed Airflow, as marks: one place, like the provider's version_compat.

* :data:`needs_airflow_3` -- the test is about something Airflow 2.11 does not have at all (the
  Task SDK's api-server between a task and its state, the api-server that hosts the FullSMS page).
"""

from __future__ import annotations

import pytest

from airflow_provider_fullsms.version_compat import AIRFLOW_V_3_0_PLUS


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
