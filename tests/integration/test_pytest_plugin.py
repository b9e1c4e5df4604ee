"""
The pytest plugin installed with the provider, as a user meets it: a project folder with nothing
but a ``dags/`` folder and tests, run by a fresh ``pytest`` process that finds the plugin through
its ``pytest11`` entry point, with no Airflow settings in its environment and no conftest of ours.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.blocks import pytest_plugin_example

pytest_plugins = ["pytester"]


@pytest.fixture
def bare_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """An empty folder, run with no AIRFLOW_* settings and no FullSMS connection in the environment."""
    for name in list(os.environ):
        if name.startswith("AIRFLOW"):
            monkeypatch.delenv(name)
    return pytester


def test_the_readme_example_passes_as_written_in_a_new_project(bare_project: pytest.Pytester) -> None:
    dag, test = pytest_plugin_example()
    (bare_project.path / "dags").mkdir()
    (bare_project.path / "dags" / "spring_campaign.py").write_text(dag)
    bare_project.makepyfile(test_dags=test)
    # Each test starts from the migrated database, without the runs of the tests before it.
    bare_project.makepyfile(
        test_dags_again=test
        + """

def test_each_test_sees_only_its_own_dag_runs(fullsms_sandbox):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    DagBag("dags/").dags["spring_campaign"].test()
    with create_session() as session:
        assert session.query(DagRun).count() == 1
"""
    )

    result = bare_project.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=3)


def test_the_sandbox_connection_id_can_be_overridden_and_everything_is_stopped_at_the_end(
    bare_project: pytest.Pytester,
) -> None:
    dag, test = pytest_plugin_example()
    (bare_project.path / "dags").mkdir()
    (bare_project.path / "dags" / "spring_campaign_sms.py").write_text(
        dag.replace('"spring_campaign"', '"spring_campaign_sms"').replace(
            'task_id="send",', 'task_id="send", fullsms_conn_id="sms",'
        )
    )
    bare_project.makeconftest(
        "import pytest\n\n\n@pytest.fixture\ndef fullsms_sandbox_conn_id():\n    return 'sms'\n"
    )
    bare_project.makepyfile(test_sms=test.replace('"spring_campaign"', '"spring_campaign_sms"'))
    bare_project.makepyfile(
        test_zz_after="""
        import os

        def test_the_connection_is_gone_after_the_test_that_used_it():
            assert "AIRFLOW_CONN_SMS" not in os.environ

        def test_remember_the_sandbox_pid_and_the_airflow_home(fullsms_sandbox_server):
            open("sandbox.pid", "w").write(str(fullsms_sandbox_server.pid))
            open("airflow_home", "w").write(os.environ["AIRFLOW_HOME"])
        """
    )

    result = bare_project.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=3)
    pid = int((bare_project.path / "sandbox.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped, by its PID, when the session ended
    assert not Path((bare_project.path / "airflow_home").read_text()).exists()


PROBE = """
import os

from airflow import configuration, settings  # imported by a conftest at its top, as many projects do
from airflow.configuration import conf


def test_airflow_settings():
    home = os.environ["AIRFLOW_HOME"]
    print()
    print("probe home", home)
    print("probe dags_folder", settings.DAGS_FOLDER)
    print("probe load_examples", conf.getboolean("core", "load_examples"))
    print("probe database", conf.get("database", "sql_alchemy_conn"))
    print("probe config", configuration.AIRFLOW_CONFIG)
"""

CHILD_PROBE = """

def test_an_airflow_process_started_with_a_home_of_its_own_uses_that_home():
    import subprocess, sys

    read = "from airflow.configuration import conf; print(conf.get('database', 'sql_alchemy_conn'))"
    env = {**os.environ, "AIRFLOW_HOME": os.path.abspath("e2e-home")}
    database = subprocess.run([sys.executable, "-c", read], env=env, capture_output=True, text=True)
    print()
    print("probe child_database", database.stdout.strip())
"""


def run_probe(project: pytest.Pytester, *args: str, child: bool = False) -> dict[str, str]:
    project.makeconftest("from airflow import settings  # noqa: F401\n")
    project.makepyfile(test_probe=PROBE + (CHILD_PROBE if child else ""))
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-s", *args)
    result.assert_outcomes(passed=2 if child else 1)
    return dict(line.split(" ", 2)[1:] for line in result.outlines if line.startswith("probe "))


def test_airflow_is_pointed_at_a_throwaway_home_before_any_conftest_imports_it(
    bare_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A developer's shell with their own Airflow's settings: the tests must not touch that Airflow.
    mine = bare_project.path / "my-airflow"
    monkeypatch.setenv("AIRFLOW_HOME", str(mine))
    monkeypatch.setenv("AIRFLOW_CONFIG", str(mine / "airflow.cfg"))
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{mine / 'airflow.db'}")

    seen = run_probe(bare_project, child=True)

    home = Path(seen["home"])
    assert home.name.startswith("fullsms-pytest-airflow-")
    assert seen["database"] == f"sqlite:///{home / 'airflow.db'}"
    assert seen["config"] == str(home / "airflow.cfg")
    assert seen["child_database"] == f"sqlite:///{bare_project.path / 'e2e-home' / 'airflow.db'}"
    assert seen["load_examples"] == "False"
    assert seen["dags_folder"] == str(bare_project.path / "dags")  # the default: dags/ under rootdir
    assert not home.exists()  # removed at the end of the session
    assert not mine.exists()


@pytest.mark.parametrize(
    ("ini", "args", "env", "expected"),
    [
        ("[pytest]\nfullsms_dags_folder = airflow/dags\n", (), None, "airflow/dags"),
        (None, ("--fullsms-dags-folder", "src/dags"), None, "src/dags"),
        ("[pytest]\nfullsms_dags_folder = airflow/dags\n", ("--fullsms-dags-folder", "cli"), None, "cli"),
        ("[pytest]\nfullsms_dags_folder = airflow/dags\n", (), "from_env", "from_env"),
    ],
    ids=["ini", "cli", "cli-over-ini", "env-over-ini"],
)
def test_the_dags_folder_is_chosen_by_option_then_environment_then_ini(
    bare_project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    ini: str | None,
    args: tuple[str, ...],
    env: str | None,
    expected: str,
) -> None:
    if ini:
        bare_project.makeini(ini)
    if env:
        monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(bare_project.path / env))

    seen = run_probe(bare_project, *args)

    assert seen["dags_folder"] == str(bare_project.path / expected)


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
