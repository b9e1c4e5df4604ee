"""
What a test needs of the installed Airflow, in one place, like the provider's version_compat.

* :data:`needs_airflow_3` -- the test is about something Airflow 2.11 does not have at all (the
  Task SDK's api-server between a task and its state, the api-server that hosts the FullSMS page).
* :func:`needs_airflow_3_1` -- the same for something that came with Airflow 3.1 (awaiting a
  notifier, as a deadline alert's callback does).
* :func:`callback_error`, :data:`CALLBACK_FAILURE_LOGGED` -- how a failing notifier surfaces,
  which changed with Airflow 3.1.
* :data:`POSITIONAL_ARGUMENTS_ERROR` -- what an operator built with positional arguments raises.
* :func:`printed_log` -- the log lines Airflow printed, in whichever format this Airflow prints.
* :func:`register_dag`, :func:`validate_reschedule_dates` -- what ``dag.test()`` needs around it;
  :func:`return_values`, :func:`reschedules_of`, :func:`recorded_asset_events` -- what a run
  left, where this Airflow keeps it.
* :func:`without_mask_requests` -- a task's output without Airflow 3.0's quotes of masked secrets.
* :func:`dag_bag`, :func:`import_string`, :func:`serde`, :func:`outlet_events` -- Airflow's own
  pieces a test calls, from wherever the installed Airflow keeps them; :func:`alias_events` -- what
  a task added to ``outlet_events`` through an alias (Airflow 2.11 calls assets "datasets").
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_fullsms.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS


def needs_airflow_3(what: str) -> pytest.MarkDecorator:
    """Skipped, saying why, on Airflow 2.11: ``what`` names the Airflow 3 piece the test is about."""
    return pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason=f"Airflow 2.11 has no {what}")


def needs_airflow_3_1(what: str) -> pytest.MarkDecorator:
    """Skipped, saying why, before Airflow 3.1: ``what`` names the Airflow 3.1 piece the test is about."""
    return pytest.mark.skipif(not AIRFLOW_V_3_1_PLUS, reason=f"Airflow before 3.1 has no {what}")


#: What constructing an operator with positional arguments raises: a ``TypeError`` from the Task SDK
#: (Airflow 3), an ``AirflowException`` from 2.11's ``apply_defaults``; both say "Use keyword arguments".
POSITIONAL_ARGUMENTS_ERROR: type[Exception] = TypeError if AIRFLOW_V_3_0_PLUS else AirflowException


#: What the log says when a notifier in a task callback fails: the task runner's words from Airflow
#: 3.1 (BaseNotifier raises the error), BaseNotifier's own before (it logs the error and returns).
CALLBACK_FAILURE_LOGGED = (
    "Failed to run task callback" if AIRFLOW_V_3_1_PLUS else "Failed to send notification"
)


def callback_error(notifier: Any, context: Any, caplog: pytest.LogCaptureFixture) -> BaseException:
    """
    Call ``notifier`` as Airflow calls a callback; the error it hit, which BaseNotifier raises from
    Airflow 3.1 and logs (returning) before.
    """
    if AIRFLOW_V_3_1_PLUS:
        try:
            notifier(context)
        except Exception as error:
            return error
        raise AssertionError(f"{notifier!r} raised nothing")
    notifier(context)
    [record] = [r for r in caplog.records if r.exc_info and CALLBACK_FAILURE_LOGGED in r.getMessage()]
    assert record.exc_info is not None
    return record.exc_info[1] or AssertionError("logged without an exception")


class LogLine(NamedTuple):
    """One printed log record: ``level`` in lower case, ``origin`` the logger and/or file:line."""

    level: str
    message: str
    origin: str


#: structlog's console line (Airflow 3.1+): ``when [level    ] message [logger] loc=file:line``.
_STRUCTLOG_LINE = re.compile(
    r"^\S+ \[(?P<level>\w+) *\] (?P<message>.*?) (?P<origin>\[[^\[\]]+\](?: \S+=\S+)*)$"
)
#: the logging module's line (Airflow 3.0, as 2.11): ``[when] {file:line} LEVEL - message``.
_LOGGING_LINE = re.compile(r"^\[[^\]]+\] (?P<origin>\{[^}]+\}) (?P<level>[A-Z]+) - (?P<message>.*)$")


def printed_log(out: str) -> list[LogLine]:
    """The log records in ``out`` (captured stdout), as the installed Airflow prints them."""
    lines = []
    for line in out.splitlines():
        match = _STRUCTLOG_LINE.match(line) or _LOGGING_LINE.match(line)
        if match:
            lines.append(LogLine(match["level"].lower(), match["message"], match["origin"]))
    return lines


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


def alias_events(events: Any, alias: Any) -> list[tuple[str, dict[str, Any]]]:
    """The ``(asset URI, extra)`` of each event a task added through ``alias`` to :func:`outlet_events`."""
    accessor = events[alias]
    if hasattr(accessor, "asset_alias_events"):
        return [(event.dest_asset_key.uri, event.extra) for event in accessor.asset_alias_events]
    # Airflow 2.11: datasets, each event a dict
    return [(event["dest_dataset_uri"], event["extra"]) for event in accessor.dataset_alias_events]


def return_values(session: Any, dag_run: Any) -> list[tuple[str, int, Any]]:
    """``(task_id, map_index, value)`` of each return value a DAG run's tasks left in XCom."""
    try:
        from airflow.models.xcom import XComModel
    except ImportError:  # Airflow 2.11: the model is XCom, its rows' values deserialised as loaded
        from airflow.models.xcom import XCom

        query = XCom.get_many(
            run_id=dag_run.run_id, dag_ids=dag_run.dag_id, key="return_value", session=session
        )
        return [(row.task_id, row.map_index, row.value) for row in query.all()]
    rows = session.scalars(
        XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, key="return_value")
    )
    return [(row.task_id, row.map_index, XComModel.deserialize_value(row)) for row in rows]


def reschedules_of(session: Any, ti: Any) -> int:
    """How many times ``ti`` was rescheduled (a sensor in ``reschedule`` mode), on every Airflow."""
    from airflow.models.taskreschedule import TaskReschedule
    from sqlalchemy import func, select

    query = select(func.count()).select_from(TaskReschedule)
    if hasattr(TaskReschedule, "ti_id"):
        query = query.where(TaskReschedule.ti_id == ti.id)
    else:  # Airflow 2.11: rows keyed by the task instance's parts
        query = query.where(
            TaskReschedule.dag_id == ti.dag_id,
            TaskReschedule.run_id == ti.run_id,
            TaskReschedule.task_id == ti.task_id,
            TaskReschedule.map_index == ti.map_index,
        )
    return session.scalar(query) or 0


def recorded_asset_events(uri: str) -> list[dict[str, Any]]:
    """The ``extra`` of each event Airflow recorded for the asset ``uri`` (on 2.11: the dataset)."""
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        from airflow.models.asset import AssetEvent, AssetModel
    except ImportError:  # Airflow 2.11
        from airflow.models.dataset import DatasetEvent, DatasetModel

        query = select(DatasetEvent.extra).join(DatasetModel, DatasetEvent.dataset_id == DatasetModel.id)
        query = query.where(DatasetModel.uri == uri).order_by(DatasetEvent.id)
    else:
        query = select(AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
        query = query.where(AssetModel.uri == uri).order_by(AssetEvent.id)
    with create_session() as session:
        return list(session.scalars(query))


def register_dag(dag: Any) -> None:
    """
    Store ``dag`` serialised under the ``dags-folder`` bundle, as the DAG processor does for a file
    (``dag.test()`` runs the serialised DAG). On Airflow 2.11, which has no bundles and whose
    ``dag.test()`` runs the DAG object itself: the DAG's rows (its datasets and aliases too), as its
    DAG processor writes them.
    """
    if not AIRFLOW_V_3_0_PLUS:
        dag.sync_to_db()
        return
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG, SerializedDAG
    from airflow.utils.session import create_session

    DagBundlesManager().sync_bundles_to_db()
    with create_session() as session:
        if hasattr(LazyDeserializedDAG, "from_dag"):  # Airflow 3.1+: parsed DAGs, and a parse duration
            dags, more = [LazyDeserializedDAG.from_dag(dag)], {"parse_duration": None}
        else:  # Airflow 3.0: what its DAG processor hands over, the path set as its DagBag sets it
            dag.relative_fileloc = dag.relative_fileloc or dag.fileloc
            dags, more = [LazyDeserializedDAG(data=SerializedDAG.to_dict(dag))], {}
        update_dag_parsing_results_in_db(
            bundle_name="dags-folder",
            bundle_version=None,
            dags=dags,
            import_errors={},
            warnings=set(),
            session=session,
            **more,
        )


def validate_reschedule_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    On Airflow 3.0, give a sensor under ``dag.test()`` its first reschedule date as a datetime.

    3.0's API client builds the answer unvalidated (``TaskRescheduleStartDate.model_construct``,
    the date left a string); a worker's supervisor sends it to the task process, which validates
    it, but ``dag.test()`` hands it over in-process, so a reschedule-mode sensor failed at its
    second poke there (``datetime - str``). Airflow 3.1's client validates it; so does this.
    """
    if not AIRFLOW_V_3_0_PLUS or AIRFLOW_V_3_1_PLUS:
        return
    from airflow.sdk.api.client import TaskInstanceOperations
    from airflow.sdk.execution_time.comms import TaskRescheduleStartDate

    unvalidated = TaskInstanceOperations.get_reschedule_start_date

    def validated(self: Any, *args: Any, **kwargs: Any) -> Any:
        return TaskRescheduleStartDate.model_validate(unvalidated(self, *args, **kwargs).model_dump())

    monkeypatch.setattr(TaskInstanceOperations, "get_reschedule_start_date", validated)


def without_mask_requests(out: str) -> str:
    """
    ``out`` without the debug lines in which Airflow 3.0's supervisor quotes each secret a task
    asks it to mask (``msg=MaskSecret(value='...')``): Airflow's own, not the task's, and from 3.1
    logged with the body omitted. Unchanged on other versions.
    """
    if not AIRFLOW_V_3_0_PLUS or AIRFLOW_V_3_1_PLUS:
        return out
    return "\n".join(line for line in out.splitlines() if "msg=MaskSecret(value=" not in line)
