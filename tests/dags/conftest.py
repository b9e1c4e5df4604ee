"""
Fixtures for running the example DAGs with ``dag.test()`` against the sandbox.

``dag.test()`` needs a migrated metadata database: the session's ``airflow_db`` fixture (in
``tests/conftest.py``) migrates the throw-away AIRFLOW_HOME the provider's pytest plugin set up,
whose DAGS_FOLDER is ``example_dags``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture(scope="session")
def dagbag() -> Any:
    """The example DAGs, parsed the way the DAG processor parses them."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(EXAMPLE_DAGS))


@pytest.fixture
def work_dir(tmp_path: Path) -> str:
    """A working folder for the DAGs' files, removed with the test's tmp_path."""
    return str(tmp_path / "work")


@pytest.fixture
def dag_results() -> Any:
    """Read a finished ``dag.test()`` run's return values: ``{task_id: value}`` (mapped: a list)."""

    def read(dag_run: Any) -> dict[str, Any]:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        values: dict[str, Any] = {}
        with create_session() as session:
            rows = session.scalars(
                XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, key="return_value")
            )
            for row in sorted(rows, key=lambda r: (r.task_id, r.map_index)):
                value = XComModel.deserialize_value(row)
                if row.map_index >= 0:
                    values.setdefault(row.task_id, []).append(value)
                else:
                    values[row.task_id] = value
        return values

    return read
