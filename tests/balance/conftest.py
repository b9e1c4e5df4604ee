"""
Real Airflow runs (``dag.test()``) of the balance sensor and the notifier against the sandbox.

``dag.test()`` needs a migrated metadata database and the DAG serialised in it; DAGs defined in
a test are registered under the ``dags-folder`` bundle, as the DAG processor would do for a file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_fullsms.sandbox.testing import SandboxClient
from tests.balance.triggerers import TRIGGERERS, InTriggerer, runner_for
from tests.versions import register_dag, reschedules_of, return_values, validate_reschedule_dates


@dataclass
class DagResult:
    """What a ``dag.test()`` run left in the metadata database."""

    state: str
    task_states: dict[str, str | None]
    xcoms: dict[str, Any]
    reschedules: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def run_dag(airflow_db: None, monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], DagResult]:
    """Run a DAG with ``dag.test()`` and read back task states, return values and reschedules."""
    validate_reschedule_dates(monkeypatch)

    def run(dag: Any) -> DagResult:
        from airflow.utils.session import create_session

        register_dag(dag)
        dag_run = dag.test()
        with create_session() as session:
            tis = dag_run.get_task_instances(session=session)
            xcoms = {task_id: value for task_id, _, value in return_values(session, dag_run)}
            reschedules = {ti.task_id: reschedules_of(session, ti) for ti in tis}
            return DagResult(
                state=str(dag_run.state),
                task_states={ti.task_id: (str(ti.state) if ti.state else None) for ti in tis},
                xcoms=xcoms,
                reschedules=reschedules,
            )

    return run


class TopUp:
    """
    Raise the sandbox balance once the sensor has seen it too low ``after_checks`` times.

    Counting the sandbox's balance requests instead of sleeping makes the order certain: the
    sensor sees the low balance first, whatever the machine's speed.
    """

    def __init__(self, client: SandboxClient, *, balance: float, after_checks: int) -> None:
        self.client = client
        self.balance = balance
        self.after_checks = after_checks
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-top-up", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.client.requests_count("/account/balance") >= self.after_checks:
                self.client.set_balance(self.balance)
                self.done.set()
                return
            self._stop.wait(0.05)

    def __enter__(self) -> TopUp:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def top_up(sandbox_conn: SandboxClient) -> Iterator[Callable[..., TopUp]]:
    """Start a :class:`TopUp` on the test's sandbox; every one started is stopped after the test."""
    started: list[TopUp] = []

    def start(*, balance: float, after_checks: int) -> TopUp:
        topper = TopUp(sandbox_conn, balance=balance, after_checks=after_checks).__enter__()
        started.append(topper)
        return topper

    yield start
    for topper in started:
        topper.__exit__(None, None, None)


@pytest.fixture(params=TRIGGERERS)
def in_triggerer(request: pytest.FixtureRequest) -> InTriggerer:
    """
    Run a scenario in a triggerer: Airflow 3.3's shared streams, or each trigger's own ``run()``
    as every older triggerer does (see :mod:`tests.balance.triggerers`); each in a new event loop.
    """
    return runner_for(request.param)
