"""FullSmsBalanceTrigger: serialisation, and its polling loop with a scripted hook (no network)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from airflow_provider_fullsms import exceptions as exc
from airflow_provider_fullsms.hooks.fullsms_async import FullSmsAsyncHook
from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger
from tests.conftest import SECRET_TOKEN
from tests.versions import import_string, printed_log, serde


def run_to_event(trigger: FullSmsBalanceTrigger) -> dict[str, Any]:
    """Take the first event, the way the triggerer and dag.test() do."""

    async def first() -> Any:
        return await anext(trigger.run())

    return asyncio.run(first()).payload


# -- serialisation ------------------------------------------------------------------------------


def test_serialize_round_trips_through_airflow_serde(fullsms_conn: str) -> None:
    serialize, deserialize = serde()

    trigger = FullSmsBalanceTrigger(min_balance="12.5", fullsms_conn_id="fullsms_default", poke_interval=3)
    classpath, kwargs = trigger.serialize()

    assert classpath == "airflow_provider_fullsms.triggers.fullsms.FullSmsBalanceTrigger"
    assert kwargs == {"min_balance": 12.5, "fullsms_conn_id": "fullsms_default", "poke_interval": 3.0}
    json.dumps(kwargs)  # only JSON values
    rebuilt = import_string(classpath)(**deserialize(serialize(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)


def test_serialize_never_contains_the_token(fullsms_conn: str) -> None:
    trigger = FullSmsBalanceTrigger(min_balance=1)
    assert SECRET_TOKEN not in repr(trigger.serialize())
    assert "tok-SECRET" not in repr(trigger.serialize())


def test_constructor_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        FullSmsBalanceTrigger(10)  # type: ignore[misc]


# -- the polling loop, with a scripted hook --------------------------------------------------


class Script:
    """Answers for successive get_balance calls, and what happened around them."""

    def __init__(self, answers: list[float | BaseException]) -> None:
        self.answers = answers
        self.calls = 0
        self.sleeps: list[float] = []
        self.closed = 0


def retryable(error: exc.FullSmsError) -> exc.FullSmsError:
    """Mark an error as the retry policy does for a read (429, 502-504, network)."""
    error.retryable = True
    return error


def _503() -> exc.FullSmsError:
    return retryable(exc.FullSmsServerError(503, "Service Unavailable"))


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch, fullsms_conn: str) -> Script:
    state = Script([])

    async def get_balance(self: FullSmsAsyncHook) -> float:
        answer = state.answers[min(state.calls, len(state.answers) - 1)]
        state.calls += 1
        if isinstance(answer, BaseException):
            raise answer
        return answer

    original_aclose = FullSmsAsyncHook.aclose

    async def aclose(self: FullSmsAsyncHook) -> None:
        state.closed += 1
        await original_aclose(self)

    async def sleep(seconds: float) -> None:
        state.sleeps.append(seconds)

    monkeypatch.setattr(FullSmsAsyncHook, "get_balance", get_balance)
    monkeypatch.setattr(FullSmsAsyncHook, "aclose", aclose)
    monkeypatch.setattr("airflow_provider_fullsms.triggers.fullsms.asyncio.sleep", sleep)
    return state


def test_sleeps_after_every_check_that_is_not_the_last(script: Script) -> None:
    script.answers = [
        _503(),
        exc.FullSmsServerError(500, "Internal Error"),
        exc.FullSmsConnectionError("Could not reach FullSMS"),
        retryable(exc.FullSmsRateLimitError(429, "Too Many Requests", retry_after=30)),
        49.0,
        50.0,
    ]
    event = run_to_event(FullSmsBalanceTrigger(min_balance=50, poke_interval=2))

    assert event == {"status": "success", "balance": 50.0, "min_balance": 50.0}
    assert script.calls == 6
    assert script.sleeps == [2.0] * 5
    assert script.closed == 1


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (exc.FullSmsAuthenticationError(403, "Unauthenticated - Missing/Invalid API key"), "Authentication"),
        (exc.FullSmsAccessDeniedError(403, "Access Denied"), "AccessDenied"),
        (exc.FullSmsConfigurationError("Connection 'x' has no API token"), "Configuration"),
        (LookupError("The conn_id `fullsms_default` isn't defined"), "LookupError"),
    ],
)
def test_permanent_errors_end_with_one_error_event(script: Script, error: Exception, name: str) -> None:
    script.answers = [_503(), error]
    event = run_to_event(FullSmsBalanceTrigger(min_balance=50, poke_interval=2))

    assert event["status"] == "error"
    assert name in event["message"]
    assert str(error) in event["message"]
    assert script.calls == 2
    assert script.sleeps == [2.0]
    assert script.closed == 1


def test_cancellation_propagates_and_closes_the_client(
    script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    script.answers = [1.0]
    checks = asyncio.Event()

    async def sleep(seconds: float) -> None:
        checks.set()
        await asyncio.Event().wait()  # wait forever, like a long poke_interval

    monkeypatch.setattr("airflow_provider_fullsms.triggers.fullsms.asyncio.sleep", sleep)

    async def scenario() -> None:
        task = asyncio.ensure_future(anext(FullSmsBalanceTrigger(min_balance=50, poke_interval=60).run()))
        await checks.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert script.calls == 1
    assert script.closed == 1


def test_logs_each_change_not_every_check(script: Script, capsys: pytest.CaptureFixture[str]) -> None:
    script.answers = [49.0, 49.0, _503(), _503(), 49.0, 49.5, 49.5, 50.0]
    event = run_to_event(FullSmsBalanceTrigger(min_balance=50, poke_interval=2))

    assert event["status"] == "success"
    assert script.calls == 8
    lines = [
        line.message for line in printed_log(capsys.readouterr().out) if "FullSMS balance" in line.message
    ]
    said = [line.split("; checking", 1)[0] for line in lines]
    assert said == [
        "FullSMS balance is 49, below the 50 needed",
        "Could not read the FullSMS balance (FullSMS answered 503: Service Unavailable)",
        "FullSMS balance is 49, below the 50 needed",
        "FullSMS balance is 49.5, below the 50 needed",
    ]
    assert all("checking every 2s (logged again when it changes)." in line for line in lines)
