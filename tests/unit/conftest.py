"""What the hook-level unit tests share: a hook with fast retries, and its waits recorded."""

from __future__ import annotations

import pytest

from airflow_provider_fullsms.hooks.fullsms import FullSmsHook
from airflow_provider_fullsms.policy import RetryPolicy

#: Retries without real waiting: three attempts, a Retry-After of at most 2 s waited out.
FAST = RetryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.02, retry_after_max=2.0)


@pytest.fixture
def hook(fullsms_conn: str) -> FullSmsHook:
    """``FullSmsHook`` on ``fullsms_default`` (a requests-mock host), with :data:`FAST` retries."""
    return FullSmsHook(retry_policy=FAST)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the hook's waits between attempts instead of sleeping."""
    waits: list[float] = []
    monkeypatch.setattr("airflow_provider_fullsms.hooks.fullsms.time.sleep", waits.append)
    return waits
