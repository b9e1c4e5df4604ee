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
def dagbag(airflow_db: None) -> Any:
    """
    The example DAGs, parsed the way the DAG processor parses them: with the metadata database,
    which Airflow 2.11 reads to parse a DAG scheduled on a dataset alias (fullsms_campaign_report).
    """
    from tests.versions import dag_bag

    return dag_bag(str(EXAMPLE_DAGS))


@pytest.fixture
def work_dir(tmp_path: Path) -> str:
    """A working folder for the DAGs' files, removed with the test's tmp_path."""
    return str(tmp_path / "work")
