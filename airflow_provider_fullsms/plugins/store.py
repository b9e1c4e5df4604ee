"""
Reading the send tasks' ledgers from Airflow's metadata database (in the api-server only).

A campaign is a task instance with a ``fullsms.plan`` key in ``task_state_store``. Its batches,
the decisions people recorded, its task state and its summary XCom are read with one query each
for a whole page of campaigns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from airflow.models.task_state_store import TaskStateStoreModel as Entry
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from sqlalchemy import String, cast, exists, func, or_, select
from sqlalchemy.orm import aliased

from airflow_provider_fullsms.campaigns.plan import mask_number
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
#: A search with this many digits (spaces, dashes, brackets aside) is also read as a phone number.
MIN_NUMBER_DIGITS = 7
#: Another entry of the same task's state store (its batches, beside its plan).
Other = aliased(Entry)


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


@dataclass(frozen=True)
class CampaignFilter:
    """
    Which campaigns a person asked for.

    :param dag_id: only this DAG's.
    :param search: a piece of the DAG id, run id, task id or text; or a phone number, matched by
        its masked form against each batch's masked first and last numbers (the ledger keeps no
        audience).
    :param since: started on this day or later (UTC).
    :param until: started on this day or earlier (UTC).
    """

    dag_id: str | None = None
    search: str | None = None
    since: date | None = None
    until: date | None = None

    def describe(self) -> str:
        """The filter in words: ``DAG crm and "sale" and from 2025-01-01``."""
        parts = [f"DAG {self.dag_id}"] if self.dag_id else []
        parts += [f'"{self.search}"'] if self.search else []
        parts += [f"from {self.since}"] if self.since else []
        parts += [f"until {self.until}"] if self.until else []
        return " and ".join(parts)


def _like(column: Any, text: str, *, whole_string: bool = False) -> Any:
    """
    ``column`` contains ``text``, as typed or as JSON writes it (``\\u2022`` for ``•``).

    :param whole_string: ``text`` is a whole JSON string value (between its quotes).
    """
    forms = {text, json.dumps(text)[1:-1]}
    escaped = [form.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for form in forms]
    quote = '"' if whole_string else ""
    return or_(*(column.ilike(f"%{quote}{form}{quote}%", escape="\\") for form in escaped))


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
        same_task = (
            (Other.dag_run_id == Entry.dag_run_id)
            & (Other.task_id == Entry.task_id)
            & (Other.map_index == Entry.map_index)
        )
        summary_text = exists().where(
            XComModel.dag_run_id == Entry.dag_run_id,
            XComModel.task_id == Entry.task_id,
            XComModel.map_index == Entry.map_index,
            XComModel.key.in_(SUMMARY_KEYS),
            _like(cast(XComModel.value, String), search),
        )
        matches = [
            _like(Entry.dag_id, search),
            _like(Entry.run_id, search),
            _like(Entry.task_id, search),
            summary_text,
        ]
        digits = re.sub(r"[\s()+.\-]", "", search)
        if digits.isdigit() and len(digits) >= MIN_NUMBER_DIGITS:
            masked = mask_number(digits)
            matches.append(
                exists().where(
                    same_task,
                    Other.key.startswith(BATCH_PREFIX),
                    _like(Other.value, masked, whole_string=True),
                )
            )
        query = query.where(or_(*matches))
    return query


def count_campaigns(session: Session, *, dag_ids: Collection[str], filters: CampaignFilter) -> int:
    """How many campaigns of the DAGs in ``dag_ids`` ``filters`` lets through (one query)."""
    return int(session.scalar(_filtered(select(func.count()).select_from(Entry), dag_ids, filters)) or 0)


def find_campaigns(
    session: Session,
    *,
    dag_ids: Collection[str],
    filters: CampaignFilter | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[CampaignView]:
    """
    A page of the campaigns of the DAGs in ``dag_ids``, newest first: four queries, whatever the
    number of campaigns.

    :param dag_ids: the DAGs whose task instances the user may read.
    :param filters: which campaigns (all by default).
    """
    query = select(
        Entry.dag_run_id, Entry.dag_id, Entry.run_id, Entry.task_id, Entry.map_index, Entry.updated_at
    )
    query = _filtered(query, dag_ids, filters or CampaignFilter())
    order = (Entry.updated_at.desc(), Entry.id.desc())
    plans = session.execute(query.order_by(*order).limit(limit).offset(offset)).all()
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
