"""
Reading the send tasks' ledgers from Airflow's metadata database (in the api-server only).

A campaign is a task instance with a ``fullsms.plan`` key in ``task_state_store``. Its batches,
the decisions people recorded, its task state and its summary XCom are read with one query each
for a whole page of campaigns.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow.models.task_state_store import TaskStateStoreModel as Entry
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from sqlalchemy import select

from airflow_provider_fullsms.plugins.ledger_view import (
    BATCH_PREFIX,
    DECISION_PREFIX,
    PLAN_KEY,
    CampaignView,
    campaign_view,
    format_time,
)
from airflow_provider_fullsms.settlement import TaskAddress

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from sqlalchemy.orm import Session

#: The send operators' summary: pushed as ``fullsms_summary`` when something is unknown or not
#: sent, and always returned.
SUMMARY_KEYS = ("fullsms_summary", "return_value")


def _loads(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return None


def _scope(statement: Any, model: Any, run_ids: Collection[int], task_ids: Collection[str]) -> Any:
    return statement.where(model.dag_run_id.in_(run_ids), model.task_id.in_(task_ids))


def campaign_dag_ids(session: Session) -> set[str]:
    """The DAGs with at least one campaign."""
    return set(session.scalars(select(Entry.dag_id).where(Entry.key == PLAN_KEY).distinct()))


def find_campaigns(
    session: Session, *, dag_ids: Collection[str], dag_id: str | None = None, limit: int = 100
) -> list[CampaignView]:
    """
    The newest ``limit`` campaigns of the DAGs in ``dag_ids``, newest first.

    :param dag_ids: the DAGs whose task instances the user may read.
    :param dag_id: only this DAG's campaigns.
    """
    query = select(
        Entry.dag_run_id, Entry.dag_id, Entry.run_id, Entry.task_id, Entry.map_index, Entry.updated_at
    ).where(Entry.key == PLAN_KEY, Entry.dag_id.in_(dag_ids))
    if dag_id:
        query = query.where(Entry.dag_id == dag_id)
    plans = session.execute(query.order_by(Entry.updated_at.desc()).limit(limit)).all()
    return _views(session, plans)


def find_campaign(session: Session, task: TaskAddress) -> CampaignView | None:
    """The campaign of one task instance, or ``None`` when it has no ledger."""
    query = select(
        Entry.dag_run_id, Entry.dag_id, Entry.run_id, Entry.task_id, Entry.map_index, Entry.updated_at
    ).where(
        Entry.key == PLAN_KEY,
        Entry.dag_id == task.dag_id,
        Entry.run_id == task.run_id,
        Entry.task_id == task.task_id,
        Entry.map_index == task.map_index,
    )
    views = _views(session, session.execute(query).all())
    return views[0] if views else None


def _views(session: Session, plans: Sequence[Any]) -> list[CampaignView]:
    if not plans:
        return []
    run_ids = {plan.dag_run_id for plan in plans}
    task_ids = {plan.task_id for plan in plans}
    wanted = {(plan.dag_run_id, plan.task_id, plan.map_index) for plan in plans}

    entries: dict[tuple[int, str, int], dict[str, Any]] = {key: {} for key in wanted}
    rows = session.execute(
        _scope(
            select(Entry.dag_run_id, Entry.task_id, Entry.map_index, Entry.key, Entry.value).where(
                Entry.key.startswith(BATCH_PREFIX)
                | Entry.key.startswith(DECISION_PREFIX)
                | (Entry.key == PLAN_KEY)
            ),
            Entry,
            run_ids,
            task_ids,
        )
    )
    for row in rows:
        if (found := entries.get((row.dag_run_id, row.task_id, row.map_index))) is not None:
            found[row.key] = _loads(row.value)

    states: dict[tuple[str, str, str, int], str | None] = {
        (ti.dag_id, ti.run_id, ti.task_id, ti.map_index): ti.state
        for ti in session.execute(
            select(
                TaskInstance.dag_id,
                TaskInstance.run_id,
                TaskInstance.task_id,
                TaskInstance.map_index,
                TaskInstance.state,
            ).where(
                TaskInstance.run_id.in_({plan.run_id for plan in plans}), TaskInstance.task_id.in_(task_ids)
            )
        )
    }

    summaries: dict[tuple[int, str, int], dict[str, Any]] = {}
    xcoms = session.execute(
        _scope(select(XComModel).where(XComModel.key.in_(SUMMARY_KEYS)), XComModel, run_ids, task_ids)
    ).scalars()
    for xcom in sorted(xcoms, key=lambda x: SUMMARY_KEYS.index(x.key), reverse=True):
        value = XComModel.deserialize_value(xcom)
        if isinstance(value, dict):
            summaries[(xcom.dag_run_id, xcom.task_id, xcom.map_index)] = value

    views = []
    for plan in plans:
        where = (plan.dag_run_id, plan.task_id, plan.map_index)
        task = TaskAddress(plan.dag_id, plan.run_id, plan.task_id, plan.map_index)
        views.append(
            campaign_view(
                task,
                entries[where],
                started_at=format_time(plan.updated_at) or "",
                task_state=states.get((plan.dag_id, plan.run_id, plan.task_id, plan.map_index)),
                summary=summaries.get(where),
            )
        )
    return views
