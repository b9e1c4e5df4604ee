"""
The provider's pytest plugin: test your own DAGs against a local FullSMS sandbox.

Installing the provider registers this module (entry point ``pytest11``). Importing it costs no
more than the standard library: the sandbox helpers (``requests``) and Airflow are imported when a
fixture first runs, and the metadata database is migrated only when a test asks for it.

Before any ``conftest.py`` is imported (Airflow reads its configuration when it is imported), the
plugin points Airflow at a throw-away home for the session: ``AIRFLOW_HOME`` in a temporary folder
with its own config file and SQLite database (``AIRFLOW_CONFIG`` and
``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` are unset), no example DAGs, and your project's DAGs
folder. The DAGs folder is, first to last: ``--fullsms-dags-folder``, ``AIRFLOW__CORE__DAGS_FOLDER``
set in the environment, the ini option ``fullsms_dags_folder`` (relative to the ini file), else
``dags/`` under pytest's rootdir.
The temporary home is removed at the end of the session; the environment is restored.

* ``fullsms_sandbox`` -- a freshly reset sandbox for this test, the Airflow connection pointing at
  it, a migrated metadata database as it was before any test wrote to it, and the
  :class:`~airflow_provider_fullsms.sandbox.testing.SandboxClient` to look into the sandbox:
  ``messages()``, ``inbox()``, ``balance()``, ``set_balance()``, ``inject_fault()``,
  ``requests_count()``.
* ``fullsms_sandbox_conn_id`` -- the connection it sets (default ``fullsms_default``); override the
  fixture to set another.
* ``fullsms_sandbox_server`` -- the sandbox process, one per test session, on a free loopback port,
  stopped by its PID at the end; override it to start one with your own state file
  (:class:`~airflow_provider_fullsms.sandbox.testing.SandboxProcess` ``(state=...)``).
* ``fullsms_airflow_home`` -- the Airflow home of this test, its database restored to the migrated
  copy (``fullsms_sandbox`` asks for it); ``fullsms_airflow_db`` -- ``airflow db migrate``, once
  per session. Where a ``conftest.py`` sets ``AIRFLOW_HOME`` or the database itself, that database
  is migrated and left as it is between tests.

Example::

    def test_campaign_texts_every_customer_once(fullsms_sandbox):
        run = DagBag("dags/").dags["spring_campaign"].test()
        assert run.state == "success"
        assert len(fullsms_sandbox.messages()) == 3
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess

#: The DAGs folder under pytest's rootdir when no option names one.
DEFAULT_DAGS_FOLDER = "dags"
_DB_FILE = "airflow.db"
_MIGRATED_COPY = "airflow.db.migrated"
_HOME = pytest.StashKey[Path]()
_SAVED_ENV = pytest.StashKey[dict[str, str | None]]()
#: Settings that would point Airflow elsewhere than AIRFLOW_HOME; unset for the session.
_FROM_HOME = ("AIRFLOW_CONFIG", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = (
        "the DAGs folder Airflow reads in tests (fullsms plugin); "
        f"default: AIRFLOW__CORE__DAGS_FOLDER if set, else '{DEFAULT_DAGS_FOLDER}' under the rootdir"
    )
    parser.getgroup("fullsms").addoption(
        "--fullsms-dags-folder", dest="fullsms_dags_folder", default=None, help=help_text
    )
    parser.addini("fullsms_dags_folder", help=f"{help_text} (relative to the ini file)", default=None)


def _dags_folder(config: pytest.Config, option: str | None) -> Path:
    if option:
        return Path(option).resolve()
    if os.environ.get("AIRFLOW__CORE__DAGS_FOLDER"):
        return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).resolve()
    ini = config.getini("fullsms_dags_folder")
    if ini:
        base = config.inipath.parent if config.inipath else config.rootpath
        return (base / str(ini)).resolve()
    return config.rootpath / DEFAULT_DAGS_FOLDER


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    """Point Airflow at a throw-away home before any conftest (and so Airflow) is imported."""
    if "airflow" in sys.modules:
        return  # too late to choose Airflow's configuration: it has been read already
    options = parser.parse_known_args(args)
    home = Path(tempfile.mkdtemp(prefix="fullsms-pytest-airflow-"))
    settings = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(_dags_folder(early_config, options.fullsms_dags_folder)),
    }
    early_config.stash[_SAVED_ENV] = {name: os.environ.get(name) for name in (*settings, *_FROM_HOME)}
    early_config.stash[_HOME] = home
    os.environ.update(settings)
    # The config file and the database follow AIRFLOW_HOME (airflow.cfg, airflow.db in it), also in
    # the Airflow processes a test starts with a home of its own.
    for name in _FROM_HOME:
        os.environ.pop(name, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    for name, value in config.stash.get(_SAVED_ENV, {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if _HOME in config.stash:
        shutil.rmtree(config.stash[_HOME], ignore_errors=True)


def _own_home(config: pytest.Config) -> Path | None:
    """The home this plugin made, if it is the one in force (a conftest may have set another)."""
    home = config.stash.get(_HOME, None)
    if home is None or os.environ.get("AIRFLOW_HOME") != str(home):
        return None
    if any(name in os.environ for name in _FROM_HOME):
        return None
    return home


@pytest.fixture(scope="session")
def fullsms_airflow_db(pytestconfig: pytest.Config) -> Path:
    """``airflow db migrate``, once per session, in the Airflow home in force; returns that home."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"airflow db migrate failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    home = _own_home(pytestconfig)
    if home is not None:
        shutil.copyfile(home / _DB_FILE, home / _MIGRATED_COPY)
        return home
    return Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))


@pytest.fixture
def fullsms_airflow_home(pytestconfig: pytest.Config, fullsms_airflow_db: Path) -> Path:
    """This test's Airflow home: the plugin's, its database as migrated (no runs of earlier tests)."""
    if _own_home(pytestconfig) is None:
        return fullsms_airflow_db  # a home someone else set up: theirs to reset
    airflow_settings = sys.modules.get("airflow.settings")
    if airflow_settings is not None and getattr(airflow_settings, "engine", None) is not None:
        # Close every connection to the file before replacing it.
        airflow_settings.Session.remove()
        airflow_settings.engine.dispose()
    for leftover in ("-journal", "-wal", "-shm"):
        (fullsms_airflow_db / f"{_DB_FILE}{leftover}").unlink(missing_ok=True)
    shutil.copyfile(fullsms_airflow_db / _MIGRATED_COPY, fullsms_airflow_db / _DB_FILE)
    return fullsms_airflow_db


@pytest.fixture(scope="session")
def fullsms_sandbox_server() -> Iterator[SandboxProcess]:
    """One sandbox process for the test session, on a free loopback port; stopped by its PID."""
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess

    # A token of this session only: a test may check that it never shows up in a log.
    with SandboxProcess(token=f"sandbox-{secrets.token_hex(8)}") as server:
        yield server


@pytest.fixture
def fullsms_sandbox_conn_id() -> str:
    """The Airflow connection ``fullsms_sandbox`` points at the sandbox; override it to change it."""
    return "fullsms_default"


@pytest.fixture
def fullsms_sandbox(
    fullsms_sandbox_server: SandboxProcess,
    fullsms_sandbox_conn_id: str,
    fullsms_airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> SandboxClient:
    """
    A sandbox reset to its seed (balance, empty inbox, no faults), and the connection pointing at it.

    The connection is set as ``AIRFLOW_CONN_<ID>`` for this test only, as the sandbox answers it
    (``SandboxClient.connection()``): its approved sender ID (``COPERATO``) as the default sender,
    and its price per segment and minimum balance, so a plan is priced. The test runs in an Airflow
    home whose database is migrated and holds nothing of earlier tests (``fullsms_airflow_home``).
    Returns the sandbox's client.
    """
    client = fullsms_sandbox_server.client
    client.reset()
    monkeypatch.setenv(f"AIRFLOW_CONN_{fullsms_sandbox_conn_id.upper()}", client.connection_uri())
    return client
