"""The settle CLI against requests-mock serving Airflow 3.3's state-store and clear endpoints."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_fullsms.cli import main

API = "http://airflow.test:8080"
TASK = "/api/v2/dags/campaign/dagRuns/manual__1/taskInstances/send"
ARGS = ["--dag-id", "campaign", "--run-id", "manual__1", "--task-id", "send", "--api-url", API]

STORE = {
    "fullsms.plan": {"v": 1, "fp": "f", "batches": 3, "recipients": 1100},
    "fullsms.batch.0": {"s": "accepted", "fp": "a", "n": 500, "c": "camp-0", "t": 500},
    "fullsms.batch.1": {
        "s": "unknown",
        "fp": "b",
        "n": 500,
        "a": 2,
        "h": "9f2c",
        "at": "2026-12-01T02:00:00+00:00",
    },
    "fullsms.batch.2": {
        "s": "in_flight",
        "fp": "c",
        "n": 100,
        "h": "9f2c",
        "at": "2026-12-01T02:00:01+00:00",
    },
}


def serve_store(requests_mock: Any, store: dict[str, Any], expires_at: str | None = None) -> None:
    entries = [
        {"key": k, "value": v, "updated_at": "2026-12-01T02:00:00Z", "expires_at": expires_at}
        for k, v in store.items()
    ]
    requests_mock.get(
        f"{API}{TASK}/state-store", json={"task_state_store": entries, "total_entries": len(entries)}
    )


def serve_version(requests_mock: Any, version: str = "3.3.2") -> None:
    requests_mock.get(f"{API}/api/v2/version", json={"version": version, "git_version": None})


def serve_task_state(requests_mock: Any, state: str) -> None:
    requests_mock.get(f"{API}{TASK}", json={"task_id": "send", "map_index": -1, "state": state})


@pytest.fixture
def airflow(requests_mock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AIRFLOW_API_TOKEN", "jwt-for-tests")
    serve_version(requests_mock)
    serve_store(requests_mock, STORE)
    serve_task_state(requests_mock, "failed")
    for index in (1, 2):
        requests_mock.put(f"{API}{TASK}/state-store/fullsms.decision.{index}", status_code=204)
        requests_mock.delete(f"{API}{TASK}/state-store/fullsms.decision.{index}", status_code=204)
    requests_mock.post(f"{API}/api/v2/dags/campaign/clearTaskInstances", json={"task_instances": []})
    return requests_mock


def writes(airflow: Any) -> list[tuple[str, Any]]:
    return [
        (r.method, r.path, r.json() if r.body else None)
        for r in airflow.request_history
        if r.method in ("PUT", "POST", "DELETE")
    ]


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
    # Each decision names the attempt it is about (batch 1 was resent once already), and never
    # expires, like the ledger: not Airflow's default 30 days.
    assert writes(airflow) == [
        (
            "PUT",
            f"{TASK}/state-store/fullsms.decision.1".lower(),
            {"value": {"decision": "sent", "attempt": 2}, "expires_at": None},
        ),
        (
            "PUT",
            f"{TASK}/state-store/fullsms.decision.2".lower(),
            {"value": {"decision": "resend", "attempt": 1}, "expires_at": None},
        ),
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
    serve_version(requests_mock)
    requests_mock.get(f"{API}{TASK}/state-store", status_code=401, json={"detail": "Invalid JWT token"})
    assert main(["show", *ARGS]) == 2
    err = capsys.readouterr().err
    assert "401" in err
    assert "check the token" in err
    assert "expired" not in err


def test_a_decision_expires_with_the_batch_record_it_is_about(airflow: Any) -> None:
    serve_store(airflow, STORE, expires_at="2027-03-01T00:00:00Z")  # a ledger_retention the user chose
    assert main(["settle", *ARGS, "--batch", "1", "--resend"]) == 0
    assert writes(airflow)[0][2]["expires_at"] == "2027-03-01T00:00:00Z"


@pytest.mark.parametrize("state", ["running", "queued", "scheduled", "restarting"])
def test_a_batch_in_flight_while_a_try_runs_is_never_settled(
    airflow: Any, capsys: pytest.CaptureFixture[str], state: str
) -> None:
    serve_task_state(airflow, state)
    assert main(["settle", *ARGS, "--batch", "2", "--resend"]) == 2
    err = capsys.readouterr().err
    assert f"Batch(es) 2 are in flight and the task is {state}" in err
    assert "Wait until the try ends" in err
    assert writes(airflow) == []
    # The batch whose outcome is unknown (its try is over) is settled meanwhile.
    assert main(["settle", *ARGS, "--batch", "1", "--resend"]) == 0


def test_show_says_which_batch_waits_for_its_running_try(
    airflow: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_task_state(airflow, "running")
    assert main(["show", *ARGS]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].endswith("(needs one)")
    assert lines[3].endswith("(in flight: the task is running)")


def test_a_decision_is_changed_or_withdrawn_until_a_try_applies_it(
    airflow: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    decided = {**STORE, "fullsms.decision.1": {"decision": "resend", "attempt": 2}}
    serve_store(airflow, decided)
    assert main(["show", *ARGS]) == 0
    assert capsys.readouterr().out.splitlines()[2].endswith("resend")

    assert main(["settle", *ARGS, "--batch", "1", "--sent"]) == 0
    assert main(["withdraw", *ARGS, "--batch", "1"]) == 0
    assert writes(airflow) == [
        (
            "PUT",
            f"{TASK}/state-store/fullsms.decision.1".lower(),
            {"value": {"decision": "sent", "attempt": 2}, "expires_at": None},
        ),
        ("DELETE", f"{TASK}/state-store/fullsms.decision.1".lower(), None),
    ]
    assert "batch 1 (500 recipients): no decision; it waits for one" in capsys.readouterr().out


def test_a_decision_about_an_earlier_attempt_is_shown_as_needing_a_new_one(
    airflow: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # "resend" was about attempt 1; the resend (attempt 2) is unknown too: a new decision is needed.
    serve_store(airflow, {**STORE, "fullsms.decision.1": {"decision": "resend", "attempt": 1}})
    assert main(["show", *ARGS]) == 0
    assert capsys.readouterr().out.splitlines()[2].endswith("(needs one)")


@pytest.mark.parametrize(
    ("script", "entry_point"),
    [
        ("fullsms-batches", "airflow_provider_fullsms.cli:main"),
        ("fullsms-sandbox", "airflow_provider_fullsms.sandbox.__main__:main"),
    ],
)
def test_the_console_scripts_run_the_commands_the_docs_name(
    script: str, entry_point: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # What pip installs as a script: the [project.scripts] entry, resolved as pip's launcher does.
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    declared = pyproject["project"]["scripts"][script]
    assert declared == entry_point
    function = pkgutil.resolve_name(declared)

    with pytest.raises(SystemExit) as exited:
        function(["--help"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {script} ")


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_fullsms.cli", "settle", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("usage: fullsms-batches settle ")
    assert "--sent" in result.stdout


# -- Airflow before 3.3: the ledger in Airflow Variables (campaigns/variable_store.py) ------------

OWNER = {"dag_id": "campaign", "run_id": "manual__1", "task_id": "send", "map_index": -1}


def serve_variables(requests_mock: Any, store: dict[str, Any], version: str = "3.1.8") -> str:
    """Airflow ``version`` with the task's ledger in Variables, and one Variable of another task."""
    from airflow_provider_fullsms.campaigns.variable_store import variable_key_prefix

    prefix = variable_key_prefix("campaign", "manual__1", "send")
    variables = [
        {"key": prefix + key, "value": json.dumps({"value": value, "task": OWNER, "expires_at": None})}
        for key, value in store.items()
    ]
    other = {**OWNER, "run_id": "manual__2"}
    # Airflow 3.0 matches the pattern anywhere in the key: a key that holds it for another task.
    variables.append(
        {
            "key": f"copy.{prefix}fullsms.batch.1",
            "value": json.dumps({"value": {"s": "unknown", "n": 9}, "task": other, "expires_at": None}),
        }
    )
    serve_version(requests_mock, version)
    requests_mock.get(
        f"{API}/api/v2/variables", json={"variables": variables, "total_entries": len(variables)}
    )
    requests_mock.patch(f"{API}/api/v2/variables/{prefix}fullsms.decision.1", status_code=404)
    requests_mock.post(f"{API}/api/v2/variables", status_code=201, json={})
    requests_mock.delete(f"{API}/api/v2/variables/{prefix}fullsms.decision.1", status_code=204)
    return prefix


@pytest.fixture
def airflow_3_1(requests_mock: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    monkeypatch.setenv("AIRFLOW_API_TOKEN", "jwt-for-tests")
    serve_task_state(requests_mock, "failed")
    requests_mock.post(f"{API}/api/v2/dags/campaign/clearTaskInstances", json={"task_instances": []})
    return requests_mock, serve_variables(requests_mock, STORE)


def test_before_airflow_3_3_show_reads_the_ledger_from_the_tasks_variables(
    airflow_3_1: tuple[Any, str], capsys: pytest.CaptureFixture[str]
) -> None:
    requests_mock, prefix = airflow_3_1
    assert main(["show", *ARGS]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[1:-1]] == [
        ["0", "accepted"],
        ["1", "unknown"],
        ["2", "in_flight"],
    ]
    assert lines[-1] == f"(kept in Airflow Variables {prefix}…: Airflow before 3.3)"
    listing = next(r for r in requests_mock.request_history if r.path == "/api/v2/variables")
    assert listing.qs["variable_key_pattern"] == [prefix.lower()]
    assert not [r for r in requests_mock.request_history if "state-store" in r.path]


def test_before_airflow_3_3_a_decision_is_a_variable_created_then_withdrawn(
    airflow_3_1: tuple[Any, str],
) -> None:
    requests_mock, prefix = airflow_3_1
    assert main(["settle", *ARGS, "--batch", "1", "--resend"]) == 0
    created = requests_mock.request_history[-1]
    assert (created.method, created.path) == ("POST", "/api/v2/variables")
    body = created.json()
    assert body["key"] == f"{prefix}fullsms.decision.1"
    assert json.loads(body["value"]) == {
        "value": {"decision": "resend", "attempt": 2},
        "task": OWNER,
        "expires_at": None,
    }
    assert "'send'" in body["description"]

    assert main(["withdraw", *ARGS, "--batch", "1"]) == 0
    deleted = requests_mock.request_history[-1]
    assert (deleted.method, deleted.path) == (
        "DELETE",
        f"/api/v2/variables/{prefix}fullsms.decision.1".lower(),
    )


def test_on_airflow_3_3_a_ledger_kept_in_variables_is_still_found(airflow_3_1: tuple[Any, str]) -> None:
    requests_mock, _ = airflow_3_1
    serve_version(requests_mock, "3.3.2")
    serve_store(requests_mock, {})  # the task state store holds no ledger
    assert main(["settle", *ARGS, "--batch", "1", "--sent"]) == 0
    assert requests_mock.request_history[-1].path == "/api/v2/variables"


def test_clean_deletes_ledger_variables_of_runs_that_are_gone_or_past_their_expiry(
    requests_mock: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_provider_fullsms.campaigns.variable_store import variable_key_prefix

    monkeypatch.setenv("AIRFLOW_API_TOKEN", "jwt-for-tests")

    def variable(run_id: str, key: str, expires_at: str | None = None) -> dict[str, str]:
        task = {**OWNER, "run_id": run_id}
        value = {"value": {"s": "accepted"}, "task": task, "expires_at": expires_at}
        return {"key": variable_key_prefix("campaign", run_id, "send") + key, "value": json.dumps(value)}

    kept = variable("manual__1", "fullsms.batch.0")
    expired = variable("manual__1", "fullsms.batch.1", expires_at="2020-01-01T00:00:00+00:00")
    orphan = variable("manual__gone", "fullsms.plan")
    someone_elses = {"key": "fullsms.ledger.notes", "value": "a Variable a person made"}
    listing = [kept, expired, orphan, someone_elses]
    requests_mock.get(f"{API}/api/v2/variables", json={"variables": listing, "total_entries": 4})
    requests_mock.get(f"{API}/api/v2/dags/campaign/dagRuns/manual__1", json={"state": "success"})
    requests_mock.get(f"{API}/api/v2/dags/campaign/dagRuns/manual__gone", status_code=404, json={})
    for gone in (expired, orphan):
        requests_mock.delete(f"{API}/api/v2/variables/{gone['key']}", status_code=204)

    assert main(["clean", "--api-url", API, "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "would delete 2 ledger Variable(s)"
    assert not [r for r in requests_mock.request_history if r.method == "DELETE"]

    assert main(["clean", "--api-url", API]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "deleted 2 ledger Variable(s)"
    deletes = [r.path for r in requests_mock.request_history if r.method == "DELETE"]
    assert deletes == [f"/api/v2/variables/{gone['key']}".lower() for gone in (expired, orphan)]


def test_on_airflow_2_the_cli_logs_in_with_the_password_and_settles_through_api_v1(
    requests_mock: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_provider_fullsms.campaigns.variable_store import variable_key_prefix

    monkeypatch.delenv("AIRFLOW_API_TOKEN", raising=False)
    monkeypatch.setenv("AIRFLOW_USERNAME", "ops")
    monkeypatch.setenv("AIRFLOW_PASSWORD", "s3cret")
    prefix = variable_key_prefix("campaign", "manual__1", "send")
    variables = [
        {"key": prefix + key, "value": json.dumps({"value": value, "task": OWNER, "expires_at": None})}
        for key, value in STORE.items()
    ]
    v1 = f"{API}/api/v1"
    requests_mock.post(f"{API}/auth/token", status_code=404, json={"detail": "Not Found"})
    requests_mock.get(f"{v1}/version", json={"version": "2.11.2", "git_version": None})
    requests_mock.get(f"{v1}/variables", json={"variables": variables, "total_entries": len(variables)})
    requests_mock.get(f"{v1}/dags/campaign/dagRuns/manual__1/taskInstances/send", json={"state": "failed"})
    requests_mock.patch(f"{v1}/variables/{prefix}fullsms.decision.1", status_code=404)
    requests_mock.post(f"{v1}/variables", status_code=200, json={})
    requests_mock.post(f"{v1}/dags/campaign/clearTaskInstances", json={"task_instances": []})

    assert main(["settle", *ARGS, "--batch", "1", "--resend", "--clear"]) == 0

    calls = [(r.method, r.path) for r in requests_mock.request_history]
    assert all(path.startswith(("/api/v1/", "/auth/token")) for _, path in calls), calls
    assert ("POST", "/api/v1/variables") in calls
    assert calls[-1] == ("POST", "/api/v1/dags/campaign/cleartaskinstances")
    listing = next(
        r for r in requests_mock.request_history if r.path == "/api/v1/variables" and r.method == "GET"
    )
    assert "variable_key_pattern" not in listing.qs  # Airflow 2 has none
    assert requests_mock.last_request.headers["Authorization"].startswith("Basic ")
