"""
Campaigns in Airflow 3.3's task state stores: SQL over ``task_state_store`` (the page's
:mod:`~.store` asks this module on 3.3).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from airflow.models.task_state_store import TaskStateStoreModel as Entry
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import aliased

from airflow_provider_fullsms.plugins.ledger_view import BATCH_PREFIX, DECISION_PREFIX, PLAN_KEY
from airflow_provider_fullsms.plugins.store import CampaignFilter, like, loads, summary_matches

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from sqlalchemy.orm import Session

    from airflow_provider_fullsms.plugins.store import Plan
    from airflow_provider_fullsms.settlement import TaskAddress

#: Another entry of the same task's state store (its batches, beside its plan).
Other = aliased(Entry)
_PLAN_COLUMNS = (
    Entry.dag_run_id,
    Entry.dag_id,
    Entry.run_id,
    Entry.task_id,
    Entry.map_index,
    Entry.updated_at,
)


def campaign_dag_ids(session: Session) -> set[str]:
    return set(session.scalars(select(Entry.dag_id).where(Entry.key == PLAN_KEY).distinct()))


def _filtered(query: Any, dag_ids: Collection[str], filters: CampaignFilter) -> Any:
    query = query.where(Entry.key == PLAN_KEY, Entry.dag_id.in_(dag_ids))
    if filters.dag_id:
        query = query.where(Entry.dag_id == filters.dag_id)
    if filters.since:
        query = query.where(Entry.updated_at >= datetime.combine(filters.since, time.min, UTC))
    if filters.until:
        query = query.where(
            Entry.updated_at < datetime.combine(filters.until + timedelta(days=1), time.min, UTC)
        )
    if filters.search:
        search = filters.search.strip()
        matches = [
            like(Entry.dag_id, search),
            like(Entry.run_id, search),
            like(Entry.task_id, search),
            summary_matches(Entry.dag_run_id, Entry.task_id, Entry.map_index, search),
        ]
        if (masked := filters.masked_number()) is not None:
            same_task = (
                (Other.dag_run_id == Entry.dag_run_id)
                & (Other.task_id == Entry.task_id)
                & (Other.map_index == Entry.map_index)
            )
            matches.append(
                exists().where(
                    same_task,
                    Other.key.startswith(BATCH_PREFIX),
                    like(Other.value, masked, whole_string=True),
                )
            )
        query = query.where(or_(*matches))
    return query


def count_campaigns(session: Session, *, dag_ids: Collection[str], filters: CampaignFilter) -> int:
    return int(session.scalar(_filtered(select(func.count()).select_from(Entry), dag_ids, filters)) or 0)


def find_plans(
    session: Session, *, dag_ids: Collection[str], filters: CampaignFilter, limit: int, offset: int
) -> Sequence[Plan]:
    query = _filtered(select(*_PLAN_COLUMNS), dag_ids, filters)
    order = (Entry.updated_at.desc(), Entry.id.desc())
    return session.execute(query.order_by(*order).limit(limit).offset(offset)).all()


def find_plan(session: Session, task: TaskAddress) -> Sequence[Plan]:
    query = select(*_PLAN_COLUMNS).where(
        Entry.key == PLAN_KEY,
        Entry.dag_id == task.dag_id,
        Entry.run_id == task.run_id,
        Entry.task_id == task.task_id,
        Entry.map_index == task.map_index,
    )
    return session.execute(query).all()


def entries(session: Session, plans: Sequence[Plan]) -> dict[tuple[int, str, int], dict[str, Any]]:
    """Each plan's ledger (plan, batches, decisions) by ``(dag_run_id, task_id, map_index)``: one query."""
    wanted = {(plan.dag_run_id, plan.task_id, plan.map_index) for plan in plans}
    found: dict[tuple[int, str, int], dict[str, Any]] = {key: {} for key in wanted}
    rows = session.execute(
        select(Entry.dag_run_id, Entry.task_id, Entry.map_index, Entry.key, Entry.value).where(
            Entry.key.startswith(BATCH_PREFIX)
            | Entry.key.startswith(DECISION_PREFIX)
            | (Entry.key == PLAN_KEY),
            Entry.dag_run_id.in_({plan.dag_run_id for plan in plans}),
            Entry.task_id.in_({plan.task_id for plan in plans}),
        )
    )
    for row in rows:
        if (ledger := found.get((row.dag_run_id, row.task_id, row.map_index))) is not None:
            ledger[row.key] = loads(row.value)
    return found
