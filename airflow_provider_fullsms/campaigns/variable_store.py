"""
The ledger's store where Airflow has no task state store (before 3.3): Airflow Variables.

A task instance's ledger is a set of Variables, one per ledger key, named
``fullsms.ledger.<digest>.<key>``: the digest stands for the task instance (DAG, run, task, map
index), so a key stays short whatever the ids, and every key of one task instance shares one
prefix, which Airflow's REST API and the metadata database can list. Each Variable holds JSON:
``{"value": …, "task": {"dag_id", "run_id", "task_id", "map_index"}, "expires_at": …}``: what it
is about, readable in Airflow's Variables page, and when it expires (``null``: never).

Why Variables (docs/architecture.md says more): they live in Airflow's metadata database, so they
survive a retry on another worker and a killed worker, and every worker that can run a task can
reach them -- through the api-server on Airflow 3 (the Task SDK's ``Variable``), directly on
Airflow 2 -- with no configuration, on one machine or many. Unlike the 3.3 state store, Variables
do not refuse the writes of a try Airflow has replaced: what keeps two tries of a task from
sending at once is Airflow stopping a try whose heartbeats fail before it schedules the next.

Variables do not go with their DAG run and Airflow never expires them: ``fullsms-batches clean``
deletes the ledgers of DAG runs that no longer exist and keys past their ``expires_at``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

#: Every ledger Variable's key starts with this, then the task instance's digest and a dot.
VARIABLE_PREFIX = "fullsms.ledger."


#: Hex digits of the digest that stands for a task instance in its Variables' keys.
DIGEST_LENGTH = 20


def variable_key_prefix(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """``fullsms.ledger.<digest>.``: the prefix of one task instance's ledger Variables."""
    text = "\x1f".join((dag_id, run_id, task_id, str(map_index)))
    return f"{VARIABLE_PREFIX}{hashlib.sha256(text.encode()).hexdigest()[:DIGEST_LENGTH]}."


def split_key(variable: str) -> tuple[str, str]:
    """A ledger Variable's key as its task instance's prefix and the ledger's own key."""
    cut = len(VARIABLE_PREFIX) + DIGEST_LENGTH + 1
    return variable[:cut], variable[cut:]


def _variable() -> Any:
    from airflow.providers.common.compat.sdk import Variable

    return Variable


class VariableStore:
    """
    One task instance's ledger in Airflow Variables, with the ``get``/``set`` of a task state store.

    :param variable: Airflow's ``Variable`` (default), or a stand-in with its ``get``/``set``.
    :param now: the current time (UTC), for expiry.
    """

    def __init__(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: int = -1,
        *,
        variable: Any = None,
        now: Any = None,
    ) -> None:
        self.task = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index}
        self.prefix = variable_key_prefix(dag_id, run_id, task_id, map_index)
        self._variable = variable
        self._now = now or (lambda: datetime.now(UTC))

    @classmethod
    def for_task_instance(cls, ti: Any) -> VariableStore:
        """The ledger of the task instance ``ti`` (``context["ti"]``)."""
        map_index = getattr(ti, "map_index", -1)
        return cls(ti.dag_id, ti.run_id, ti.task_id, -1 if map_index is None else map_index)

    @property
    def variable(self) -> Any:
        if self._variable is None:
            self._variable = _variable()
        return self._variable

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default`` when there is none or it has expired."""
        entry = read_entry(self.variable.get(self.prefix + key, None, deserialize_json=True), self.task)
        if entry is None:
            return default
        expires_at = entry["expires_at"]
        if expires_at is not None and datetime.fromisoformat(expires_at) <= self._now():
            return default
        return entry["value"]

    def set(self, key: str, value: Any, *, retention: timedelta | None = None) -> None:
        """
        Store ``value`` under ``key``.

        :param retention: how long it lives; ``None`` or ``timedelta.max`` (the ledger's
            ``NEVER_EXPIRE`` where Airflow has none): never expires.
        """
        expires_at = None
        if retention is not None and retention != timedelta.max:
            expires_at = (self._now() + retention).isoformat(timespec="seconds")
        self.variable.set(
            self.prefix + key,
            stored_value(self.task, value, expires_at),
            description=description(self.task, key),
            serialize_json=True,
        )


def stored_value(task: dict[str, Any], value: Any, expires_at: str | None) -> dict[str, Any]:
    """What a ledger Variable holds (as JSON): the value, its task instance and when it expires."""
    return {"value": value, "task": task, "expires_at": expires_at}


def description(task: dict[str, Any], key: str) -> str:
    """A ledger Variable's description, as Airflow's Variables page shows it."""
    return (
        f"FullSMS ledger of task {task['task_id']!r} (map index {task['map_index']}) in run "
        f"{task['run_id']!r} of DAG {task['dag_id']!r}: {key}"
    )


def read_entry(stored: Any, task: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """
    ``{"value", "task", "expires_at"}`` of a ledger Variable's (JSON-decoded) value, or ``None``
    when it is not one -- or, with ``task``, not that task instance's.
    """
    if not isinstance(stored, dict) or "value" not in stored or not isinstance(stored.get("task"), dict):
        return None
    if task is not None and stored["task"] != task:
        return None
    return {"value": stored["value"], "task": stored["task"], "expires_at": stored.get("expires_at")}
