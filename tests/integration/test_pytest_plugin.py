"""
The pytest plugin installed with the provider, as a user meets it: their own DAG and DAG test,
run by a fresh ``pytest`` process that finds the plugin through its ``pytest11`` entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

USER_DAG = """
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

with DAG("spring_campaign", schedule=None, start_date=datetime(2025, 1, 1)):
    FullSmsSendToNumbersOperator(
        task_id="send", numbers=["+44 7700 900001", "+44 7700 900002"], message="Spring sale!"
    )
"""

#: The user's DAG test: ten lines.
USER_TEST = """
from airflow.dag_processing.dagbag import DagBag


def test_spring_campaign_texts_each_customer_once(fullsms_sandbox):
    fullsms_sandbox.set_balance(10)
    run = DagBag("dags/").dags["spring_campaign"].test()
    assert run.state == "success"
    assert sorted(m["to"] for m in fullsms_sandbox.messages()) == ["447700900001", "447700900002"]
    assert fullsms_sandbox.balance() < 10
"""


def test_a_users_dag_tests_run_against_a_sandbox_the_plugin_starts_and_stops(
    pytester: pytest.Pytester, airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user's project, outside this repository (no conftest of ours): a DAG folder and tests.
    (pytester.path / "dags").mkdir()
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(pytester.path / "dags"))
    (pytester.path / "dags" / "spring_campaign.py").write_text(USER_DAG)
    pytester.makepyfile(test_dags=USER_TEST)
    # The same DAG on another connection, tested where a conftest overrides the connection id.
    (pytester.path / "dags" / "spring_campaign_sms.py").write_text(
        USER_DAG.replace('"spring_campaign"', '"spring_campaign_sms"').replace(
            'task_id="send",', 'task_id="send", fullsms_conn_id="sms",'
        )
    )
    other = pytester.mkpydir("other_connection")
    (other / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.fixture\ndef fullsms_sandbox_conn_id():\n    return 'sms'\n"
    )
    (other / "test_sms.py").write_text(USER_TEST.replace('"spring_campaign"', '"spring_campaign_sms"'))
    pytester.makepyfile(
        test_zz_after="""
        import os

        def test_the_connections_are_gone_after_the_tests_that_used_them():
            assert "AIRFLOW_CONN_FULLSMS_DEFAULT" not in os.environ
            assert "AIRFLOW_CONN_SMS" not in os.environ

        def test_remember_the_sandbox_pid(fullsms_sandbox_server):
            open("sandbox.pid", "w").write(str(fullsms_sandbox_server.pid))
        """
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")

    result.assert_outcomes(passed=4)
    pid = int((pytester.path / "sandbox.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped, by its PID, when the session ended


def test_the_plugin_imports_nothing_but_pytest_and_the_standard_library() -> None:
    # pytest imports the plugin in every run of every project with the provider installed.
    probe = (
        "import sys, pytest; before = set(sys.modules); "
        "import airflow_provider_fullsms.plugins.pytest_plugin; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    imported = set(result.stdout.split())
    ours = {name for name in imported if name.startswith("airflow_provider_fullsms")}
    assert ours == {
        "airflow_provider_fullsms",
        "airflow_provider_fullsms.plugins",
        "airflow_provider_fullsms.plugins.pytest_plugin",
    }
    third_party = {name.split(".")[0] for name in imported - ours} - set(sys.stdlib_module_names)
    assert third_party == set()
