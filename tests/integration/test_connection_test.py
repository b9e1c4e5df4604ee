"""``airflow connections test`` (what the UI's Test button runs) against a real sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_fullsms.hooks.fullsms import FullSmsHook
from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess
from tests.conftest import SANDBOX_TOKEN, connection_json

AIRFLOW = str(Path(sys.executable).parent / "airflow")


def connections_test(conn_json: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW_CONN_FULLSMS_DEFAULT": conn_json,
    }
    return subprocess.run(
        [AIRFLOW, "connections", "test", "fullsms_default"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_connection_test_succeeds_with_the_right_token(
    airflow_db: None, sandbox: SandboxProcess, sandbox_conn: SandboxClient
) -> None:
    result = connections_test(connection_json(sandbox.url, SANDBOX_TOKEN))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Connection success!" in result.stdout
    assert sandbox_conn.messages() == [], "testing a connection sends nothing"


def test_cli_connection_test_names_the_problem_of_a_wrong_token(
    airflow_db: None, sandbox: SandboxProcess, sandbox_conn: SandboxClient
) -> None:
    result = connections_test(connection_json(sandbox.url, "not-the-token"))
    # The exit status is Airflow's own: 1 from Airflow 3.3 on, 0 before.
    assert "Connection failed!" in result.stdout
    assert "Unauthenticated - Missing/Invalid API key" in result.stdout
    assert "not-the-token" not in result.stdout + result.stderr


def test_hook_test_connection_reports_the_balance(
    sandbox: SandboxProcess, sandbox_conn: SandboxClient
) -> None:
    sandbox_conn.set_balance(42.5)
    assert FullSmsHook().test_connection() == (
        True,
        f"Connected to FullSMS at {sandbox.url}: balance is 42.5.",
    )


def test_hook_test_connection_fails_fast_when_nothing_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(f"http://127.0.0.1:{port}"))
    ok, reason = FullSmsHook().test_connection()
    assert not ok
    assert (
        f"Could not reach FullSMS for GET account/balance: NewConnectionError to http://127.0.0.1:{port}"
        in reason
    )
