"""
Reading the send tasks' ledgers from Airflow's metadata database (in the api-server only).

A campaign is a task instance whose ledger has a ``fullsms.plan`` key: in ``task_state_store``
on Airflow 3.3 (:mod:`~.state_store_campaigns`), in Airflow Variables before
(:mod:`~.variable_campaigns`). Its batches, the decisions people recorded, its task state and its
summary XCom are read with one query each for a whole page of campaigns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date  # noqa: TC003 (a dataclass field's type)
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_fullsms.campaigns.plan import mask_number
from airflow_provider_fullsms.plugins.ledger_view import CampaignView, campaign_view, format_time
from airflow_provider_fullsms.settlement import TaskAddress

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence
    from datetime import datetime
    from types import ModuleType

    from sqlalchemy.orm import Session

#: The send operators' summary: pushed as ``fullsms_summary`` when something is unknown or not
#: sent, and always returned.
SUMMARY_KEYS = ("fullsms_summary", "return_value")
#: A search with this many digits (spaces, dashes, brackets aside) is also read as a phone number.
MIN_NUMBER_DIGITS = 7


class Plan(Protocol):
    """One campaign's row: its task instance, and when it started."""

    @property
    def dag_run_id(self) -> int: ...
    @property
    def dag_id(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def task_id(self) -> str: ...
    @property
    def map_index(self) -> int: ...
    @property
    def updated_at(self) -> datetime | None: ...


def loads(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return None


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

    def masked_number(self) -> str | None:
        """The search read as a phone number, masked as the ledger keeps numbers, or ``None``."""
        digits = re.sub(r"[\s()+.\-]", "", (self.search or "").strip())
        return mask_number(digits) if digits.isdigit() and len(digits) >= MIN_NUMBER_DIGITS else None


def like(column: Any, text: str, *, whole_string: bool = False) -> Any:
    """
    ``column`` contains ``text``, as typed or as JSON writes it (``\\u2022`` for ``•``).

    :param whole_string: ``text`` is a whole JSON string value (between its quotes).
    """
    from sqlalchemy import or_

    forms = {text, json.dumps(text)[1:-1]}
    escaped = [form.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for form in forms]
    quote = '"' if whole_string else ""
    return or_(*(column.ilike(f"%{quote}{form}{quote}%", escape="\\") for form in escaped))


def summary_matches(dag_run_id: Any, task_id: Any, map_index: Any, search: str) -> Any:
    """A send's summary XCom (its text, its counts) contains ``search``: an ``EXISTS`` clause."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import String, cast, exists

    return exists().where(
        XComModel.dag_run_id == dag_run_id,
        XComModel.task_id == task_id,
        XComModel.map_index == map_index,
        XComModel.key.in_(SUMMARY_KEYS),
        like(cast(XComModel.value, String), search),
    )


def _ledgers() -> ModuleType:
    """Where this Airflow keeps the ledgers: the task state store (3.3) or Variables."""
    from airflow_provider_fullsms.campaigns.ledger import has_task_state_store

    if has_task_state_store():
        from airflow_provider_fullsms.plugins import state_store_campaigns

        return state_store_campaigns
    from airflow_provider_fullsms.plugins import variable_campaigns

    return variable_campaigns


def campaign_dag_ids(session: Session) -> set[str]:
    """The DAGs with at least one campaign."""
    return set(_ledgers().campaign_dag_ids(session))


def count_campaigns(session: Session, *, dag_ids: Collection[str], filters: CampaignFilter) -> int:
    """How many campaigns of the DAGs in ``dag_ids`` ``filters`` lets through (one query)."""
    return int(_ledgers().count_campaigns(session, dag_ids=dag_ids, filters=filters))


def find_campaigns(
    session: Session,
    *,
    dag_ids: Collection[str],
    filters: CampaignFilter | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[CampaignView]:
    """
    A page of the campaigns of the DAGs in ``dag_ids``, newest first, in a number of queries that
    does not grow with the number of campaigns.

    :param dag_ids: the DAGs whose task instances the user may read.
    :param filters: which campaigns (all by default).
    """
    ledgers = _ledgers()
    plans = ledgers.find_plans(
        session, dag_ids=dag_ids, filters=filters or CampaignFilter(), limit=limit, offset=offset
    )
    return views(session, plans, ledgers.entries)


def find_campaign(session: Session, task: TaskAddress) -> CampaignView | None:
    """The campaign of one task instance, or ``None`` when it has no ledger."""
    ledgers = _ledgers()
    found = views(session, ledgers.find_plan(session, task), ledgers.entries)
    return found[0] if found else None


def views(
    session: Session,
    plans: Sequence[Plan],
    entries: Callable[[Session, Sequence[Plan]], dict[tuple[int, str, int], dict[str, Any]]],
) -> list[CampaignView]:
    """
    What the page shows of ``plans``: their ledgers (``entries``: one query), task states and
    summaries (one query each).
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    if not plans:
        return []
    run_ids = {plan.dag_run_id for plan in plans}
    task_ids = {plan.task_id for plan in plans}
    ledgers = entries(session, plans)

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
        select(XComModel).where(
            XComModel.key.in_(SUMMARY_KEYS),
            XComModel.dag_run_id.in_(run_ids),
            XComModel.task_id.in_(task_ids),
        )
    ).scalars()
    for xcom in sorted(xcoms, key=lambda x: SUMMARY_KEYS.index(x.key), reverse=True):
        value = XComModel.deserialize_value(xcom)
        if isinstance(value, dict):
            summaries[(xcom.dag_run_id, xcom.task_id, xcom.map_index)] = value

    found = []
    for plan in plans:
        where = (plan.dag_run_id, plan.task_id, plan.map_index)
        task = TaskAddress(plan.dag_id, plan.run_id, plan.task_id, plan.map_index)
        found.append(
            campaign_view(
                task,
                ledgers.get(where, {}),
                started_at=format_time(plan.updated_at) or "",
                task_state=states.get((plan.dag_id, plan.run_id, plan.task_id, plan.map_index)),
                summary=summaries.get(where),
            )
        )
    return found
