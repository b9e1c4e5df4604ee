"""
Browser tests: headless Chromium from Debian (``scripts/install_debian_packages.sh``) driven by Playwright,
against a sandbox process and a real Airflow stack whose users log in (no "all admins" mode, so an
unauthenticated request is really unauthenticated).

Every run writes each page's screenshot into a folder named after the test, under pytest's
temporary directory (the run's summary names the folders); with ``FULLSMS_SCREENSHOTS=1`` they
also refresh ``docs/images/`` (the README shows them), so a plain ``make test`` changes no file.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_provider_fullsms.sandbox.testing import SandboxProcess
from tests.e2e.airflow_stack import AirflowStack

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from playwright.sync_api import Browser, Page

    #: Takes a full-page screenshot of ``page`` as ``name`` (e.g. ``"sandbox-inbox.png"``).
    Screenshot = Callable[[Page, str], Path]

CHROMIUM = Path("/usr/bin/chromium")
README_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
DAGS = Path(__file__).resolve().parent / "dags"
#: Larger than the e2e default: on a busy 2-core machine the api-server can pause for seconds.
API_TIMEOUT = 60


class LoginStack(AirflowStack):
    """
    An :class:`AirflowStack` with real users (Airflow's simple auth manager): ``admin`` and ``viewer``.

    Its REST calls carry the admin's JWT; :meth:`token` logs anybody in.
    """

    def __init__(self, home: Path, dags_folder: Path, env: dict[str, str]) -> None:
        self.passwords = {"admin": secrets.token_urlsafe(12), "viewer": secrets.token_urlsafe(12)}
        passwords_file = home / "passwords.json"
        passwords_file.write_text(json.dumps(self.passwords))
        super().__init__(
            home,
            dags_folder,
            {
                **env,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            },
        )
        self._admin_token: str | None = None

    def token(self, user: str = "admin") -> str:
        """A JWT for ``user``, from Airflow's login endpoint."""
        response = requests.post(
            f"{self.url}/auth/token",
            json={"username": user, "password": self.passwords[user]},
            timeout=API_TIMEOUT,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._admin_token is None:
            self._admin_token = self.token()
        headers = {"Authorization": f"Bearer {self._admin_token}", **kwargs.pop("headers", {})}
        response = requests.request(
            method, f"{self.url}/api/v2/{path}", headers=headers, timeout=API_TIMEOUT, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def stored_connection(self, conn_id: str) -> dict[str, Any]:
        """``conn_id`` as Airflow stored it, its password in clear (the REST API shows ``***``)."""
        output = self._airflow("connections", "get", conn_id, "--output", "json")
        # Airflow may print a line of its own (a warning) before the table it was asked for.
        table = next((line for line in output.splitlines() if line.startswith("[")), output)
        shown = json.loads(table)
        return dict(shown[0])


# Package-scoped, like the browser: one Airflow stack serves every module (starting one takes ~20 s).
@pytest.fixture(scope="package")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess() as process:
        yield process


@pytest.fixture(scope="package")
def stack(sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoginStack]:
    """Airflow's api-server, scheduler, triggerer and dag-processor, the FullSMS plugin loaded."""
    home = tmp_path_factory.mktemp("airflow")
    connection = json.dumps(
        {
            "conn_type": "fullsms",
            "host": sandbox.url,
            "password": sandbox.token,
            "extra": {"default_sender": "COPERATO"},
        }
    )
    with LoginStack(home, DAGS, {"AIRFLOW_CONN_FULLSMS_DEFAULT": connection}) as running:
        yield running


@pytest.fixture(scope="package")  # not session: a live sync Playwright keeps an event loop on the main thread
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "run scripts/install_debian_packages.sh (make test does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser tab; any ``alert()`` a page manages to run is recorded in ``page.alerts``."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.alerts = []  # type: ignore[attr-defined]
    tab.on("dialog", lambda dialog: (tab.alerts.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]
    yield tab
    context.close()


#: The folders screenshots were written to in this run, listed in the run's summary.
_SCREENSHOT_FOLDERS: list[Path] = []


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Screenshot:
    """
    Screenshot a page into ``<pytest's temporary directory>/screenshots/<test name>/``.

    With ``FULLSMS_SCREENSHOTS=1`` the image also replaces ``docs/images/<name>``.
    """
    folder = tmp_path_factory.getbasetemp() / "screenshots" / re.sub(r"[^\w.-]", "_", request.node.name)

    def take(page: Page, name: str) -> Path:
        if not folder.exists():
            folder.mkdir(parents=True)
            _SCREENSHOT_FOLDERS.append(folder)
        path = folder / name
        page.screenshot(path=str(path), full_page=True)
        if os.environ.get("FULLSMS_SCREENSHOTS") == "1":
            README_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, README_IMAGES / name)
        return path

    return take


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _SCREENSHOT_FOLDERS:
        terminalreporter.write_sep("-", "browser screenshots")
        for folder in _SCREENSHOT_FOLDERS:
            terminalreporter.write_line(f"{folder}: {', '.join(sorted(p.name for p in folder.iterdir()))}")
