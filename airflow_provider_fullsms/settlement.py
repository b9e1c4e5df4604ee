"""
Settling a campaign's unknown batches through Airflow's REST API, one batch at a time.

A send task whose batches' outcome is unknown fails and names them. A person checks FullSMS,
then records for each batch "it was sent" or "send it again" in the task's state store — the key
``fullsms.decision.<index>`` the ledger reads on the next try — and clears the task. This module
does that over Airflow 3.3's public REST API (``/api/v2``), for the CLI
(:mod:`airflow_provider_fullsms.cli`), the FullSMS page and anyone scripting it; nothing here
talks to FullSMS.

A decision names the attempt of the batch it is about
(:class:`~airflow_provider_fullsms.campaigns.ledger.BatchDecision`), so it applies once. It can be
changed or withdrawn until a try applies it. A batch *in flight* while a try of the task is
running may still be answered: a decision about it is refused until that try ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from airflow_provider_fullsms.airflow_rest import check
from airflow_provider_fullsms.campaigns.ledger import (
    LEDGER_PREFIX,
    BatchDecision,
    BatchState,
    Settlement,
    attempt_of,
    pending_settlement,
)
from airflow_provider_fullsms.campaigns.variable_store import variable_key_prefix
from airflow_provider_fullsms.exceptions import SettlementRefusedError
from airflow_provider_fullsms.variable_ledger import VariableLedger

#: Batch states a person may settle: FullSMS may or may not have sent them.
SETTLEABLE = frozenset({BatchState.UNKNOWN, BatchState.IN_FLIGHT})
#: Task instance states in which a try may be running (or about to): a batch it left in flight
#: may still be answered, so nobody decides about it yet.
TRY_RUNNING_STATES = frozenset({"running", "queued", "scheduled", "restarting"})


@dataclass(frozen=True)
class TaskAddress:
    """One task instance: where its state store lives."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    def path(self, api: str = "/api/v2") -> str:
        """The task instance's address in Airflow's REST API (``api``: ``/api/v1`` on Airflow 2)."""
        return (
            f"{api}/dags/{quote(self.dag_id, safe='')}/dagRuns/{quote(self.run_id, safe='')}"
            f"/taskInstances/{quote(self.task_id, safe='')}"
        )

    def variable_prefix(self) -> str:
        """Where its ledger is kept in Airflow Variables (before Airflow 3.3)."""
        return variable_key_prefix(self.dag_id, self.run_id, self.task_id, self.map_index)


@dataclass(frozen=True)
class BatchRecord:
    """A batch as the ledger recorded it (see :class:`~airflow_provider_fullsms.campaigns.ledger.Ledger`)."""

    index: int
    state: str
    recipients: int
    text_hash: str | None
    sent_at: str | None
    error: str | None
    #: The decision the next try would apply (one about the current attempt), if any.
    decision: str | None
    #: Which send of the batch the record is about (1 for the first).
    attempt: int = 1
    #: When the key expires (Airflow's ``expires_at``; ``None``: never).
    expires_at: str | None = None

    @property
    def settleable(self) -> bool:
        return self.state in SETTLEABLE


class AirflowApi:
    """
    The few calls of Airflow's REST API that settling needs.

    On Airflow 2 (:meth:`login` finds no ``/auth/token``) the same calls go to its ``/api/v1``,
    with the user's name and password (its ``basic_auth`` API backend).

    :param base_url: the api-server, e.g. ``http://localhost:8080``.
    :param token: a JWT from the api-server's ``/auth/token`` (or :meth:`login`).
    :param task_state_store: whether this Airflow keeps task state stores (3.3 and later);
        ``None``: ask its ``/api/v2/version`` once.
    :param basic_auth: Airflow 2's webserver: a user's name and password, for ``/api/v1``.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        task_state_store: bool | None = None,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        if basic_auth is not None:
            self._session.auth = basic_auth
        else:
            self._session.headers["Authorization"] = f"Bearer {token}"
        #: The REST API's root: ``/api/v2``, or Airflow 2's ``/api/v1``.
        self.api = "/api/v1" if basic_auth is not None else "/api/v2"
        self._state_store = task_state_store
        #: Where each task's ledger was found: ``"task_state_store"`` or ``"variables"``.
        self._ledger_in: dict[TaskAddress, str] = {}
        #: The ledgers kept in Airflow Variables (Airflow before 3.3).
        self.variables = VariableLedger(self)

    @classmethod
    def login(cls, base_url: str, username: str, password: str, *, timeout: float = 30.0) -> AirflowApi:
        """Get a token from the api-server's ``POST /auth/token`` with a user's name and password."""
        response = requests.post(
            f"{base_url.rstrip('/')}/auth/token",
            json={"username": username, "password": password},
            timeout=timeout,
        )
        if response.status_code == 404:  # Airflow 2: no tokens; its REST API takes the password
            return cls(base_url, None, timeout=timeout, basic_auth=(username, password))
        check(response, "log in to Airflow")
        return cls(base_url, response.json()["access_token"], timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call of the REST API (``path`` from the server's root), its answer unchecked."""
        return self._session.request(method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs)

    def call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """One call of the REST API, its JSON answer; an error names ``what`` failed and what to do."""
        response = self.request(method, path, **kwargs)
        check(response, what)
        return response.json() if response.content else None

    def has_task_state_store(self) -> bool:
        """Whether this Airflow keeps task state stores (3.3 and later); asked once."""
        if self._state_store is None:
            version = str(self.call("GET", f"{self.api}/version", "read Airflow's version")["version"])
            major, minor = (int(part) for part in re.findall(r"\d+", version)[:2])
            self._state_store = (major, minor) >= (3, 3)
        return self._state_store

    def state_store_entries(self, task: TaskAddress) -> dict[str, dict[str, Any]]:
        """
        Every entry of the task's ledger by key (``value``, ``expires_at``…), paged through: its
        task state store, or, on an Airflow without one (before 3.3) or when that holds no ledger,
        its Airflow Variables (:mod:`~airflow_provider_fullsms.campaigns.variable_store`).
        """
        if self.has_task_state_store():
            entries = self._task_state_store_entries(task)
            if any(key.startswith(f"{LEDGER_PREFIX}.") for key in entries):
                self._ledger_in[task] = "task_state_store"
                return entries
        self._ledger_in[task] = "variables"
        return self.variables.entries(task)

    def _task_state_store_entries(self, task: TaskAddress) -> dict[str, dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = {}
        while True:
            page = self.call(
                "GET",
                f"{task.path(self.api)}/state-store",
                "read the task's state store",
                params={"map_index": task.map_index, "limit": 100, "offset": len(entries)},
            )
            entries.update((entry["key"], entry) for entry in page["task_state_store"])
            if not page["task_state_store"] or len(entries) >= page["total_entries"]:
                return entries

    def dag_run_exists(self, dag_id: str, run_id: str) -> bool:
        """Whether the DAG run is still in Airflow's database."""
        path = f"{self.api}/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"
        response = self.request("GET", path)
        if response.status_code == 404:
            return False
        check(response, "read the DAG run")
        return True

    def state_store(self, task: TaskAddress) -> dict[str, Any]:
        """Every key of the task's state store and its value."""
        return {key: entry["value"] for key, entry in self.state_store_entries(task).items()}

    def set_state(self, task: TaskAddress, key: str, value: Any, *, expires_at: str | None = None) -> None:
        """
        Write one key of the task's state store.

        :param expires_at: when Airflow may delete it (``airflow state-store clean``); ``None``:
            never (not Airflow's default retention, which would delete it after 30 days).
        """
        if self.in_variables(task):
            self.variables.write(task, key, value, expires_at)
            return
        self.call(
            "PUT",
            f"{task.path(self.api)}/state-store/{quote(key, safe='')}",
            f"write {key!r} to the task's state store",
            params={"map_index": task.map_index},
            json={"value": value, "expires_at": expires_at},
        )

    def in_variables(self, task: TaskAddress) -> bool:
        """Whether the task's ledger is in Airflow Variables (found out once per task)."""
        if task not in self._ledger_in:
            self.state_store_entries(task)
        return self._ledger_in[task] == "variables"

    def delete_state(self, task: TaskAddress, key: str) -> None:
        """Delete one key of the task's state store (nothing happens when there is none)."""
        if self.in_variables(task):
            self.variables.delete(task.variable_prefix() + key)
            return
        self.call(
            "DELETE",
            f"{task.path(self.api)}/state-store/{quote(key, safe='')}",
            f"delete {key!r} from the task's state store",
            params={"map_index": task.map_index},
        )

    def task_state(self, task: TaskAddress) -> str | None:
        """The task instance's state now (``running``, ``failed``…; ``None``: never ran)."""
        path = task.path(self.api) + ("" if task.map_index < 0 else f"/{task.map_index}")
        state = self.call("GET", path, "read the task instance")["state"]
        return None if state is None else str(state)

    def clear(self, task: TaskAddress) -> None:
        """Clear the task instance (whatever its state) and its downstream tasks, so the run finishes."""
        target: str | list[Any] = task.task_id if task.map_index < 0 else [task.task_id, task.map_index]
        self.call(
            "POST",
            f"{self.api}/dags/{quote(task.dag_id, safe='')}/clearTaskInstances",
            "clear the task",
            json={
                "dry_run": False,
                "dag_run_id": task.run_id,
                "task_ids": [target],
                "only_failed": False,
                # The tasks after it failed as upstream_failed: they run again too, so the run finishes.
                "include_downstream": True,
            },
        )


def read_batches(
    store: dict[str, Any], prefix: str = LEDGER_PREFIX, expiries: dict[str, Any] | None = None
) -> list[BatchRecord]:
    """
    The batches recorded in a task's state store, by index, with the decision a try would apply.

    :param expiries: each key's ``expires_at``, when known.
    """
    marker = f"{prefix}.batch."
    batches = []
    for key, record in store.items():
        if not key.startswith(marker) or not key[len(marker) :].isdigit() or not isinstance(record, dict):
            continue
        index = int(key[len(marker) :])
        decision = pending_settlement(record, store.get(f"{prefix}.decision.{index}"))
        batches.append(
            BatchRecord(
                index=index,
                state=str(record.get("s")),
                recipients=int(record.get("n") or 0),
                text_hash=record.get("h"),
                sent_at=record.get("at"),
                error=record.get("why"),
                decision=decision.value if decision is not None else None,
                attempt=attempt_of(record),
                expires_at=(expiries or {}).get(key),
            )
        )
    return sorted(batches, key=lambda batch: batch.index)


def _settleable(
    api: AirflowApi, task: TaskAddress, indices: list[int], *, deciding: bool = True
) -> list[BatchRecord]:
    """
    The batches ``indices`` name, once each may be decided about now.

    :param deciding: a decision is to be recorded (withdrawing one is safe at any time).
    :raises SettlementRefusedError: one is not recorded, its outcome is known, or (``deciding``)
        it is in flight while a try of the task is running.
    """
    entries = api.state_store_entries(task)
    store = {key: entry["value"] for key, entry in entries.items()}
    expiries = {key: entry.get("expires_at") for key, entry in entries.items()}
    batches = {batch.index: batch for batch in read_batches(store, expiries=expiries)}
    if not batches:
        raise SettlementRefusedError(
            f"Task {task.task_id!r} of run {task.run_id!r} has no FullSMS batches in its state store: "
            "check the DAG, run and task ids (and --map-index for a mapped task)."
        )
    wrong = [index for index in indices if index not in batches or not batches[index].settleable]
    if wrong:
        known = ", ".join(f"{i}: {batches[i].state}" if i in batches else f"{i}: not recorded" for i in wrong)
        raise SettlementRefusedError(
            f"Only batches whose outcome is unknown can be settled; {known}. "
            "Run `fullsms-batches show` to list them."
        )
    in_flight = [index for index in indices if batches[index].state == BatchState.IN_FLIGHT]
    if deciding and in_flight:
        # Read after the store: a try that started since would show here.
        state = api.task_state(task)
        if state in TRY_RUNNING_STATES:
            raise SettlementRefusedError(
                f"Batch(es) {', '.join(map(str, in_flight))} are in flight and the task is {state}: "
                "FullSMS may still answer. Wait until the try ends (the task is no longer running), "
                "then decide about what it reports unknown."
            )
    return [batches[index] for index in indices]


def settle(
    api: AirflowApi, task: TaskAddress, indices: list[int], settlement: Settlement
) -> list[BatchRecord]:
    """
    Record ``settlement`` for each of ``indices``, about each batch's current attempt; return the
    batches it was recorded for. A decision recorded earlier and not applied yet is replaced.

    Each decision expires with its batch's record (by default never).

    :raises SettlementRefusedError: a batch is not recorded, its outcome is known (accepted, not
        sent), or it is in flight while a try is running: nothing is written then.
    :raises CampaignInputError: Airflow's API refused a call.
    """
    batches = _settleable(api, task, indices)
    for batch in batches:
        value = BatchDecision(settlement).to_value(batch.attempt)
        api.set_state(task, f"{LEDGER_PREFIX}.decision.{batch.index}", value, expires_at=batch.expires_at)
    return batches


def withdraw(api: AirflowApi, task: TaskAddress, indices: list[int]) -> list[BatchRecord]:
    """
    Withdraw the decisions recorded for ``indices`` and not applied yet: the batches wait for one again.

    :raises SettlementRefusedError: a batch is not recorded, or its outcome is known.
    """
    batches = _settleable(api, task, indices, deciding=False)
    for batch in batches:
        api.delete_state(task, f"{LEDGER_PREFIX}.decision.{batch.index}")
    return batches
