"""Sandbox tests: one real ``fullsms-sandbox`` process for the session, reset before every test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_provider_fullsms.sandbox import DEFAULT_TOKEN
from airflow_provider_fullsms.sandbox.seed import DEFAULT_NO_RIGHTS_TOKEN
from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess

if TYPE_CHECKING:
    from collections.abc import Iterator

NO_RIGHTS_TOKEN = DEFAULT_NO_RIGHTS_TOKEN


class Api:
    """Plain ``requests`` calls to a sandbox, the way any FullSMS client would make them.

    :param url: the sandbox's base URL.
    :param token: the bearer token sent unless a call passes ``token=``.
    """

    def __init__(self, url: str, token: str = DEFAULT_TOKEN) -> None:
        self.url = url
        self.token = token
        self.session = requests.Session()

    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        used = self.token if token is None else token
        if used:
            headers["Authorization"] = f"Bearer {used}"
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, f"{self.url}/{path.lstrip('/')}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=body, **kwargs)


@pytest.fixture(scope="session")
def sandbox_process() -> Iterator[SandboxProcess]:
    """The sandbox with its default seed, on a free loopback port, stopped by PID at the end."""
    with SandboxProcess() as process:
        yield process


@pytest.fixture
def sbx(sandbox_process: SandboxProcess) -> SandboxClient:
    """The ``/_sandbox/`` client of a freshly reset sandbox."""
    client = sandbox_process.client
    client.reset()
    return client


@pytest.fixture
def api(sbx: SandboxClient) -> Iterator[Api]:
    """Vendor-API calls against the freshly reset sandbox."""
    api = Api(sbx.url)
    yield api
    api.session.close()
