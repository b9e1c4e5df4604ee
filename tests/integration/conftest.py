"""
Fixtures for the operators against a running sandbox: a migrated Airflow DB for ``dag.test()``.

The DB lives in the throw-away AIRFLOW_HOME that ``tests/conftest.py`` set up.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """``airflow db migrate`` once per test session (``dag.test()`` needs the tables)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
        timeout=300,
    )
