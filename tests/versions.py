"""
What a test needs of the installed Airflow, in one place, like the provider's version_compat.

* :data:`needs_airflow_3` -- the test is about something Airflow 2.11 does not have at all (the
  Task SDK's api-server between a task and its state, the api-server that hosts the FullSMS page).
* :func:`dag_bag`, :func:`import_string`, :func:`serde`, :func:`outlet_events` -- Airflow's own
  pieces a test calls, from wherever the installed Airflow keeps them.
"""

from __future__ import annotations

from typing import Any

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


def dag_bag(dag_folder: str) -> Any:
    """The DAGs of ``dag_folder`` (a file or a folder), parsed as the DAG processor parses them."""
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.2+
    except ImportError:
        from airflow.models.dagbag import DagBag
    return DagBag(dag_folder=dag_folder)


def import_string(dotted_path: str) -> Any:
    """What Airflow imports a serialised trigger's or callback's class path with."""
    try:
        from airflow.sdk.module_loading import import_string as airflows  # Airflow 3.1+
    except ImportError:
        from airflow.utils.module_loading import import_string as airflows
    return airflows(dotted_path)


def serde() -> tuple[Any, Any]:
    """Airflow's ``serialize`` and ``deserialize``, which a trigger's kwargs go through to the triggerer."""
    try:
        from airflow.sdk.serde import deserialize, serialize  # Airflow 3.2+
    except ImportError:
        from airflow.serialization.serde import deserialize, serialize
    return serialize, deserialize


def deadline_callbacks() -> tuple[Any, Any]:
    """Deadline alerts' ``AsyncCallback`` and ``SyncCallback`` (Airflow 3.1+; in ``airflow.sdk`` from 3.2)."""
    try:
        from airflow.sdk import AsyncCallback, SyncCallback
    except ImportError:
        from airflow.sdk.definitions.deadline import AsyncCallback, SyncCallback
    return AsyncCallback, SyncCallback


def outlet_events() -> Any:
    """An empty ``context["outlet_events"]``, as the installed Airflow gives a running task."""
    try:
        from airflow.sdk.execution_time.context import OutletEventAccessors
    except ImportError:  # Airflow 2.11
        from airflow.utils.context import OutletEventAccessors
    return OutletEventAccessors()


def alias_event_extras(events: Any, alias: Any) -> list[dict[str, Any]]:
    """The ``extra`` of each event a task added through ``alias`` to :func:`outlet_events`."""
    accessor = events[alias]
    if hasattr(accessor, "asset_alias_events"):
        return [event.extra for event in accessor.asset_alias_events]
    return [event["extra"] for event in accessor.dataset_alias_events]  # Airflow 2.11: dicts
