"""
The campaign list read from Airflow's metadata database: search, date range, pages, and a number of
queries that does not grow with the number of campaigns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, insert, select

from airflow_provider_fullsms.campaigns.ledger import has_task_state_store
from airflow_provider_fullsms.campaigns.plan import mask_number
from airflow_provider_fullsms.campaigns.variable_store import VARIABLE_PREFIX, variable_key_prefix
from tests.versions import needs_airflow_3

pytestmark = [
    needs_airflow_3("api-server to host the FullSMS page (there: the fullsms-batches CLI)"),
    pytest.mark.usefixtures("airflow_db"),
]

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
#: Where ledgers can be on this Airflow: Variables everywhere, task state stores from 3.3.
LEDGER_STORES = ["task_state_store", "variables"] if has_task_state_store() else ["variables"]


class Everybody:
    """A caller who may read every DAG's task instances."""

    def readable_dag_ids(self, dag_ids: set[str]) -> set[str]:
        return dag_ids


@pytest.fixture(params=LEDGER_STORES)
def ledger_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """
    Where the ledgers are: task state stores (Airflow 3.3), or Airflow Variables (before 3.3; on
    3.3 the page is told its Airflow has no state store).
    """
    if request.param == "variables" and has_task_state_store():
        monkeypatch.setattr("airflow_provider_fullsms.campaigns.ledger.has_task_state_store", lambda: False)
    return str(request.param)


@contextmanager
def campaigns(count: int, store: str, dag_id: str = "ui_store") -> Iterator[None]:
    """
    ``count`` campaigns of two batches each, one a day (their runs ``run_<i>``), kept in ``store``,
    removed after.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        connection = session.connection()
        connection.execute(
            insert(DagRun.__table__),
            [
                {
                    "dag_id": dag_id,
                    "run_id": f"run_{i}",
                    "run_type": "manual",
                    "state": "success",
                    "run_after": START,
                    "start_date": START + timedelta(days=i),
                }
                for i in range(count)
            ],
        )
        ids = dict(session.execute(select(DagRun.run_id, DagRun.id).where(DagRun.dag_id == dag_id)).all())
        rows = []
        for i in range(count):
            at = START + timedelta(days=i)
            number = str(447700900000 + i)
            values = {
                "fullsms.plan": {"v": 1, "fp": "f", "batches": 2, "recipients": 2},
                "fullsms.batch.0": {
                    "s": "accepted",
                    "n": 1,
                    "t": 1,
                    "c": f"c-{i}",
                    "f": mask_number(number),
                    "l": mask_number(number),
                },
                "fullsms.batch.1": {"s": "accepted", "n": 1, "t": 1, "c": f"d-{i}"},
            }
            task = {"dag_id": dag_id, "run_id": f"run_{i}", "task_id": "send", "map_index": -1}
            if store == "variables":
                prefix = variable_key_prefix(**task)
                rows += [
                    {
                        "key": prefix + key,
                        "val": json.dumps({"value": value, "task": task, "expires_at": None}),
                        "is_encrypted": False,
                    }
                    for key, value in values.items()
                ]
                continue
            rows += [
                {
                    **task,
                    "dag_run_id": ids[f"run_{i}"],
                    "key": key,
                    "value": json.dumps(value),
                    "updated_at": at,
                }
                for key, value in values.items()
            ]
        connection.execute(insert(_table(store)), rows)
    try:
        yield
    finally:
        with create_session() as session:
            session.execute(delete(DagRun).where(DagRun.dag_id == dag_id))
            if store == "variables":
                # Nothing loaded to keep in step; SQLAlchemy 1.4 (Airflow 3.0) cannot "evaluate" startswith.
                session.execute(
                    delete(Variable)
                    .where(Variable.key.startswith(VARIABLE_PREFIX))
                    .execution_options(synchronize_session=False)
                )
            else:
                session.execute(delete(_table(store)).where(_table(store).c.dag_id == dag_id))


def _table(store: str) -> Any:
    if store == "variables":
        from airflow.models.variable import Variable

        return Variable.__table__
    from airflow.models.task_state_store import TaskStateStoreModel

    return TaskStateStoreModel.__table__


@contextmanager
def counted() -> Iterator[list[str]]:
    """The SQL statements sent to the metadata database meanwhile."""
    from airflow import settings

    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(settings.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(settings.engine, "before_cursor_execute", count)


def listed(page: int = 1, **filters: Any) -> Any:
    """The list as the page asks for it, of this module's DAG (other tests' runs share the database)."""
    from airflow_provider_fullsms.plugins.app import _listing
    from airflow_provider_fullsms.plugins.store import CampaignFilter

    return _listing(Everybody(), CampaignFilter(**filters, dag_id="ui_store"), False, page)  # type: ignore[arg-type]


#: Queries for a page of the list: for the state store, the DAGs with campaigns, the count, the
#: page's plans, their ledgers, task states and summaries; Variables need the runs twice more.
QUERIES = {"task_state_store": 6, "variables": 8}


@pytest.mark.parametrize("count", [10, 10_000])
def test_a_page_of_the_list_takes_the_same_few_queries_for_10_or_10000_campaigns(
    ledger_store: str, count: int
) -> None:
    with campaigns(count, ledger_store), counted() as statements:
        listing = listed()

    assert (listing.total, len(listing.campaigns)) == (count, min(count, 50))
    assert listing.campaigns[0].task.run_id == f"run_{count - 1}"  # newest first
    assert [batch.state for batch in listing.campaigns[0].batches] == ["accepted", "accepted"]
    assert len(statements) == QUERIES[ledger_store], statements


def test_search_finds_a_campaign_by_run_dag_or_a_number_of_its_batches(ledger_store: str) -> None:
    with campaigns(30, ledger_store):
        by_run = listed(search="run_17")
        by_dag = listed(search="UI_STORE")
        by_number = listed(search="+44 7700 900012")
        nothing = listed(search="no such thing")

    assert [c.task.run_id for c in by_run.campaigns] == ["run_17"]
    assert by_dag.total == 30
    # Masked as the ledger keeps it, a number matches the batches with the same visible digits.
    assert "run_12" in [c.task.run_id for c in by_number.campaigns]
    assert nothing.total == 0


def test_a_date_range_and_pages_split_the_list(ledger_store: str) -> None:
    with campaigns(120, ledger_store):
        march = listed(since=date(2025, 3, 10), until=date(2025, 3, 19))
        second = listed(page=2)
        beyond = listed(page=9)

    assert [c.task.run_id for c in march.campaigns] == [f"run_{i}" for i in range(18, 8, -1)]
    assert (second.page, second.pages, second.first, second.last) == (2, 3, 51, 100)
    assert second.campaigns[0].task.run_id == "run_69"
    assert "page=3" in second.query(3)
    assert (beyond.page, beyond.first, beyond.last) == (3, 101, 120)
