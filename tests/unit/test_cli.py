"""The settle CLI against requests-mock serving Airflow 3.3's state-store and clear endpoints."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_fullsms.cli import main

API = "http://airflow.test:8080"
TASK = "/api/v2/dags/campaign/dagRuns/manual__1/taskInstances/send"
ARGS = ["--dag-id", "campaign", "--run-id", "manual__1", "--task-id", "send", "--api-url", API]

STORE = {
    "fullsms.plan": {"v": 1, "fp": "f", "batches": 3, "recipients": 1100},
    "fullsms.batch.0": {"s": "accepted", "fp": "a", "n": 500, "c": "camp-0", "t": 500},
    "fullsms.batch.1": {"s": "unknown", "fp": "b", "n": 500, "h": "9f2c", "at": "2026-12-01T02:00:00+00:00"},
    "fullsms.batch.2": {
        "s": "in_flight",
        "fp": "c",
        "n": 100,
        "h": "9f2c",
        "at": "2026-12-01T02:00:01+00:00",
    },
}


@pytest.fixture
def airflow(requests_mock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AIRFLOW_API_TOKEN", "jwt-for-tests")
    entries = [
        {"key": k, "value": v, "updated_at": "2026-12-01T02:00:00Z", "expires_at": None}
        for k, v in STORE.items()
    ]
    requests_mock.get(
        f"{API}{TASK}/state-store", json={"task_state_store": entries, "total_entries": len(entries)}
    )
    requests_mock.put(f"{API}{TASK}/state-store/fullsms.decision.1", json={})
    requests_mock.put(f"{API}{TASK}/state-store/fullsms.decision.2", json={})
    requests_mock.post(f"{API}/api/v2/dags/campaign/clearTaskInstances", json={"task_instances": []})
    return requests_mock


def writes(airflow: Any) -> list[tuple[str, Any]]:
    return [(r.method, r.path, r.json()) for r in airflow.request_history if r.method in ("PUT", "POST")]


def test_show_lists_each_batch_and_which_need_a_decision(
    airflow: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", *ARGS]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["0", "accepted", "500", "-", "-"]
    assert lines[2].split()[:4] == ["1", "unknown", "500", "9f2c"]
    assert lines[2].endswith("(needs one)")
    assert lines[3].endswith("(needs one)")
    assert airflow.last_request.headers["Authorization"] == "Bearer jwt-for-tests"


def test_settle_writes_one_decision_key_per_batch_then_clears(airflow: Any) -> None:
    assert main(["settle", *ARGS, "--batch", "1", "--sent"]) == 0
    assert main(["settle", *ARGS, "--batch", "2", "--resend", "--clear"]) == 0
    assert writes(airflow) == [
        ("PUT", f"{TASK}/state-store/fullsms.decision.1".lower(), {"value": "sent"}),
        ("PUT", f"{TASK}/state-store/fullsms.decision.2".lower(), {"value": "resend"}),
        (
            "POST",
            "/api/v2/dags/campaign/cleartaskinstances",
            {
                "dry_run": False,
                "dag_run_id": "manual__1",
                "task_ids": ["send"],
                "only_failed": False,
                "include_downstream": True,
            },
        ),
    ]


def test_a_batch_whose_outcome_is_known_is_never_settled(
    airflow: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["settle", *ARGS, "--batch", "1", "--batch", "0", "--resend"]) == 2
    assert "0: accepted" in capsys.readouterr().err
    assert writes(airflow) == []  # not even batch 1: all or nothing


def test_no_credentials_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AIRFLOW_API_TOKEN", "AIRFLOW_USERNAME", "AIRFLOW_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert main(["show", *ARGS]) == 2
    assert "AIRFLOW_API_TOKEN" in capsys.readouterr().err


def test_a_user_name_and_password_get_a_token(airflow: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_API_TOKEN")
    monkeypatch.setenv("AIRFLOW_USERNAME", "ops")
    monkeypatch.setenv("AIRFLOW_PASSWORD", "s3cret")
    airflow.post(f"{API}/auth/token", json={"access_token": "jwt-from-login", "token_type": "bearer"})
    assert main(["show", *ARGS]) == 0
    assert json.loads(airflow.request_history[0].body) == {"username": "ops", "password": "s3cret"}
    assert airflow.last_request.headers["Authorization"] == "Bearer jwt-from-login"


def test_airflow_refusing_the_token_says_what_to_check(
    requests_mock: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRFLOW_API_TOKEN", "expired")
    requests_mock.get(f"{API}{TASK}/state-store", status_code=401, json={"detail": "Invalid JWT token"})
    assert main(["show", *ARGS]) == 2
    err = capsys.readouterr().err
    assert "401" in err
    assert "check the token" in err
    assert "expired" not in err
