"""
Settling a campaign's unknown batches through Airflow's REST API, one batch at a time.

A send task whose batches' outcome is unknown fails and names them. A person checks FullSMS,
then records for each batch "it was sent" or "send it again" in the task's state store — the key
``fullsms.decision.<index>`` the ledger reads on the next try — and clears the task. This module
does that over Airflow 3.3's public REST API (``/api/v2``), for the CLI
(:mod:`airflow_provider_fullsms.cli`) and anyone scripting it; nothing here talks to FullSMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from airflow_provider_fullsms.campaigns.ledger import LEDGER_PREFIX, BatchState, Settlement
from airflow_provider_fullsms.exceptions import CampaignInputError

#: Batch states a person may settle: FullSMS may or may not have sent them.
SETTLEABLE = frozenset({BatchState.UNKNOWN, BatchState.IN_FLIGHT})


@dataclass(frozen=True)
class TaskAddress:
    """One task instance: where its state store lives."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    def path(self) -> str:
        return (
            f"/api/v2/dags/{quote(self.dag_id, safe='')}/dagRuns/{quote(self.run_id, safe='')}"
            f"/taskInstances/{quote(self.task_id, safe='')}"
        )


@dataclass(frozen=True)
class BatchRecord:
    """A batch as the ledger recorded it (see :class:`~airflow_provider_fullsms.campaigns.ledger.Ledger`)."""

    index: int
    state: str
    recipients: int
    text_hash: str | None
    sent_at: str | None
    error: str | None
    decision: str | None

    @property
    def settleable(self) -> bool:
        return self.state in SETTLEABLE


class AirflowApi:
    """
    The few calls of Airflow's REST API that settling needs.

    :param base_url: the api-server, e.g. ``http://localhost:8080``.
    :param token: a JWT from the api-server's ``/auth/token`` (or :meth:`login`).
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def login(cls, base_url: str, username: str, password: str, *, timeout: float = 30.0) -> AirflowApi:
        """Get a token from the api-server's ``POST /auth/token`` with a user's name and password."""
        response = requests.post(
            f"{base_url.rstrip('/')}/auth/token",
            json={"username": username, "password": password},
            timeout=timeout,
        )
        _check(response, "log in to Airflow")
        return cls(base_url, response.json()["access_token"], timeout=timeout)

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        response = self._session.request(method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs)
        _check(response, what)
        return response.json() if response.content else None

    def state_store(self, task: TaskAddress) -> dict[str, Any]:
        """Every key of the task's state store (paged through)."""
        values: dict[str, Any] = {}
        while True:
            page = self._call(
                "GET",
                f"{task.path()}/state-store",
                "read the task's state store",
                params={"map_index": task.map_index, "limit": 100, "offset": len(values)},
            )
            values.update((entry["key"], entry["value"]) for entry in page["task_state_store"])
            if not page["task_state_store"] or len(values) >= page["total_entries"]:
                return values

    def set_state(self, task: TaskAddress, key: str, value: Any) -> None:
        """Write one key of the task's state store (kept as long as the ledger's records)."""
        self._call(
            "PUT",
            f"{task.path()}/state-store/{quote(key, safe='')}",
            f"write {key!r} to the task's state store",
            params={"map_index": task.map_index},
            json={"value": value},
        )

    def clear(self, task: TaskAddress) -> None:
        """Clear the task instance (whatever its state) and its downstream tasks, so the run finishes."""
        target: str | list[Any] = task.task_id if task.map_index < 0 else [task.task_id, task.map_index]
        self._call(
            "POST",
            f"/api/v2/dags/{quote(task.dag_id, safe='')}/clearTaskInstances",
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


def read_batches(store: dict[str, Any], prefix: str = LEDGER_PREFIX) -> list[BatchRecord]:
    """The batches recorded in a task's state store, by index, with any decision already made."""
    marker = f"{prefix}.batch."
    batches = []
    for key, record in store.items():
        if not key.startswith(marker) or not isinstance(record, dict):
            continue
        index = int(key[len(marker) :])
        decision = store.get(f"{prefix}.decision.{index}")
        batches.append(
            BatchRecord(
                index=index,
                state=str(record.get("s")),
                recipients=int(record.get("n") or 0),
                text_hash=record.get("h"),
                sent_at=record.get("at"),
                error=record.get("why"),
                decision=str(decision) if decision is not None else None,
            )
        )
    return sorted(batches, key=lambda batch: batch.index)


def settle(
    api: AirflowApi, task: TaskAddress, indices: list[int], settlement: Settlement
) -> list[BatchRecord]:
    """
    Record ``settlement`` for each of ``indices``; return the batches it was recorded for.

    :raises CampaignInputError: a batch is not recorded, or its outcome is known (accepted, not
        sent): nothing is written then.
    """
    batches = {batch.index: batch for batch in read_batches(api.state_store(task))}
    if not batches:
        raise CampaignInputError(
            f"Task {task.task_id!r} of run {task.run_id!r} has no FullSMS batches in its state store: "
            "check the DAG, run and task ids (and --map-index for a mapped task)."
        )
    wrong = [index for index in indices if index not in batches or not batches[index].settleable]
    if wrong:
        known = ", ".join(f"{i}: {batches[i].state}" if i in batches else f"{i}: not recorded" for i in wrong)
        raise CampaignInputError(
            f"Only batches whose outcome is unknown can be settled; {known}. "
            "Run `python -m airflow_provider_fullsms.cli show` to list them."
        )
    for index in indices:
        api.set_state(task, f"{LEDGER_PREFIX}.decision.{index}", settlement.value)
    return [batches[index] for index in indices]


def _check(response: requests.Response, what: str) -> None:
    if response.ok:
        return
    detail = response.text[:300]
    if response.status_code in (401, 403):
        advice = "check the token (or user name and password) and that the user may edit task instances"
    elif response.status_code == 404:
        advice = "check the DAG, run and task ids (and --map-index for a mapped task)"
    else:
        advice = "see Airflow's answer"
    raise CampaignInputError(
        f"Could not {what}: Airflow answered {response.status_code} ({detail}); {advice}."
    )
