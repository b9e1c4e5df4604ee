"""
Campaigns in Airflow Variables, where Airflow has no task state store (before 3.3; see
:mod:`~airflow_provider_fullsms.campaigns.variable_store`). The page's :mod:`~.store` asks this
module there.

A Variable's value may be encrypted (Fernet), so SQL can match keys only: one query reads every
ledger's plan Variable (``fullsms.ledger.<digest>.fullsms.plan``), whose value names its task
instance; one reads their DAG runs (which order them, newest first); a search reads the summaries
(one query) and, for a phone number, the batch Variables (one query). The work grows with the
number of campaigns, the number of queries does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from airflow.models.dagrun import DagRun
from airflow.models.variable import Variable
from airflow.models.xcom import XComModel
from sqlalchemy import String, cast, func, or_, select

from airflow_provider_fullsms.campaigns.variable_store import (
    VARIABLE_PREFIX,
    read_entry,
    split_key,
    variable_key_prefix,
)
from airflow_provider_fullsms.plugins.ledger_view import BATCH_PREFIX, PLAN_KEY
from airflow_provider_fullsms.plugins.store import SUMMARY_KEYS, CampaignFilter, like, loads

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Sequence

    from sqlalchemy.orm import Session

    from airflow_provider_fullsms.plugins.store import Plan
    from airflow_provider_fullsms.settlement import TaskAddress


@dataclass(frozen=True)
class VariablePlan:
    """A campaign found by its plan Variable: its task instance, its DAG run, when that started."""

    dag_run_id: int
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    updated_at: datetime | None

    @property
    def prefix(self) -> str:
        return variable_key_prefix(self.dag_id, self.run_id, self.task_id, self.map_index)


def _ledger_variables(session: Session, pattern: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(key, entry)`` of each ledger Variable the ``pattern`` clause lets through, decrypted."""
    for variable in session.scalars(select(Variable).where(pattern)):
        entry = read_entry(loads(variable.val or ""))
        if entry is not None:
            yield variable.key, entry


def _plans(session: Session, dag_ids: Collection[str], only: TaskAddress | None = None) -> list[VariablePlan]:
    """Every campaign of ``dag_ids`` (or the task ``only``) whose DAG run Airflow still has."""
    if only is not None:
        pattern = (
            Variable.key
            == variable_key_prefix(only.dag_id, only.run_id, only.task_id, only.map_index) + PLAN_KEY
        )
    else:
        pattern = Variable.key.like(f"{VARIABLE_PREFIX}%.{PLAN_KEY}")
    tasks = []
    for key, entry in _ledger_variables(session, pattern):
        task = entry["task"]
        try:
            prefix = variable_key_prefix(
                task["dag_id"], task["run_id"], task["task_id"], int(task["map_index"])
            )
        except (KeyError, TypeError, ValueError):
            continue
        if key == prefix + PLAN_KEY and task["dag_id"] in dag_ids:
            tasks.append(task)
    if not tasks:
        return []
    runs = {
        (row.dag_id, row.run_id): row
        for row in session.execute(
            select(
                DagRun.id,
                DagRun.dag_id,
                DagRun.run_id,
                func.coalesce(DagRun.start_date, DagRun.queued_at).label("started"),
            ).where(
                DagRun.dag_id.in_({t["dag_id"] for t in tasks}),
                DagRun.run_id.in_({t["run_id"] for t in tasks}),
            )
        )
    }
    plans = []
    for task in tasks:
        if (run := runs.get((task["dag_id"], task["run_id"]))) is not None:
            plans.append(
                VariablePlan(
                    run.id,
                    task["dag_id"],
                    task["run_id"],
                    task["task_id"],
                    int(task["map_index"]),
                    run.started,
                )
            )
    return plans


def _filtered(session: Session, dag_ids: Collection[str], filters: CampaignFilter) -> list[VariablePlan]:
    """The campaigns ``filters`` lets through, newest first."""
    plans = _plans(session, [d for d in dag_ids if not filters.dag_id or d == filters.dag_id])
    if filters.since:
        since = datetime.combine(filters.since, time.min, UTC)
        plans = [p for p in plans if p.updated_at is not None and _utc(p.updated_at) >= since]
    if filters.until:
        until = datetime.combine(filters.until + timedelta(days=1), time.min, UTC)
        plans = [p for p in plans if p.updated_at is not None and _utc(p.updated_at) < until]
    if filters.search and plans:
        plans = _searched(session, plans, filters)
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(
        plans, key=lambda p: (_utc(p.updated_at) if p.updated_at else oldest, p.dag_run_id), reverse=True
    )


def _searched(session: Session, plans: list[VariablePlan], filters: CampaignFilter) -> list[VariablePlan]:
    search = (filters.search or "").strip()
    needle = search.casefold()
    found = {p for p in plans if any(needle in text.casefold() for text in (p.dag_id, p.run_id, p.task_id))}
    by_task = {(p.dag_run_id, p.task_id, p.map_index): p for p in plans}
    summaries = session.execute(
        select(XComModel.dag_run_id, XComModel.task_id, XComModel.map_index).where(
            XComModel.key.in_(SUMMARY_KEYS),
            XComModel.dag_run_id.in_({p.dag_run_id for p in plans}),
            like(cast(XComModel.value, String), search),
        )
    )
    found |= {plan for row in summaries if (plan := by_task.get((row[0], row[1], row[2]))) is not None}
    if (masked := filters.masked_number()) is not None:
        by_prefix = {p.prefix: p for p in plans}
        batches = _ledger_variables(session, Variable.key.like(f"{VARIABLE_PREFIX}%.{BATCH_PREFIX}%"))
        for key, entry in batches:
            plan = by_prefix.get(split_key(key)[0])
            value = entry["value"] if isinstance(entry["value"], dict) else {}
            if plan is not None and masked in (value.get("f"), value.get("l")):
                found.add(plan)
    return [p for p in plans if p in found]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def campaign_dag_ids(session: Session) -> set[str]:
    dag_ids = set()
    for key, entry in _ledger_variables(session, Variable.key.like(f"{VARIABLE_PREFIX}%.{PLAN_KEY}")):
        if key.endswith(PLAN_KEY) and isinstance(entry["task"].get("dag_id"), str):
            dag_ids.add(entry["task"]["dag_id"])
    return dag_ids


def count_campaigns(session: Session, *, dag_ids: Collection[str], filters: CampaignFilter) -> int:
    return len(_filtered(session, dag_ids, filters))


def find_plans(
    session: Session, *, dag_ids: Collection[str], filters: CampaignFilter, limit: int, offset: int
) -> Sequence[Plan]:
    return _filtered(session, dag_ids, filters)[offset : offset + limit]


def find_plan(session: Session, task: TaskAddress) -> Sequence[Plan]:
    return _plans(session, [task.dag_id], only=task)


def entries(session: Session, plans: Sequence[Plan]) -> dict[tuple[int, str, int], dict[str, Any]]:
    """Each plan's ledger (plan, batches, decisions) by ``(dag_run_id, task_id, map_index)``: one query."""
    by_prefix = {
        variable_key_prefix(p.dag_id, p.run_id, p.task_id, p.map_index): (
            p.dag_run_id,
            p.task_id,
            p.map_index,
        )
        for p in plans
    }
    found: dict[tuple[int, str, int], dict[str, Any]] = {where: {} for where in by_prefix.values()}
    pattern = or_(*(Variable.key.startswith(prefix) for prefix in by_prefix))
    for key, entry in _ledger_variables(session, pattern):
        prefix, ledger_key = split_key(key)
        if (where := by_prefix.get(prefix)) is not None:
            found[where][ledger_key] = entry["value"]
    return found
