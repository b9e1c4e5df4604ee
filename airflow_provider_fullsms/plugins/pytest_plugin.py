"""
The provider's pytest plugin: test your own DAGs against a local FullSMS sandbox.

Installing the provider registers this module (entry point ``pytest11``). It only defines
fixtures, so it does nothing until a test asks for one, and importing it costs no more than the
standard library: the sandbox helpers (``requests``) are imported when a fixture first runs.

* ``fullsms_sandbox`` -- a freshly reset sandbox for this test, the Airflow connection pointing at
  it, and the :class:`~airflow_provider_fullsms.sandbox.testing.SandboxClient` to look into it:
  ``messages()``, ``inbox()``, ``balance()``, ``set_balance()``, ``inject_fault()``,
  ``requests_count()``.
* ``fullsms_sandbox_conn_id`` -- the connection it sets (default ``fullsms_default``); override the
  fixture to set another.
* ``fullsms_sandbox_server`` -- the sandbox process, one per test session, on a free loopback port,
  stopped by its PID at the end; override it to start one with your own state file
  (:class:`~airflow_provider_fullsms.sandbox.testing.SandboxProcess` ``(state=...)``).

Example::

    def test_campaign_texts_every_customer_once(fullsms_sandbox):
        run = DagBag("dags/").dags["spring_campaign"].test()
        assert run.state == "success"
        assert len(fullsms_sandbox.messages()) == 3
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess


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
    fullsms_sandbox_server: SandboxProcess, fullsms_sandbox_conn_id: str, monkeypatch: pytest.MonkeyPatch
) -> SandboxClient:
    """
    A sandbox reset to its seed (balance, empty inbox, no faults), and the connection pointing at it.

    The connection is set as ``AIRFLOW_CONN_<ID>`` for this test only, as the sandbox answers it
    (``SandboxClient.connection()``): its approved sender ID (``COPERATO``) as the default sender,
    and its price per segment and minimum balance, so a plan is priced. Returns the sandbox's client.
    """
    client = fullsms_sandbox_server.client
    client.reset()
    monkeypatch.setenv(f"AIRFLOW_CONN_{fullsms_sandbox_conn_id.upper()}", client.connection_uri())
    return client
