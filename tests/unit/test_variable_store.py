"""
The ledger in Airflow Variables (Airflow before 3.3): one Variable per key, per task instance.

``Variables`` below keeps values as Airflow's Variable table does: JSON text per key, with a
description; ``get`` with a default and ``deserialize_json``, ``set`` with ``serialize_json``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_fullsms.campaigns.ledger import BatchState, Ledger
from airflow_provider_fullsms.campaigns.variable_store import (
    VARIABLE_PREFIX,
    VariableStore,
    variable_key_prefix,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)


class Variables:
    """Airflow's Variable table as ``Variable.get``/``Variable.set`` see it."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str | None]] = {}

    def get(self, key: str, default: Any, deserialize_json: bool = False) -> Any:
        if key not in self.rows:
            return default
        return json.loads(self.rows[key][0]) if deserialize_json else self.rows[key][0]

    def set(self, key: str, value: Any, description: str | None = None, serialize_json: bool = False) -> None:
        assert len(key) <= 250, "Airflow's Variable key is at most 250 characters"
        self.rows[key] = (json.dumps(value) if serialize_json else str(value), description)


def store(variables: Variables, run_id: str = "manual__1", map_index: int = -1) -> VariableStore:
    return VariableStore("crm_to_sms", run_id, "send", map_index, variable=variables, now=lambda: NOW)


def test_each_key_is_a_variable_that_says_which_task_instance_it_belongs_to() -> None:
    variables = Variables()
    store(variables).set("fullsms.batch.0", {"s": "accepted"})

    [(key, (value, description))] = variables.rows.items()
    assert key == variable_key_prefix("crm_to_sms", "manual__1", "send") + "fullsms.batch.0"
    assert key.startswith(VARIABLE_PREFIX)
    assert json.loads(value) == {
        "value": {"s": "accepted"},
        "task": {"dag_id": "crm_to_sms", "run_id": "manual__1", "task_id": "send", "map_index": -1},
        "expires_at": None,
    }
    assert description is not None
    assert description == (
        "FullSMS ledger of task 'send' (map index -1) in run 'manual__1' of DAG 'crm_to_sms': fullsms.batch.0"
    )


def test_task_instances_never_read_each_others_ledger() -> None:
    variables = Variables()
    store(variables, map_index=0).set("fullsms.plan", {"fp": "a"})
    store(variables, map_index=1).set("fullsms.plan", {"fp": "b"})
    store(variables, run_id="manual__2").set("fullsms.plan", {"fp": "c"})

    assert store(variables, map_index=0).get("fullsms.plan") == {"fp": "a"}
    assert store(variables, map_index=1).get("fullsms.plan") == {"fp": "b"}
    assert store(variables, run_id="manual__2").get("fullsms.plan") == {"fp": "c"}
    assert store(variables).get("fullsms.plan", "none") == "none"


@given(
    dag_id=st.text(min_size=1, max_size=250),
    run_id=st.text(min_size=1, max_size=250),
    task_id=st.text(min_size=1, max_size=250),
    map_index=st.integers(-1, 10**6),
)
def test_a_key_fits_airflow_and_names_one_task_instance_whatever_its_ids(
    dag_id: str, run_id: str, task_id: str, map_index: int
) -> None:
    prefix = variable_key_prefix(dag_id, run_id, task_id, map_index)
    assert len(prefix + "fullsms.decision.99999") <= 250
    other = variable_key_prefix(dag_id, run_id, task_id, map_index + 1)
    assert prefix != other


def test_a_variable_written_by_hand_or_for_another_task_reads_as_nothing() -> None:
    variables = Variables()
    key = variable_key_prefix("crm_to_sms", "manual__1", "send") + "fullsms.plan"
    variables.set(key, {"fp": "typed in the Variables page"}, serialize_json=True)
    assert store(variables).get("fullsms.plan") is None


def test_retention_expires_a_key_and_never_expire_keeps_it() -> None:
    variables = Variables()
    store(variables).set("fullsms.batch.0", {"s": "accepted"}, retention=timedelta(days=7))
    store(variables).set("fullsms.batch.1", {"s": "accepted"}, retention=timedelta.max)

    assert store(variables).get("fullsms.batch.0") == {"s": "accepted"}
    later = VariableStore(
        "crm_to_sms", "manual__1", "send", variable=variables, now=lambda: NOW + timedelta(days=8)
    )
    assert later.get("fullsms.batch.0") is None
    assert later.get("fullsms.batch.1") == {"s": "accepted"}


def test_the_ledger_resumes_from_variables_as_from_a_task_state_store() -> None:
    from airflow_provider_fullsms.campaigns.batching import Batch

    variables = Variables()
    batch = Batch(index=0, numbers=("447700900001",), text="Hi", fingerprint="b0", recipients=1)
    first = Ledger(store(variables))
    first.open({"fingerprint": "fp", "batches": 1, "recipients": 1})
    first.mark_in_flight(batch)

    retry = Ledger(store(variables))
    assert retry.open({"fingerprint": "fp", "batches": 1, "recipients": 1}) is True
    record = retry.record(0)
    assert record is not None
    assert record["s"] == BatchState.IN_FLIGHT
    stored = json.loads(next(v for k, (v, _) in variables.rows.items() if k.endswith("batch.0")))
    assert stored["expires_at"] is None  # the ledger's default: never expires


@pytest.mark.parametrize("map_index", [None, 3])
def test_for_task_instance_reads_the_ids_of_the_running_task(map_index: int | None) -> None:
    class TaskInstance:
        dag_id, run_id, task_id = "crm_to_sms", "manual__1", "send"

    ti = TaskInstance()
    ti.map_index = map_index  # type: ignore[attr-defined]
    found = VariableStore.for_task_instance(ti)
    assert found.task == {
        "dag_id": "crm_to_sms",
        "run_id": "manual__1",
        "task_id": "send",
        "map_index": -1 if map_index is None else map_index,
    }


def test_the_operator_keeps_its_ledger_in_variables_only_where_airflow_has_no_state_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_fullsms.operators.base import _ledger_store

    class TaskInstance:
        dag_id, run_id, task_id, map_index = "crm_to_sms", "manual__1", "send", -1

    given_store = Variables()
    assert _ledger_store({"task_state_store": given_store, "ti": TaskInstance()}) is given_store  # type: ignore[typeddict-item]
    monkeypatch.setattr("airflow_provider_fullsms.campaigns.ledger.has_task_state_store", lambda: True)
    assert _ledger_store({"ti": TaskInstance()}) is None  # type: ignore[typeddict-item]  # 3.3: resumption off, warned
    monkeypatch.setattr("airflow_provider_fullsms.campaigns.ledger.has_task_state_store", lambda: False)
    found = _ledger_store({"ti": TaskInstance()})  # type: ignore[typeddict-item]
    assert isinstance(found, VariableStore)
    assert found.task["run_id"] == "manual__1"
