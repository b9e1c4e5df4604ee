"""
The docs suite: every block of the README and ``docs/*.md`` a user would run, run as they would
(``tests/docs/blocks.py`` says how a block's fence decides what is run).

Each test gets the provider's pytest plugin's ``fullsms_sandbox``: a real sandbox process on a
free loopback port, reset, with ``fullsms_default`` pointing at it (its price and minimum balance
included), and a migrated Airflow database holding no runs of earlier tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def docs_dags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGs folder of this test's own, the only DAG bundle ``dag.test()`` reads."""
    folder = tmp_path / "dags"
    folder.mkdir()
    bundle = {
        "name": "docs",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(folder)},
    }
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    return folder
