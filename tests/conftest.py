"""
Test-wide set-up: FullSMS connections, the sandbox, and Hypothesis's profiles.

The throw-away AIRFLOW_HOME (no example DAGs, DAGS_FOLDER ``example_dags``) is the provider's own
pytest plugin's, set before this module is imported: ``fullsms_dags_folder`` in pyproject.toml.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess

os.environ.pop("AIRFLOW_CONN_FULLSMS_DEFAULT", None)

# Property tests and state machines: `make test` runs a fixed, bounded profile ("ci": the same
# examples every run, so CI time is bounded and a failure repeats); `make fuzz` runs "fuzz" (new
# random examples, many more of them, FUZZ_EXAMPLES per test). Failures found either way are kept
# as @example()s or regression tests.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=100,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "5000")),
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: A distinctive token: no test output, log, error or XCom may ever contain it.
SECRET_TOKEN = "20|tok-SECRET-d0n0tle4k-8c1f"
FAKE_URL = "https://fullsms.test"
#: The sandbox's token in tests: distinctive too, so secret scans can look for it.
SANDBOX_TOKEN = "sbx|tok-SECRET-sandbox-5e1f"


def connection_json(host: str, token: str = SECRET_TOKEN, **extra: object) -> str:
    """An ``AIRFLOW_CONN_*`` value for a FullSMS connection."""
    return json.dumps({"conn_type": "fullsms", "host": host, "password": token, "extra": extra})


@pytest.fixture
def fullsms_conn(monkeypatch: pytest.MonkeyPatch) -> str:
    """``fullsms_default`` pointing at a fake host (for requests-mock), default sender COPERATO."""
    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(FAKE_URL, default_sender="COPERATO"))
    return FAKE_URL


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxProcess]:
    """One real sandbox process on a free loopback port for the whole session, stopped by PID."""
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess

    with SandboxProcess(token=SANDBOX_TOKEN) as process:
        yield process


@pytest.fixture
def sandbox_conn(sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch) -> SandboxClient:
    """A freshly reset sandbox, and ``fullsms_default`` pointing at it (default sender COPERATO)."""
    sandbox.client.reset()
    monkeypatch.setenv(
        "AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(sandbox.url, SANDBOX_TOKEN, default_sender="COPERATO")
    )
    return sandbox.client


@pytest.fixture(scope="session")
def airflow_db(fullsms_airflow_db: Path) -> None:
    """``airflow db migrate`` once per session (the plugin's), kept for the session (``dag.test()``)."""
    assert fullsms_airflow_db.name.startswith("fullsms-pytest-airflow-")


@pytest.fixture
def dag_results() -> Any:
    """Read a finished ``dag.test()`` run's return values: ``{task_id: value}`` (mapped: a list)."""

    def read(dag_run: Any) -> dict[str, Any]:
        from airflow.utils.session import create_session

        from tests.versions import return_values

        values: dict[str, Any] = {}
        with create_session() as session:
            for task_id, map_index, value in sorted(return_values(session, dag_run), key=lambda r: r[:2]):
                if map_index >= 0:
                    values.setdefault(task_id, []).append(value)
                else:
                    values[task_id] = value
        return values

    return read
